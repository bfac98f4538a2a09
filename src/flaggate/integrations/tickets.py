"""What flaggate needs from a ticket tracker, whichever it is (Jira, GitHub issues)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from flaggate.errors import FlaggateError

TicketErrorKind = Literal["auth", "forbidden", "config", "unavailable", "invalid"]


class TicketError(FlaggateError):
    """The tracker could not answer: bad credentials (``auth``), no permission
    (``forbidden``), a setting that does not match the tracker (``config``: an unknown field or
    transition), the service down or timing out after retries (``unavailable``), or a request
    it refused (``invalid``). The message is one line and holds no secret."""

    def __init__(self, kind: TicketErrorKind, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.kind = kind


@dataclass(frozen=True)
class Ticket:
    """A ticket as the gate judges it."""

    key: str
    """As the tracker spells it: ``FEAT-123``, or ``#123`` for a GitHub issue."""
    url: str
    """Where a person opens it (``<base>/browse/FEAT-123``, the issue's html_url)."""
    title: str
    status: str
    """The status name (``In Progress``), or ``open``/``closed`` for a GitHub issue."""
    closed: bool
    """Done: Jira's status category ``done``, a closed GitHub issue."""
    fields: Mapping[str, str] = field(default_factory=dict)
    """The values of the fields asked for, by the name they were asked by, as text; an
    empty string when the field is empty on the ticket."""
    labels: tuple[str, ...] = ()
    pull_request: bool = False
    """A GitHub ``#N`` that is a pull request, not an issue."""


MoveOutcome = Literal["moved", "already", "unavailable"]


@dataclass(frozen=True)
class Move:
    """What asking a ticket to move by a transition found, or did."""

    outcome: MoveOutcome
    """``moved``: a transition was made (in a dry run: would be); ``already``: the ticket is
    in that status (or the transition leads to the status it is in), nothing was done;
    ``unavailable``: no transition by that name or to that status is available from the
    ticket's status, nothing was done."""
    status: str
    """The ticket's status after the move: the one reached (or that a dry run would reach),
    else the one it is in."""
    previous: str
    """The status the ticket was in ("" when the tracker does not say)."""
    available: tuple[str, ...] = ()
    """``unavailable``: the names of the transitions that are available."""


@dataclass(frozen=True)
class TicketComment:
    """A comment for a ticket, rendered by each tracker in its own format (ADF, markdown)."""

    heading: str
    """One line, shown bold: ``Feature flag change requested``."""
    rows: tuple[tuple[str, str], ...]
    """``(label, value)`` lines; values are shown as code."""
    link: tuple[str, str] | None
    """``(text, url)``: the pull request."""
    marker: str
    """A token that identifies the event (``flaggate acme/flags#42 requested 3f2a9c1b4e5d``);
    it is kept in the comment so that `TicketProvider.has_comment` finds it again."""


class TicketProvider(Protocol):
    """A ticket tracker. Every method raises `TicketError` when the tracker cannot answer."""

    name: str
    """``Jira`` or ``GitHub issues``, for messages."""

    def fetch(self, key: str, fields: Sequence[str] = ()) -> Ticket | None:
        """The ticket, with the named fields (display names) read as text; None when no
        ticket has that key. An unknown field name is a ``config`` error."""
        ...

    def has_comment(self, key: str, marker: str) -> bool:
        """Whether a comment on the ticket carries ``marker``."""
        ...

    def comment(self, key: str, comment: TicketComment) -> None:
        """Add a comment."""
        ...

    def relabel(self, key: str, add: Sequence[str], remove: Sequence[str]) -> None:
        """Add and remove labels (removing one that is absent is not an error)."""
        ...

    def move(self, key: str, name: str, dry_run: bool = False) -> Move:
        """Move the ticket by the transition named ``name`` (or the one leading to the status
        named ``name``), and say what happened (`Move`): already in that status, or no such
        transition available, nothing is done. ``dry_run`` reads what would happen and
        changes nothing."""
        ...

    def set_fields(self, key: str, values: Mapping[str, str | float]) -> None:
        """Set fields by display name (a number or text)."""
        ...
