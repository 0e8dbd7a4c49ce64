"""Overview: what waits in the timelock (with the veto and its countdown), the markets with
their parameters in force and queued, the agent's health."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from agent.times import utc, utc_datetime
from dashboard import queries
from dashboard.state import time_note
from dashboard.views.common import literal, now_s, show_veto, veto_of

SHOWN_QUEUED = 100


def render(engine, shift: int) -> None:
    st.title("Overview")
    st.caption(time_note(shift))
    snapshot = queries.last_snapshot(engine)
    counts = queries.counts_by_state(engine)
    jobs = queries.job_status(engine)
    now = now_s(snapshot)
    columns = st.columns(5)
    columns[0].metric("Last block read", f"{snapshot.block:,}" if snapshot else "none")
    columns[1].metric("Waiting in the timelock", counts.get("queued", 0))
    columns[2].metric("Executed", counts.get("executed", 0))
    columns[3].metric("Vetoed", counts.get("cancelled", 0))
    columns[4].metric("Job errors", int(jobs["errors"].sum()) if not jobs.empty else 0)
    if snapshot:
        own = f" (data's own time {utc(snapshot.timestamp - shift)})" if shift else ""
        st.caption(f"Last snapshot: block {snapshot.block:,} at {utc(snapshot.timestamp)}{own}.")

    st.subheader("Waiting in the timelock")
    waiting = queries.queued(engine, limit=SHOWN_QUEUED)
    if not waiting:
        st.write("Nothing is waiting in the timelock: no update can take effect without first appearing here.")
    elif counts.get("queued", 0) > len(waiting):
        st.markdown(f"The {len(waiting)} with the nearest ETA, and {counts['queued'] - len(waiting):,} more "
                    "(Proposals page, state queued).")
    for proposal in waiting:
        detail = queries.proposal_detail(engine, proposal.id)
        with st.container(border=True):
            st.markdown(f"**Proposal #{proposal.id}: {literal(proposal.asset_symbol)}** · "
                        f"{literal(queries.changes_text(detail.before, detail.after))}")
            veto = veto_of(proposal, detail.decision, now, shift)
            if veto is None:
                st.error("The stored inputs are unreadable: no steward to name in the veto.")
            else:
                show_veto(veto, shift)

    if snapshot:
        st.subheader("Markets")
        pending: dict[str, list[str]] = {}
        for proposal in waiting:
            pending.setdefault(proposal.asset_symbol, []).append(
                f"#{proposal.id} " + queries.changes_text(json.loads(proposal.params_before_json),
                                                          json.loads(proposal.params_after_json)))
        rows = []
        for reserve in snapshot.reserves:
            params = reserve.get("params", reserve)
            supplied = int(reserve.get("total_supplied_raw", 0) or 0)
            rows.append({"asset": reserve["symbol"], "price $": reserve["price_usd_e8"] / 1e8,
                         "LTV %": params["ltv_bps"] / 100, "LT %": params["liquidation_threshold_bps"] / 100,
                         "bonus %": params["liquidation_bonus_bps"] / 100 - 100,
                         "supply cap": params["supply_cap_tokens"], "borrow cap": params["borrow_cap_tokens"],
                         "utilization %": 100 * int(reserve.get("total_borrowed_raw",
                                                                0) or 0) / supplied if supplied else 0.0,
                         "queued": "; ".join(pending.get(reserve["symbol"], [])) or "—"})
        st.dataframe(pd.DataFrame(rows), hide_index=True, column_config={
            "price $": st.column_config.NumberColumn(format="dollar"),
            "utilization %": st.column_config.NumberColumn(format="%.2f%%"),
            "supply cap": st.column_config.NumberColumn(format="localized"),
            "borrow cap": st.column_config.NumberColumn(format="localized")})

    st.subheader("Agent health")
    if jobs.empty:
        st.write("No job runs recorded yet (the service records each run of each job; the demo runs the jobs "
                 "directly).")
    else:
        table = pd.DataFrame({"job": jobs["name"], "runs": jobs["runs"].astype(int),
                              "errors": jobs["errors"].astype(int),
                              "last success": [utc_datetime(t) if pd.notna(t) else "-"
                                               for t in jobs["last_success_at"]],
                              "last error": [f"{e} ({utc_datetime(t)})" if e else "-"
                                             for e, t in zip(jobs["last_error"], jobs["last_error_at"], strict=True)]})
        st.dataframe(table, hide_index=True)
