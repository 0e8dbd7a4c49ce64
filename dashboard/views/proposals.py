"""Proposals: a filterable, paginated table and one proposal in full, attestation checked live."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.verification import verify_attestation

STATES = ("signed", "submitted", "queued", "executed", "cancelled", "expired", "failed")


def render(engine) -> None:
    st.title("Proposals")
    filters = st.columns(3)
    assets = filters[0].multiselect("Asset", queries.distinct_assets(engine))
    states = filters[1].multiselect("State", STATES)
    page_number = filters[2].number_input("Page", min_value=1, value=1, step=1)
    page = queries.proposals(engine, assets=tuple(assets), states=tuple(states), page=int(page_number))
    st.caption(f"{page.total:,} proposals · page {page.page} of {page.pages}")
    if page.rows.empty:
        st.info("No proposals match.")
        return
    st.dataframe(page.rows, hide_index=True)
    chosen = st.selectbox("Open proposal", page.rows["id"].tolist(), format_func=lambda i: f"#{i}")
    detail = queries.proposal_detail(engine, int(chosen))
    if detail:
        render_detail(detail)


def render_detail(detail: dict) -> None:
    proposal, decision, attestation = detail["proposal"], detail["decision"], detail["attestation"]
    st.header(f"Proposal #{proposal.id}: {proposal.asset_symbol} — {proposal.state}")
    changes = [{"parameter": k, "before": detail["before"][k], "after": v}
               for k, v in detail["after"].items() if v != detail["before"].get(k)]
    st.subheader("Parameters")
    st.dataframe(pd.DataFrame(changes), hide_index=True)
    metrics = detail["metrics"]
    st.subheader("Why")
    st.write(detail["reason"])
    cols = st.columns(4)
    cols[0].metric("Hourly volatility", f"{metrics.get('hourly_volatility', 0):.2%}")
    cols[1].metric("ES drop over horizon", f"{metrics.get('expected_shortfall_drop', 0):.1%}")
    cols[2].metric("Horizon", f"{metrics.get('horizon_hours', 0):.0f} h")
    cols[3].metric("DEX depth", f"${metrics.get('liquidity_depth_usd', 0) / 1e6:,.1f}M")
    risk = pd.DataFrame({"bad debt (mean, $)": [metrics.get("bad_debt_current_mean_usd", 0), metrics.get("bad_debt_proposed_mean_usd", 0)],
                         "bad debt (95%, $)": [metrics.get("bad_debt_current_var95_usd", 0), metrics.get("bad_debt_proposed_var95_usd", 0)]},
                        index=["current parameters", "proposed parameters"])
    st.bar_chart(risk)
    st.caption(f"Positions an LT cut makes liquidatable at once: {metrics.get('newly_liquidatable_positions', 0)} "
               f"(${metrics.get('newly_liquidatable_debt_usd', 0):,.0f} of debt)")
    st.subheader("Signature and attestation")
    st.code(f"signer (enclave key)  {decision.enclave_address}\nsignature             {proposal.signature}\n"
            f"inputs hash           0x{decision.inputs_hash}\nmeasurement (PCR0)    {decision.measurement}")
    verdict = verify_attestation(attestation)
    (st.success if verdict.ok else st.error)(verdict.message)
    if verdict.chain:
        st.write("Certificate chain: " + " ← ".join(verdict.chain))
    st.subheader("Chain")
    st.code(f"timelock operation  {proposal.operation_id}\nETA (unix)          {proposal.eta}\n"
            f"submit tx           {proposal.submit_tx}\nexecute tx          {proposal.execute_tx}\ncancel tx           {proposal.cancel_tx}")
    if proposal.state == "queued":
        st.warning("To veto, the guardian calls `cancel(bytes32)` on the timelock with the operation id before the ETA:\n\n"
                   f"`cast send $TIMELOCK 'cancel(bytes32)' {proposal.operation_id} --from $GUARDIAN`")
