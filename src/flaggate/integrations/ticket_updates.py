"""What a ticket is told as its flag change goes from request to merge.

Each update is a comment plus labels, a transition and fields. It is identified by a marker
(``flaggate acme/flags#42 approved 3f2a9c1b4e5d``): the token is the change set's fingerprint
(the merge commit for ``applied``), so a re-run finds the comment and posts nothing, and a
new change set is announced again. Labels, transition and fields go first and the comment
last: the comment is the record that the update was made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from flaggate.diff import ALL_ENVIRONMENTS, Change, describe_state, fingerprint, served
from flaggate.integrations.tickets import TicketComment, TicketError, TicketProvider
from flaggate.model.settings import Tickets
from flaggate.policy.result import Decision, Evaluation

MAX_ROWS = 25


@dataclass(frozen=True)
class PullInfo:
    """The pull request a ticket is updated about."""

    repository: str
    number: int
    url: str
    author: str | None


@dataclass(frozen=True)
class TicketUpdate:
    """One event told to the ticket."""

    event: str
    """``requested``, ``approved``, ``rejected`` or ``applied``."""
    token: str
    """The change set's fingerprint, or the merge commit: the occurrence of the event."""
    comment: TicketComment
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    transition: str | None = None
    fields: Mapping[str, str | float] = field(default_factory=dict)

    @property
    def marker(self) -> str:
        """What identifies the update in the ticket's comments."""
        return self.comment.marker

    @property
    def key(self) -> str:
        """The key kept in the pull request's comment state once the update is made."""
        return f"ticket:{self.event}:{self.token}"


def evaluation_updates(
    evaluation: Evaluation, settings: Tickets, pull: PullInfo
) -> list[TicketUpdate]:
    """The updates an evaluation calls for: the request, then its approval or rejection."""
    changes = [result.change for result in evaluation.changes]
    token = fingerprint(changes)[:12]
    labels = settings.labels
    rows = _change_rows(changes, lambda c: f"{describe_state(c.previous)} → {_new(c)}")
    stages = [stage.stage.name for stage in evaluation.stages]
    rows += [
        ("Requested by", f"@{pull.author}" if pull.author else "—"),
        ("Approval", ", ".join(stages) if stages else "none required"),
    ]
    updates = [
        _update(
            pull,
            "requested",
            token,
            rows,
            add=(labels.pending,),
            remove=(labels.approved, labels.rejected),
        )
    ]
    decision = evaluation.decision
    if decision in (Decision.APPROVED, Decision.BYPASSED):
        updates.append(
            _update(
                pull,
                "approved",
                token,
                _approval_rows(evaluation),
                add=(labels.approved,),
                remove=(labels.pending, labels.rejected),
                transition=settings.transitions.approved,
            )
        )
    elif decision is Decision.REJECTED:
        updates.append(
            _update(
                pull,
                "rejected",
                token,
                [("Reason", evaluation.summary)],
                add=(labels.rejected,),
                remove=(labels.pending, labels.approved),
            )
        )
    return updates


def merge_update(
    changes: Sequence[Change],
    settings: Tickets,
    pull: PullInfo,
    merge_sha: str,
    merged_at: datetime,
    merged_by: str | None,
    environment_order: Sequence[str],
) -> TicketUpdate:
    """The update once the change merged: the applied values, the merge transition, and the
    environment and rollout fields (Jira) of the last changed environment in ``order`` (a
    single-select field takes one value)."""
    flag_changes = [c for c in changes if c.resource == "flag"]
    rows = _change_rows(flag_changes, _new)
    rows += [
        ("Applied at", merged_at.isoformat().replace("+00:00", "Z")),
        ("Merge commit", merge_sha[:12]),
        ("Merged by", f"@{merged_by}" if merged_by else "—"),
    ]
    values: dict[str, str | float] = {}
    envs = _environments(flag_changes, environment_order)
    top = envs[-1] if envs else None
    if settings.environmentField and top:
        values[settings.environmentField] = top
    if settings.rolloutField and top:
        states = [c.new for c in flag_changes if c.environment == top]
        if states:
            values[settings.rolloutField] = max(exposure(state) for state in states)
    return _update(
        pull,
        "applied",
        merge_sha[:12],
        rows,
        remove=(settings.labels.pending,),
        transition=settings.transitions.merged,
        fields=values,
    )


def exposure(state: Mapping[str, object] | None) -> float:
    """The percentage of traffic a state serves something other than its ``off`` variant
    (the rollout percentage recorded on the ticket)."""
    if state is None or not state.get("enabled"):
        return 0.0
    shares = served(dict(state))
    return round(100.0 - shares.get("off", 0.0), 3)


def apply_updates(
    provider: TicketProvider,
    key: str,
    updates: Iterable[TicketUpdate],
    done: Iterable[str] = (),
    dry_run: bool = False,
) -> tuple[list[str], list[str]]:
    """Make the updates not made before; the keys of the updates now known to be made and
    one line per action. Raises `TicketError` at the first failure (the rest wait for the
    next run; nothing already made is repeated). A dry run only reads: the ticket's comments,
    and its status and transitions to say what a transition would do."""
    known = set(done)
    made: list[str] = []
    lines: list[str] = []
    for update in updates:
        if update.key in known:
            continue
        if provider.has_comment(key, update.marker):
            made.append(update.key)
            continue
        if dry_run:
            if update.transition:
                lines.append(move_ticket(provider, key, update.transition, dry_run=True))
            lines.append(f"would tell {key} the change was {update.event}")
            continue
        if update.add or update.remove:
            provider.relabel(key, update.add, update.remove)
        if update.transition:
            lines.append(move_ticket(provider, key, update.transition))
        if update.fields:
            provider.set_fields(key, update.fields)
        provider.comment(key, update.comment)
        made.append(update.key)
        lines.append(f"told {key} the change was {update.event}")
    return made, lines


def move_ticket(provider: TicketProvider, key: str, name: str, dry_run: bool = False) -> str:
    """Move the ticket by the transition ``name``; one line saying what happened: ``FEAT-1
    moved to Done``, ``FEAT-1 is already Done`` or (a dry run) ``would move FEAT-1 to Done``.
    No such transition available from the ticket's status is a ``config`` `TicketError`."""
    done = provider.move(key, name, dry_run)
    if done.outcome == "unavailable":
        names = ", ".join(done.available) or "none"
        raise TicketError(
            "config",
            f"no transition to {name} is available from {done.previous or 'its status'} "
            f"(available: {names})",
        )
    if done.outcome == "already":
        return f"{key} is already {done.status}"
    return f"would move {key} to {done.status}" if dry_run else f"{key} moved to {done.status}"


def safely(
    provider: TicketProvider,
    key: str,
    updates: Iterable[TicketUpdate],
    done: Iterable[str] = (),
    dry_run: bool = False,
) -> tuple[list[str], list[str], str | None]:
    """`apply_updates`, with a failure returned as a one-line warning instead of raised."""
    try:
        made, lines = apply_updates(provider, key, updates, done, dry_run)
    except TicketError as exc:
        return [], [], f"{provider.name} {key} not updated: {exc}"
    return made, lines, None


def _update(
    pull: PullInfo,
    event: str,
    token: str,
    rows: Sequence[tuple[str, str]],
    *,
    add: tuple[str, ...] = (),
    remove: tuple[str, ...] = (),
    transition: str | None = None,
    fields: Mapping[str, str | float] | None = None,
) -> TicketUpdate:
    """An update whose comment ("Feature flag change <event>") links the pull request and
    carries the marker ``flaggate <repo>#<number> <event> <token>``."""
    comment = TicketComment(
        f"Feature flag change {event}",
        tuple(rows),
        (f"Pull request {pull.repository}#{pull.number}", pull.url),
        f"flaggate {pull.repository}#{pull.number} {event} {token}",
    )
    return TicketUpdate(event, token, comment, add, remove, transition, dict(fields or {}))


def _new(change: Change) -> str:
    return "removed" if change.new is None else describe_state(change.new)


def _change_rows(
    changes: Sequence[Change], describe: Callable[[Change], str]
) -> list[tuple[str, str]]:
    rows = [(_where(c), describe(c)) for c in changes[:MAX_ROWS]]
    if len(changes) > MAX_ROWS:
        rows.append(("…", f"{len(changes) - MAX_ROWS} more change(s) in the pull request"))
    return rows


def _where(change: Change) -> str:
    if change.resource != "flag":
        return f"policy {change.path}"
    env = "all environments" if change.environment == ALL_ENVIRONMENTS else change.environment
    return f"{change.flag} · {env}"


def _approval_rows(evaluation: Evaluation) -> list[tuple[str, str]]:
    rows = []
    bypass = evaluation.bypass
    if evaluation.decision is Decision.BYPASSED and bypass is not None:
        rows.append(("Emergency bypass", bypass.reason))
    for stage in evaluation.stages:
        if stage.auto_approved:
            who = "approved automatically on timeout"
        else:
            who = ", ".join(f"@{a.login} ({a.role})" for a in stage.approvals) or "—"
        rows.append((f"Stage {stage.stage.name}", who))
    if not evaluation.stages and not rows:
        rows.append(("Approval", "none required"))
    return rows


def _environments(changes: Sequence[Change], order: Sequence[str]) -> list[str]:
    touched = {c.environment for c in changes}
    if ALL_ENVIRONMENTS in touched:
        return list(order)
    return [env for env in order if env in touched]
