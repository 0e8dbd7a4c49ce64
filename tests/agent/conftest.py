"""The agent's jobs against a chain: one in-process deployment for the session (the steward
approving this code's measurement), taken by each test inside a snapshot reverted after it."""

from __future__ import annotations

import pytest

from chain.node import in_process_web3, revert_to, snapshot
from tests.support.system import deploy


@pytest.fixture(scope="session")
def agent_chain():
    """(w3, system, who): Aave v3, the steward and its roles, deployed once (about 5 s)."""
    from enclave.image import measure

    w3 = in_process_web3()
    system, who = deploy(w3, measurements=(measure().digest,))
    return w3, system, who


@pytest.fixture
def agent_system(agent_chain):
    w3 = agent_chain[0]
    checkpoint = snapshot(w3)
    yield agent_chain
    revert_to(w3, checkpoint)
