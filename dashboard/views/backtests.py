"""Backtests: saved runs, strategy against baseline with the values on the bars, their plots."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import charts, queries


def render(engine, shift: int) -> None:
    st.title("Backtests")
    runs = queries.backtest_runs(engine)
    if runs.empty:
        st.info("No saved runs. Run `risk-agent backtest --db <this database>` to add one (the dashboard itself "
                "never writes the database).")
        return
    money = {c: st.column_config.NumberColumn(format="dollar") for c in runs.columns if c.endswith("_usd")}
    st.dataframe(runs.drop(columns=["report"]), hide_index=True, column_config=money)
    st.subheader("Strategy against baseline")
    runs["run"] = runs["strategy"] + " " + runs["from"].astype(str) + " (#" + runs["id"].astype(str) + ")"
    for metric, title in (("bad_debt_usd", "bad debt (USD)"),
                          ("borrower_bonus_losses_usd", "borrowers' bonus losses (USD)")):
        if metric in runs:
            st.altair_chart(charts.bars(runs, "run", metric, y_title=title, value_format="$,.0f", x_title=None),
                            width="stretch")
    for report in runs["report"].dropna().unique():
        image = Path(report).with_name("backtest.png")
        if image.exists():
            st.image(str(image), caption=str(report))
