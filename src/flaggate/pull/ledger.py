"""Facts flaggate keeps between runs of one pull request, as GitHub showed them to it.

GitHub's API does not say who pushed a commit to a pull request, nor when: the sender of the
``synchronize`` event that announced it does, and only to the run of that event. So each run
writes down what its event vouched for (the head SHA, when it was first seen, who pushed it)
and the emergency bypass it saw being granted, and later runs read it back. The ledger lives
in the sticky comment's hidden state; it counts only while GitHub shows that nobody but
flaggate's own identity edited or deleted that comment (see :mod:`flaggate.github.provenance`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

MAX_HEADS = 200
"""Head SHAs kept (the newest): enough for any pull request people can still review."""


@dataclass(frozen=True)
class HeadSeen:
    """A head commit and when flaggate first saw it (its stage clocks start there)."""

    sha: str
    at: datetime
    pusher: str | None = None
    """The sender of the event that announced it (None when no event said)."""


@dataclass(frozen=True)
class BypassBinding:
    """What an emergency bypass covered when flaggate first saw the label."""

    actor: str
    labeled_at: datetime
    sha: str
    """The head when the label was added."""
    incident: str
    """The incident fields then (:func:`flaggate.policy.emergency.incident_digest`)."""
    event: str | None = None
    """GitHub's node id of the ``labeled`` event (None in records kept before ids were; an
    older record's number never matches a node id, so its label must be judged afresh)."""


@dataclass(frozen=True)
class Ledger:
    """The kept facts of one pull request."""

    heads: tuple[HeadSeen, ...] = ()
    pushers: tuple[str, ...] = ()
    """Senders of ``synchronize`` events: they pushed and cannot approve."""
    bypass: BypassBinding | None = None

    def first_seen(self, sha: str) -> datetime | None:
        """When ``sha`` was first seen as the head (None when never)."""
        return next((head.at for head in self.heads if head.sha == sha), None)

    def head_at(self, moment: datetime) -> str | None:
        """The head at ``moment``: the one most recently first seen at or before it."""
        earlier = [head for head in self.heads if head.at <= moment]
        return max(earlier, key=lambda head: head.at).sha if earlier else None

    def seen(self, sha: str, at: datetime, pusher: str | None = None) -> Ledger:
        """With ``sha`` first seen at ``at`` (kept as it was when already known)."""
        pushers = self.pushers
        if pusher is not None and pusher not in pushers:
            pushers = (*pushers, pusher)
        if self.first_seen(sha) is not None:
            return replace(self, pushers=pushers)
        heads = (*self.heads, HeadSeen(sha, at, pusher))[-MAX_HEADS:]
        return replace(self, heads=heads, pushers=pushers)

    def merged(self, other: Ledger) -> Ledger:
        """Both ledgers' facts: the earliest sighting of each head, every pusher, the newer
        bypass binding (two runs that wrote at once lose nothing)."""
        earliest: dict[str, HeadSeen] = {}
        for head in (*self.heads, *other.heads):
            known = earliest.get(head.sha)
            if known is None or head.at < known.at:
                earliest[head.sha] = head
        heads = tuple(sorted(earliest.values(), key=lambda head: head.at))[-MAX_HEADS:]
        pushers = tuple(dict.fromkeys((*self.pushers, *other.pushers)))
        bindings = [b for b in (self.bypass, other.bypass) if b is not None]
        # On a tie, this run's binding: it saw the latest label event when it ran.
        bypass = max(bindings, key=lambda b: b.labeled_at) if bindings else None
        return Ledger(heads, pushers, bypass)

    def to_json(self) -> dict[str, Any]:
        """Plain data for the comment's hidden state."""
        data: dict[str, Any] = {
            "heads": [[h.sha, h.at.isoformat(), h.pusher] for h in self.heads],
            "pushers": list(self.pushers),
        }
        if self.bypass is not None:
            b = self.bypass
            data["bypass"] = [b.actor, b.labeled_at.isoformat(), b.sha, b.incident]
            if b.event is not None:
                data["bypass"].append(b.event)
        return data

    @classmethod
    def from_json(cls, data: Any) -> Ledger:
        """Read :meth:`to_json` data back; raise ``ValueError`` on any other shape."""
        if not isinstance(data, dict):
            raise ValueError("ledger is not an object")
        heads = tuple(
            HeadSeen(_text(sha), datetime.fromisoformat(_text(at)), _optional(pusher))
            for sha, at, pusher in _rows(data.get("heads", []), 3)
        )
        pushers = tuple(_text(login) for login in data.get("pushers", []))
        bypass = None
        row = data.get("bypass")
        if row is not None:
            event = row[4] if isinstance(row, list) and len(row) == 5 else None
            row = row[:4] if event is not None else row
            if event is not None and (not isinstance(event, int | str) or isinstance(event, bool)):
                raise ValueError("ledger event id is not an id")
            [(actor, at, sha, incident)] = _rows([row], 4)
            bypass = BypassBinding(
                _text(actor),
                datetime.fromisoformat(_text(at)),
                _text(sha),
                _text(incident),
                None if event is None else str(event),
            )
        return cls(heads, pushers, bypass)


def seal(key: bytes, scope: str, data: dict[str, Any]) -> str:
    """An HMAC-SHA256 of ``data`` for ``scope`` (the repository and pull request), so a
    state copied from another pull request or edited by hand does not verify."""
    canonical = json.dumps([scope, data], sort_keys=True, separators=(",", ":"))
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def verify(key: bytes, scope: str, data: dict[str, Any], mac: str) -> bool:
    """Whether ``mac`` is :func:`seal` of ``data`` for ``scope``."""
    return hmac.compare_digest(seal(key, scope, data), mac)


def _rows(value: Any, width: int) -> list[tuple[Any, ...]]:
    if not isinstance(value, list) or not all(
        isinstance(row, list) and len(row) == width for row in value
    ):
        raise ValueError("ledger rows have the wrong shape")
    return [tuple(row) for row in value]


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("ledger value is not a string")
    return value


def _optional(value: Any) -> str | None:
    return None if value is None else _text(value)


@dataclass(frozen=True)
class Observation:
    """What the run's own event vouches for (GitHub wrote the payload, not the author)."""

    action: str
    """The pull request event's action (``synchronize``, ``labeled``, ...)."""
    sender: str | None
    head_sha: str | None
    label: str | None = None
    """The label added or removed, for ``labeled``/``unlabeled``."""

    @classmethod
    def of(cls, name: str, payload: Any) -> Observation | None:
        """The observation of a ``pull_request``/``pull_request_target`` event payload."""
        if name not in ("pull_request", "pull_request_target") or not isinstance(payload, dict):
            return None
        pull = payload.get("pull_request") or {}
        head = pull.get("head") or {}
        sender = payload.get("sender") or {}
        label = payload.get("label") or {}
        return cls(
            str(payload.get("action") or ""),
            sender.get("login") if isinstance(sender.get("login"), str) else None,
            head.get("sha") if isinstance(head.get("sha"), str) else None,
            label.get("name") if isinstance(label.get("name"), str) else None,
        )
