from dashboard.state import engine, shift_s
from dashboard.views import proposals

proposals.render(engine(), shift_s())
