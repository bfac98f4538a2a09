"""Required checks: GitHub check runs and commit statuses that must be green on the head.

The latest report of each name counts (check runs and statuses are both read; when both
report a name, the worse one wins). A check not reported yet is pending for a grace period
after the head arrived (a time GitHub or flaggate recorded, never the commit's date), then
failed: a required check that never runs must not hold a pull
request pending forever, nor let it pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from flaggate.clock import duration
from flaggate.policy.result import GateResult, GateStatus
from flaggate.pull.checks import CheckReport

_RANK = {GateStatus.PASSED: 0, GateStatus.PENDING: 1, GateStatus.FAILED: 2}


def checks_gates(
    required: Mapping[str, Sequence[str]],
    reports: Iterable[CheckReport],
    head_sha: str,
    head_time: datetime,
    now: datetime,
    grace_minutes: int,
) -> list[GateResult]:
    """One result per required check name (``required`` maps it to the environments)."""
    by_name: dict[str, CheckReport] = {}
    for each in reports:
        seen = by_name.get(each.name)
        if seen is None or _RANK[each.status] > _RANK[seen.status]:
            by_name[each.name] = each
    short = head_sha[:7]
    deadline = head_time + timedelta(minutes=grace_minutes)
    results = []
    for name in sorted(required):
        gate = f"check {name}"
        where = f"required for {', '.join(required[name])}"
        report = by_name.get(name)
        if report is None:
            if now < deadline:
                status = GateStatus.PENDING
                message = (
                    f"not reported yet on {short} ({where}; fails if still missing "
                    f"{grace_minutes}m after the commit, in {duration(deadline - now)})"
                )
            else:
                status = GateStatus.FAILED
                message = (
                    f"never reported on {short} within {grace_minutes}m of the "
                    f"commit ({where}); is the check's name right?"
                )
        else:
            status = report.status
            verdict = {
                GateStatus.PASSED: "passed",
                GateStatus.PENDING: "running",
                GateStatus.FAILED: "failed",
            }[status]
            message = f"{verdict} on {short} ({report.source}: {report.detail})"
        results.append(GateResult(gate, status, message, kind="checks"))
    return results
