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

from flaggate.github.provenance import provenance_of, same_login
from flaggate.github.snapshot import PullComment, PullSnapshot
from flaggate.publish import comment as sticky_comment
from flaggate.pull.events import PullEvents
from flaggate.pull.github import Evidence
from flaggate.pull.ledger import Ledger, Observation, seal, verify


@dataclass(frozen=True)
class Thread:
    """The evidence, and flaggate's sticky comment with its state."""

    evidence: Evidence
    sticky: PullComment | None
    state: sticky_comment.CommentState
    bodies: tuple[str, ...] = ()
    """The text of every comment of the pull request."""


def state_key() -> bytes | None:
    """The key that seals the ledger, when one is configured."""
    value = os.environ.get("FLAGGATE_STATE_KEY", "")
    return value.encode() if value else None


def scope(pull: PullSnapshot) -> str:
    """What a seal binds the ledger to: this repository's pull request."""
    return f"{pull.full_name}#{pull.number}"


def gather(pull: PullSnapshot, observation: Observation | None = None) -> Thread:
    """The evidence in ``pull``'s snapshot, and whether the kept ledger counts."""
    key = state_key()
    provenance = provenance_of(pull, sealed=key is not None)
    sticky = next(
        (
            c
            for c in pull.comments
            if c.author_is_bot
            and sticky_comment.MARKER in c.body
            and same_login(c.author, provenance.viewer)
        ),
        None,
    )
    state = sticky_comment.CommentState.parse(sticky.body if sticky else None)
    ledger, doubt = _kept(state, provenance.tampering, key, scope(pull))
    evidence = Evidence(PullEvents.of(pull.events), provenance, ledger, doubt, observation)
    return Thread(evidence, sticky, state, tuple(c.body for c in pull.comments))


def sealed_state(
    state: sticky_comment.CommentState, ledger: Ledger, pull: PullSnapshot
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
