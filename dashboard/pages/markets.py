from dashboard.state import engine
from dashboard.views import markets

markets.render(engine())
