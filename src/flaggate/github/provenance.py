"""What GitHub vouches for beyond the pull request itself: who edited flaggate's comments and
the description, which of flaggate's comments were deleted, and who co-authored the commits.

All of it comes with the pull request's one query (:mod:`flaggate.github.snapshot`). The
ledger kept in the sticky comment counts only when GitHub shows that no comment of flaggate's
identity was edited by anyone else or deleted (or, with a state key configured, when its seal
verifies).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flaggate.github.snapshot import PullSnapshot


@dataclass(frozen=True)
class Provenance:
    """The answers about one pull request's comments, description and commits."""

    viewer: str
    """flaggate's own identity (compare with :func:`same_login`: GitHub writes a bot's login
    with ``[bot]`` in some places and without in others)."""
    tampering: str | None
    """How a comment of flaggate's was edited or deleted by someone else (None: it was not)."""
    body_edited_at: datetime | None
    """When the description was last edited (None: never since it was opened)."""
    co_authors: frozenset[str]
    """Logins GitHub links to the authors and ``Co-authored-by:`` trailers of the pull
    request's commits."""


def same_login(a: str | None, b: str | None) -> bool:
    """Whether two logins name one account (REST ``x[bot]`` is GraphQL ``x``)."""
    return a is not None and b is not None and a.removesuffix("[bot]") == b.removesuffix("[bot]")


def provenance_of(pull: PullSnapshot, *, sealed: bool) -> Provenance:
    """What ``pull``'s snapshot says about tampering and co-authors. ``sealed``: the ledger
    carries a seal, so edits of flaggate's comments are judged by the seal instead
    (deletions still count)."""
    tampering = None
    if not sealed:
        tampering = _edited(pull)
    tampering = tampering or _deleted(pull)
    co_authors = frozenset(login for commit in pull.commits for login in commit.authors)
    return Provenance(
        viewer=pull.viewer,
        tampering=tampering,
        body_edited_at=pull.body_edited_at,
        co_authors=co_authors,
    )


def _edited(pull: PullSnapshot) -> str | None:
    for comment in pull.comments:
        if not same_login(comment.author, pull.viewer):
            continue
        if not comment.edits_listed:
            return "edited more often than GitHub lists at once"
        # An edit's editor is None when the account was deleted since: not flaggate either.
        others = sorted({_who(e) for e in comment.editors if not same_login(e, pull.viewer)})
        if others:
            return "edited by " + ", ".join(others)
    return None


def _deleted(pull: PullSnapshot) -> str | None:
    for event in pull.events:
        if event.event == "comment_deleted" and same_login(event.deleted_author, pull.viewer):
            return f"deleted by {_who(event.actor)}"
    return None


def _who(login: str | None) -> str:
    return "a deleted account" if login is None else f"@{login}"
