"""The one protocol through which evaluation reads pull-request facts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

ReviewState = Literal["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"]


@dataclass(frozen=True)
class Review:
    """A review as GitHub reports it (one per submission; the latest per reviewer counts)."""

    login: str
    state: ReviewState
    commit_sha: str | None = None
    submitted_at: datetime | None = None
    is_bot: bool = False
    body: str = ""


def latest_reviews(reviews: Sequence[Review]) -> dict[str, Review]:
    """Each reviewer's latest deciding review (GitHub: a later COMMENTED changes nothing)."""
    latest: dict[str, Review] = {}
    ordered = sorted(
        enumerate(reviews),
        key=lambda item: (item[1].submitted_at is not None, item[1].submitted_at, item[0]),
    )
    for _, review in ordered:
        if review.state != "COMMENTED":
            latest[review.login] = review
    return latest


class PullRequest(Protocol):
    """Facts about a pull request; implementations fetch lazily and cache."""

    def author(self) -> str | None:
        """Login of the pull request's author (None offline when unknown)."""
        ...

    def labels(self) -> frozenset[str]:
        """Names of the labels on the pull request."""
        ...

    def base_ref(self) -> str | None:
        """The base branch name."""
        ...

    def reviews(self) -> list[Review]:
        """Every review, oldest first."""
        ...

    def pushers(self) -> frozenset[str]:
        """Logins of everyone who pushed to, authored, committed or co-authored the pull
        request's commits: none of them may approve it."""
        ...

    def pusher_doubt(self) -> str | None:
        """Why who pushed cannot be told (then no approval counts); None when it can."""
        ...

    def holds_role(self, login: str, role: str) -> bool:
        """Whether ``login`` holds ``role`` (through RoleBindings teams/users or as simulated)."""
        ...

    def review_is_current(self, review: Review) -> bool:
        """Whether the change set at the reviewed commit equals the one at head."""
        ...

    def body(self) -> str:
        """The pull request's description (empty when there is none)."""
        ...

    def label_actor(self, label: str) -> str | None:
        """Who added ``label`` most recently (None when unknown)."""
        ...

    def bypass_problem(self, label: str, actor: str, incident: str) -> str | None:
        """Why the bypass ``actor`` granted by adding ``label`` does not cover the pull
        request as it is now (another change set, edited incident fields ``incident``);
        None when it does."""
        ...

    def opened_at(self) -> datetime | None:
        """When the first stage's clock started (None offline: no stage timeouts then)."""
        ...
