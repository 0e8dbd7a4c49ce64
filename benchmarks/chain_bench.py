"""Steward gas and deploy time for the notes: submit (fast and slow path) and execute for 1 and 5
changes, each the first time a reserve's parameters move through the steward (new storage slots)
and again after their cooldown (the slots exist: steady state). Goals (issue 12): submit <= 120k
gas for one change, <= 250k for five.

Run by hand, on an idle machine: `make bench` or
`python benchmarks/chain_bench.py [--backend anvil|in_process|both]`.
"""

from __future__ import annotations

import argparse
import time

from eth_account import Account
from eth_utils import keccak

from chain.deploy import SystemConfig, deploy_system
from chain.listings import oct_2023_listings
from chain.node import advance_time, dev_accounts, in_process_web3, start_anvil
from chain.steward import RegistrarClient, StewardClient
from chain.update import ParameterUpdate, sign_update
from strategies.params import Param

MIN_DELAY_SECONDS = 60
MEASUREMENT = b"\xab" * 48
P = Param

# (label, symbol, changes of the first round, changes of the second round after the cooldown)
CASES = (
    ("fast, 1 change (LTV cut)", "WETH", {P.LTV: 8_025}, {P.LTV: 8_000}),
    ("fast, 4 changes (LTV, LT, caps cut)", "WBTC",
     {P.LTV: 7_275, P.LIQUIDATION_THRESHOLD: 7_775, P.SUPPLY_CAP: 40_000, P.BORROW_CAP: 26_000},
     {P.LTV: 7_250, P.LIQUIDATION_THRESHOLD: 7_750, P.SUPPLY_CAP: 38_000, P.BORROW_CAP: 24_000}),
    ("slow, 1 change (LTV raise)", "USDC", {P.LTV: 7_725}, {P.LTV: 7_750}),
    ("slow, 5 changes (LTV, LT, LB, caps raise)", "LINK",
     {P.LTV: 5_325, P.LIQUIDATION_THRESHOLD: 6_825, P.LIQUIDATION_BONUS: 10_750, P.SUPPLY_CAP: 16_000_000,
      P.BORROW_CAP: 14_000_000},
     {P.LTV: 5_350, P.LIQUIDATION_THRESHOLD: 6_850, P.LIQUIDATION_BONUS: 10_800, P.SUPPLY_CAP: 17_000_000,
      P.BORROW_CAP: 15_000_000}),
    ("slow, 5 changes incl. slope2 (new rate strategy)", "CRV",
     {P.LTV: 3_525, P.LIQUIDATION_THRESHOLD: 4_125, P.SUPPLY_CAP: 52_000_000, P.BORROW_CAP: 8_000_000,
      P.VARIABLE_RATE_SLOPE2: 30_400},
     {P.LTV: 3_550, P.LIQUIDATION_THRESHOLD: 4_150, P.SUPPLY_CAP: 53_000_000, P.BORROW_CAP: 8_300_000,
      P.VARIABLE_RATE_SLOPE2: 30_800}),
)


def measure(w3, label: str) -> None:
    deployer, governance, guardian, operator, relayer = dev_accounts(w3)[:5]
    started = time.perf_counter()
    system = deploy_system(w3, deployer, governance=governance.address, guardian=guardian.address,
                           operator=operator.address,
                           config=SystemConfig(listings=oct_2023_listings(), min_delay_seconds=MIN_DELAY_SECONDS,
                                               initial_measurements=(MEASUREMENT,)))
    deploy_seconds = time.perf_counter() - started
    enclave = Account.from_key(b"\x09" * 32)
    batch, _ = RegistrarClient(w3, system.registrar, operator).schedule_registration(
        enclave.address, MEASUREMENT, keccak(b"bench"), 0)
    advance_time(w3, MIN_DELAY_SECONDS)
    relay = StewardClient.for_system(w3, system, relayer)
    relay.execute(batch)
    inputs_hash = relay.publish_inputs(b"bench inputs").inputs_hash

    def submit(symbol: str, changes: dict[Param, int]):
        anchor = w3.eth.get_block(w3.eth.block_number - 1)
        update = ParameterUpdate(
            enclave.address, w3.eth.chain_id, system.asset(symbol), tuple(int(p) for p in changes),
            tuple(changes.values()), relay.nonce(enclave.address), anchor["number"], bytes(anchor["hash"]),
            anchor["timestamp"], anchor["timestamp"] + 3_600, inputs_hash, MEASUREMENT,
        )
        return relay.submit(update, sign_update(update, enclave.key, system.steward))

    rows = []
    for round_name, index in (("first touch", 2), ("steady state", 3)):
        results = [(case[0], submit(case[1], case[index])) for case in CASES]
        advance_time(w3, MIN_DELAY_SECONDS)
        for name, result in results:
            execute_gas = relay.execute(result.operation)["gasUsed"] if result.operation else None
            rows.append((round_name, name, result.gas_used, execute_gas))
        advance_time(w3, 3 * 86_400)  # past every cooldown
        advance_time(w3, 1)  # so the anchor (the block before the latest) carries the new time

    print(f"\n== {label}: deploy_system (Aave market with 5 reserves, timelock, steward, registrar, factory) "
          f"{deploy_seconds:.2f} s ==")
    print(f"{'round':<13} {'update':<50} {'submit gas':>11} {'execute gas':>12}")
    for round_name, name, submit_gas, execute_gas in rows:
        shown = f"{execute_gas:>12,}" if execute_gas is not None else f"{'(applied)':>12}"
        print(f"{round_name:<13} {name:<50} {submit_gas:>11,} {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["anvil", "in_process", "both"], default="both")
    args = parser.parse_args()
    if args.backend in ("anvil", "both"):
        with start_anvil() as node:
            measure(node.web3(), "anvil over loopback HTTP")
    if args.backend in ("in_process", "both"):
        measure(in_process_web3(), "in-process EVM (py-evm)")


if __name__ == "__main__":
    main()
