from dashboard.state import engine
from dashboard.views import overview

overview.render(engine())
