"""The reports of a commit's check runs and statuses, as the gates read them."""

from __future__ import annotations

from dataclasses import dataclass

from flaggate.policy.result import GateStatus

PASSING_CONCLUSIONS = frozenset({"success", "neutral", "skipped"})
"""Check-run conclusions GitHub's branch protection counts as passing."""


@dataclass(frozen=True)
class CheckReport:
    """The latest report of one check run or commit status on a commit."""

    name: str
    source: str
    """``check run`` or ``status``."""
    status: GateStatus
    detail: str
    url: str | None = None


def from_check_run(name: str, status: str, conclusion: str | None, url: str | None) -> CheckReport:
    """A check run as GitHub reports it (``status`` queued/in_progress/completed...)."""
    if status != "completed":
        return CheckReport(name, "check run", GateStatus.PENDING, status.replace("_", " "), url)
    outcome = conclusion or "unknown"
    passed = outcome in PASSING_CONCLUSIONS
    return CheckReport(
        name, "check run", GateStatus.PASSED if passed else GateStatus.FAILED, outcome, url
    )


def from_status(context: str, state: str, description: str | None, url: str | None) -> CheckReport:
    """A commit status (success, pending, failure or error)."""
    status = {"success": GateStatus.PASSED, "pending": GateStatus.PENDING}.get(
        state, GateStatus.FAILED
    )
    detail = state + (f": {description}" if description else "")
    return CheckReport(context, "status", status, detail, url)
