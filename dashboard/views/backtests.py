"""Backtests: saved runs, strategy against baseline, their plots."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import queries


def render(engine) -> None:
    st.title("Backtests")
    runs = queries.backtest_runs(engine)
    if runs.empty:
        st.info("No saved runs. Run `risk-agent backtest --db <this database>` to add one.")
        return
    st.dataframe(runs.drop(columns=["report"]), hide_index=True)
    st.subheader("Strategy against baseline")
    st.bar_chart(runs.set_index(runs["strategy"] + " " + runs["from"].astype(str))[["bad_debt_usd", "borrower_bonus_losses_usd"]])
    for report in runs["report"].dropna().unique():
        image = Path(report).with_name("backtest.png")
        if image.exists():
            st.image(str(image), caption=str(report))
