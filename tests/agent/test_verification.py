"""What the dashboard and the report call "verified": (a) the document verifies, (b) the
update's signature recovers to the attested key, (c) that key is the decision's enclave. One
test per way to fail, each naming exactly the check that failed. Documents come from the real enclave code
(a real process, and the same Enclave class in this process where the test needs the
attested key to sign an update through chain/update.py's sign_update)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from types import SimpleNamespace

import pytest
from eth_account import Account

from chain.update import ParameterUpdate, sign_update
from agent.verification import CheckState, TrustPolicy, decode, verify_attestation, verify_proposal, verify_update
from enclave.client import start_enclave
from enclave.image import PROJECT_ROOT, measure
from enclave.server import Enclave

STEWARD = "0x" + "5e" * 20


@pytest.fixture(scope="module")
def dev_ca_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("home") / "dev-ca"


@pytest.fixture(scope="module")
def trusting(dev_ca_dir) -> TrustPolicy:
    return TrustPolicy(trust_dev_root=True, dev_ca_dir=dev_ca_dir)


@pytest.fixture(scope="module")
def enclave(dev_ca_dir) -> Enclave:
    """The enclave's own class, in this process, so the test can sign as its attested key."""
    return Enclave.start("local", dev_ca_dir, PROJECT_ROOT)


@pytest.fixture(scope="module")
def other_process(dev_ca_dir):
    process = start_enclave(dev_ca_dir=dev_ca_dir)
    yield process
    process.stop()


def update_for(enclave_address: str, measurement: bytes) -> ParameterUpdate:
    return ParameterUpdate(enclave=enclave_address, chain_id=31337, asset="0x" + "22" * 20, params=(1,), values=(8_000,),
                           nonce=1, anchor_block=100, anchor_block_hash=b"\x0b" * 32, anchor_timestamp=1_700_000_000,
                           deadline=1_700_021_600, inputs_hash=b"\x1d" * 32, measurement=measurement)


def signed_by(enclave: Enclave, update: ParameterUpdate) -> bytes:
    return sign_update(update, enclave._account.key, STEWARD)  # the test stands in for the enclave's /decide


def check(enclave: Enclave, **overrides):
    update = overrides.pop("update", update_for(enclave.address, enclave.measurement))
    arguments = {"document": enclave.attestation(os.urandom(32)), "update": update, "signature": signed_by(enclave, update),
                 "steward": STEWARD, "decision_enclave": enclave.address, "expected_measurement": measure().digest}
    arguments.update(overrides)
    return verify_update(**arguments)


def test_all_three_hold(enclave, trusting):
    verdict = check(enclave, policy=trusting)
    assert verdict.verified
    assert verdict.failed == ()
    assert [c.state for c in verdict.checks] == [CheckState.PASSED] * 3
    assert verdict.message == f"Verified: the attested key {enclave.address} is this decision's enclave"
    assert verdict.chain[-1].startswith("CN=risk-agent dev root")


def test_development_root_is_not_trusted_unless_the_operator_opts_in(enclave, dev_ca_dir):
    verdict = check(enclave, policy=TrustPolicy(trust_dev_root=False, dev_ca_dir=dev_ca_dir))
    assert not verdict.verified
    assert verdict.failed == ("attestation",)
    assert verdict.attestation.detail == "certificate chain does not lead to a trusted root"
    assert (verdict.signature.state, verdict.enclave.state) == (CheckState.NOT_CHECKED, CheckState.NOT_CHECKED)


def test_tampered_document_fails_a(enclave, trusting):
    document = bytearray(enclave.attestation(b"\x5a" * 32))
    document[document.find(b"\x5a" * 32)] ^= 1
    verdict = check(enclave, policy=trusting, document=bytes(document))
    assert verdict.failed == ("attestation",)
    assert verdict.attestation.detail == "COSE signature does not verify with the leaf certificate"


def test_document_of_other_code_fails_a(enclave, trusting):
    verdict = check(enclave, policy=trusting, expected_measurement=b"\x01" * 48)
    assert verdict.failed == ("attestation",)
    assert "does not match the expected measurement" in verdict.attestation.detail


def test_update_carrying_another_measurement_fails_a(enclave, trusting):
    update = update_for(enclave.address, b"\x02" * 48)
    verdict = check(enclave, policy=trusting, update=update, signature=signed_by(enclave, update))
    assert verdict.failed == ("attestation",)
    assert verdict.attestation.detail.startswith("the update carries measurement 0202020202020202..., not the attested PCR0")


def test_no_document_fails_a(enclave, trusting):
    verdict = check(enclave, policy=trusting, document=None)
    assert verdict.failed == ("attestation",)
    assert verdict.attestation.detail == "no attestation document stored for this decision"


def test_update_signed_by_another_key_fails_b_only(enclave, trusting):
    """The unbound check this replaces: a valid document for key E next to an update naming
    E but signed by an impostor was shown as verified."""
    impostor = Account.create()
    update = update_for(enclave.address, enclave.measurement)
    verdict = check(enclave, policy=trusting, signature=sign_update(update, impostor.key, STEWARD))
    assert verdict.failed == ("signature",)
    assert verdict.signature.detail == f"signature recovers to {impostor.address}, not the attested key {enclave.address}"
    assert verdict.enclave.state is CheckState.PASSED


def test_signature_for_another_steward_fails_b(enclave, trusting):
    update = update_for(enclave.address, enclave.measurement)
    verdict = check(enclave, policy=trusting, signature=sign_update(update, enclave._account.key, "0x" + "99" * 20))
    assert verdict.failed == ("signature",)


def test_unreadable_signature_fails_b(enclave, trusting):
    verdict = check(enclave, policy=trusting, signature=b"\x01" * 10)
    assert verdict.failed == ("signature",)
    assert verdict.signature.detail.startswith("signature unreadable (")


def test_decision_naming_another_enclave_fails_c_only(enclave, trusting, other_process):
    """Document and signature both of key E, but the decision says it came from another
    enclave process (a real one, with its own key)."""
    verdict = check(enclave, policy=trusting, decision_enclave=other_process.address)
    assert verdict.failed == ("enclave",)
    assert verdict.enclave.detail == f"the decision names enclave {other_process.address}, not the attested key {enclave.address}"
    assert verdict.signature.state is CheckState.PASSED


def test_document_of_one_process_with_an_update_signed_by_another(enclave, trusting, other_process):
    """The real process's document (key P) and an update that names P but was signed by E:
    the document verifies, the decision's enclave is P, the signature is not P's."""
    import requests

    document = requests.get(f"{other_process.url}/attestation?nonce={os.urandom(32).hex()}", timeout=10).content
    update = update_for(other_process.address, other_process.measurement)
    verdict = check(enclave, policy=trusting, document=document, update=update, signature=signed_by(enclave, update),
                    decision_enclave=other_process.address)
    assert verdict.failed == ("signature",)
    assert verdict.attestation.state is CheckState.PASSED
    assert verdict.enclave.state is CheckState.PASSED
    assert verdict.message == (f"NOT verified: signature: signature recovers to {enclave.address}, "
                               f"not the attested key {other_process.address}")


def test_update_naming_another_enclave_fails_c(enclave, trusting):
    update = update_for("0x" + "33" * 20, enclave.measurement)
    verdict = check(enclave, policy=trusting, update=update, signature=signed_by(enclave, update))
    assert verdict.failed == ("enclave",)
    assert verdict.enclave.detail == f"the update names enclave {'0x' + '33' * 20}, not the attested key {enclave.address}"


def test_verify_proposal_reads_the_store_rows(enclave, trusting):
    update = update_for(enclave.address, enclave.measurement)
    proposal = SimpleNamespace(update_json=json.dumps(update.as_json()),
                               signature="0x" + signed_by(enclave, update).hex())
    decision = SimpleNamespace(enclave_address=enclave.address)
    attestation = SimpleNamespace(document=enclave.attestation(os.urandom(32)))
    assert verify_proposal(proposal, decision, attestation, steward=STEWARD, expected_measurement=measure().digest,
                           policy=trusting).verified
    tampered = replace(update, values=(7_999,))
    proposal.update_json = json.dumps(tampered.as_json())
    assert verify_proposal(proposal, decision, attestation, steward=STEWARD, expected_measurement=measure().digest,
                           policy=trusting).failed == ("signature",)


@pytest.mark.parametrize(("environ", "trusted"), [({}, False), ({"RISK_AGENT_DASHBOARD_TRUST_DEV_ROOT": "0"}, False),
                                                  ({"RISK_AGENT_DASHBOARD_TRUST_DEV_ROOT": "true"}, False),
                                                  ({"RISK_AGENT_DASHBOARD_TRUST_DEV_ROOT": "1"}, True)])
def test_opt_in_is_exactly_the_variable_set_to_1(environ, trusted, tmp_path):
    policy = TrustPolicy.from_env({**environ, "RISK_AGENT_HOME": str(tmp_path)})
    assert (policy.trust_dev_root, policy.dev_ca_dir) == (trusted, tmp_path / "dev-ca")


def test_opting_in_without_a_stored_root_trusts_only_aws_and_creates_nothing(tmp_path):
    policy = TrustPolicy(trust_dev_root=True, dev_ca_dir=tmp_path / "dev-ca")
    assert len(policy.anchors().roots_der) == 1
    assert not (tmp_path / "dev-ca").exists()


def test_enclave_page_check_and_decoding(enclave, trusting, dev_ca_dir):
    row = SimpleNamespace(document=enclave.attestation(b"\x07" * 32))
    assert verify_attestation(row, policy=trusting).ok
    refused = verify_attestation(row, policy=TrustPolicy(dev_ca_dir=dev_ca_dir))
    assert (refused.ok, refused.message) == (False, "Attestation NOT verified: certificate chain does not lead to a trusted root")
    fields = decode(row.document)
    assert (fields["nonce"], fields["pcrs"][0]) == ("07" * 32, measure().hex)
    assert decode(b"\x00") == {"error": "not a COSE_Sign1 structure (an array of 4)"}
