"""The one exception family the CLI turns into a single line and a non-zero exit."""

from __future__ import annotations


class RiskAgentError(Exception):
    """A failure the user can act on; `str(error)` is the line printed."""
