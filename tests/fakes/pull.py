"""A fake :class:`~flaggate.pull.context.PullRequest` for engine tests.

Every fact is configurable, every call is counted, and every method can be made to raise:
setting ``errors["pushers"]`` proves that ``pushers()`` is never called when it is not needed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flaggate.pull.context import Review, ReviewState

HEAD_SHA = "head"
OLD_SHA = "old"
_EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def review(
    login: str,
    state: ReviewState = "APPROVED",
    minute: int | None = None,
    *,
    sha: str | None = HEAD_SHA,
    bot: bool = False,
) -> Review:
    """A review by ``login``; ``minute`` sets ``submitted_at`` (minutes after a fixed epoch)."""
    at = None if minute is None else _EPOCH + timedelta(minutes=minute)
    return Review(login, state, commit_sha=sha, submitted_at=at, is_bot=bot)


class FakeCallError(AssertionError):
    """Raised by a fake method configured to fail (a call that must not happen)."""


@dataclass
class FakePullRequest:
    """A pull request whose facts are set by the test.

    ``roles`` maps a login to the roles it holds. ``stale_commits`` lists commit SHAs whose
    change set differs from head: a review on one of them is not current. ``errors`` maps a
    method name to the exception it raises (the call is still counted in ``calls``).
    """

    author_login: str | None = "author"
    label_names: frozenset[str] = frozenset()
    base: str | None = "main"
    review_list: list[Review] = field(default_factory=list)
    pusher_logins: frozenset[str] = frozenset()
    roles: Mapping[str, Iterable[str]] = field(default_factory=dict)
    stale_commits: frozenset[str] = frozenset()
    errors: dict[str, BaseException] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    description: str = ""
    label_actors: Mapping[str, str] = field(default_factory=dict)
    opened: datetime | None = _EPOCH
    doubt: str | None = None
    """What :meth:`pusher_doubt` answers."""
    stale_bypass: str | None = None
    """What :meth:`bypass_problem` answers."""

    def _call(self, name: str) -> None:
        self.calls[name] += 1
        error = self.errors.get(name)
        if error is not None:
            raise error

    def forbid(self, *names: str) -> FakePullRequest:
        """Make each named method raise :class:`FakeCallError`; returns ``self``."""
        for name in names:
            self.errors[name] = FakeCallError(f"{name}() must not be called")
        return self

    def author(self) -> str | None:
        self._call("author")
        return self.author_login

    def labels(self) -> frozenset[str]:
        self._call("labels")
        return self.label_names

    def base_ref(self) -> str | None:
        self._call("base_ref")
        return self.base

    def reviews(self) -> list[Review]:
        self._call("reviews")
        return list(self.review_list)

    def pushers(self) -> frozenset[str]:
        self._call("pushers")
        return self.pusher_logins

    def pusher_doubt(self) -> str | None:
        self._call("pusher_doubt")
        return self.doubt

    def bypass_problem(self, label: str, actor: str, incident: str) -> str | None:
        self._call("bypass_problem")
        return self.stale_bypass

    def holds_role(self, login: str, role: str) -> bool:
        self._call("holds_role")
        return role in set(self.roles.get(login, ()))

    def review_is_current(self, review: Review) -> bool:
        self._call("review_is_current")
        return review.commit_sha not in self.stale_commits

    def body(self) -> str:
        self._call("body")
        return self.description

    def label_actor(self, label: str) -> str | None:
        self._call("label_actor")
        return self.label_actors.get(label)

    def opened_at(self) -> datetime | None:
        self._call("opened_at")
        return self.opened


ALL_METHODS = (
    "author",
    "labels",
    "base_ref",
    "reviews",
    "pushers",
    "pusher_doubt",
    "holds_role",
    "review_is_current",
    "body",
    "label_actor",
    "bypass_problem",
    "opened_at",
)
