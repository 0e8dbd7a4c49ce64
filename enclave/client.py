"""The agent's side of the enclave: start it (local mode), attest it with a fresh nonce
before trusting it, and check that every `/decide` answer is signed by that attested key and
commits to exactly the inputs sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from eth_utils import keccak

from chain.node import stop_process
from chain.update import ParameterUpdate, recover_signer
from enclave.attestation import TrustAnchors, VerifiedAttestation, verify_document
from strategies.inputs import DecisionInputs
from enclave.errors import EnclaveAnswerError, EnclaveUnavailableError
from enclave.lifetime import die_with_parent
from enclave.server import TOKEN_ENV
from enclave.transport import Address, Response, request


@dataclass(frozen=True)
class SignedUpdate:
    update: ParameterUpdate
    signature: bytes


@dataclass(frozen=True)
class Decision:
    inputs_hash: bytes
    recommendation_json: str
    updates: tuple[SignedUpdate, ...]
    enclave_address: str


@dataclass
class EnclaveProcess:
    """A local enclave process started by `start_enclave`; `stop()` or `kill()` it."""

    process: subprocess.Popen
    url: str
    address: str
    measurement: bytes
    token: str | None = None  # the bearer token it was started with (None: --dev)

    def stop(self) -> None:
        stop_process(self.process)
        self._close_pipes()

    def kill(self) -> None:
        """SIGKILL, as a crash would: no chance to finish the request in flight."""
        self.process.kill()
        self.process.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()

    def __enter__(self) -> EnclaveProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_enclave(*, dev_ca_dir: Path | None = None, backend: str = "local", image_root: Path | None = None,
                  token: str | None = None, listen: str | None = None, extra_args: tuple[str, ...] = (),
                  timeout_s: float = 60) -> EnclaveProcess:
    """Starts `python -m enclave.server` and waits for its ready line. With a `token` the
    process requires it from clients (given through the environment, never the command
    line); without one it runs with --dev (local development, no client authentication).
    The process ends with this one, even if this one is SIGKILLed (enclave.lifetime): an
    orphaned enclave would keep a signing key alive that nobody attests any more."""
    command = [sys.executable, "-m", "enclave.server", "--backend", backend, "--listen", listen or "http://127.0.0.1:0"]
    if dev_ca_dir:
        command += ["--dev-ca-dir", str(dev_ca_dir)]
    if image_root:
        command += ["--image-root", str(image_root)]
    if token is None:
        command.append("--dev")
    command += list(extra_args)
    env = {key: value for key, value in os.environ.items() if key != TOKEN_ENV}
    if token is not None:
        env[TOKEN_ENV] = token
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**env, "PYTHONUNBUFFERED": "1"}, preexec_fn=die_with_parent())
    line = process.stdout.readline()
    if not line:
        process.wait()
        error = process.stderr.read().strip().splitlines()
        process.stderr.close()
        process.stdout.close()
        raise EnclaveUnavailableError(f"enclave process exited at start: {error[-1] if error else 'no output'}")
    ready = json.loads(line)
    return EnclaveProcess(process, ready["url"], ready["address"], bytes.fromhex(ready["measurement"]), token)


# A 503 means every worker was busy and the request was not read: retried after the server's
# Retry-After (capped), three tries in all, then reported like any other refusal.
BUSY_ATTEMPTS = 3
MAX_RETRY_AFTER_S = 2.0


def _retry_after_s(response: Response) -> float:
    try:
        return min(max(float(response.headers.get("retry-after", "1")), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        return 1.0


class EnclaveClient:
    """Trusts an enclave only after `attest()`, and each answer only after checking it."""

    def __init__(self, url: str, expected_measurement: bytes, anchors: TrustAnchors, max_age_s: float = 300,
                 timeout_s: float = 120, token: str | None = None) -> None:
        self.url = url
        self.token = token
        self.expected_measurement = expected_measurement
        self.anchors = anchors
        self.max_age_s = max_age_s
        self.timeout_s = timeout_s
        self.attested: VerifiedAttestation | None = None
        self.document: bytes | None = None

    @property
    def url(self) -> str:
        return self._url

    @url.setter
    def url(self, value: str) -> None:
        """A new endpoint (e.g. the enclave came back elsewhere): parsed once, here."""
        self._url = value.rstrip("/")
        self.address = Address.parse(self._url)

    def _request(self, method: str, path: str, body: bytes = b"", content_type: str | None = None) -> Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if content_type:
            headers["Content-Type"] = content_type
        for attempt in range(BUSY_ATTEMPTS):
            response = request(self.address, method, path, body=body, headers=headers, timeout_s=self.timeout_s)
            if response.status != 503 or attempt == BUSY_ATTEMPTS - 1:
                break
            # Busy: refused before the request was read (nothing ran); the server says when to retry.
            time.sleep(_retry_after_s(response))
        if response.status != 200:
            raise EnclaveAnswerError(f"enclave refused {path.split('?')[0]} ({response.status}): "
                                     f"{response.error_message()}")
        return response

    def attest(self) -> VerifiedAttestation:
        nonce = os.urandom(32)
        document = self._request("GET", f"/attestation?nonce={nonce.hex()}").body
        verified = verify_document(document, expected_measurement=self.expected_measurement, anchors=self.anchors,
                                   expected_nonce=nonce, max_age_s=self.max_age_s)
        if verified.enclave_address is None:
            raise EnclaveAnswerError("attestation document binds no secp256k1 public key")
        self.attested, self.document = verified, document
        return verified

    def decide(self, inputs: DecisionInputs) -> Decision:
        if self.attested is None:
            raise EnclaveAnswerError("enclave not attested yet: call attest() first")
        body = inputs.canonical_bytes()  # encoded once: sent, and hashed to check the answer
        expected_hash = keccak(body)
        response = self._request("POST", "/decide", body, "application/cbor")
        try:
            answer = json.loads(response.body)
        except ValueError:
            raise EnclaveAnswerError("enclave answered /decide with something that is not JSON") from None
        return check_answer(answer, expected_hash, self.attested.enclave_address, self.expected_measurement,
                            inputs.chain_id, inputs.steward)


def check_answer(answer: dict, expected_inputs_hash: bytes, enclave_address: str, measurement: bytes,
                 chain_id: int, steward: str) -> Decision:
    """Every update: signed by the attested key, committing to our inputs and measurement."""
    inputs_hash = bytes.fromhex(answer["inputs_hash"].removeprefix("0x"))
    if inputs_hash != expected_inputs_hash:
        raise EnclaveAnswerError("answer's inputsHash does not match the inputs sent")
    updates = []
    for entry in answer["updates"]:
        update = ParameterUpdate.from_json(entry["update"])
        signature = bytes.fromhex(entry["signature"].removeprefix("0x"))
        if update.inputs_hash != expected_inputs_hash:
            raise EnclaveAnswerError("an update's inputsHash does not match the inputs sent")
        if update.enclave != enclave_address:
            raise EnclaveAnswerError(f"an update names enclave {update.enclave}, not the attested {enclave_address}")
        if update.measurement != measurement or update.chain_id != chain_id:
            raise EnclaveAnswerError("an update carries another measurement or chain id")
        signer = recover_signer(update, signature, steward)
        if signer != enclave_address:
            raise EnclaveAnswerError(f"an update is signed by {signer}, not the attested enclave key {enclave_address}")
        updates.append(SignedUpdate(update, signature))
    return Decision(inputs_hash, answer["recommendation"], tuple(updates), enclave_address)
