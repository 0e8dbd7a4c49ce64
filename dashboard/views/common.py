"""What several pages show the same way: the veto of a queued proposal, its countdown, and
text from data as text."""

from __future__ import annotations

import json
import time

import streamlit as st

from agent.report import update_hash_hex, veto_instructions
from agent.text import markdown_literal
from agent.times import utc


def now_s(snapshot) -> int:
    """'Now' for countdowns: the wall clock, or the last block seen if the chain runs ahead of
    it (a replay's chain clock)."""
    return max(int(time.time()), snapshot.timestamp if snapshot else 0)


def steward_of(decision) -> str | None:
    from strategies.inputs import InputsError, decode_inputs

    try:
        return decode_inputs(decision.inputs_canonical).steward
    except InputsError:
        return None


def veto_of(proposal, decision, now: int, shift: int) -> dict | None:
    steward = steward_of(decision)
    if steward is None:
        return None
    update = json.loads(proposal.update_json)
    return veto_instructions(proposal, update, steward, update_hash_hex(update, steward), now, shift)


def show_veto(veto: dict, shift: int) -> None:
    """The countdown and the guardian's command for a queued proposal."""
    own = f" · data's own time {veto['eta_data_utc']}" if shift and veto.get("eta_data_utc") else ""
    st.markdown(f"**Executable from {utc(veto['eta'])}** (chain clock){own} · "
                f"**{veto.get('time_left') or 'ETA unknown'}**")
    st.caption("Until then the guardian can veto it through the steward (this cancels the timelock operation and "
               "frees the parameters):")
    st.code(veto["command"], language="bash", wrap_lines=True)


def literal(text: object) -> str:
    """Data shown inside markdown (headers, captions) as the characters it is."""
    return markdown_literal(text)
