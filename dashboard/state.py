"""Shared, cached resources of the Streamlit app."""

from __future__ import annotations

import streamlit as st

from dashboard.queries import engine_for


@st.cache_resource
def engine():
    return engine_for()
