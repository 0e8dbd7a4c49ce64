"""Proposals: a filterable, paginated table and one proposal in full: before -> after, why,
the risk figures, "verified" (the signature recovers to the attested key and that key is the
decision's enclave), the chain record, the veto with its countdown, and the risk report."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from agent.report import change_text, dated_reason, param_label, value_text
from agent.times import utc
from dashboard import charts, queries
from dashboard.state import policy, time_note
from agent.verification import CheckState, verify_proposal
from dashboard.views.common import literal, now_s, show_veto, steward_of, veto_of
from strategies.params import REGISTRY

STATES = ("signed", "submitted", "queued", "executed", "cancelled", "expired", "failed")
MARK = {CheckState.PASSED: "[passed]", CheckState.FAILED: "[FAILED]", CheckState.NOT_CHECKED: "[not checked]"}


def render(engine, shift: int) -> None:
    st.title("Proposals")
    st.caption(time_note(shift))
    filters = st.columns(3)
    assets = filters[0].multiselect("Asset", queries.distinct_assets(engine))
    states = filters[1].multiselect("State", STATES)
    page_number = filters[2].number_input("Page", min_value=1, value=1, step=1)
    page = queries.proposals(engine, assets=tuple(assets), states=tuple(states), page=int(page_number), shift=shift)
    st.caption(f"{page.total:,} proposals · page {page.page} of {page.pages}")
    if page.rows.empty:
        st.info("No proposals match.")
        return
    st.dataframe(page.rows, hide_index=True, column_config={
        "decided": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        "ETA": st.column_config.DatetimeColumn("ETA", format="YYYY-MM-DD HH:mm")})
    chosen = st.selectbox("Open proposal", page.rows["id"].tolist(), format_func=lambda i: f"#{i}")
    detail = queries.proposal_detail(engine, int(chosen))
    if detail is not None:
        render_detail(engine, detail, shift)


def render_detail(engine, detail: queries.ProposalDetail, shift: int) -> None:
    proposal, decision = detail.proposal, detail.decision
    path = "fast path: applied at once" if proposal.path == "fast" else "timelock path"
    st.header(f"Proposal #{proposal.id}: {literal(proposal.asset_symbol)} — {literal(proposal.state)} ({path})")

    st.subheader("Parameters")
    rows = [{"parameter": spec.label, "before": value_text(spec.field, int(detail.before[spec.field])),
             "after": value_text(spec.field, int(detail.after[spec.field])),
             "change": change_text(spec.field, int(detail.before[spec.field]), int(detail.after[spec.field]))}
            for spec in REGISTRY
            if spec.field in detail.after and detail.after[spec.field] != detail.before.get(spec.field)]
    st.dataframe(pd.DataFrame(rows), hide_index=True)

    st.subheader("Why")
    st.text(str(detail.asset_recommendation.get("reason",
                                                "")) or "no reason given")  # plain text: never markup from data
    dropped = detail.asset_recommendation.get("dropped", {})
    if dropped:
        st.dataframe(pd.DataFrame([{"kept for now": param_label(k), "because": dated_reason(v)}
                                   for k, v in sorted(dropped.items())]), hide_index=True)
    metrics = detail.metrics
    cols = st.columns(5)
    cols[0].metric("Hourly volatility", f"{metrics.get('hourly_volatility', 0):.2%}")
    cols[1].metric("VaR of the drop", f"{metrics.get('var_drop', 0):.1%}")
    cols[2].metric("ES of the drop", f"{metrics.get('expected_shortfall_drop', 0):.1%}")
    cols[3].metric("Horizon", f"{metrics.get('horizon_hours', 0):.0f} h")
    cols[4].metric("DEX depth", f"${metrics.get('liquidity_depth_usd', 0) / 1e6:,.2f}M")
    if "bad_debt_current_mean_usd" in metrics:
        frame = pd.DataFrame([
            {"statistic": "mean", "parameters": "in force", "USD": metrics["bad_debt_current_mean_usd"]},
            {"statistic": "mean", "parameters": "proposed", "USD": metrics["bad_debt_proposed_mean_usd"]},
            {"statistic": "95th percentile", "parameters": "in force", "USD": metrics["bad_debt_current_var95_usd"]},
            {"statistic": "95th percentile", "parameters": "proposed", "USD": metrics["bad_debt_proposed_var95_usd"]}])
        st.markdown("**Monte Carlo bad debt over the horizon**")
        if frame["USD"].any():
            st.altair_chart(charts.bars(frame, "statistic", "USD", group="parameters", y_title="bad debt (USD)",
                                        value_format="$,.0f", x_title=None, y_format="$,.0f"), width="stretch")
        else:
            st.caption("No simulated path leaves bad debt ($0 mean and 95th percentile), with the parameters in force "
                       "or the proposed ones.")
    newly = int(metrics.get("newly_liquidatable_positions", 0))
    st.caption(f"Positions the new threshold makes liquidatable at once: {newly:,} "
               f"(${metrics.get('newly_liquidatable_debt_usd', 0):,.0f} of debt).")

    st.subheader("Signature and attestation")
    steward = steward_of(decision)
    if steward is None:
        st.error("NOT verified: the stored inputs are unreadable, so the steward the signature is for is unknown.")
    else:
        from enclave.image import measure

        verdict = verify_proposal(proposal, decision, detail.attestation, steward=steward,
                                  expected_measurement=measure().digest, policy=policy())
        (st.success if verdict.verified else st.error)(verdict.message)
        for check in verdict.checks:
            st.text(f"{MARK[check.state]} {check.name}: {check.detail}")
        if verdict.chain:
            st.text("Certificate chain: " + " ← ".join(verdict.chain))
        if not policy().trust_dev_root:
            st.caption("Only the AWS Nitro root is trusted. For the local demo's development root, the operator opts "
                       "in: `risk-agent dashboard --trust-dev-root`.")
    st.code(f"enclave (signer)     {decision.enclave_address}\n"
            f"signature            {proposal.signature}\n"
            f"inputs hash          0x{decision.inputs_hash.removeprefix('0x')}\n"
            f"measurement (PCR0)   {decision.measurement}\n"
            f"strategy config      {decision.config_hash}")

    st.subheader("Chain")
    snapshot = queries.last_snapshot(engine)
    now = now_s(snapshot)
    eta = f"{utc(proposal.eta)} (chain clock)" if proposal.eta else "-"
    executed_at = f"{utc(proposal.executed_at_s)} (chain clock)" if proposal.executed_at_s else "-"
    st.code(f"path                 {proposal.path}\n"
            f"timelock operation   {proposal.operation_id or '-'}\n"
            f"ETA                  {eta}\n"
            f"submit tx            {proposal.submit_tx or '-'}\n"
            f"execute tx           {proposal.execute_tx or '-'}\n"
            f"executed at          {executed_at}\n"
            f"cancel tx            {proposal.cancel_tx or '-'}")
    veto = veto_of(proposal, decision, now, shift) if steward else None
    if veto is not None:
        if proposal.state == "queued":
            st.warning("Waiting in the timelock: the guardian can still veto it.")
            show_veto(veto, shift)
        else:
            st.info(veto["text"])

    st.subheader("Risk report")
    database = queries.database_url()
    st.write("The post for the DAO's forum (before → after, method, VaR/ES, provenance, liquidations, Monte Carlo, "
             "a 90-day backtest, attestation, how to verify and veto):")
    st.code(f"risk-agent report {proposal.id} --db {database} --format html", language="bash", wrap_lines=True)
    if st.button("Build the risk report", key=f"report-{proposal.id}"):
        html = build_html(database, proposal.id)
        st.download_button("Download the risk report (HTML)", html, file_name=f"proposal-{proposal.id}.html",
                           mime="text/html", key=f"download-{proposal.id}")


@st.cache_data(show_spinner="Building the risk report (backtest and plots)...", max_entries=16)
def build_html(database: str, proposal_id: int) -> str:
    from agent.report import build_report, render_html
    from dashboard.state import engine

    return render_html(build_report(engine(), proposal_id, database=database, policy=policy()))
