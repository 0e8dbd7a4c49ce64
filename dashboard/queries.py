"""Read-only access to the agent's store for the dashboard: small, paginated queries on an
engine from `open_read_only` (never migrated, never written; SQLite opened with mode=ro).

Times: chain timestamps (block times, ETAs) are shown in the data's own time when the store
holds a replay (`time_shift_s` in run_info): `data_seconds(t) = t - shift`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlmodel import Session, col, func, select

from agent.status import time_shift_s
from agent.store import (
    AttestationRow,
    BacktestRunRow,
    DecisionRow,
    JobStatusRow,
    MarketSnapshotRow,
    PricePointRow,
    ProposalRow,
    RunInfoRow,
    UtilizationPointRow,
    open_read_only,
)
from strategies.params import REGISTRY

PAGE_SIZE = 50
DB_ENV = "RISK_AGENT_DASHBOARD_DB"
SHORT = {"ltv_bps": "LTV", "liquidation_threshold_bps": "LT", "liquidation_bonus_bps": "LB",
         "supply_cap_tokens": "supply cap",
         "borrow_cap_tokens": "borrow cap", "reserve_factor_bps": "reserve factor",
         "optimal_usage_ratio_bps": "optimal usage",
         "base_variable_borrow_rate_bps": "base rate", "variable_rate_slope1_bps": "slope 1",
         "variable_rate_slope2_bps": "slope 2"}


def database_url() -> str:
    return os.environ.get(DB_ENV, "var/demo.sqlite")


def engine_for(url: str | None = None):
    """Raises agent.store.DatabaseError (one line) for a missing, foreign or unreadable database."""
    return open_read_only(url or database_url())


def to_time(seconds) -> pd.Series | pd.Timestamp:
    return pd.to_datetime(seconds, unit="s", utc=True)


# ------------------------------------------------------------------ run facts


def time_shift(engine) -> int:
    with Session(engine) as session:
        return time_shift_s(session)


def run_info(engine) -> dict[str, str]:
    with Session(engine) as session:
        return {row.key: row.value for row in session.exec(select(RunInfoRow)).all()}


def job_status(engine) -> pd.DataFrame:
    with Session(engine) as session:
        rows = session.exec(select(JobStatusRow).order_by(JobStatusRow.name)).all()
    return pd.DataFrame([r.model_dump() for r in rows])


@dataclass(frozen=True)
class Snapshot:
    block: int
    timestamp: int
    reserves: list[dict]

    def reserve(self, symbol: str) -> dict | None:
        return next((r for r in self.reserves if r.get("symbol") == symbol), None)


def last_snapshot(engine) -> Snapshot | None:
    with Session(engine) as session:
        row = session.exec(select(MarketSnapshotRow).order_by(col(MarketSnapshotRow.block_number).desc())).first()
    if row is None:
        return None
    return Snapshot(int(row.block_number), int(row.block_timestamp), json.loads(row.reserves_json))


def counts_by_state(engine) -> dict[str, int]:
    with Session(engine) as session:
        return {state: int(n) for state, n in
                session.exec(select(ProposalRow.state, func.count()).group_by(ProposalRow.state)).all()}


# ------------------------------------------------------------------ proposals


@dataclass(frozen=True)
class ProposalPage:
    rows: pd.DataFrame
    total: int
    page: int
    pages: int


def changes_text(before: dict, after: dict) -> str:
    """'LT 8,300→8,275, LTV 8,050→8,025' over the changed parameters, registry order."""
    return ", ".join(f"{SHORT.get(spec.field, spec.field)} {before.get(spec.field, 0):,}→{after[spec.field]:,}"
                     for spec in REGISTRY if spec.field in after and after[spec.field] != before.get(spec.field))


def _decided_at(update_json: str) -> int | None:
    try:
        return int(json.loads(update_json)["anchor_timestamp"])
    except (ValueError, KeyError, TypeError):
        return None


def proposals(engine, *, assets: tuple[str, ...] = (), states: tuple[str, ...] = (), page: int = 1,
              page_size: int = PAGE_SIZE, shift: int = 0) -> ProposalPage:
    with Session(engine) as session:
        query = select(ProposalRow)
        if assets:
            query = query.where(col(ProposalRow.asset_symbol).in_(assets))
        if states:
            query = query.where(col(ProposalRow.state).in_(states))
        total = int(session.exec(select(func.count()).select_from(query.subquery())).one())
        pages = max(1, -(-total // page_size))
        page = min(max(page, 1), pages)
        ordered = query.order_by(col(ProposalRow.id).desc())
        rows = session.exec(ordered.offset((page - 1) * page_size).limit(page_size)).all()
    records = []
    for r in rows:
        decided = _decided_at(r.update_json)
        records.append({
            "id": r.id, "decided": to_time(decided - shift) if decided else pd.NaT, "asset": r.asset_symbol,
            "state": r.state, "path": r.path, "ETA": to_time(r.eta - shift) if r.eta else pd.NaT,
            "changes": changes_text(json.loads(r.params_before_json), json.loads(r.params_after_json)),
            "operation": r.operation_id or ""})
    return ProposalPage(pd.DataFrame(records), total, page, pages)


def queued(engine, limit: int = 100) -> list[ProposalRow]:
    with Session(engine) as session:
        return list(session.exec(select(ProposalRow).where(ProposalRow.state == "queued")
                                 .order_by(col(ProposalRow.eta)).limit(limit)).all())


def distinct_assets(engine) -> list[str]:
    with Session(engine) as session:
        return sorted(session.exec(select(ProposalRow.asset_symbol).distinct()).all())


@dataclass(frozen=True)
class ProposalDetail:
    proposal: ProposalRow
    decision: DecisionRow
    attestation: AttestationRow | None
    recommendation: dict
    before: dict
    after: dict

    @property
    def asset_recommendation(self) -> dict:
        return next((a for a in self.recommendation.get("assets",
                                                        []) if a.get("symbol") == self.proposal.asset_symbol), {})

    @property
    def metrics(self) -> dict:
        return self.asset_recommendation.get("metrics", {})


def proposal_detail(engine, proposal_id: int) -> ProposalDetail | None:
    with Session(engine) as session:
        row = session.get(ProposalRow, proposal_id)
        if row is None:
            return None
        decision = session.get(DecisionRow, row.decision_id)
        attestation = session.get(AttestationRow, decision.attestation_id) if decision.attestation_id else None
    return ProposalDetail(row, decision, attestation, json.loads(decision.recommendation_json),
                          json.loads(row.params_before_json), json.loads(row.params_after_json))


# ------------------------------------------------------------------ markets


def market_symbols(engine) -> list[str]:
    with Session(engine) as session:
        priced = set(session.exec(select(PricePointRow.asset_symbol).distinct()).all())
        proposed = set(session.exec(select(ProposalRow.asset_symbol).distinct()).all())
    return sorted(priced | proposed)


def price_history(engine, symbol: str, shift: int, limit: int = 24 * 180) -> pd.DataFrame:
    """The last `limit` stored prices (feed rounds and backfill), in the data's own time."""
    with Session(engine) as session:
        rows = session.exec(select(PricePointRow.timestamp_s,
                                   PricePointRow.price_usd).where(PricePointRow.asset_symbol == symbol)
                            .order_by(col(PricePointRow.timestamp_s).desc()).limit(limit)).all()
    frame = pd.DataFrame(rows, columns=["t", "price_usd"]).sort_values("t")
    frame["time"] = to_time(frame["t"] - shift)
    return frame[["time", "price_usd"]].reset_index(drop=True)


def parameter_history(engine, symbol: str, shift: int) -> pd.DataFrame:
    """LTV and LT in force over time (percent), from the executed proposals, each from the chain
    time of the block that executed it (`executed_at_s`: the submit's block on the fast path,
    the timelock execution's on the slow one, which may be well after the ETA). Rows stored
    before that column (schema 0002) fall back to the ETA (slow) or the decision (fast).
    Starts with the values before the first of them.

    Each update moves only the fields it changes (its after against its before): a decision's
    slow part carries the values before the decision for the fields its fast part cut, and
    taking its whole `after` would show the cut undone when the slow part executes."""
    with Session(engine) as session:
        rows = session.exec(select(ProposalRow).where(ProposalRow.asset_symbol == symbol,
                                                      ProposalRow.state == "executed")
                            .order_by(ProposalRow.id)).all()
    dated = []
    for row in rows:
        when = row.executed_at_s or (row.eta if row.path == "slow" and row.eta else _decided_at(row.update_json))
        if when is not None:
            dated.append((when, row.id, row))
    points = []
    in_force: dict = {}
    for when, _, row in sorted(dated, key=lambda item: item[:2]):
        before, after = json.loads(row.params_before_json), json.loads(row.params_after_json)
        if not points:
            in_force = dict(before)
            points.append((min(_decided_at(row.update_json) or when, when), dict(in_force), f"in force before #{row.id}"))
        in_force.update({field: value for field, value in after.items() if before.get(field) != value})
        points.append((when, dict(in_force), f"#{row.id} ({row.path} path)"))
    frame = pd.DataFrame([{"time": to_time(t - shift), "update": label, "LTV %": p.get("ltv_bps", np.nan) / 100,
                           "LT %": p.get("liquidation_threshold_bps", np.nan) / 100,
                           "LB %": (p.get("liquidation_bonus_bps", np.nan) - 10_000) / 100} for t, p, label in points])
    return frame.sort_values("time", kind="stable").reset_index(drop=True) if not frame.empty else frame


def utilization_history(engine, shift: int, limit: int = 2_000) -> pd.DataFrame:
    """Each reserve's utilization (borrowed / supplied) at each ingested snapshot, plus the
    utilization points read at decision blocks; percent, data's own time."""
    with Session(engine) as session:
        snapshots = session.exec(select(MarketSnapshotRow).order_by(col(MarketSnapshotRow.block_number).desc())
                                 .limit(limit)).all()
        points = session.exec(select(UtilizationPointRow).order_by(col(UtilizationPointRow.timestamp_s).desc())
                              .limit(limit)).all()
    records = {}
    for snapshot in snapshots:
        for reserve in json.loads(snapshot.reserves_json):
            supplied = int(reserve.get("total_supplied_raw", 0) or 0)
            borrowed = int(reserve.get("total_borrowed_raw", 0) or 0)
            if supplied > 0:
                records[(reserve["symbol"], snapshot.block_timestamp)] = borrowed / supplied
    for point in points:
        records[(point.asset_symbol, point.timestamp_s)] = point.utilization
    frame = pd.DataFrame([{"asset": s, "time": to_time(t - shift), "utilization %": u * 100} for (s, t),
                          u in records.items()])
    return frame.sort_values(["asset", "time"]).reset_index(drop=True) if not frame.empty else frame


def decisions_bad_debt(engine, symbol: str, shift: int, limit: int = 200) -> pd.DataFrame:
    """Monte Carlo bad debt of each decision on `symbol`: parameters in force against proposed."""
    with Session(engine) as session:
        rows = session.exec(select(DecisionRow.recommendation_json, DecisionRow.anchor_timestamp)
                            .order_by(col(DecisionRow.id).desc()).limit(limit)).all()
    records = []
    for recommendation_json, anchor in rows:
        recommendation = json.loads(recommendation_json)
        asset = next((a for a in recommendation.get("assets", []) if a.get("symbol") == symbol), None)
        metrics = (asset or {}).get("metrics", {})
        if "bad_debt_current_mean_usd" not in metrics:
            continue
        when = to_time((anchor or recommendation.get("as_of_s", 0)) - shift)
        records += [{"decided": when, "parameters": "in force",
                     "mean bad debt $": float(metrics["bad_debt_current_mean_usd"])},
                    {"decided": when, "parameters": "proposed",
                     "mean bad debt $": float(metrics["bad_debt_proposed_mean_usd"])}]
    return pd.DataFrame(records).sort_values("decided").reset_index(drop=True) if records else pd.DataFrame(records)


def latest_decision(engine) -> DecisionRow | None:
    with Session(engine) as session:
        return session.exec(select(DecisionRow).order_by(col(DecisionRow.id).desc())).first()


def latest_proposal_for(engine, symbol: str, decision_id: int | None = None) -> ProposalRow | None:
    with Session(engine) as session:
        query = select(ProposalRow).where(ProposalRow.asset_symbol == symbol)
        if decision_id is not None:
            query = query.where(ProposalRow.decision_id == decision_id)
        return session.exec(query.order_by(col(ProposalRow.id).desc())).first()


def health_factor_table(decision: DecisionRow, symbol: str, proposed_threshold_bps: int | None) -> pd.DataFrame:
    """One row per position with debt at the decision's anchor block: HF under the thresholds
    in force and with `symbol`'s proposed threshold."""
    from agent.report import health_factors
    from strategies.inputs import decode_inputs

    inputs = decode_inputs(decision.inputs_canonical)
    threshold = proposed_threshold_bps
    if threshold is None:
        threshold = next((a.params.liquidation_threshold_bps for a in inputs.assets if a.symbol == symbol), 0)
    now, proposed, debt, _ = health_factors(inputs, symbol, threshold)
    return pd.DataFrame({"health factor (in force)": now, "health factor (proposed)": proposed, "debt $": debt})


def histogram(values: np.ndarray, edges: np.ndarray, label: str) -> pd.DataFrame:
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1] - 1e-9), bins=edges)
    return pd.DataFrame({"from": edges[:-1], "to": edges[1:], "positions": counts, "thresholds": label})


# ------------------------------------------------------------------ enclave and backtests


def attestations(engine) -> list[AttestationRow]:
    with Session(engine) as session:
        return list(session.exec(select(AttestationRow).order_by(col(AttestationRow.id).desc())).all())


def backtest_runs(engine) -> pd.DataFrame:
    with Session(engine) as session:
        rows = session.exec(select(BacktestRunRow).order_by(col(BacktestRunRow.id).desc())).all()
    return pd.DataFrame([{"id": r.id, "strategy": r.strategy, "assets": r.assets, "from": r.period_start,
                          "to": r.period_end, "seed": r.seed, **json.loads(r.metrics_json), "report": r.report_path}
                         for r in rows])
