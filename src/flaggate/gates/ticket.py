"""The ticket gate: a flag change in an environment that requires a ticket names one (in the
pull request's title, branch or body), and that ticket exists, is open, is in an allowed
status, has its required fields filled and, when its flag field is set, names the flags."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from flaggate.diff import ALL_ENVIRONMENTS, Change
from flaggate.integrations.tickets import Ticket, TicketError, TicketProvider
from flaggate.model.settings import Tickets
from flaggate.policy.result import GateResult, GateStatus

_JIRA_KEY = r"(?<![A-Za-z0-9_\-])([A-Z][A-Z0-9_]{0,9}-[1-9][0-9]{0,8})(?![A-Za-z0-9])"
_ISSUE_REF = re.compile(r"(?<![\w/#&])#([1-9][0-9]{0,8})(?!\w)")
_ISSUE_BRANCH = re.compile(r"(?:^|/)(?:issue-|gh-)?([1-9][0-9]{0,8})(?:-|$)", re.IGNORECASE)
_LIST = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class PullText:
    """Where a pull request can name its ticket."""

    title: str = ""
    branch: str = ""
    body: str = ""


@dataclass(frozen=True)
class TicketRef:
    """A ticket key found in the pull request, and where."""

    key: str
    source: str
    """``title``, ``branch`` or ``body``."""


def find_ticket(text: PullText, settings: Tickets) -> TicketRef | None:
    """The first ticket key in the title, then the branch name, then the body.

    Jira keys are upper case (``FEAT-123``); with ``projects`` set only those projects count,
    and a branch may spell the key in lower case (``feat-123-new-checkout``). GitHub issues are
    ``#123`` in the title or body, or a branch ``123-...``, ``issue-123`` or ``gh-123``.
    """
    if settings.provider == "github":
        for source, value in (("title", text.title), ("branch", None), ("body", text.body)):
            if value is None:
                match = _ISSUE_BRANCH.search(text.branch)
            else:
                match = _ISSUE_REF.search(_without_code(value))
            if match:
                return TicketRef(f"#{match.group(1)}", source)
        return None
    projects = {p.upper() for p in settings.projects}
    for source, value in (("title", text.title), ("branch", text.branch), ("body", text.body)):
        flags = re.IGNORECASE if source == "branch" and projects else 0
        for match in re.finditer(_JIRA_KEY, _without_code(value), flags):
            key = match.group(1).upper()
            if not projects or key.split("-", 1)[0] in projects:
                return TicketRef(key, source)
    return None


def _without_code(text: str) -> str:
    """Markdown without fenced and inline code: an example key in a code span names nothing."""
    text = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)
    return re.sub(r"`[^`\n]*`", " ", text)


@dataclass
class TicketLookup:
    """The pull request's ticket and how to read it; the ticket is fetched once per run.

    ``provider`` None: the ticket is not looked up here (``flaggate plan`` offline).
    """

    ref: TicketRef | None
    provider: TicketProvider | None = None
    error: TicketError | None = None
    """Why the tracker cannot be asked at all (its URL or token is not set)."""
    _fetched: tuple[Ticket | None, TicketError | None] | None = field(default=None, repr=False)

    def fetch(self, fields: Sequence[str]) -> Ticket | None:
        """The ticket (None: it does not exist); raises `TicketError`."""
        if self.ref is None or self.provider is None:
            return None
        if self._fetched is None:
            try:
                self._fetched = (self.provider.fetch(self.ref.key, fields), None)
            except TicketError as exc:
                self._fetched = (None, exc)
        ticket, error = self._fetched
        if error is not None:
            raise error
        return ticket


def required_environments(
    changes: Iterable[Change],
    settings: Tickets,
    base_flags: Collection[str] | None = None,
    head_flags: Collection[str] | None = None,
) -> list[str]:
    """The environments the flag changes touch that require a ticket, in settings order.

    A flag created or deleted as a whole (its key in only one of ``base_flags`` and
    ``head_flags``) touches every environment, whichever it defines; so does an edit of a
    flag's metadata (environment ``*``). Without the flag keys (None), a created or deleted
    environment entry touches only its environment.
    """
    flag_changes = [c for c in changes if c.resource == "flag"]
    if any(_touches_all(c, base_flags, head_flags) for c in flag_changes):
        return list(settings.requiredFor)
    touched = {c.environment for c in flag_changes}
    return [env for env in settings.requiredFor if env in touched]


def _touches_all(
    change: Change, base_flags: Collection[str] | None, head_flags: Collection[str] | None
) -> bool:
    """Whether the flag change touches every environment: a metadata edit, or a change of a
    flag that exists on one side only."""
    if change.environment == ALL_ENVIRONMENTS:
        return True
    if base_flags is None or head_flags is None:
        return False
    return (change.flag in base_flags) != (change.flag in head_flags)


def ticket_gate(
    changes: Sequence[Change],
    settings: Tickets,
    lookup: TicketLookup,
    base_flags: Collection[str] | None = None,
    head_flags: Collection[str] | None = None,
) -> GateResult | None:
    """The gate, or None when no changed environment requires a ticket. ``base_flags`` and
    ``head_flags`` are the flag keys of the two sides (a mapping by key will do): a flag on
    one side only is created or deleted as a whole, which requires the ticket of every
    ``requiredFor`` environment (see `required_environments`)."""
    envs = required_environments(changes, settings, base_flags, head_flags)
    if not envs:
        return None
    where = f"required for {', '.join(envs)}"
    ref = lookup.ref
    if ref is None:
        example = "#123" if settings.provider == "github" else "FEAT-123"
        return _gate(
            "ticket",
            GateStatus.FAILED,
            f"no ticket named in the title, branch or body ({example}); {where}",
            envs,
        )
    name = f"ticket {ref.key}"
    if lookup.error is not None:
        return _gate(name, GateStatus.ERROR, f"{ref.key}: {lookup.error}", envs)
    if lookup.provider is None:
        return _gate(
            name,
            GateStatus.PENDING,
            f"{ref.key} (from the {ref.source}) is looked up by `flaggate github`"
            + (" (or plan --online)" if settings.provider == "jira" else ""),
            envs,
        )
    fields = [*settings.requiredFields]
    if settings.flagField and settings.flagField not in fields:
        fields.append(settings.flagField)
    try:
        ticket = lookup.fetch(fields)
    except TicketError as exc:
        return _gate(name, GateStatus.ERROR, f"{ref.key}: {exc}", envs)
    if ticket is None:
        return _gate(
            name, GateStatus.FAILED, f"{ref.key} not found in {lookup.provider.name}", envs
        )
    flags = sorted(
        {
            c.flag
            for c in changes
            if c.resource == "flag"
            and (c.environment in envs or _touches_all(c, base_flags, head_flags))
        }
    )
    reasons = ticket_problems(ticket, settings, flags)
    if reasons:
        return _gate(name, GateStatus.FAILED, "; ".join(reasons), envs)
    return _gate(name, GateStatus.PASSED, f"{ticket.key} {ticket.status}: {ticket.title}", envs)


def ticket_problems(ticket: Ticket, settings: Tickets, flags: Sequence[str]) -> list[str]:
    """Why the ticket does not allow the change (empty: it does)."""
    key = ticket.key
    if ticket.pull_request:
        return [f"{key} is a pull request, not an issue"]
    problems = []
    if ticket.closed:
        problems.append(f"{key} is closed ({ticket.status})")
    elif settings.allowedStatuses and ticket.status.casefold() not in {
        s.casefold() for s in settings.allowedStatuses
    }:
        problems.append(
            f"{key} is in status {ticket.status!r}; flag changes need one of: "
            f"{', '.join(settings.allowedStatuses)}"
        )
    for name in settings.requiredFields:
        if not ticket.fields.get(name, "").strip():
            problems.append(f"{key}: required field {name!r} is empty")
    if settings.flagField:
        named = [v for v in _LIST.split(ticket.fields.get(settings.flagField, "")) if v]
        if named:
            missing = [flag for flag in flags if flag not in named]
            if missing:
                problems.append(
                    f"{key}'s {settings.flagField!r} names {', '.join(named)}, not "
                    f"{', '.join(missing)}"
                )
    return problems


def _gate(name: str, status: GateStatus, message: str, envs: list[str]) -> GateResult:
    return GateResult(
        name, status, message, kind="ticket", environment=envs[0] if len(envs) == 1 else None
    )
