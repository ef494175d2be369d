"""Time for studying: the study day, stored instants and interval text.

Everything stored is UTC, in whole milliseconds since the epoch (`to_ms` / `from_ms`). A study day begins
at a local rollover hour (`Config.rollover_hour`, in `Config.tzinfo()`, None for the system zone), and the
boundary stays at that local hour across DST changes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

DAY_MS = 86_400_000


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive time is refused (a clock must say which zone it reads)."""
    if moment.tzinfo is None:
        raise ValueError(f"the clock must give timezone-aware times, got {moment!r}")
    return moment.astimezone(UTC)


def study_day(moment: datetime, rollover_hour: int, tz: tzinfo | None) -> date:
    """The study day `moment` falls in: days begin at `rollover_hour` local time (tz None: system zone).

    Wall-clock arithmetic on the local time keeps the boundary at the same local hour across DST changes.
    """
    local = moment.astimezone(tz) if tz is not None else moment.astimezone()
    return (local.replace(tzinfo=None) - timedelta(hours=rollover_hour)).date()


def day_start(day: date, rollover_hour: int, tz: tzinfo | None) -> datetime:
    """The UTC instant at which study day `day` begins."""
    local = datetime.combine(day, time(rollover_hour))
    local = local.replace(tzinfo=tz) if tz is not None else local.astimezone()
    return local.astimezone(UTC)


def format_interval(delta: timedelta) -> str:
    """A short, Anki-like interval: "<1m", "10m", "1h", "3d", "2.1mo", "1.5y"."""
    seconds = delta.total_seconds()
    if seconds < 60:
        return "<1m"
    if round(seconds / 60) < 60:
        return f"{round(seconds / 60)}m"
    if round(seconds / 3600, 1) < 24:
        return f"{_one_decimal(seconds / 3600)}h"
    days = seconds / 86_400
    if round(days) < 30:
        return f"{round(days)}d"
    if round(days / 30, 1) < 12:
        return f"{_one_decimal(days / 30)}mo"
    return f"{_one_decimal(days / 365)}y"


def _one_decimal(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text
