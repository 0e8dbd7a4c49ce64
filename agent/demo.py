"""The demo: the whole system on embedded defaults, as a scenario over the real service jobs
and a real Aave v3 market.

An in-process EVM runs Aave v3 (the npm artifacts, unmodified), the timelock, the steward and
the registrar; a real enclave process is attested and its key registered through the
registrar and the timelock. ETH's real hourly path around the 2021-05-19 crash (Binance;
a seeded synthetic crash when ../shared/data is absent) is pushed hour by hour onto the WETH
feed, the WETH/USDC pair's depth follows the bundled Uniswap v2 reserves, borrowers supply
WETH and borrow USDC through the Pool, and a keeper calls `liquidationCall` on every account
under HF 1. The agent ingests, decides once a day inside the enclave, publishes its inputs,
relays; tightening applies at once, the rest after the delay; the guardian vetoes one update.
Bad debt is the debt left on accounts with no collateral (Aave v3.0 has no deficit accounting).

History is replayed at the chain's clock: every timestamp is shifted by `time_shift_s` (the
chain's start minus the replay's), which the store keeps so the dashboard shows 2021."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from eth_account import Account
from eth_utils import keccak
from sqlmodel import Session, select

from agent import jobs
from agent.jobs import AgentContext
from agent.store import ProposalRow, ProposalState, RunInfoRow, make_engine, proposals_by_state
from backtests.data import DATA_DIR, DataError, load_bundled
from chain.aave import aave_contract, our_contract, set_pair_reserves
from chain.deploy import SystemConfig, deploy_system
from chain.listings import PRICE_DECIMALS, oct_2023_listings
from chain.multicall import Multicall, encode
from chain.node import advance_time, dev_accounts, in_process_web3, latest_timestamp
from chain.reader import MarketReader
from chain.steward import RegistrarClient, StewardClient
from chain.transact import Transactor
from enclave.attestation import TrustAnchors
from enclave.client import EnclaveClient, start_enclave
from enclave.image import measure
from enclave.nsm import DevCa
from strategies.config import default_config
from strategies.params import AAVE_V3_OCT_2023

DEMO_DELAY_SECONDS = 600
REPLAY_START = pd.Timestamp("2021-05-12", tz="UTC")
DEX_FILE = "dex/uniswapv2_USDC-WETH_reserves_2020-05_2022-01.csv"
# Borrowers: WETH supplied and the health factor each opens at (LT 83%, LTV 80.5%).
BORROWERS = ((120.0, 1.04), (80.0, 1.08), (150.0, 1.12), (60.0, 1.2), (200.0, 1.3), (90.0, 1.45), (110.0, 1.7),
             (70.0, 2.2))
LENDER_USDC = 80_000_000
MAX_UINT = 2**256 - 1


@dataclass
class DemoSummary:
    database: str
    price_source: str
    hours_replayed: int
    seconds: float
    decisions: int
    proposals_by_state: dict[str, int]
    weth_before: dict[str, int]
    weth_after: dict[str, int]
    weth_price_start_usd: float
    weth_price_end_usd: float
    liquidations: int
    bad_debt_usd: float
    accounts_with_bad_debt: int
    enclave_address: str
    measurement: str
    time_shift_s: int
    proposals: list[dict] = field(default_factory=list)


def price_path(hours: int, window_hours: int, seed: int = 7) -> tuple[pd.Series, pd.Series, str]:
    """(backfill, replay) ETH prices as known each hour: real Binance data, else a seeded crash."""
    try:
        eth = load_bundled("ETH")
        backfill = eth.prices_usd.loc[REPLAY_START - pd.Timedelta(hours=window_hours + 4): REPLAY_START - pd.Timedelta(seconds=1)]
        replay = eth.prices_usd.loc[REPLAY_START: REPLAY_START + pd.Timedelta(hours=hours - 1)]
        return backfill, replay, f"Binance ETH/USDT hourly from {REPLAY_START:%Y-%m-%d} (real); {eth.observation_source}"
    except DataError:
        rng = np.random.default_rng(seed)
        steps = rng.normal(0, 0.008, window_hours + 4 + hours)
        steps[window_hours + hours // 2: window_hours + hours // 2 + 24] -= 0.02  # the crash day
        prices = 3_900 * np.exp(np.cumsum(steps))
        index = pd.date_range(REPLAY_START - pd.Timedelta(hours=window_hours + 4), periods=len(prices), freq="h")
        series = pd.Series(prices, index=index)
        return (series.loc[: REPLAY_START - pd.Timedelta(seconds=1)], series.loc[REPLAY_START:].iloc[:hours],
                f"seeded synthetic crash, seed {seed} (no ../shared/data)")


def weth_pair_reserve(at: pd.Timestamp) -> float:
    """WETH in the Uniswap v2 USDC-WETH pair at `at` (the last snapshot before it); 43,000
    (its size in May 2021) without the data."""
    try:
        frame = pd.read_csv(DATA_DIR / DEX_FILE, usecols=["datetime", "reserve1"])
    except (FileNotFoundError, ValueError):
        return 43_000.0
    times = pd.to_datetime(frame["datetime"], utc=True, format="ISO8601")
    earlier = frame["reserve1"][times <= at]
    return float(earlier.iloc[-1]) if len(earlier) else 43_000.0


class Demo:
    def __init__(self, db_path: Path, home: Path, cycles: int, progress: Callable[[int, int], None] | None = None) -> None:
        self.started = time.perf_counter()
        self.cycles = cycles
        self.progress = progress
        self.db_path = db_path
        self.home = home
        self.config = default_config()
        self.engine = make_engine(str(db_path))
        self.w3 = in_process_web3()
        accounts = dev_accounts(self.w3)
        self.deployer, self.governance, self.guardian, self.operator, self.keeper, self.lender = accounts[:6]
        self.borrowers = [Account.from_key(keccak(text=f"risk-agent demo borrower {i}")) for i in range(len(BORROWERS))]
        self.backfill, self.replay, self.price_source = price_path(cycles * 24, self.config.window.history_hours)
        self.time_shift = latest_timestamp(self.w3) + 60 - int(self.replay.index[0].timestamp())
        start_price = float(self.replay.iloc[0])
        listings = tuple(replace(l, price_usd_e8=int(round(start_price * 10**PRICE_DECIMALS))) if l.symbol == "WETH" else l
                         for l in oct_2023_listings())
        self.measurement = measure().digest
        self.system = deploy_system(
            self.w3, self.deployer, governance=self.governance.address, guardian=self.guardian.address,
            operator=self.operator.address, price_keeper=self.governance.address,
            config=SystemConfig(listings=listings, min_delay_seconds=DEMO_DELAY_SECONDS,
                                initial_measurements=(self.measurement,)),
        )
        self.deployment = self.system.to_deployment()
        self.market = self.system.market
        self.relay = StewardClient.for_system(self.w3, self.system, self.operator)
        self.veto_client = StewardClient.for_system(self.w3, self.system, self.guardian)
        self.keeper_tx = Transactor(self.w3, self.keeper)
        self.price_tx = Transactor(self.w3, self.governance)
        self.pool = aave_contract(self.w3, "Pool", self.market.pool)
        self.weth, self.usdc = self.market.reserve("WETH"), self.market.reserve("USDC")
        self.feed = our_contract(self.w3, "PushableAggregator", self.weth.feed)
        self.multicall = Multicall(self.w3, self.market.multicall)
        self.liquidations = 0
        self.vetoed = False
        self.debts: dict[str, float] = {}

    # --- set-up

    def fund_and_open_positions(self) -> None:
        """The lender supplies USDC; each borrower supplies WETH and borrows USDC to its HF."""
        usdc = our_contract(self.w3, "TestToken", self.usdc.underlying)
        weth = our_contract(self.w3, "TestToken", self.weth.underlying)
        lender = Transactor(self.w3, self.lender)
        amount = LENDER_USDC * 10**6
        lender.send(usdc.functions.mint(self.lender.address, amount))
        lender.send(usdc.functions.approve(self.pool.address, amount))
        lender.send(self.pool.functions.supply(usdc.address, amount, self.lender.address, 0))
        price = float(self.replay.iloc[0])
        threshold = AAVE_V3_OCT_2023["WETH"].liquidation_threshold_bps / 1e4
        ltv = AAVE_V3_OCT_2023["WETH"].ltv_bps / 1e4
        for borrower, (tokens, health) in zip(self.borrowers, BORROWERS, strict=True):
            self.w3.eth.send_transaction({"from": self.deployer.address, "to": borrower.address, "value": 10**19})
            tx = Transactor(self.w3, borrower)
            raw = int(tokens * 10**18)
            tx.send(weth.functions.mint(borrower.address, raw))
            tx.send(weth.functions.approve(self.pool.address, raw))
            tx.send(self.pool.functions.supply(weth.address, raw, borrower.address, 0))
            debt_usd = min(tokens * price * threshold / health, tokens * price * ltv * 0.999)
            tx.send(self.pool.functions.borrow(usdc.address, int(debt_usd * 10**6), 2, 0, borrower.address))
        self.keeper_tx.send(usdc.functions.mint(self.keeper.address, 10**9 * 10**6))
        self.keeper_tx.send(usdc.functions.approve(self.pool.address, MAX_UINT))
        self.refresh_debts()

    def refresh_debts(self) -> None:
        """The keeper's index of positions (as real keepers keep one): collateral and debt from
        the pool, refreshed daily and after each liquidation; health factors in between are
        computed off chain from the feed's price, and only candidates are checked on chain."""
        calls = [encode(self.pool, "getUserAccountData", b.address) for b in self.borrowers]
        for borrower, data in zip(self.borrowers, self.multicall.read(calls), strict=True):
            # collateral and debt (USD, 8 decimals) and the account's liquidation threshold (bps)
            self.debts[borrower.address] = (int(data[0]), int(data[1]), int(data[3]))

    def keeper_round(self, price_usd: float, previous_price_usd: float) -> None:
        """Liquidates every account under HF 1 (checked on chain for the candidates)."""
        candidates = []
        ratio = price_usd / previous_price_usd
        for borrower in self.borrowers:
            collateral_base, debt_base, threshold_bps = self.debts[borrower.address]
            if debt_base == 0:
                continue
            estimated = collateral_base * ratio * threshold_bps / 1e4 / debt_base
            if estimated < 1.02:
                candidates.append(borrower)
        if not candidates:
            return
        calls = [encode(self.pool, "getUserAccountData", b.address) for b in candidates]
        for borrower, data in zip(candidates, self.multicall.read(calls), strict=True):
            if int(data[1]) > 0 and int(data[5]) < 10**18:
                self.keeper_tx.send(self.pool.functions.liquidationCall(
                    self.weth.underlying, self.usdc.underlying, borrower.address, MAX_UINT, False))
                self.liquidations += 1
        self.refresh_debts()

    def set_pair(self, at: pd.Timestamp, price_usd: float) -> None:
        """The WETH/USDC pair holds the WETH the bundled Uniswap v2 pair held at that time,
        priced at the feed's price (as arbitrage keeps a DEX)."""
        weth_reserve = weth_pair_reserve(at)
        set_pair_reserves(self.w3, self.price_tx, self.weth.pair, {
            self.weth.underlying: int(weth_reserve * 10**18),
            self.usdc.underlying: int(weth_reserve * price_usd * 10**6),
        })

    def guardian_veto(self, ctx: AgentContext) -> None:
        """The guardian (a DAO multisig) vetoes the first queued slow-path update during its
        delay; the agent learns it from the chain (reconcile), as it would in production."""
        if self.vetoed:
            return
        with Session(self.engine) as session:
            target = session.exec(select(ProposalRow).where(ProposalRow.state == ProposalState.QUEUED)).first()
        if target is not None:
            operation = jobs._scheduled(ctx, target)
            self.veto_client.veto(operation)
            self.vetoed = True
            jobs.reconcile(ctx)

    def bad_debt(self) -> tuple[float, int]:
        calls = [encode(self.pool, "getUserAccountData", b.address) for b in self.borrowers]
        debt, accounts = 0.0, 0
        for data in self.multicall.read(calls):
            if int(data[0]) == 0 and int(data[1]) > 0:
                debt += int(data[1]) / 10**PRICE_DECIMALS
                accounts += 1
        return debt, accounts

    def run(self) -> DemoSummary:
        self.fund_and_open_positions()
        reader = jobs.reader_for(self.w3, self.deployment, ["WETH"])
        before = reader.read().reserve("WETH").params
        with Session(self.engine) as session:
            session.merge(RunInfoRow(key="time_shift_s", value=str(self.time_shift)))
            session.merge(RunInfoRow(key="price_source", value=self.price_source))
            session.commit()
        anchors = TrustAnchors().with_root(DevCa.load_or_create(self.home / "dev-ca").root_pem)
        with start_enclave(dev_ca_dir=self.home / "dev-ca") as process:
            client = EnclaveClient(process.url, process.measurement, anchors)
            ctx = AgentContext(self.engine, self.w3, self.deployment, self.relay, client, ["WETH"],
                               registrar=RegistrarClient(self.w3, self.system.registrar, self.operator),
                               config=self.config, reader=reader)
            times = np.array([int(t.timestamp()) + self.time_shift for t in self.backfill.index])
            jobs.backfill(ctx, "WETH", times, self.backfill.to_numpy(), f"{self.price_source.split('; ')[-1]};shift_s={self.time_shift}")
            jobs.ensure_enclave(ctx)  # attests and proposes the key's registration through the registrar
            advance_time(self.w3, DEMO_DELAY_SECONDS + 1)
            jobs.execute(ctx)
            attestation = jobs.ensure_enclave(ctx)
            decisions = 0
            previous = float(self.replay.iloc[0])
            total = len(self.replay)
            for hour, (stamp, price) in enumerate(self.replay.items()):
                target = int(stamp.timestamp()) + self.time_shift
                advance_time(self.w3, max(target - latest_timestamp(self.w3), 1))
                self.price_tx.send(self.feed.functions.pushAnswer(int(round(float(price) * 10**PRICE_DECIMALS))), simulate=False)
                self.keeper_round(float(price), previous)
                previous = float(price)
                jobs.execute(ctx)
                if hour % 24 == 23:
                    self.set_pair(stamp, float(price))
                    jobs.ingest(ctx)
                    self.refresh_debts()
                    jobs.decide(ctx)
                    jobs.submit(ctx)
                    self.guardian_veto(ctx)
                    decisions += 1
                if self.progress is not None:
                    self.progress(hour + 1, total)
            advance_time(self.w3, DEMO_DELAY_SECONDS + 1)
            jobs.execute(ctx)
            jobs.reconcile(ctx)
        after = reader.read().reserve("WETH").params
        bad_debt, bad_accounts = self.bad_debt()
        with Session(self.engine) as session:
            counts = proposals_by_state(session)
            proposals = [
                {"id": p.id, "state": p.state, "path": p.path, "asset": p.asset_symbol,
                 "before": json.loads(p.params_before_json), "after": json.loads(p.params_after_json),
                 "operation_id": p.operation_id}
                for p in session.exec(select(ProposalRow).order_by(ProposalRow.id)).all()
            ]
        keys = ("ltv_bps", "liquidation_threshold_bps", "liquidation_bonus_bps", "supply_cap_tokens", "borrow_cap_tokens")
        return DemoSummary(
            database=str(self.db_path), price_source=self.price_source, hours_replayed=len(self.replay),
            seconds=time.perf_counter() - self.started, decisions=decisions, proposals_by_state=counts,
            weth_before={k: before.as_dict()[k] for k in keys}, weth_after={k: after.as_dict()[k] for k in keys},
            weth_price_start_usd=float(self.replay.iloc[0]), weth_price_end_usd=float(self.replay.iloc[-1]),
            liquidations=self.liquidations, bad_debt_usd=bad_debt, accounts_with_bad_debt=bad_accounts,
            enclave_address=attestation.enclave_address, measurement=attestation.measurement,
            time_shift_s=self.time_shift, proposals=proposals,
        )


def run_demo(cycles: int, db_path: Path, home: Path, progress: Callable[[int, int], None] | None = None) -> DemoSummary:
    if db_path.exists():
        db_path.unlink()  # each demo run starts from an empty database
    return Demo(db_path, home, cycles, progress).run()


def summary_json(summary: DemoSummary) -> str:
    return json.dumps(asdict(summary), indent=1)
