"""`verify`'s offline checks (inputs hash, re-run, signature, attestation), each against real
data: updates signed by a real enclave process on seeded synthetic inputs, and, where a
tampering needs the enclave's own key (an enclave that signs what the open code would not),
a key held here with an attestation document from the development CA for it.

Every tampering is shown to fail its own check with its own words, and the set of failing
checks is asserted whole: a change to the inputs also fails the re-run (every update commits
to the inputs hash), and nothing else fails with it.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from eth_account import Account
from eth_keys import keys
from eth_utils import keccak

from agent.verify import Check, _close, check_attestation, check_inputs_hash, check_rerun, check_signature
from backtests.history import decision_inputs
from chain.update import ParameterUpdate, sign_update
from enclave.attestation import TrustAnchors, attestation_digest
from enclave.client import EnclaveClient
from enclave.decision import decide
from enclave.image import measure
from enclave.nsm import DevCa, LocalNsm
from strategies.inputs import decode_inputs, encode_inputs
from tests.enclave.conftest import anchors, dev_ca_dir, enclave_process  # noqa: F401 - session fixtures
from tests.strategies.conftest import CONFIG, synthetic_as_of, synthetic_eth

pytestmark = pytest.mark.integration

STEWARD = "0x" + "5e" * 20
CHAIN_ID = 31337
RERUN = "re-run gives identical update"
FOUR = ("inputs hash", RERUN, "signature", "attestation")


def synthetic_inputs(nonce: int = 3):
    """Seeded GARCH history, 5e5 WETH supplied, 2e5 borrowed: the strategy tightens LTV, LT and
    the caps at once (nonce n) and raises the bonus through the timelock (nonce n + 1)."""
    series = synthetic_eth(seed=5, hours=CONFIG.window.history_hours + 48)
    inputs = decision_inputs([series], synthetic_as_of(series), supplied_tokens=5e5, borrowed_tokens=2e5)
    return replace(inputs, chain_id=CHAIN_ID, steward=STEWARD, enclave_nonce=nonce)


def offline_checks(inputs_bytes: bytes, update: ParameterUpdate, signature: bytes, document: bytes | None,
                   anchors: TrustAnchors, digest: bytes | None = None) -> dict[str, Check]:
    checks = (check_inputs_hash(inputs_bytes, update), check_rerun(inputs_bytes, update),
              check_signature(update, signature, STEWARD),
              check_attestation(document, update.enclave, anchors, digest))
    return {c.name: c for c in checks}


def failing(checks: dict[str, Check]) -> set[str]:
    """The names of the failed checks; each verdict a bool (`verify --json` prints it as is)."""
    assert tuple(checks) == FOUR
    assert all(isinstance(c.passed, bool) for c in checks.values()), checks
    return {name for name, c in checks.items() if not c.passed}


@pytest.fixture(scope="module")
def signed(enclave_process, anchors):
    """What a real enclave process decided and signed on the synthetic inputs."""
    client = EnclaveClient(enclave_process.url, enclave_process.measurement, anchors)
    client.attest()
    inputs = synthetic_inputs()
    decision = client.decide(inputs)
    return inputs.canonical_bytes(), decision, client.document


def test_a_real_enclave_update_passes_every_check_and_says_why(signed, anchors, enclave_process):
    inputs_bytes, decision, document = signed
    assert [u.update.nonce for u in decision.updates] == [3, 4]
    for entry in decision.updates:
        checks = offline_checks(inputs_bytes, entry.update, entry.signature, document, anchors, attestation_digest(document))
        assert failing(checks) == set()
        assert checks["inputs hash"].detail == f"keccak256 of the inputs is 0x{keccak(inputs_bytes).hex()[:16]}..."
        assert checks[RERUN].detail == "byte-identical"
        assert checks["signature"].detail == f"signed by {enclave_process.address}"
        assert checks["attestation"].detail == (f"key {enclave_process.address} bound to this code's measurement "
                                                f"{measure().digest.hex()[:16]}...")


def test_a_changed_input_price_fails_the_hash_and_the_rerun_only(signed, anchors):
    """The last ETH price of the published inputs 1% higher (still canonical bytes): they no
    longer hash to the update's inputsHash, and the open code on them signs another hash."""
    inputs_bytes, decision, document = signed
    inputs = decode_inputs(inputs_bytes)
    asset = inputs.assets[0]
    segment = asset.prices[-1]
    moved = replace(segment, values=np.concatenate([segment.values[:-1], segment.values[-1:] * 1.01]))
    tampered = encode_inputs(replace(inputs, assets=(replace(asset, prices=(*asset.prices[:-1], moved)),)))
    update = decision.updates[0]
    checks = offline_checks(tampered, update.update, update.signature, document, anchors)
    assert failing(checks) == {"inputs hash", RERUN}
    assert checks["inputs hash"].detail == (f"keccak256 of the inputs is 0x{keccak(tampered).hex()[:16]}..., "
                                            f"the update commits to 0x{update.update.inputs_hash.hex()[:16]}...")
    assert checks[RERUN].detail.startswith("the open code decides otherwise: {")


def test_unreadable_inputs_fail_the_rerun_by_name(signed, anchors):
    _, decision, document = signed
    update = decision.updates[0]
    checks = offline_checks(b"\xa0", update.update, update.signature, document, anchors)
    assert failing(checks) == {"inputs hash", RERUN}
    assert checks[RERUN].detail.startswith("inputs unreadable: ")


def test_a_signature_by_another_key_fails_the_signature_only(signed, anchors):
    inputs_bytes, decision, document = signed
    update = decision.updates[0].update
    other = Account.create()
    checks = offline_checks(inputs_bytes, update, sign_update(update, other.key, STEWARD), document, anchors)
    assert failing(checks) == {"signature"}
    assert checks["signature"].detail == f"signed by {other.address}"


def test_a_signature_over_another_domain_fails_the_signature_only(signed, anchors):
    """The enclave's own bytes, checked against another steward (EIP-712 verifying contract)."""
    inputs_bytes, decision, document = signed
    update = decision.updates[0]
    assert check_signature(update.update, update.signature, "0x" + "77" * 20).passed is False
    assert check_signature(update.update, update.signature, STEWARD).passed is True


def test_a_malformed_signature_fails_the_signature_only(signed, anchors):
    """r = s = 0: no public key recovers from it (eth_keys' BadSignature), named in the detail."""
    inputs_bytes, decision, document = signed
    update = decision.updates[0].update
    checks = offline_checks(inputs_bytes, update, b"\x00" * 65, document, anchors)
    assert failing(checks) == {"signature"}
    assert checks["signature"].detail == "does not recover (BadSignature)"


def test_no_document_fails_the_attestation_only(signed, anchors):
    inputs_bytes, decision, _ = signed
    update = decision.updates[0]
    checks = offline_checks(inputs_bytes, update.update, update.signature, None, anchors)
    assert failing(checks) == {"attestation"}
    assert checks["attestation"].detail == "no attestation document found"


def test_a_document_under_an_untrusted_root_fails_the_attestation_only(signed):
    """The development CA is trusted only when the verifier opts in: with AWS's root alone the
    chain leads nowhere."""
    inputs_bytes, decision, document = signed
    update = decision.updates[0]
    checks = offline_checks(inputs_bytes, update.update, update.signature, document, TrustAnchors())
    assert failing(checks) == {"attestation"}
    assert checks["attestation"].detail == "certificate chain does not lead to a trusted root"


def test_a_document_of_another_key_fails_the_attestation_only(signed, anchors, dev_ca_dir):
    """A genuine document (same CA, same measurement) that binds another key than the signer's."""
    inputs_bytes, decision, _ = signed
    update = decision.updates[0]
    stranger = keys.PrivateKey(b"\x42" * 32)
    other_document = LocalNsm(DevCa.load_or_create(dev_ca_dir), "i-other", measure().digest).attest(
        public_key=b"\x04" + stranger.public_key.to_bytes(), user_data=None, nonce=None)
    checks = offline_checks(inputs_bytes, update.update, update.signature, other_document, anchors)
    assert failing(checks) == {"attestation"}
    assert checks["attestation"].detail == (f"the document binds {stranger.public_key.to_checksum_address()}, "
                                            f"not {update.update.enclave}")


def test_a_document_other_than_the_registered_one_fails_the_attestation_only(signed, anchors):
    """The chain records the canonical digest of the registration document: another (valid)
    document of the same key does not match it."""
    inputs_bytes, decision, document = signed
    update = decision.updates[0]
    checks = offline_checks(inputs_bytes, update.update, update.signature, document, anchors, digest=b"\x00" * 32)
    assert failing(checks) == {"attestation"}
    assert checks["attestation"].detail == "the document's digest is not the one registered on chain"


def test_a_document_of_other_code_fails_the_attestation_only(signed, anchors, dev_ca_dir):
    inputs_bytes, decision, _ = signed
    update = decision.updates[0]
    key = keys.PrivateKey(b"\x43" * 32)
    document = LocalNsm(DevCa.load_or_create(dev_ca_dir), "i-old", b"\x01" * 48).attest(
        public_key=b"\x04" + key.public_key.to_bytes(), user_data=None, nonce=None)
    checks = offline_checks(inputs_bytes, update.update, update.signature, document, anchors)
    assert failing(checks) == {"attestation"}
    assert checks["attestation"].detail == (f"PCR0 {'01' * 8}... does not match the expected measurement "
                                            f"{measure().digest.hex()[:16]}...")


# ------------------------------------------------------------------ an enclave key held here


@pytest.fixture(scope="module")
def own_enclave(dev_ca_dir):
    """A key and its attestation document from the development CA with this code's
    measurement: an enclave whose signatures the test can forge."""
    key = keys.PrivateKey(b"\x09" * 32)
    document = LocalNsm(DevCa.load_or_create(dev_ca_dir), "i-test", measure().digest).attest(
        public_key=b"\x04" + key.public_key.to_bytes(), user_data=None, nonce=None)
    return key, document


def test_an_update_the_open_code_would_not_sign_fails_the_rerun_only(own_enclave, anchors):
    """The registered key signs LT 8,250 where the open code decides 8,275 on the same published
    inputs (a tampered enclave, or a stolen key): hash, signature and attestation hold; only the
    re-run tells."""
    key, document = own_enclave
    inputs = synthetic_inputs()
    inputs_bytes = inputs.canonical_bytes()
    honest = decide(inputs, key.public_key.to_checksum_address(), measure().digest, canonical=inputs_bytes).updates[0]
    assert dict(zip(honest.params, honest.values, strict=True))[1] == 8_275
    values = tuple(8_250 if p == 1 else v for p, v in zip(honest.params, honest.values, strict=True))
    forged = replace(honest, values=values)
    checks = offline_checks(inputs_bytes, forged, sign_update(forged, key.to_bytes(), STEWARD), document, anchors)
    assert failing(checks) == {RERUN}
    assert checks[RERUN].detail == f"the open code decides otherwise: {honest.as_json()}"
    honest_checks = offline_checks(inputs_bytes, honest, sign_update(honest, key.to_bytes(), STEWARD), document, anchors)
    assert failing(honest_checks) == set()


def test_an_update_with_a_nonce_the_code_did_not_produce_fails_the_rerun_only(own_enclave, anchors):
    """Nonces come from the steward's counter in the inputs (3 and 4 here): an update numbered 9
    is nothing the open code signed on these inputs."""
    key, document = own_enclave
    inputs = synthetic_inputs()
    inputs_bytes = inputs.canonical_bytes()
    honest = decide(inputs, key.public_key.to_checksum_address(), measure().digest, canonical=inputs_bytes).updates[0]
    renumbered = replace(honest, nonce=9)
    checks = offline_checks(inputs_bytes, renumbered, sign_update(renumbered, key.to_bytes(), STEWARD), document, anchors)
    assert failing(checks) == {RERUN}
    assert checks[RERUN].detail == "the open code decides otherwise: no update with that nonce"


def test_a_document_is_judged_at_its_own_time_not_this_clock(own_enclave, anchors, dev_ca_dir):
    """A document dated a day after this machine's clock (its leaf issued then, valid 3 h): at
    its own time it is neither in the future nor expired, so it verifies; this clock plays no
    part (against it the document would be a day in the future)."""
    key, _ = own_enclave
    ahead = datetime.now(tz=UTC) + timedelta(days=1)
    document = LocalNsm(DevCa.load_or_create(dev_ca_dir), "i-test", measure().digest, clock=lambda: ahead).attest(
        public_key=b"\x04" + key.public_key.to_bytes(), user_data=None, nonce=None)
    address = key.public_key.to_checksum_address()
    assert check_attestation(document, address, anchors) == Check(
        "attestation", True, f"key {address} bound to this code's measurement {measure().digest.hex()[:16]}...")


def test_any_other_error_reading_a_document_is_a_failed_check_not_a_crash(own_enclave, anchors, monkeypatch):
    """The parser raises AttestationError for every malformed document the tests and the fuzzer
    make; should anything else escape it, the check fails and names the exception's type."""
    _, document = own_enclave

    def broken(*args, **kwargs):
        raise ValueError("not expected")

    monkeypatch.setattr("agent.verify.verify_document", broken)
    assert check_attestation(document, "0x" + "11" * 20, anchors) == Check("attestation", False,
                                                                           "document unreadable (ValueError)")


def test_supply_read_back_is_the_same_within_a_relative_1e_12():
    """`_close` (the supply and debt re-read at the anchor): equal, or both finite and apart by
    at most 1e-12 of the larger. 1 and 1 + 2^-42 (2.3e-13 apart) are the same; 1 and 1 + 2^-39
    (1.8e-12) are not; 10^12 - 1 and 10^12, exactly 1e-12 of the larger apart, are; an infinity
    equals itself; NaN equals nothing."""
    assert _close(1.0, 1.0 + 2**-42) and _close(2.0**60, 2.0**60 * (1 + 2**-42))
    assert _close(999_999_999_999.0, 1e12)
    assert not _close(1.0, 1.0 + 2**-39)
    assert _close(math.inf, math.inf) and not _close(math.inf, 1e308) and not _close(math.nan, math.nan)
