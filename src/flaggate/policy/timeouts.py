"""Stage timeouts: when each stage became the one waited on, and whether it has expired.

Derived from the pull request alone, no stored state: the first stage is active from when
the pull request was opened; each later stage from when the stage before it was satisfied
(the submission time of the approval that completed it) or auto-approved (its deadline).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from flaggate.policy.result import StageResult, StageTimeout


def schedule(
    stages: Sequence[StageResult], opened: datetime, now: datetime
) -> list[StageTimeout | None]:
    """Each stage's clock, in order; None for stages not reached yet (or satisfied)."""
    timings: list[StageTimeout | None] = []
    since = opened
    waiting = False
    for result in stages:
        if waiting:
            timings.append(None)
            continue
        if result.missing == 0:
            since = max(since, _completed_at(result, since) or since)
            timings.append(None)
            continue
        hours = result.stage.timeout_hours
        if hours is None:
            timings.append(StageTimeout(since, None, False))
            waiting = True
            continue
        deadline = since + timedelta(hours=hours)
        expired = now >= deadline
        action = result.stage.on_timeout if expired else None
        timings.append(StageTimeout(since, deadline, expired, action))
        if action == "auto-approve":
            since = deadline
        else:
            waiting = True
    return timings


def _completed_at(result: StageResult, since: datetime) -> datetime | None:
    stage = result.stage
    escalation = since + timedelta(hours=stage.timeout_hours or 0)
    # An approval that counts only through the escalation counts from the escalation on.
    times = sorted(
        max(a.at, escalation) if stage.own_roles and a.role not in stage.own_roles else a.at
        for a in result.approvals
        if a.at is not None
    )
    needed = stage.required
    return times[needed - 1] if len(times) >= needed else None
