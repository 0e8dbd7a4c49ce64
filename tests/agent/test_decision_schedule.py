"""When the next decision is due: one strategy decision interval after the last decision's
anchor, less 1% (at least 30 s), in chain time."""

from __future__ import annotations

from types import SimpleNamespace

from agent.jobs import decision_due_at
from strategies.config import default_config

CONFIG = default_config()  # decision interval 86,400 s: 1% is 864 s


def test_first_decision_is_due_at_once():
    assert decision_due_at(SimpleNamespace(config=CONFIG), None) == 0


def test_next_decision_is_due_one_interval_less_one_percent_later():
    """Last anchor at 1,000,000: due at 1,000,000 + 86,400 - 864 = 1,085,536."""
    assert decision_due_at(SimpleNamespace(config=CONFIG), 1_000_000) == 1_085_536
