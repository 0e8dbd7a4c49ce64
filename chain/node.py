"""Local nodes and the few node operations that differ between backends.

The embedded default is the in-process EVM (py-evm through eth-tester); integration tests and
local devnets use anvil from the npm package pinned in package.json. Time travel and
snapshots are the only places the two differ, and they are wrapped here.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.backends.pyevm.serializers import serialize_transaction, serialize_transaction_receipt
from eth_tester.exceptions import TransactionNotFound
from web3 import EthereumTesterProvider, HTTPProvider, Web3

from chain.errors import NodeStartError, RpcUnavailableError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ANVIL_BINARY = PROJECT_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
ANVIL_CHAIN_ID = 31337


class IndexedPyEVMBackend(PyEVMBackend):
    """py-evm through eth-tester finds a transaction by scanning blocks back from the head for
    every receipt, and a log query asks for the receipt of every transaction in its range: on
    a chain of a few thousand blocks one `eth_getLogs` took seconds. This backend keeps a
    transaction-hash -> block-number index, filled incrementally and re-checked against the
    canonical chain (a snapshot revert replaces blocks), and answers the same serialized
    receipts and transactions."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._block_of_tx: dict[bytes, int] = {}
        self._indexed_hashes: list[bytes] = []  # canonical block hash per indexed number

    def _reindex(self) -> None:
        chain = self.chain
        head = chain.get_block().number  # the pending block; mined blocks are below it
        # Drop indexed numbers whose canonical block changed (a revert) or no longer exists.
        keep = min(len(self._indexed_hashes), head)
        while keep > 0 and chain.get_canonical_block_hash(keep - 1) != self._indexed_hashes[keep - 1]:
            keep -= 1
        del self._indexed_hashes[keep:]
        for number in range(len(self._indexed_hashes), head):
            block = chain.get_canonical_block_by_number(number)
            for transaction in block.transactions:
                self._block_of_tx[transaction.hash] = number
            self._indexed_hashes.append(block.hash)

    def _locate(self, transaction_hash: bytes):
        chain = self.chain
        head = chain.get_block()
        for index, transaction in enumerate(head.transactions):
            if transaction.hash == transaction_hash:
                return head, transaction, index
        for attempt in range(2):
            number = self._block_of_tx.get(transaction_hash)
            if number is not None and number < head.number:
                block = chain.get_canonical_block_by_number(number)
                for index, transaction in enumerate(block.transactions):
                    if transaction.hash == transaction_hash:
                        return block, transaction, index
            if attempt == 0:
                self._reindex()
        raise TransactionNotFound(f"No transaction found for transaction hash: {transaction_hash.hex()}")

    def get_transaction_by_hash(self, transaction_hash):
        block, transaction, index = self._locate(transaction_hash)
        return serialize_transaction(block, transaction, index, block.number == self.chain.get_block().number)

    def get_transaction_receipt(self, transaction_hash):
        block, transaction, index = self._locate(transaction_hash)
        return serialize_transaction_receipt(block, block.get_receipts(self.chain.chaindb), transaction, index,
                                             block.number == self.chain.get_block().number, self.chain.get_vm())


def in_process_web3() -> Web3:
    """A fresh in-process EVM (Cancun rules) with ten funded accounts."""
    return Web3(EthereumTesterProvider(EthereumTester(IndexedPyEVMBackend())))


def connect(rpc_url: str, timeout_seconds: float = 10.0) -> Web3:
    """A `Web3` for a JSON-RPC URL, checked by asking the chain id so a wrong URL fails here."""
    if not rpc_url.startswith(("http://", "https://")):
        raise RpcUnavailableError(rpc_url, "only http(s) JSON-RPC URLs are supported")
    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_seconds}))
    try:
        w3.eth.chain_id
    except (requests.ConnectionError, requests.Timeout) as error:
        raise RpcUnavailableError(rpc_url, _short_reason(error)) from None
    except (requests.HTTPError, ValueError) as error:
        raise RpcUnavailableError(rpc_url, f"not a JSON-RPC endpoint ({_short_reason(error)})") from None
    return w3


def _short_reason(error: Exception) -> str:
    text = str(error)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "Failed to resolve" in text:
        return "host name does not resolve"
    return text.splitlines()[0][:160] if text else type(error).__name__


def is_in_process(w3: Web3) -> bool:
    return isinstance(w3.provider, EthereumTesterProvider)


def dev_accounts(w3: Web3) -> list[LocalAccount]:
    """The funded development accounts of the local node, as local signers."""
    if is_in_process(w3):
        keys = w3.provider.ethereum_tester.backend.account_keys
        return [Account.from_key(key.to_bytes()) for key in keys]
    Account.enable_unaudited_hdwallet_features()
    return [Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(10)]


def latest_timestamp(w3: Web3) -> int:
    return int(w3.eth.get_block("latest")["timestamp"])


def advance_time(w3: Web3, seconds: int) -> int:
    """Moves the chain clock forward and mines a block; returns the new block timestamp."""
    if is_in_process(w3):
        tester = w3.provider.ethereum_tester
        tester.time_travel(latest_timestamp(w3) + seconds)
        tester.mine_blocks(1)
    else:
        w3.provider.make_request("evm_increaseTime", [seconds])
        w3.provider.make_request("evm_mine", [])
    return latest_timestamp(w3)


def snapshot(w3: Web3) -> object:
    if is_in_process(w3):
        return w3.provider.ethereum_tester.take_snapshot()
    return w3.provider.make_request("evm_snapshot", [])["result"]


def revert_to(w3: Web3, snapshot_id: object) -> None:
    if is_in_process(w3):
        w3.provider.ethereum_tester.revert_to_snapshot(snapshot_id)
    else:
        w3.provider.make_request("evm_revert", [snapshot_id])


def stop_process(process: subprocess.Popen, timeout_s: float = 5) -> None:
    """SIGTERM, then SIGKILL if it has not exited within the timeout."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class AnvilNode:
    """An anvil process on a free loopback port; stop it with `stop()` or a `with` block."""

    port: int
    process: subprocess.Popen
    log_path: Path
    rpc_url: str = field(init=False)

    def __post_init__(self) -> None:
        self.rpc_url = f"http://127.0.0.1:{self.port}"

    def web3(self) -> Web3:
        return connect(self.rpc_url)

    def stop(self) -> None:
        stop_process(self.process)

    def __enter__(self) -> AnvilNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_anvil(
    *, chain_id: int = ANVIL_CHAIN_ID, block_time_seconds: int | None = None, log_dir: Path | None = None
) -> AnvilNode:
    """Starts anvil from the pinned npm package and waits until it answers."""
    binary = ANVIL_BINARY if ANVIL_BINARY.exists() else shutil.which("anvil")
    if binary is None:
        raise NodeStartError(f"anvil not found at {ANVIL_BINARY} (run `npm ci`)")
    port = free_loopback_port()
    log_path = (log_dir or Path("/tmp")) / f"anvil-{port}.log"
    command = [
        str(binary),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--chain-id", str(chain_id),
        "--hardfork", "cancun",
        "--silent",
    ]
    if block_time_seconds:
        command += ["--block-time", str(block_time_seconds)]
    log = log_path.open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    node = AnvilNode(port=port, process=process, log_path=log_path)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NodeStartError(f"anvil exited with {process.returncode}: {log_path.read_text()[-400:]}")
        try:
            requests.post(node.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=1)
            return node
        except requests.ConnectionError:
            time.sleep(0.05)
    node.stop()
    raise NodeStartError(f"anvil did not answer on {node.rpc_url} within 20 s")
