"""Chain figures for the notes: steward submit gas (1 and 5 changes), execute gas, and the
time to read 20 reserves with one Multicall3 call versus one eth_call per field.

Run by hand: `make bench` (or `python benchmarks/chain_bench.py [--backend anvil|in_process]`).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from eth_account import Account

from chain.deploy import AAVE_V3_OCT_2023, SystemConfig, deploy_system
from chain.node import advance_time, dev_accounts, in_process_web3, latest_timestamp, start_anvil
from chain.reader import MarketReader
from chain.steward import StewardClient
from chain.update import Param, ParameterUpdate, sign_update

MIN_DELAY_SECONDS = 60


def twenty_markets():
    return tuple(replace(AAVE_V3_OCT_2023[i % 5], symbol=f"{AAVE_V3_OCT_2023[i % 5].symbol}{i}") for i in range(20))


def measure(w3, label: str) -> None:
    accounts = dev_accounts(w3)
    governance, guardian, relayer = accounts[:3]
    deployment = deploy_system(w3, governance, guardian.address, SystemConfig(markets=twenty_markets(), min_delay_seconds=MIN_DELAY_SECONDS))
    enclave = Account.from_key(b"\x09" * 32)
    measurement = b"\xab" * 48
    gov = StewardClient(w3, deployment, governance)
    op = gov.schedule_governance(
        [
            gov.encode_steward_call("setMeasurementApproval", measurement, True),
            gov.encode_steward_call("registerEnclave", enclave.address, measurement, b"\x00" * 32, 0),
        ],
        b"\x01" * 32,
    )
    advance_time(w3, MIN_DELAY_SECONDS + 1)
    gov.execute_ready()
    relay = StewardClient(w3, deployment, relayer)

    def submit(symbol: str, changes: dict[Param, int], nonce: int):
        update = ParameterUpdate(
            enclave.address, w3.eth.chain_id, deployment.asset(symbol).token, tuple(changes), tuple(changes.values()),
            nonce, latest_timestamp(w3) + 3_600, b"\x11" * 32, measurement,
        )
        return relay.submit(update, sign_update(update, enclave.key, deployment.steward))

    one = submit("WETH0", {Param.LTV: 8_025}, 1)
    five = submit(
        "USDC2",
        {Param.LTV: 7_675, Param.LIQUIDATION_THRESHOLD: 7_975, Param.SUPPLY_CAP: 1_800_000_000,
         Param.BORROW_CAP: 1_600_000_000, Param.VARIABLE_RATE_SLOPE2: 6_200},
        2,
    )
    advance_time(w3, MIN_DELAY_SECONDS + 1)
    operations = {o.operation_id: o for o in relay.scheduled_operations()}
    execute_gas = {}
    for name, result in (("1 change", one), ("5 changes", five)):
        tx_hash = relay.execute(operations[result.operation_id])
        execute_gas[name] = w3.eth.get_transaction_receipt(tx_hash)["gasUsed"]

    reader = MarketReader(w3, deployment.market)
    timings = {"multicall": [], "per field": []}
    for _ in range(5):
        start = time.perf_counter()
        batched = reader.read()
        timings["multicall"].append(time.perf_counter() - start)
        start = time.perf_counter()
        separate = reader.read_field_by_field()
        timings["per field"].append(time.perf_counter() - start)
    assert batched.reserves == separate.reserves

    print(f"\n== {label} ==")
    print(f"submit gas, 1 change:   {one.gas_used:>9,}")
    print(f"submit gas, 5 changes:  {five.gas_used:>9,}")
    print(f"execute gas, 1 change:  {execute_gas['1 change']:>9,}")
    print(f"execute gas, 5 changes: {execute_gas['5 changes']:>9,}")
    calls = 20 * 5
    for name, values in timings.items():
        print(f"read 20 reserves, {name:<10} median {statistics.median(values) * 1e3:8.1f} ms"
              + (f"  ({calls} eth_calls + 2)" if name == "per field" else "  (1 eth_call)"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["anvil", "in_process", "both"], default="both")
    args = parser.parse_args()
    if args.backend in ("anvil", "both"):
        with start_anvil() as node:
            measure(node.web3(), "anvil 1.7.1 over loopback HTTP")
    if args.backend in ("in_process", "both"):
        measure(in_process_web3(), "in-process EVM (py-evm)")


if __name__ == "__main__":
    main()
