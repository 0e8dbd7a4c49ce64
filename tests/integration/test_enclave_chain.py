"""An update signed inside the enclave is accepted on chain once the enclave is registered
through the timelock; the same update signed by any other key, or by a restarted enclave
that is not registered again, is not."""

from __future__ import annotations

import pytest
from eth_account import Account

from agent.registration import schedule_registration
from chain.deploy import SystemConfig, deploy_system
from chain.errors import ContractRevert
from chain.node import advance_time, dev_accounts, in_process_web3
from chain.reader import MarketReader
from chain.steward import OperationState, StewardClient
from chain.update import sign_update
from enclave.client import EnclaveClient, start_enclave
from enclave.decision import DecisionInputs
from strategies.bounds import Bounds
from strategies.types import RiskParams
from tests.enclave.conftest import eth_inputs

pytestmark = [pytest.mark.integration, pytest.mark.needs_data]


def test_enclave_update_accepted_after_registration(enclave_process, anchors, dev_ca_dir):
    w3 = in_process_web3()
    governance, guardian, relayer = dev_accounts(w3)[:3]
    deployment = deploy_system(w3, governance, guardian.address, SystemConfig(min_delay_seconds=60))
    gov = StewardClient(w3, deployment, governance)
    relay = StewardClient(w3, deployment, relayer)

    client = EnclaveClient(enclave_process.url, enclave_process.measurement, anchors)
    attested = client.attest()
    operation_id = schedule_registration(gov, attested)
    assert gov.operation_state(operation_id) is OperationState.WAITING
    advance_time(w3, 61)
    gov.execute_ready()

    weth = MarketReader(w3, deployment.market).read().reserve("WETH")
    template = eth_inputs(chain_id=w3.eth.chain_id, steward=deployment.steward, asset=weth.asset)
    history = template.history
    # The decision's clock is the chain's: the replayed window is stamped to end at the last block.
    shift = w3.eth.get_block("latest")["timestamp"] - history.as_of_s
    from dataclasses import replace

    shifted = replace(history, as_of_s=history.as_of_s + shift,
                      assets=tuple(replace(a, timestamps_s=tuple(t + shift for t in a.timestamps_s)) for a in history.assets))
    current = RiskParams(weth.ltv_bps, weth.liquidation_threshold_bps, weth.liquidation_bonus_bps, weth.supply_cap_tokens,
                         weth.borrow_cap_tokens, weth.reserve_factor_bps, weth.optimal_usage_ratio_bps,
                         weth.base_variable_borrow_rate_bps, weth.variable_rate_slope1_bps, weth.variable_rate_slope2_bps)
    inputs = DecisionInputs(w3.eth.chain_id, deployment.steward, 1, {"ETH": weth.asset}, shifted, {"ETH": current}, {"ETH": Bounds()})
    decision = client.decide(inputs)
    signed = decision.updates[0]

    # The same update signed by another key is refused.
    with pytest.raises(ContractRevert) as raised:
        relay.submit(signed.update, sign_update(signed.update, Account.create().key, deployment.steward))
    assert raised.value.name == "InvalidSignature"

    result = relay.submit(signed.update, signed.signature)
    advance_time(w3, 61)
    assert relay.execute_ready() == [result.operation_id]
    after = MarketReader(w3, deployment.market).read().reserve("WETH")
    assert after.liquidation_threshold_bps == dict(zip(signed.update.params, signed.update.values))[1]

    # A restarted enclave has a new key: its updates count only after it is registered again.
    restarted = start_enclave(dev_ca_dir=dev_ca_dir)
    try:
        fresh = EnclaveClient(restarted.url, restarted.measurement, anchors)
        fresh.attest()
        later = fresh.decide(DecisionInputs(**{**inputs.__dict__, "first_nonce": 2}))
        with pytest.raises(ContractRevert) as raised:
            relay.submit(later.updates[0].update, later.updates[0].signature)
        assert raised.value.name == "EnclaveNotRegistered"
    finally:
        restarted.stop()
