"""A pull request's timeline events, read once: who labeled it and when, when it became ready
for review, who force-pushed its branch. Times and actors are GitHub's own records."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PullEvent:
    """One timeline event of a pull request."""

    event: str
    actor: str | None
    at: datetime | None
    label: str | None = None
    commit: str | None = None
    id: str | None = None
    """GitHub's id of the event: two labelings in the same second differ by it."""
    deleted_author: str | None = None
    """Whose comment a ``comment_deleted`` event deleted."""


@dataclass(frozen=True)
class PullEvents:
    """The events flaggate reads, oldest first."""

    items: tuple[PullEvent, ...]

    @classmethod
    def of(cls, events: Iterable[PullEvent]) -> PullEvents:
        """The events, oldest first."""
        return cls(tuple(events))

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
