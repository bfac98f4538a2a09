"""A pull request's issue events, read once: who labeled it and when, when it became ready
for review, who force-pushed its branch. Times and actors are GitHub's own records."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from github import GithubException
from github.PullRequest import PullRequest as GithubPull

from flaggate.github.api import explain


@dataclass(frozen=True)
class PullEvent:
    """One issue event of a pull request."""

    event: str
    actor: str | None
    at: datetime | None
    label: str | None = None
    commit: str | None = None
    id: int | None = None
    """GitHub's id of the event: two labelings in the same second differ by it."""


@dataclass(frozen=True)
class PullEvents:
    """The events flaggate reads, oldest first."""

    items: tuple[PullEvent, ...]

    @classmethod
    def read(cls, pull: GithubPull) -> PullEvents:
        """Every issue event of ``pull`` (all pages of 100)."""
        items: list[dict[str, Any]] = []
        page = 1
        try:
            while True:
                _headers, data = pull.requester.requestJsonAndCheck(
                    "GET", f"{pull.issue_url}/events", parameters={"per_page": 100, "page": page}
                )
                batch = [item for item in data if isinstance(item, dict)] if data else []
                items += batch
                if len(data or []) < 100:
                    return cls.of(items)
                page += 1
        except GithubException as exc:
            raise explain(exc, "reading the pull request's events", "'Issues: read'") from None

    @classmethod
    def of(cls, events: Iterable[dict[str, Any]]) -> PullEvents:
        """The events from the REST API's JSON objects."""
        return cls(tuple(_event(item) for item in events))

    def last_labeled(self, label: str) -> PullEvent | None:
        """The latest event that added ``label``."""
        found = [e for e in self.items if e.event == "labeled" and e.label == label]
        return found[-1] if found else None

    def ready_at(self) -> datetime | None:
        """When the pull request last became ready for review (None: never a draft)."""
        times = [e.at for e in self.items if e.event == "ready_for_review" and e.at is not None]
        return max(times) if times else None

    def force_pushers(self) -> frozenset[str]:
        """Who force-pushed the head branch."""
        return frozenset(
            e.actor for e in self.items if e.event == "head_ref_force_pushed" and e.actor
        )

    def force_pushed_at(self, sha: str) -> datetime | None:
        """When a force-push made ``sha`` the head (None when no event says so)."""
        times = [
            e.at
            for e in self.items
            if e.event == "head_ref_force_pushed" and e.commit == sha and e.at is not None
        ]
        return min(times) if times else None


def _event(item: dict[str, Any]) -> PullEvent:
    actor = item.get("actor") or {}
    label = item.get("label") or {}
    at = item.get("created_at")
    return PullEvent(
        str(item.get("event") or ""),
        actor.get("login") if isinstance(actor, dict) else None,
        datetime.fromisoformat(at.replace("Z", "+00:00")) if isinstance(at, str) else None,
        label.get("name") if isinstance(label, dict) else None,
        item.get("commit_id") if isinstance(item.get("commit_id"), str) else None,
        ident if isinstance(ident := item.get("id"), int) and not isinstance(ident, bool) else None,
    )
