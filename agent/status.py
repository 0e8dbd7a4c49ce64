"""`risk-agent status`: what an operator checks first, read from the store without writing.

Proposals by state (counts as integers), what waits in the timelock with its ETA, each job's
runs, errors and last success, and the last snapshot; times as UTC dates, and for a replay
also in the data's own time."""

from __future__ import annotations

import time

from sqlmodel import Session, col, func, select

from agent.store import SCHEMA_REVISION, JobStatusRow, MarketSnapshotRow, ProposalRow, RunInfoRow
from agent.times import data_time, time_left, utc, utc_datetime


def time_shift_s(session: Session) -> int:
    """A replay's chain-time minus data-time (0 for a live market)."""
    row = session.get(RunInfoRow, "time_shift_s")
    try:
        return int(row.value) if row is not None else 0
    except ValueError:
        return 0


def read_status(engine, database: str) -> dict:
    """The status as plain JSON-ready values (ints, strings, None)."""
    with Session(engine) as session:
        counts = {state: int(n) for state, n in session.exec(
            select(ProposalRow.state, func.count()).group_by(ProposalRow.state)).all()}
        jobs = session.exec(select(JobStatusRow).order_by(JobStatusRow.name)).all()
        last = session.exec(select(MarketSnapshotRow).order_by(col(MarketSnapshotRow.block_number).desc())).first()
        queued = session.exec(select(ProposalRow).where(ProposalRow.state == "queued").order_by(ProposalRow.id)).all()
        shift = time_shift_s(session)
    now_s = max(int(time.time()), last.block_timestamp if last else 0)
    return {
        "database": database,
        "schema_revision": SCHEMA_REVISION,
        "time_shift_s": shift,
        "proposals": {"total": sum(counts.values()), "by_state": dict(sorted(counts.items()))},
        "waiting_in_timelock": [
            {"id": p.id, "asset": p.asset_symbol, "eta": p.eta, "eta_utc": utc(p.eta) if p.eta else None,
             "time_left": time_left(p.eta, now_s) if p.eta else None, "operation_id": p.operation_id}
            for p in queued],
        "last_snapshot": None if last is None else {
            "block": int(last.block_number), "timestamp": int(last.block_timestamp), "utc": utc(last.block_timestamp),
            "data_time_utc": data_time(last.block_timestamp, shift) or None},
        "jobs": [{"name": j.name, "runs": int(j.runs), "errors": int(j.errors),
                  "last_success_utc": utc_datetime(j.last_success_at) if j.last_success_at else None,
                  "last_error_utc": utc_datetime(j.last_error_at) if j.last_error_at else None,
                  "last_error": j.last_error} for j in jobs],
    }


def status_lines(report: dict) -> list[str]:
    proposals = report["proposals"]
    by_state = ", ".join(f"{state} {count:,}" for state, count in proposals["by_state"].items())
    lines = [f"database      {report['database']} (schema {report['schema_revision']})",
             f"proposals     {proposals['total']:,}" + (f": {by_state}" if by_state else "")]
    for op in report["waiting_in_timelock"]:
        lines.append(f"  queued #{op['id']} {op['asset']}: executable from {op['eta_utc'] or '?'} "
                     f"({op['time_left'] or 'ETA unknown'}), operation {op['operation_id'] or '-'}")
    last = report["last_snapshot"]
    if last is None:
        lines.append("last snapshot none (the ingest job has not run)")
    else:
        own = f" (data's own time {last['data_time_utc']})" if last["data_time_utc"] else ""
        lines.append(f"last snapshot block {last['block']:,} at {last['utc']}{own}")
    if not report["jobs"]:
        lines.append("jobs          none recorded (the service records each run)")
        return lines
    lines.append(f"jobs          {'name':<10}{'runs':>7}{'errors':>8}  {'last success':<24}last error")
    for job in report["jobs"]:
        error = f"{job['last_error']} ({job['last_error_utc']})" if job["last_error"] else "-"
        lines.append(f"              {job['name']:<10}{job['runs']:>7,}{job['errors']:>8,}  "
                     f"{job['last_success_utc'] or '-':<24}{error}")
    return lines
