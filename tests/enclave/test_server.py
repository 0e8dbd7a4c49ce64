"""The real enclave process: deterministic signed decisions, answers the client refuses, and
what a kill -9 mid-request does."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from eth_account import Account

from chain.update import recover_signer, sign_update
from enclave.client import EnclaveClient, check_answer, start_enclave
from enclave.errors import EnclaveAnswerError, EnclaveUnavailableError
from tests.enclave.conftest import eth_inputs

pytestmark = pytest.mark.needs_data


@pytest.fixture
def client(enclave_process, anchors) -> EnclaveClient:
    client = EnclaveClient(enclave_process.url, enclave_process.measurement, anchors)
    client.attest()
    return client


CBOR_HEADERS = {"Content-Type": "application/cbor"}
JSON_HEADERS = {"Content-Type": "application/json"}


def raw_answer(enclave_process, inputs) -> dict:
    return requests.post(f"{enclave_process.url}/decide", data=inputs.canonical_bytes(), headers=CBOR_HEADERS, timeout=60).json()


def test_same_inputs_twice_give_byte_identical_signed_updates(enclave_process, client):
    inputs = eth_inputs()
    first = requests.post(f"{enclave_process.url}/decide", data=inputs.canonical_bytes(), headers=CBOR_HEADERS,
                          timeout=60).content
    second = requests.post(f"{enclave_process.url}/decide", data=inputs.canonical_bytes(), headers=CBOR_HEADERS,
                          timeout=60).content
    assert first == second
    decision = client.decide(inputs)
    assert decision.updates, "the 2020-03-12 window should produce an update"
    update = decision.updates[0]
    assert update.update.inputs_hash == inputs.inputs_hash
    assert recover_signer(update.update, update.signature, inputs.steward) == enclave_process.address


def test_decide_before_attest_is_refused(enclave_process, anchors):
    with pytest.raises(EnclaveAnswerError, match="not attested"):
        EnclaveClient(enclave_process.url, enclave_process.measurement, anchors).decide(eth_inputs())


def test_answer_signed_by_another_key_is_refused(enclave_process):
    inputs = eth_inputs()
    answer = raw_answer(enclave_process, inputs)
    impostor = Account.create()
    from chain.update import ParameterUpdate

    forged = ParameterUpdate.from_json(answer["updates"][0]["update"])
    answer["updates"][0]["signature"] = "0x" + sign_update(forged, impostor.key, inputs.steward).hex()
    with pytest.raises(EnclaveAnswerError, match="signed by"):
        check_answer(answer, inputs.inputs_hash, enclave_process.address, enclave_process.measurement, inputs.chain_id, inputs.steward)


def test_answer_for_other_inputs_is_refused(enclave_process):
    inputs = eth_inputs()
    answer = raw_answer(enclave_process, inputs)
    other = eth_inputs(nonce=2)
    with pytest.raises(EnclaveAnswerError, match="inputsHash"):
        check_answer(answer, other.inputs_hash, enclave_process.address, enclave_process.measurement, inputs.chain_id, inputs.steward)


def test_malformed_inputs_get_a_clear_refusal(enclave_process, client):
    """JSON is refused by type (415); CBOR that is not canonical inputs by what is wrong (400)."""
    response = requests.post(f"{enclave_process.url}/decide", data=b'{"chain_id": 1}', headers=JSON_HEADERS, timeout=10)
    assert response.status_code == 415
    assert response.json()["error"] == "decision inputs must be application/cbor (the canonical encoding)"
    response = requests.post(f"{enclave_process.url}/decide", data=bytes.fromhex("a1616101"), headers=CBOR_HEADERS, timeout=10)
    assert response.status_code == 400 and response.json()["error"] == "inputs.version is missing"


def test_kill_mid_request_gives_a_clear_error_and_a_new_key_after_restart(dev_ca_dir, anchors):
    process = start_enclave(dev_ca_dir=dev_ca_dir)
    client = EnclaveClient(process.url, process.measurement, anchors)
    client.attest()
    outcome: dict = {}

    # Twenty reserves, a fresh process (no cached fits): the decision takes over a second.
    from dataclasses import replace

    one = eth_inputs()
    heavy = replace(one, assets=tuple(replace(one.assets[0], symbol=f"ETH{i}", address="0x" + f"{i + 1:040x}")
                                      for i in range(20)))

    def call() -> None:
        try:
            client.decide(heavy)
        except Exception as error:  # noqa: BLE001 - the test inspects it
            outcome["error"] = error

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(0.3)  # kill while the decision runs
    process.kill()
    worker.join(timeout=30)
    assert isinstance(outcome.get("error"), EnclaveUnavailableError), outcome
    assert "is not answering" in str(outcome["error"])

    restarted = start_enclave(dev_ca_dir=dev_ca_dir)
    try:
        assert restarted.address != process.address
        assert restarted.measurement == process.measurement
    finally:
        restarted.stop()
