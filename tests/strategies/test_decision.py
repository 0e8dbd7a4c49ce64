"""The decision path's BLAS limit: one thread inside every decision, also when the pools'
scan is reused, and after an import that could bring a new BLAS."""

from __future__ import annotations

import sys
import types

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import strategies.decision as decision
from strategies.config import default_config
from strategies.types import Recommendation
from tests.strategies.test_inputs import _inputs


class _Recorder:
    seen: list[list[int]] = []

    def __init__(self, config) -> None:
        self.config = config

    def propose(self, history, current, bounds):
        _Recorder.seen.append([pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"])
        return Recommendation("test", history.as_of_s, (), "00")


@pytest.fixture
def recorder(monkeypatch):
    monkeypatch.setattr(decision, "RiskStrategy", _Recorder)
    _Recorder.seen = []
    return _Recorder


def test_blas_is_single_threaded_in_every_decision_and_restored_after(recorder, monkeypatch):
    """Three decisions: a fresh scan, the reused one, and one after a new module was
    imported (a rescan). Inside each every BLAS pool runs one thread; after, as before (two
    threads, set here so that the limit shows)."""
    monkeypatch.setattr(decision, "_controller", None)
    with threadpool_limits(limits=2, user_api="blas"):
        _three_decisions_single_threaded(recorder, monkeypatch)


def _three_decisions_single_threaded(recorder, monkeypatch) -> None:
    before = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert before and set(before) == {2}
    inputs, config = _inputs(), default_config()
    decision.recommend(inputs, config, b"\0" * 32)
    scanned = decision._controller
    decision.recommend(inputs, config, b"\0" * 32)
    assert decision._controller is scanned  # reused, no rescan
    monkeypatch.setitem(sys.modules, "_risk_agent_test_new_module", types.ModuleType("_risk_agent_test_new_module"))
    decision.recommend(inputs, config, b"\0" * 32)
    assert decision._controller is not scanned  # an import since: scanned again
    assert recorder.seen == [[1] * len(before)] * 3
    assert [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"] == before
