"""The notifications an evaluation calls for, each with a key so it is sent once.

The keys are kept with the one-time notices in the sticky comment's state. A request is keyed
by its stage and the change set, so a new stage or a new change set asks again.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from flaggate.diff import fingerprint
from flaggate.github.summary import append_summary
from flaggate.integrations.notify import Event, notify, summary_lines
from flaggate.model.policy import RoleBinding
from flaggate.model.settings import Notification
from flaggate.policy.result import Decision, Evaluation, StageResult, StageStatus
from flaggate.publish.audience import audience


@dataclass(frozen=True)
class PullLink:
    """The pull request the notifications are about."""

    repository: str
    number: int
    url: str
    title: str
    author: str | None


def evaluation_events(
    evaluation: Evaluation, roles: Mapping[str, RoleBinding], pull: PullLink
) -> list[Event]:
    """Requested review of the active stage, approval, rejection, escalations and expiries,
    and the compliance alert of an emergency bypass."""
    flag_changes = [r.change for r in evaluation.changes if r.change.resource == "flag"]
    flags = tuple(dict.fromkeys(c.flag for c in flag_changes))
    envs = tuple(dict.fromkeys(c.environment for c in flag_changes))
    token = fingerprint(r.change for r in evaluation.changes)[:12]
    what = _what(flags, envs, len(evaluation.changes))

    def event(
        kind: str,
        key: str,
        title: str,
        text: str,
        stage: StageResult | None = None,
        actor: str | None = None,
    ) -> Event:
        return Event(
            type=kind,
            title=title,
            text=text,
            repository=pull.repository,
            pull_request=pull.number,
            url=pull.url,
            flags=flags,
            environments=envs,
            stage=stage.stage.name if stage else None,
            teams=tuple(audience(stage, roles)) if stage else (),
            actor=actor or pull.author,
            key=key,
        )

    events = []
    decision = evaluation.decision
    active = evaluation.active_stage
    if decision is Decision.PENDING and active is not None and active.status is StageStatus.ACTIVE:
        name = active.stage.name
        events.append(
            event(
                "approval.requested",
                f"requested:{name}:{token}",
                f"Review needed: {name} for {what}",
                f"{pull.title}\n{active.missing} more approval(s) needed from "
                f"{', '.join(active.stage.roles)}.",
                active,
            )
        )
    elif decision is Decision.APPROVED and evaluation.stages:
        events.append(
            event(
                "approval.approved",
                f"approved:{token}",
                f"Approved: {what}",
                f"{pull.title}\nEvery approval stage is satisfied.",
            )
        )
    elif decision is Decision.REJECTED:
        events.append(
            event(
                "approval.rejected",
                f"rejected:{token}",
                f"Rejected: {what}",
                f"{pull.title}\n{evaluation.summary}",
            )
        )
    for stage in evaluation.stages:
        timing = stage.timeout
        if timing is None or timing.action is None or timing.deadline is None:
            continue
        name, hours = stage.stage.name, f"{stage.stage.timeout_hours:g}h"
        key = f"{timing.action}:{name}:{timing.deadline.isoformat()}"
        if timing.action == "escalate":
            events.append(
                event(
                    "stage.escalated",
                    key,
                    f"Escalated: {name} waited {hours} on {what}",
                    f"{pull.title}\nNow also reviewable by {', '.join(stage.stage.escalate_to)}.",
                    stage,
                )
            )
        else:
            outcome = "rejected" if timing.action == "reject" else "approved automatically"
            events.append(
                event(
                    "stage.expired",
                    key,
                    f"Expired: {name} {outcome} after {hours} on {what}",
                    f"{pull.title}\nThe stage timed out (onTimeout: {timing.action}).",
                    stage,
                )
            )
    bypass = evaluation.bypass
    if bypass is not None and bypass.valid:
        note = bypass.note
        events.append(
            event(
                "compliance.bypass",
                f"bypass:{note.incident}:{bypass.actor}",
                f"Emergency bypass: {what} ({note.incident}, {note.severity})",
                f"{bypass.reason}\nJustification: {note.justification}",
                actor=bypass.actor,
            )
        )
    return events


def _what(flags: tuple[str, ...], envs: tuple[str, ...], changes: int) -> str:
    if not flags:
        return f"{changes} policy change(s)"
    shown = ", ".join(flags[:3]) + (f" and {len(flags) - 3} more" if len(flags) > 3 else "")
    where = ", ".join(e if e != "*" else "all environments" for e in envs)
    return f"{shown} in {where}"


def deliver(
    event: Event, targets: Sequence[Notification], summary: Path | None, dry_run: bool
) -> bool:
    """Send the event to the targets that want it; whether it counts as sent (delivered
    somewhere, or wanted nowhere). Failures are printed and added to the job summary; they
    never stop the run."""
    wanted = [target for target in targets if target.wants(event.type)]
    if not wanted:
        return True
    if dry_run:
        print(f"dry run: would notify {event.type}: {event.title}")
        return False
    deliveries = notify(event, wanted)
    for line in summary_lines(deliveries):
        print(f"flaggate: warning: {line}", file=sys.stderr)
        append_summary(summary, line + "\n")
    sent = [d for d in deliveries if d.ok]
    if sent:
        print(f"flaggate: notified {event.type} to {', '.join(d.target for d in sent)}")
    return bool(sent)
