"""Gathering what GitHub vouches for about a pull request, and keeping the ledger.

The ledger (:mod:`flaggate.pull.ledger`) lives in the hidden state of flaggate's sticky
comment. It is read back only from a comment written by flaggate's own identity and only
while GitHub shows that nobody else edited or deleted one of its comments; with a state key
(``FLAGGATE_STATE_KEY``, the action's ``state-key`` input, from a repository secret) it must
carry a valid seal instead of an unedited history. Otherwise it is discarded and what it was
needed for fails closed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from github import GithubException
from github.IssueComment import IssueComment
from github.PullRequest import PullRequest as GithubPull

from flaggate.github.api import explain
from flaggate.github.provenance import read_provenance, same_login
from flaggate.publish import comment as sticky_comment
from flaggate.pull.events import PullEvents
from flaggate.pull.github import Evidence
from flaggate.pull.ledger import Ledger, Observation, seal, verify


@dataclass(frozen=True)
class Thread:
    """The evidence, and flaggate's sticky comment with its state."""

    evidence: Evidence
    sticky: IssueComment | None
    state: sticky_comment.CommentState
    bodies: tuple[str, ...] = ()
    """The text of every comment of the pull request."""


def state_key() -> bytes | None:
    """The key that seals the ledger, when one is configured."""
    value = os.environ.get("FLAGGATE_STATE_KEY", "")
    return value.encode() if value else None


def scope(pull: GithubPull) -> str:
    """What a seal binds the ledger to: this repository's pull request."""
    return f"{pull.base.repo.full_name}#{pull.number}"


def gather(pull: GithubPull, observation: Observation | None = None) -> Thread:
    """Read the comments, the events and the provenance of ``pull`` (three requests and
    their pages) and decide whether the kept ledger counts."""
    try:
        comments = list(pull.get_issue_comments())
    except GithubException as exc:
        raise explain(exc, "reading pull request comments", "'Pull requests: read'") from None
    bots = [c for c in comments if c.user is not None and c.user.type == "Bot"]
    key = state_key()
    provenance = read_provenance(pull, bots, sealed=key is not None)
    events = PullEvents.read(pull)
    sticky = next(
        (
            c
            for c in bots
            if sticky_comment.MARKER in (c.body or "")
            and same_login(c.user.login, provenance.viewer)
        ),
        None,
    )
    state = sticky_comment.CommentState.parse(sticky.body if sticky else None)
    ledger, doubt = _kept(state, provenance.tampering, key, scope(pull))
    evidence = Evidence(events, provenance, ledger, doubt, observation)
    return Thread(evidence, sticky, state, tuple(c.body or "" for c in comments))


def sealed_state(
    state: sticky_comment.CommentState, ledger: Ledger, pull: GithubPull
) -> sticky_comment.CommentState:
    """``state`` carrying ``ledger`` (sealed when a key is configured)."""
    data = ledger.to_json()
    key = state_key()
    mac = seal(key, scope(pull), data) if key is not None else None
    return sticky_comment.CommentState(state.requested, state.notices, data, mac)


def _kept(
    state: sticky_comment.CommentState, tampering: str | None, key: bytes | None, where: str
) -> tuple[Ledger, str | None]:
    if tampering is not None:
        return Ledger(), tampering
    if state.ledger is None:
        return Ledger(), None
    if key is not None and (state.mac is None or not verify(key, where, state.ledger, state.mac)):
        return Ledger(), "not sealed with the configured state key"
    try:
        return Ledger.from_json(state.ledger), None
    except (ValueError, TypeError):
        return Ledger(), "unreadable"
