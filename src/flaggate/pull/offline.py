"""Pull-request facts for `flaggate plan`: approvals come from the command line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from flaggate.errors import UsageError
from flaggate.pull.context import Review, ReviewState

if TYPE_CHECKING:  # imported by --check alone
    from flaggate.pull.checks import CheckReport


@dataclass(frozen=True)
class SimulatedReview:
    """``LOGIN:ROLE[,ROLE...]`` from ``--approve`` or ``--request-changes``."""

    login: str
    roles: frozenset[str]

    @classmethod
    def parse(cls, text: str, option: str) -> SimulatedReview:
        """Parse ``LOGIN:ROLE[,ROLE]``; raise :class:`UsageError` when malformed."""
        login, _, roles = text.partition(":")
        names = frozenset(r.strip() for r in roles.split(",") if r.strip())
        if not login.strip() or not names:
            raise UsageError(f"{option} {text!r}: expected LOGIN:ROLE (e.g. alice:tech-lead)")
        return cls(login.strip(), names)


_CHECK_STATES = {"success": "completed", "failure": "completed", "pending": "in_progress"}


def simulated_check(text: str) -> CheckReport:
    """``NAME[=success|failure|pending]`` from ``--check`` (default success)."""
    name, _, state = text.partition("=")
    state = state.strip() or "success"
    if not name.strip() or state not in _CHECK_STATES:
        raise UsageError(
            f"--check {text!r}: expected NAME or NAME=success|failure|pending "
            "(e.g. integration-tests=success)"
        )
    from flaggate.pull.checks import CheckReport, from_check_run

    conclusion = state if _CHECK_STATES[state] == "completed" else None
    report = from_check_run(name.strip(), _CHECK_STATES[state], conclusion, None)
    return CheckReport(report.name, "simulated", report.status, report.detail)


@dataclass
class OfflinePullRequest:
    """A pull request simulated from the command line; every review is on the head commit."""

    approvals: list[SimulatedReview] = field(default_factory=list)
    change_requests: list[SimulatedReview] = field(default_factory=list)
    author_login: str | None = None
    label_names: frozenset[str] = frozenset()
    base_branch: str | None = None
    description: str = ""
    label_actors: dict[str, SimulatedReview] = field(default_factory=dict)

    def author(self) -> str | None:
        return self.author_login

    def labels(self) -> frozenset[str]:
        return self.label_names

    def base_ref(self) -> str | None:
        return self.base_branch

    def reviews(self) -> list[Review]:
        def make(items: Iterable[SimulatedReview], state: ReviewState) -> list[Review]:
            return [Review(item.login, state) for item in items]

        return make(self.approvals, "APPROVED") + make(self.change_requests, "CHANGES_REQUESTED")

    def pushers(self) -> frozenset[str]:
        return frozenset()

    def holds_role(self, login: str, role: str) -> bool:
        return any(
            role in item.roles
            for item in (*self.approvals, *self.change_requests, *self.label_actors.values())
            if item.login == login
        )

    def review_is_current(self, review: Review) -> bool:
        return True

    def body(self) -> str:
        return self.description

    def pusher_doubt(self) -> str | None:
        return None

    def bypass_problem(self, label: str, actor: str, incident: str) -> str | None:
        return None  # simulated: the label covers the working tree as it is

    def label_actor(self, label: str) -> str | None:
        actor = self.label_actors.get(label)
        return actor.login if actor is not None else None

    def opened_at(self) -> datetime | None:
        return None
