"""The time gates are judged at, and how times are shown."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from flaggate.errors import UsageError

NOW_ENV = "FLAGGATE_NOW"
"""An ISO-8601 instant to judge time-based gates at instead of the clock (replays, tests)."""


def now(env: dict[str, str] | None = None) -> datetime:
    """The current instant in UTC, or ``FLAGGATE_NOW`` when set."""
    value = (os.environ if env is None else env).get(NOW_ENV)
    return parse(value, NOW_ENV) if value else datetime.now(UTC)


def parse(value: str, source: str) -> datetime:
    """An ISO-8601 instant with a UTC offset (``Z`` allowed), in UTC; ``source`` names it."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{source} {value!r} is not an ISO-8601 date and time") from None
    if moment.tzinfo is None:
        raise UsageError(f"{source} {value!r} needs a UTC offset (e.g. 2026-11-28T09:00Z)")
    return moment.astimezone(UTC)


def utc(moment: datetime) -> str:
    """``2026-11-27 09:14 UTC``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(span: timedelta) -> str:
    """``3h 12m``, ``2d 4h``, ``45m``: rounded down to the minute."""
    minutes = max(0, int(span.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m" if mins else f"{hours}h"
    return f"{mins}m"


def hours(value: float) -> str:
    """``24h`` or ``1.5h``."""
    return f"{value:g}h"
