"""Failures a user of the chain adapters can act on, each with a message fit for one line."""

from __future__ import annotations


class ChainError(Exception):
    """Base class: the CLI prints `str(error)` and exits non-zero."""


class ArtifactMissingError(ChainError):
    def __init__(self, name: str, path: str) -> None:
        super().__init__(f"contract artifact {name!r} not found at {path} (run `make contracts`)")
        self.name = name


class RpcUnavailableError(ChainError):
    def __init__(self, rpc_url: str, reason: str) -> None:
        super().__init__(f"cannot reach the node at {rpc_url}: {reason}")
        self.rpc_url = rpc_url


class NodeStartError(ChainError):
    """A local node (anvil) did not come up."""


class DeploymentFileError(ChainError):
    """The deployment file is missing, unreadable, or for another chain."""


class ContractRevert(ChainError):
    """A call or transaction reverted; `name` and `args` are the decoded custom error."""

    def __init__(self, name: str, args: tuple[object, ...], function: str = "") -> None:
        shown = ", ".join(_show(a) for a in args)
        where = f" in {function}" if function else ""
        super().__init__(f"reverted{where}: {name}({shown})")
        self.name = name
        self.args_decoded = args
        self.function = function


def _show(value: object) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)
