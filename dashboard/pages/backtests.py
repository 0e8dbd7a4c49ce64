from dashboard.state import engine, shift_s
from dashboard.views import backtests

backtests.render(engine(), shift_s())
