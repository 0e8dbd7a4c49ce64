"""Inputs to recommendation: the one pure path every caller takes (the enclave, `verify`,
shadow mode, the backtest engine). Same inputs and config, same bytes."""

from __future__ import annotations

import sys
from dataclasses import replace

from eth_utils import keccak
from threadpoolctl import ThreadpoolController

from strategies.config import StrategyConfig
from strategies.inputs import DecisionInputs, build_history
from strategies.strategy import RiskStrategy
from strategies.types import Recommendation


def recommend(inputs: DecisionInputs, config: StrategyConfig, inputs_hash: bytes | None = None) -> Recommendation:
    """`inputs_hash` may be passed when the canonical bytes are already at hand (they are
    encoded once per decision).

    BLAS runs single-threaded here: a multi-threaded BLAS sums in an order that depends on its
    thread count, which differs between processes (a Dask worker, a test process, the enclave)
    and moved a GARCH fit in its 10th digit; one thread gives every verifier the same bytes."""
    history = build_history(inputs, config)
    with _blas_controller().limit(limits=1):
        recommendation = RiskStrategy(config=config).propose(
            history, {a.symbol: a.params for a in inputs.assets}, {a.symbol: a.bounds for a in inputs.assets}
        )
    digest = inputs_hash if inputs_hash is not None else keccak(inputs.canonical_bytes())
    return replace(recommendation, inputs_hash=digest.hex())


_controller: tuple[int, ThreadpoolController] | None = None


def _blas_controller() -> ThreadpoolController:
    """The process's thread pools (BLAS), as `threadpool_limits` finds them, without its scan
    of every loaded library on each decision (2.6 ms). A BLAS arrives with the import of a
    module that links one (numpy, scipy), so the scan is redone whenever the set of imported
    modules has grown since: every pool present is still limited to one thread."""
    global _controller
    modules = len(sys.modules)
    if _controller is None or _controller[0] != modules:
        _controller = (modules, ThreadpoolController())
    return _controller[1]
