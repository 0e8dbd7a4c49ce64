"""Times as people read them: UTC dates, durations left, and a replay's own time.

A replay (the demo) runs history at the chain's clock, shifted by `time_shift_s` (chain time
minus the history's own time, kept in the store's run_info). Deadlines are on the chain's
clock; prices and decisions are also shown at the data's own time, so a replay of May 2021
reads May 2021."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(timestamp_s: float | int | None) -> str:
    """1796158918 -> '2026-12-01 10:21:58 UTC'; None -> '-'."""
    if timestamp_s is None:
        return "-"
    return datetime.fromtimestamp(int(timestamp_s), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def utc_datetime(value: datetime | None) -> str:
    """A stored datetime (naive ones are UTC, as SQLite returns them) -> '2026-12-01 10:21:58 UTC'."""
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | int) -> str:
    """Whole units, largest two: 93_784 -> '1 d 2 h'; 125 -> '2 min 5 s'; 0 -> '0 s'."""
    left = int(max(seconds, 0))
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1)):
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count} {unit}")
    return " ".join(parts[:2]) or "0 s"


def time_left(deadline_s: int, now_s: int) -> str:
    """'4 h 10 min left' before the deadline, 'passed 2 h ago' after it."""
    if deadline_s > now_s:
        return f"{duration(deadline_s - now_s)} left"
    return f"passed {duration(now_s - deadline_s)} ago"


def data_time(timestamp_s: int | None, shift_s: int) -> str:
    """The data's own time of a chain timestamp ('' when there is no shift)."""
    if timestamp_s is None or not shift_s:
        return ""
    return utc(timestamp_s - shift_s)
