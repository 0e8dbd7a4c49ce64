"""Enclave failures, each with the one-line reason a user sees."""

from __future__ import annotations



class EnclaveError(Exception):
    """Base class: the CLI prints `str(error)` on one line and exits non-zero."""


class AttestationError(EnclaveError):
    """An attestation document failed one check; `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"attestation rejected: {reason}")
        self.reason = reason


class EnclaveUnavailableError(EnclaveError):
    """The enclave process is not answering (down, killed, or mid-restart)."""


class EnclaveAnswerError(EnclaveError):
    """The enclave answered, but the answer cannot be trusted (wrong key, wrong inputs hash)."""


class NsmUnavailableError(EnclaveError):
    """The configured attestation back end is not present (fail closed, never fall back)."""
