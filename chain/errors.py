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


class NotAnAddressesProviderError(ChainError):
    """The address given as a market's PoolAddressesProvider does not behave like one."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"{address} is not an Aave v3 PoolAddressesProvider on this chain ({reason})")
        self.address = address


class AssetNotListedError(ChainError):
    """A symbol or token asked for is not a reserve of the market."""

    def __init__(self, asset: str, listed: tuple[str, ...]) -> None:
        super().__init__(f"asset {asset!r} is not listed on this market (listed: {', '.join(listed) or 'none'})")
        self.asset = asset


class WrongChainError(ChainError):
    """The RPC serves another chain than the deployment (or the caller) names."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"the RPC serves chain {actual}, but the deployment is for chain {expected}")
        self.expected = expected
        self.actual = actual


class MulticallMissingError(ChainError):
    """No Multicall3 at the address the reader would batch through."""

    def __init__(self, address: str) -> None:
        super().__init__(f"no Multicall3 contract at {address} on this chain (name one in the deployment file)")
        self.address = address


class UnsupportedMarketError(ChainError):
    """An Aave market whose shape the reader does not handle (e.g. a base currency other than USD)."""
