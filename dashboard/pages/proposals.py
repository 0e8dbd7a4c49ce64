from dashboard.state import engine
from dashboard.views import proposals

proposals.render(engine())
