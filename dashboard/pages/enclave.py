from dashboard.state import engine, shift_s
from dashboard.views import enclave

enclave.render(engine(), shift_s())
