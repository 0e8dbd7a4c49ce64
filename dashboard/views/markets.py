"""Markets: the price with the parameters in force over it, utilization, Monte Carlo bad debt
per decision, the rate curve in force against proposed, and the health factors of the
positions the latest decision read. All in the data's own time."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import charts, queries
from dashboard.state import time_note
from dashboard.views.common import literal
from strategies.inputs import InputsError
from strategies.params import REGISTRY, RiskParams
from strategies.rates import RateCurve

CONTEXT_DAYS = 4


def render(engine, shift: int) -> None:
    st.title("Markets")
    st.caption(time_note(shift))
    x_title = "data's own time (UTC)" if shift else "time (UTC)"
    symbols = queries.market_symbols(engine)
    if not symbols:
        st.info("No market data yet: the ingest job stores prices and snapshots as it reads the chain.")
        return
    symbol = st.selectbox("Asset", symbols, index=symbols.index("WETH") if "WETH" in symbols else 0)
    label = literal(symbol)

    st.subheader(f"{label} price and the parameters in force")
    prices = queries.price_history(engine, symbol, shift)
    parameters = queries.parameter_history(engine, symbol, shift)
    if not parameters.empty and not prices.empty and not st.checkbox("All stored prices (the backfill too)",
                                                                     value=False):
        # From a few days before the first decision: the parameters' steps are what this chart is for.
        prices = prices[prices["time"] >= parameters["time"].min() - pd.Timedelta(days=CONTEXT_DAYS)]
    if not parameters.empty and not prices.empty and prices["time"].min() < parameters["time"].iloc[0]:
        parameters.loc[0,
                       "time"] = prices["time"].min()  # the values in force before the first update, from the left edge
    if prices.empty and parameters.empty:
        st.write("No stored prices for this asset.")
    else:
        st.altair_chart(charts.price_with_parameters(prices, parameters, symbol, x_title), width="stretch")
    if parameters.empty:
        st.caption("No executed update for this asset yet.")
    else:
        st.caption("LTV and LT (right axis) step at each executed update, at the block that executed it (a "
                   "timelocked one can run well after its ETA).")
        st.dataframe(parameters, hide_index=True, column_config={"time": st.column_config.DatetimeColumn(
            x_title, format="YYYY-MM-DD HH:mm")})

    if len(prices) > 25:
        returns = np.log(prices["price_usd"]).diff()
        volatility = pd.DataFrame({"time": prices["time"],
                                   "hourly volatility %": returns.rolling(24).std() * 100}).dropna()
        st.subheader("Realized volatility (24 observations)")
        st.altair_chart(charts.lines(volatility, "hourly volatility %", y_title="volatility (%)",
                                     x_title=x_title, value_format=".2f", height=220), width="stretch")

    st.subheader("Utilization")
    utilization = queries.utilization_history(engine, shift)
    if utilization.empty:
        st.write("No utilization read yet.")
    else:
        st.altair_chart(charts.lines(utilization, "utilization %", series="asset", y_title="utilization (%)",
                                     x_title=x_title, value_format=".2f"), width="stretch")

    st.subheader(f"Monte Carlo bad debt of each decision on {label}")
    bad_debt = queries.decisions_bad_debt(engine, symbol, shift)
    if bad_debt.empty:
        st.write("No decision with Monte Carlo figures for this asset.")
    else:
        bad_debt["decision"] = bad_debt["decided"].dt.strftime("%Y-%m-%d %H:%M")
        st.altair_chart(charts.bars(bad_debt, "decision", "mean bad debt $", group="parameters",
                                    y_title="mean bad debt (USD)",
                                    value_format="$,.0f", x_title=f"decision ({x_title})"), width="stretch")

    render_rate_curve(engine, symbol, label)
    render_health_factors(engine, symbol, label)


def _params(values: dict) -> RiskParams | None:
    """The ten parameters, or None when a stored set lacks some (then no curve is drawn)."""
    if any(spec.field not in values for spec in REGISTRY):
        return None
    return RiskParams(**{spec.field: int(values[spec.field]) for spec in REGISTRY})


def render_rate_curve(engine, symbol: str, label: str) -> None:
    st.subheader(f"{label} rate curve: in force against proposed")
    snapshot = queries.last_snapshot(engine)
    reserve = snapshot.reserve(symbol) if snapshot else None
    latest = queries.latest_proposal_for(engine, symbol)
    if reserve is None and latest is None:
        st.write("No parameters read for this asset.")
        return
    in_force = _params(reserve.get("params", reserve)) if reserve else _params(json.loads(latest.params_before_json))
    curves = [("in force", in_force)]
    if latest is not None:
        curves.append((f"proposal #{latest.id} ({latest.state})", _params(json.loads(latest.params_after_json))))
    curves = [(name, params) for name, params in curves if params is not None]
    if not curves:
        st.write("The stored parameters of this asset are incomplete: no curve to draw.")
        return
    utilization = np.linspace(0, 1, 101)
    lines, marks = [], []
    for name, params in curves:
        curve = RateCurve.from_params(params)
        lines += [{"curve": name, "utilization %": u * 100,
                   "borrow rate %": curve.borrow_rate(u) * 100} for u in utilization]
        kink = params.optimal_usage_ratio_bps / 1e4
        for u in (kink, 1.0):
            rate = curve.borrow_rate(u) * 100
            marks.append({"curve": name, "utilization %": u * 100, "borrow rate %": rate,
                          "label": f"{rate:.2f}% at {u:.0%}"})
    st.altair_chart(charts.rate_curves(pd.DataFrame(lines), pd.DataFrame(marks)), width="stretch")


def render_health_factors(engine, symbol: str, label: str) -> None:
    st.subheader("Health factors of the positions")
    decision = queries.latest_decision(engine)
    if decision is None:
        st.write("No decision yet: positions are read at each decision's anchor block.")
        return
    proposal = queries.latest_proposal_for(engine, symbol, decision.id)
    proposed = json.loads(proposal.params_after_json).get("liquidation_threshold_bps") if proposal else None
    try:
        table = queries.health_factor_table(decision, symbol, proposed)
    except InputsError as error:
        st.error(f"The latest decision's stored inputs are unreadable: {error}")
        return
    if table.empty:
        st.write("The latest decision read no position with debt.")
        return
    now, after = table["health factor (in force)"].to_numpy(), table["health factor (proposed)"].to_numpy()
    top = float(min(max(np.percentile(np.concatenate([now, after]), 95), 1.5), 5.0))
    edges = np.round(np.linspace(0.5, top, 19), 2)
    frames = [queries.histogram(now, edges, "in force")]
    if proposal is not None:
        frames.append(queries.histogram(after, edges, f"proposed (#{proposal.id})"))
    frame = pd.concat(frames)
    frame["health factor"] = [f"{a:.2f}–{b:.2f}" for a, b in zip(frame["from"], frame["to"], strict=True)]
    st.altair_chart(charts.bars(frame, "health factor", "positions", group="thresholds", y_title="positions",
                                value_format="d",
                                x_title="health factor at the decision's prices (below 1.00: liquidatable)",
                                hide_zero=True),
                    width="stretch")
    below_now, below_after = int((now < 1).sum()), int((after < 1).sum())
    st.caption(f"{len(table):,} positions with ${table['debt $'].sum():,.0f} of debt at the latest decision's "
               "anchor block; "
               f"{below_now:,} under 1 with the thresholds in force"
               + (f", {below_after:,} with proposal #{proposal.id}'s threshold." if proposal else "."))
