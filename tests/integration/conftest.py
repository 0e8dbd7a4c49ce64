from tests.enclave.conftest import anchors, dev_ca_dir, enclave_process  # noqa: F401 - shared fixtures
