"""Enclave failures, each with the one-line reason a user sees."""

from __future__ import annotations


class EnclaveError(Exception):
    """Base class: the CLI prints `str(error)` on one line and exits non-zero."""


class AttestationError(EnclaveError):
    """An attestation document failed one check: `reason` says how in words, `code` names
    the check (stable, for tests and for callers that act on the kind of failure)."""

    def __init__(self, reason: str, code: str = "rejected") -> None:
        super().__init__(f"attestation rejected: {reason}")
        self.reason = reason
        self.code = code


class EnclaveUnavailableError(EnclaveError):
    """The enclave process is not answering (down, killed, or mid-restart)."""


class EnclaveAnswerError(EnclaveError):
    """The enclave answered, but the answer cannot be trusted (wrong key, wrong inputs hash)."""


class NsmUnavailableError(EnclaveError):
    """The configured attestation back end is not present (fail closed, never fall back)."""


class NsmError(EnclaveError):
    """The Nitro Secure Module answered a request with an error or with something malformed."""


class KeyFileError(EnclaveError):
    """A key file or its directory is readable by others, so the key cannot be trusted."""


class TransportError(EnclaveError):
    """An enclave address or socket family this machine cannot serve or reach (e.g. no vsock)."""
