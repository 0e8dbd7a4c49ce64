"""Overview: agent health, markets with current and proposed parameters, what waits in the timelock."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from dashboard import queries


def render(engine) -> None:
    st.title("Overview")
    jobs = queries.job_status(engine)
    snapshot = queries.last_snapshot(engine)
    counts = queries.counts_by_state(engine)
    columns = st.columns(4)
    columns[0].metric("Last ingest (block)", snapshot["block"] if snapshot else "none")
    columns[1].metric("Proposals queued", counts.get("queued", 0))
    columns[2].metric("Executed", counts.get("executed", 0))
    columns[3].metric("Job errors", int(jobs["errors"].sum()) if not jobs.empty else 0)
    if not jobs.empty:
        st.subheader("Agent health")
        st.dataframe(jobs[["name", "runs", "errors", "last_success_at", "last_error_at", "last_error"]], hide_index=True)
    if snapshot:
        st.subheader("Markets")
        queued = queries.proposals(engine, states=("queued",), page_size=1_000).rows
        rows = []
        for reserve in snapshot["reserves"]:
            pending = queued[queued["asset"] == reserve["symbol"]]["changes"].tolist() if not queued.empty else []
            rows.append({"asset": reserve["symbol"], "price $": reserve["price_usd_e8"] / 1e8,
                         "LTV %": reserve["ltv_bps"] / 100, "LT %": reserve["liquidation_threshold_bps"] / 100,
                         "bonus %": reserve["liquidation_bonus_bps"] / 100 - 100,
                         "supply cap": reserve["supply_cap_tokens"], "borrow cap": reserve["borrow_cap_tokens"],
                         "proposed (queued)": "; ".join(pending) or "—"})
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.subheader("Waiting in the timelock")
    queued = queries.proposals(engine, states=("queued",), page_size=100).rows
    if queued.empty:
        st.write("Nothing is waiting for execution.")
    else:
        reference = snapshot["timestamp"] if snapshot else int(time.time())
        queued["veto window left"] = queued["eta"].map(lambda eta: f"{max(eta - reference, 0) / 3600:.1f} h" if eta else "?")
        st.dataframe(queued[["id", "asset", "changes", "operation", "veto window left"]], hide_index=True)
