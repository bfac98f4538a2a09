"""The pull request's ticket in `flaggate github`: find and look it up for the gate, then tell
it how its change stands."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from github.Repository import Repository

from flaggate.gates.ticket import PullText, TicketLookup, find_ticket
from flaggate.github.summary import append_summary
from flaggate.integrations.ticket_updates import TicketUpdate, safely
from flaggate.integrations.tickets import TicketError
from flaggate.integrations.trackers import tracker
from flaggate.model.settings import Tickets
from flaggate.policy.result import Evaluation, GateStatus


def ticket_lookup(tickets: Tickets | None, repo: Repository, text: PullText) -> TicketLookup | None:
    """The ticket the pull request's title, branch or body (``text``) names, ready to be
    fetched; None without ticket settings."""
    if tickets is None:
        return None
    ref = find_ticket(text, tickets)
    if ref is None:
        return TicketLookup(None)
    try:
        return TicketLookup(ref, tracker(tickets, repo))
    except TicketError as exc:
        return TicketLookup(ref, error=exc)


def ticket_passed(evaluation: Evaluation) -> bool:
    """Whether the evaluation's ticket gate passed (updates go only to a valid ticket)."""
    return any(g.kind == "ticket" and g.status is GateStatus.PASSED for g in evaluation.gates)


def update_ticket(
    lookup: TicketLookup,
    updates: Iterable[TicketUpdate],
    done: Iterable[str],
    summary: Path | None,
    dry_run: bool,
) -> list[str]:
    """Make the updates not yet made; the keys of those made. A failure is a warning in the
    log and the job summary, and the update is tried again on the next run."""
    if lookup.ref is None or lookup.provider is None:
        return []
    made, lines, warning = safely(lookup.provider, lookup.ref.key, updates, done, dry_run)
    for line in lines:
        print(f"flaggate: {'dry run: ' if dry_run else ''}{line}")
    if warning is not None:
        print(f"flaggate: warning: {warning}", file=sys.stderr)
        append_summary(summary, f"⚠️ {warning}\n")
    return made
