"""The demo: the whole system on embedded defaults. An in-process EVM with the pool, timelock
and steward; a real enclave process registered through the timelock; ETH's real price path
around 2020-03-12 (a seeded synthetic crash when ../shared/data is absent) replayed hour by
hour onto the chain's aggregator, with borrowers and a liquidation keeper; the agent decides
once a day inside the enclave, relays, executes after the delay, and a guardian vetoes one."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sqlmodel import Session, select

from agent import jobs
from agent.jobs import AgentContext, params_of
from agent.store import ProposalRow, ProposalState, make_engine, proposals_by_state
from backtests.data import DATA_DIR, DataError, load_bundled, load_dex_depth_usd
from chain.deploy import AAVE_V3_OCT_2023, SystemConfig, contract, deploy_system
from chain.node import advance_time, dev_accounts, in_process_web3, latest_timestamp
from chain.reader import MarketReader
from chain.steward import StewardClient
from chain.transact import Transactor, call
from enclave.attestation import TrustAnchors
from enclave.client import EnclaveClient, start_enclave
from enclave.nsm import DevCa
from strategies.types import BorrowerPosition

DEMO_DELAY_SECONDS = 600
REPLAY_START = pd.Timestamp("2020-02-28", tz="UTC")
BACKFILL_HOURS = 24 * 120
BORROWER_HEALTH = (1.6, 1.35, 1.2, 1.1, 1.05)
WETH_PER_BORROWER = 100.0


@dataclass
class DemoSummary:
    database: str
    price_source: str
    hours_replayed: int
    decisions: int
    proposals_by_state: dict[str, int]
    weth_before: dict[str, int]
    weth_after: dict[str, int]
    weth_price_start_usd: float
    weth_price_end_usd: float
    liquidations: int
    bad_debt_usd: float
    enclave_address: str
    measurement: str
    proposals: list[dict] = field(default_factory=list)


def price_path(hours: int, seed: int = 7) -> tuple[pd.Series, pd.Series, str]:
    """(backfill, replay) hourly ETH prices: real Binance data, else a seeded crash."""
    try:
        eth = load_bundled("ETH").prices_usd
        backfill = eth.loc[REPLAY_START - pd.Timedelta(hours=BACKFILL_HOURS): REPLAY_START - pd.Timedelta(hours=1)]
        replay = eth.loc[REPLAY_START: REPLAY_START + pd.Timedelta(hours=hours - 1)]
        return backfill, replay, "Binance ETH/USDT hourly, 2020-02-28 onward (real)"
    except DataError:
        rng = np.random.default_rng(seed)
        steps = rng.normal(0, 0.008, BACKFILL_HOURS + hours)
        steps[BACKFILL_HOURS + hours // 2: BACKFILL_HOURS + hours // 2 + 24] -= 0.025  # the crash day
        prices = 220 * np.exp(np.cumsum(steps))
        index = pd.date_range(REPLAY_START - pd.Timedelta(hours=BACKFILL_HOURS), periods=len(prices), freq="h")
        series = pd.Series(prices, index=index)
        return series.iloc[:BACKFILL_HOURS], series.iloc[BACKFILL_HOURS:], "seeded synthetic crash (no ../shared/data)"


def dex_depth_usd(at: pd.Timestamp) -> float:
    """USD sellable within 2% on Uniswap v2 USDC-WETH at `at`; before the pair existed (May
    2020) or without the data, a stated $20M (the backtests' default for ETH)."""
    try:
        depth = load_dex_depth_usd(DATA_DIR / "dex/uniswapv2_USDC-WETH_reserves_2020-05_2022-01.csv")
    except DataError:
        return 20e6
    earlier = depth.loc[:at]
    return float(earlier.iloc[-1]) if len(earlier) and earlier.iloc[-1] > 1e6 else 20e6


class Demo:
    def __init__(self, db_path: Path, home: Path, cycles: int) -> None:
        self.cycles = cycles
        self.engine = make_engine(str(db_path))
        self.db_path = db_path
        self.home = home
        self.w3 = in_process_web3()
        accounts = dev_accounts(self.w3)
        self.governance, self.guardian, self.relayer, self.keeper, self.lender = accounts[:5]
        self.borrowers = accounts[5:10]
        self.backfill, self.replay, self.price_source = price_path(cycles * 24)
        start_price = float(self.replay.iloc[0])
        markets = tuple(replace(m, price_usd_e8=int(start_price * 1e8)) if m.symbol == "WETH" else m for m in AAVE_V3_OCT_2023)
        self.deployment = deploy_system(self.w3, self.governance, self.guardian.address,
                                        SystemConfig(markets=markets, min_delay_seconds=DEMO_DELAY_SECONDS))
        self.reader = MarketReader(self.w3, self.deployment.market)
        self.gov = StewardClient(self.w3, self.deployment, self.governance)
        self.relay = StewardClient(self.w3, self.deployment, self.relayer)
        self.veto = StewardClient(self.w3, self.deployment, self.guardian)
        self.pool = contract(self.w3, "DemoPool", self.deployment.market.pool)
        self.weth = contract(self.w3, "TestToken", self.deployment.asset("WETH").token)
        self.usdc = contract(self.w3, "TestToken", self.deployment.asset("USDC").token)
        self.feed = contract(self.w3, "PushableAggregator", self.deployment.asset("WETH").aggregator)
        self.liquidations = 0
        self.vetoed = False
        # Replayed history is stamped onto chain time: hour 0 of the replay is the chain's now.
        self.time_shift = latest_timestamp(self.w3) - int(self.replay.index[0].timestamp())

    # --- set-up

    def open_positions(self) -> None:
        gov = Transactor(self.w3, self.governance)
        lender = Transactor(self.w3, self.lender)
        lend = 50_000_000 * 10**6
        gov.send(self.usdc.functions.mint(self.lender.address, lend))
        lender.send(self.usdc.functions.approve(self.pool.address, lend))
        lender.send(self.pool.functions.supply(self.usdc.address, lend, self.lender.address, 0))
        price = float(self.replay.iloc[0])
        for borrower, health in zip(self.borrowers, BORROWER_HEALTH, strict=True):
            tx = Transactor(self.w3, borrower)
            amount = int(WETH_PER_BORROWER * 10**18)
            tx.send(self.weth.functions.mint(borrower.address, amount))
            tx.send(self.weth.functions.approve(self.pool.address, amount))
            tx.send(self.pool.functions.supply(self.weth.address, amount, borrower.address, 0))
            debt_usd = WETH_PER_BORROWER * price * 0.83 / health
            debt_usd = min(debt_usd, WETH_PER_BORROWER * price * 0.80)  # within LTV 80.5%
            tx.send(self.pool.functions.borrow(self.usdc.address, int(debt_usd * 10**6), 2, 0, borrower.address))
        keeper = Transactor(self.w3, self.keeper)
        gov.send(self.usdc.functions.mint(self.keeper.address, 10**9 * 10**6))
        keeper.send(self.usdc.functions.approve(self.pool.address, 2**256 - 1))

    def positions(self) -> tuple[BorrowerPosition, ...]:
        """The demo knows its borrowers; a live service would index them from pool events."""
        weth = self.deployment.asset("WETH").token
        found = []
        for borrower in self.borrowers:
            debt = call(self.pool.functions.debtBalanceOf(self.usdc.address, borrower.address)) / 1e6
            if debt > 0:
                collateral = call(self.pool.functions.supplyBalanceOf(weth, borrower.address)) / 1e18
                found.append(BorrowerPosition("WETH", collateral, debt))
        return tuple(found)

    def replay_hour(self, price_usd: float) -> None:
        """One hour of market: the feed moves, the keeper liquidates what fell under HF 1."""
        advance_time(self.w3, 3_600)
        Transactor(self.w3, self.governance).send(self.feed.functions.pushAnswer(int(price_usd * 1e8)))
        keeper = Transactor(self.w3, self.keeper)
        for borrower in self.borrowers:
            health = call(self.pool.functions.getUserAccountData(borrower.address))[5]
            if health < 10**18:
                keeper.send(self.pool.functions.liquidationCall(self.weth.address, self.usdc.address, borrower.address, 2**256 - 1, False))
                self.liquidations += 1

    def guardian_veto(self, ctx: AgentContext) -> None:
        """The guardian (a DAO multisig) vetoes the second proposal during its delay; the agent
        learns it from the chain (reconcile), as it would in production."""
        if self.vetoed:
            return
        with Session(self.engine) as session:
            target = session.exec(select(ProposalRow).where(ProposalRow.state == ProposalState.QUEUED, ProposalRow.id >= 2)).first()
        if target is not None:
            self.veto.cancel(bytes.fromhex(target.operation_id.removeprefix("0x")))
            self.vetoed = True
            jobs.reconcile(ctx)

    def run(self) -> DemoSummary:
        self.open_positions()
        before = params_of(self.reader.read().reserve("WETH"))
        anchors = TrustAnchors().with_root(DevCa.load_or_create(self.home / "dev-ca").root_pem)
        with start_enclave(dev_ca_dir=self.home / "dev-ca") as process:
            client = EnclaveClient(process.url, process.measurement, anchors)
            ctx = AgentContext(self.engine, self.w3, self.deployment, self.relay, client, ["WETH"], governance=self.gov,
                               liquidity_depth_usd={"WETH": dex_depth_usd(self.replay.index[0])},
                               positions=self.positions, reader=self.reader)
            jobs.backfill(ctx, "WETH", [(int(t.timestamp()) + self.time_shift, float(p)) for t, p in self.backfill.items()],
                          "backfill")
            jobs.ensure_enclave(ctx)  # attests and schedules the key's registration in the timelock
            advance_time(self.w3, DEMO_DELAY_SECONDS + 1)
            jobs.execute(ctx)
            attestation = jobs.ensure_enclave(ctx)
            decisions = 0
            for hour, price in enumerate(self.replay.to_numpy()):
                self.replay_hour(float(price))
                jobs.ingest(ctx)
                jobs.execute(ctx)
                if hour % 24 == 23:
                    jobs.decide(ctx)
                    jobs.submit(ctx)
                    self.guardian_veto(ctx)
                    decisions += 1
            advance_time(self.w3, DEMO_DELAY_SECONDS + 1)
            jobs.execute(ctx)
            jobs.reconcile(ctx)
        after = params_of(self.reader.read().reserve("WETH"))
        deficit = call(self.pool.functions.getReserveDeficit(self.usdc.address)) / 1e6
        with Session(self.engine) as session:
            counts = proposals_by_state(session)
            proposals = [
                {"id": p.id, "state": p.state, "asset": p.asset_symbol, "before": json.loads(p.params_before_json),
                 "after": json.loads(p.params_after_json), "operation_id": p.operation_id}
                for p in session.exec(select(ProposalRow).order_by(ProposalRow.id)).all()
            ]
        keys = ("ltv_bps", "liquidation_threshold_bps", "liquidation_bonus_bps", "supply_cap_tokens", "borrow_cap_tokens")
        return DemoSummary(
            database=str(self.db_path), price_source=self.price_source, hours_replayed=len(self.replay),
            decisions=decisions, proposals_by_state=counts,
            weth_before={k: asdict(before)[k] for k in keys}, weth_after={k: asdict(after)[k] for k in keys},
            weth_price_start_usd=float(self.replay.iloc[0]), weth_price_end_usd=float(self.replay.iloc[-1]),
            liquidations=self.liquidations, bad_debt_usd=deficit, enclave_address=attestation.enclave_address,
            measurement=attestation.measurement, proposals=proposals,
        )


def run_demo(cycles: int, db_path: Path, home: Path) -> DemoSummary:
    if db_path.exists():
        db_path.unlink()  # each demo run starts from an empty database
    return Demo(db_path, home, cycles).run()
