from dashboard.state import engine
from dashboard.views import backtests

backtests.render(engine())
