from dashboard.state import engine, shift_s
from dashboard.views import overview

overview.render(engine(), shift_s())
