"""Freeze windows: absolute (start/end) or weekly (days, from, to), each in its own time zone.

All arithmetic is on time-zone-aware datetimes from the IANA database (zoneinfo), compared in
UTC, so windows behave across daylight-saving changes. A weekly window's ``to`` is exclusive
(``to`` before ``from`` runs past midnight), except that ``23:59`` means the end of the day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flaggate.model.policy import FreezeWindow
from flaggate.policy.result import GateResult, GateStatus

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_END_OF_DAY = "23:59"


@dataclass(frozen=True)
class Occurrence:
    """One concrete stretch of a window, in UTC."""

    start: datetime
    end: datetime


def freeze_gate(environment: str, window: FreezeWindow, now: datetime) -> GateResult:
    """``failed`` while ``window`` is active at ``now``, naming it and when it ends."""
    name = f"{environment}: freeze {window.name!r}"
    tz = ZoneInfo(window.timezone)
    active = active_occurrence(window, now)
    if active is not None:
        return GateResult(
            name,
            GateStatus.FAILED,
            f"{environment} freeze {window.name!r} until {_local(active.end, tz)}",
            kind="freeze",
            environment=environment,
        )
    upcoming = next_start(window, now)
    message = "not frozen now" + (
        f"; next freeze from {_local(upcoming, tz)}" if upcoming is not None else ""
    )
    return GateResult(name, GateStatus.PASSED, message, kind="freeze", environment=environment)


def active_occurrence(window: FreezeWindow, now: datetime) -> Occurrence | None:
    """The occurrence of ``window`` containing ``now`` (weekly ones merged while contiguous)."""
    if window.start is not None and window.end is not None:
        tz = ZoneInfo(window.timezone)
        span = Occurrence(_absolute(window.start, tz), _absolute(window.end, tz))
        return span if span.start <= now < span.end else None
    local_day = now.astimezone(ZoneInfo(window.timezone)).date()
    for day in (local_day - timedelta(days=1), local_day):
        occurrence = _weekly(window, day)
        if occurrence is not None and occurrence.start <= now < occurrence.end:
            return _extend(window, day, occurrence)
    return None


def next_start(window: FreezeWindow, now: datetime) -> datetime | None:
    """When ``window`` next begins after ``now`` (within a week for weekly windows)."""
    if window.start is not None:
        start = _absolute(window.start, ZoneInfo(window.timezone))
        return start if start > now else None
    local_day = now.astimezone(ZoneInfo(window.timezone)).date()
    for offset in range(8):
        occurrence = _weekly(window, local_day + timedelta(days=offset))
        if occurrence is not None and occurrence.start > now:
            return occurrence.start
    return None


def _extend(window: FreezeWindow, day: date, occurrence: Occurrence) -> Occurrence:
    """Join the following days' occurrences that start before this one ends."""
    end = occurrence.end
    for offset in range(1, 8):
        following = _weekly(window, day + timedelta(days=offset))
        if following is None or following.start > end:
            break
        end = max(end, following.end)
    return Occurrence(occurrence.start, end)


def _weekly(window: FreezeWindow, day: date) -> Occurrence | None:
    if _DAYS[day.weekday()] not in window.days or window.from_ is None or window.to is None:
        return None
    tz = ZoneInfo(window.timezone)
    begin, finish = _clock(window.from_), _clock(window.to)
    if window.to == _END_OF_DAY or finish <= begin:
        end_day = day + timedelta(days=1)
        finish = time(0, 0) if window.to == _END_OF_DAY else finish
    else:
        end_day = day
    return Occurrence(_at(day, begin, tz), _at(end_day, finish, tz))


def _absolute(local: str, tz: ZoneInfo) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=tz).astimezone(UTC)


def _at(day: date, clock: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


def _clock(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M} {tz.key}"
