"""Shared, cached resources of the Streamlit app: the read-only engine, the run's time shift
and the trust policy (the development root only when the operator opted in)."""

from __future__ import annotations

import streamlit as st

from dashboard.queries import engine_for, time_shift
from agent.verification import TrustPolicy


@st.cache_resource
def engine():
    return engine_for()


@st.cache_data(ttl=60)
def shift_s() -> int:
    return time_shift(engine())


def policy() -> TrustPolicy:
    return TrustPolicy.from_env()


def time_note(shift: int) -> str:
    """What the page's times mean."""
    if shift:
        return (f"Times are the replayed data's own (UTC; the chain's clock runs {shift / 86_400:,.0f} days later); "
                "deadlines are also given on the chain's clock.")
    return "Times are UTC."
