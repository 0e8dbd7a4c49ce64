from dashboard.state import engine, shift_s
from dashboard.views import markets

markets.render(engine(), shift_s())
