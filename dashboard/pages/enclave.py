from dashboard.state import engine
from dashboard.views import enclave

enclave.render(engine())
