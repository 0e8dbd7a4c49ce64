"""Markets: price, utilization over time, and each parameter's history."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import queries


def render(engine) -> None:
    st.title("Markets")
    symbols = queries.market_symbols(engine)
    if not symbols:
        st.info("No market data ingested yet.")
        return
    symbol = st.selectbox("Asset", symbols, index=symbols.index("WETH") if "WETH" in symbols else 0)
    history = queries.price_history(engine, symbol)
    st.subheader(f"{symbol} price (USD)")
    st.line_chart(history.set_index("time")["price_usd"])
    returns = np.log(history["price_usd"]).diff()
    st.subheader("Realized volatility (24 h, hourly)")
    st.line_chart(returns.rolling(24).std().set_axis(history["time"]))
    if history["utilization"].notna().any():
        st.subheader("Utilization")
        st.line_chart(history.dropna(subset=["utilization"]).set_index("time")["utilization"])
    parameters = queries.parameter_history(engine, symbol)
    st.subheader("Parameter history (executed updates)")
    if parameters.empty:
        st.write("No executed updates for this asset.")
    else:
        st.line_chart(parameters.set_index("time"))
        st.dataframe(parameters, hide_index=True)
