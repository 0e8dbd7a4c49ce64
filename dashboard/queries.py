"""Read-only access to the agent's store for the dashboard: small, paginated queries."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import create_engine, text
from sqlmodel import Session, col, func, select

from agent.store import (
    AttestationRow,
    BacktestRunRow,
    DecisionRow,
    JobStatusRow,
    MarketSnapshotRow,
    PricePointRow,
    ProposalRow,
    database_url,
)

PAGE_SIZE = 50


def engine_for(url: str | None = None):
    """Read-only by intent: the dashboard never writes (and never migrates) the store."""
    url = url or os.environ.get("RISK_AGENT_DASHBOARD_DB", "var/demo.sqlite")
    return create_engine(database_url(url), connect_args={"timeout": 5} if "sqlite" in database_url(url) else {})


def has_schema(engine) -> bool:
    with engine.connect() as connection:
        try:
            connection.execute(text("select 1 from proposal limit 1"))
            return True
        except Exception:  # noqa: BLE001 - no table yet: an empty or foreign database
            return False


def job_status(engine) -> pd.DataFrame:
    with Session(engine) as session:
        rows = session.exec(select(JobStatusRow)).all()
    return pd.DataFrame([r.model_dump() for r in rows])


def last_snapshot(engine) -> dict | None:
    with Session(engine) as session:
        row = session.exec(select(MarketSnapshotRow).order_by(col(MarketSnapshotRow.block_number).desc())).first()
    if row is None:
        return None
    return {"block": row.block_number, "timestamp": row.block_timestamp, "reserves": json.loads(row.reserves_json)}


def counts_by_state(engine) -> dict[str, int]:
    with Session(engine) as session:
        return dict(session.exec(select(ProposalRow.state, func.count()).group_by(ProposalRow.state)).all())


@dataclass(frozen=True)
class ProposalPage:
    rows: pd.DataFrame
    total: int
    page: int
    pages: int


def proposals(engine, *, assets: tuple[str, ...] = (), states: tuple[str, ...] = (), since=None, until=None,
              page: int = 1, page_size: int = PAGE_SIZE) -> ProposalPage:
    with Session(engine) as session:
        query = select(ProposalRow)
        if assets:
            query = query.where(col(ProposalRow.asset_symbol).in_(assets))
        if states:
            query = query.where(col(ProposalRow.state).in_(states))
        if since is not None:
            query = query.where(ProposalRow.created_at >= since)
        if until is not None:
            query = query.where(ProposalRow.created_at <= until)
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        pages = max(1, -(-total // page_size))
        page = min(max(page, 1), pages)
        rows = session.exec(query.order_by(col(ProposalRow.id).desc()).offset((page - 1) * page_size).limit(page_size)).all()
    frame = pd.DataFrame([{
        "id": r.id, "created": r.created_at, "asset": r.asset_symbol, "state": r.state, "changes": _changes(r),
        "eta": r.eta, "operation": (r.operation_id or "")[:18]} for r in rows])
    return ProposalPage(frame, total, page, pages)


def _changes(row: ProposalRow) -> str:
    before, after = json.loads(row.params_before_json), json.loads(row.params_after_json)
    return ", ".join(f"{k.removesuffix('_bps').removesuffix('_tokens')} {before[k]:,}→{after[k]:,}" for k in after if after[k] != before.get(k))


def distinct_assets(engine) -> list[str]:
    with Session(engine) as session:
        return sorted(session.exec(select(ProposalRow.asset_symbol).distinct()).all())


def proposal_detail(engine, proposal_id: int) -> dict | None:
    with Session(engine) as session:
        row = session.get(ProposalRow, proposal_id)
        if row is None:
            return None
        decision = session.get(DecisionRow, row.decision_id)
        attestation = session.get(AttestationRow, decision.attestation_id) if decision.attestation_id else None
    recommendation = json.loads(decision.recommendation_json)
    asset = next((a for a in recommendation["assets"] if a["symbol"] == row.asset_symbol), {})
    return {"proposal": row, "decision": decision, "attestation": attestation, "metrics": asset.get("metrics", {}),
            "targets": asset.get("targets", {}), "reason": asset.get("reason", ""),
            "before": json.loads(row.params_before_json), "after": json.loads(row.params_after_json)}


def price_history(engine, symbol: str, limit: int = 24 * 180) -> pd.DataFrame:
    with Session(engine) as session:
        rows = session.exec(select(PricePointRow).where(PricePointRow.asset_symbol == symbol)
                            .order_by(col(PricePointRow.timestamp_s).desc()).limit(limit)).all()
    frame = pd.DataFrame([{"time": pd.to_datetime(r.timestamp_s, unit="s", utc=True), "price_usd": r.price_usd,
                           "utilization": r.utilization} for r in rows])
    return frame.sort_values("time") if not frame.empty else frame


def market_symbols(engine) -> list[str]:
    with Session(engine) as session:
        return sorted(session.exec(select(PricePointRow.asset_symbol).distinct()).all())


def parameter_history(engine, symbol: str) -> pd.DataFrame:
    with Session(engine) as session:
        rows = session.exec(select(ProposalRow).where(ProposalRow.asset_symbol == symbol, ProposalRow.state == "executed")
                            .order_by(ProposalRow.id)).all()
    return pd.DataFrame([{"time": r.updated_at, **{k: v for k, v in json.loads(r.params_after_json).items()
                                                   if k in ("ltv_bps", "liquidation_threshold_bps", "liquidation_bonus_bps")}}
                         for r in rows])


def attestations(engine) -> list[AttestationRow]:
    with Session(engine) as session:
        return list(session.exec(select(AttestationRow).order_by(col(AttestationRow.id).desc())).all())


def backtest_runs(engine) -> pd.DataFrame:
    with Session(engine) as session:
        rows = session.exec(select(BacktestRunRow).order_by(col(BacktestRunRow.id).desc())).all()
    return pd.DataFrame([{"id": r.id, "created": r.created_at, "strategy": r.strategy, "assets": r.assets,
                          "from": r.period_start, "to": r.period_end, "seed": r.seed, **json.loads(r.metrics_json),
                          "report": r.report_path} for r in rows])
