"""The read-only dashboard: what DAO members and analysts look at.

Run: risk-agent dashboard --db var/demo.sqlite   (or RISK_AGENT_DASHBOARD_DB=... streamlit run dashboard/app.py)
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `streamlit run` does not install the project

from agent.store import DatabaseError  # noqa: E402
from dashboard.state import engine  # noqa: E402

st.set_page_config(page_title="risk-agent", layout="wide")

try:
    engine()
except DatabaseError as error:
    st.title("risk-agent")
    st.error(f"{error}. Open the dashboard on an agent database: `risk-agent dashboard --db var/demo.sqlite` "
             "(run `make demo` first).")
else:
    st.navigation([
        st.Page("pages/overview.py", title="Overview", default=True),
        st.Page("pages/proposals.py", title="Proposals"),
        st.Page("pages/markets.py", title="Markets"),
        st.Page("pages/enclave.py", title="Enclave"),
        st.Page("pages/backtests.py", title="Backtests"),
    ]).run()
