"""Building the audit records of a merged pull request from its evaluation.

One record per change (``flag.created|updated|deleted|toggled``, ``policy.*``), per counted
approval (``approval.approved``; a stage approved by its timeout has the actor ``flaggate``)
and per emergency bypass (``approval.bypassed``), in that order, all stamped with the merge
time so that re-running the workflow produces the same records (same ids, same month file).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flaggate.audit.record import Record, record_id
from flaggate.diff import ALL_ENVIRONMENTS, Change
from flaggate.policy.result import ChangeResult, Evaluation, GateResult

SYSTEM_ACTOR = "flaggate"

_FLAG_EVENTS = {"created": "flag.created", "deleted": "flag.deleted", "toggled": "flag.toggled"}


@dataclass(frozen=True)
class MergeContext:
    """Where and when the change landed."""

    repository: str
    pull_request: int | None
    merge_sha: str
    merged_at: datetime
    author: str | None
    author_id: int | None = None
    merged_by: str | None = None
    run_url: str | None = None
    ticket: str | None = None


def merge_records(evaluation: Evaluation, merge: MergeContext) -> list[Record]:
    """The un-chained records of a merge (see :func:`flaggate.audit.record.chain`)."""
    incident = evaluation.bypass.note.incident if evaluation.bypass else None
    records: list[dict[str, Any]] = []
    for result in evaluation.changes:
        records.append(_change_record(result, evaluation.gates, merge, incident))
    for stage in evaluation.stages:
        for approval in stage.approvals:
            records.append(
                _base(
                    "approval.approved",
                    {"login": approval.login, "id": None},
                    {"type": "approval", "id": stage.stage.name, "name": stage.stage.name},
                    {
                        "type": "approved",
                        "metadata": {
                            "stage": stage.stage.name,
                            "role": approval.role,
                            "reviewedAt": _iso(approval.at),
                            "rules": list(stage.stage.rules),
                        },
                    },
                    merge,
                    incident,
                )
            )
        if stage.auto_approved and stage.timeout is not None:
            records.append(
                _base(
                    "approval.approved",
                    {"login": SYSTEM_ACTOR, "id": None},
                    {"type": "approval", "id": stage.stage.name, "name": stage.stage.name},
                    {
                        "type": "auto-approved",
                        "metadata": {
                            "stage": stage.stage.name,
                            "timeoutHours": stage.stage.timeout_hours,
                            "deadline": _iso(stage.timeout.deadline),
                        },
                    },
                    merge,
                    incident,
                )
            )
    bypass = evaluation.bypass
    if bypass is not None and bypass.valid:
        records.append(
            _base(
                "approval.bypassed",
                {"login": bypass.actor, "id": None},
                {"type": "approval", "id": bypass.label, "name": "emergency bypass"},
                {
                    "type": "bypassed",
                    "metadata": {
                        "role": bypass.role,
                        "incident": bypass.note.incident,
                        "severity": bypass.note.severity,
                        "justification": bypass.note.justification,
                    },
                },
                merge,
                incident,
            )
        )
    return [
        {"id": record_id(merge.repository, merge.pull_request, merge.merge_sha, i), **record}
        for i, record in enumerate(records)
    ]


def direct_push_records(changes: Sequence[Change], merge: MergeContext) -> list[Record]:
    """Records of changes pushed without a pull request: ``flag.updated`` (or
    ``policy.updated``) with ``approval: none``."""
    records = []
    for change in changes:
        environment = None if change.environment == ALL_ENVIRONMENTS else change.environment
        if change.resource != "flag":
            event = f"{change.resource}.updated"
            resource = {"type": change.resource, "id": change.path}
        else:
            event, resource = "flag.updated", {"type": "flag", "id": change.flag}
        records.append(
            _base(
                event,
                {"login": merge.author, "id": None},
                {**resource, "name": resource["id"], "environment": environment},
                {
                    "type": change.type,
                    "previousState": change.previous,
                    "newState": change.new,
                    "metadata": {
                        "types": list(change.types),
                        "path": change.path,
                        "approval": "none",
                    },
                },
                merge,
                None,
            )
        )
    return [
        {"id": record_id(merge.repository, None, merge.merge_sha, i), **r}
        for i, r in enumerate(records)
    ]


def retroactive_records(
    approvals: Sequence[tuple[str, str, str, str | None]],
    merge: MergeContext,
    incident: str | None,
    offset: int,
) -> list[Record]:
    """``approval.retroactive`` records: (login, role, stage, reviewed at) after a bypass.

    ``offset`` keeps their ids apart from the merge's own records.
    """
    records = [
        _base(
            "approval.retroactive",
            {"login": login, "id": None},
            {"type": "approval", "id": stage, "name": stage},
            {"type": "approved", "metadata": {"stage": stage, "role": role, "reviewedAt": at}},
            merge,
            incident,
        )
        for login, role, stage, at in approvals
    ]
    return [
        {"id": record_id(merge.repository, merge.pull_request, merge.merge_sha, offset + i), **r}
        for i, r in enumerate(records)
    ]


def _change_record(
    result: ChangeResult, gates: Sequence[GateResult], merge: MergeContext, incident: str | None
) -> dict[str, Any]:
    change = result.change
    environment = None if change.environment == ALL_ENVIRONMENTS else change.environment
    if change.resource != "flag":
        event = f"{change.resource}.{change.type}"
        resource = {"type": change.resource, "id": change.path, "name": change.path}
    else:
        event = _FLAG_EVENTS.get(change.type, "flag.updated")
        resource = {"type": "flag", "id": change.flag, "name": change.flag}
    return _base(
        event,
        {"login": merge.author, "id": merge.author_id},
        {**resource, "environment": environment},
        {
            "type": change.type,
            "previousState": change.previous,
            "newState": change.new,
            "metadata": {
                "types": list(change.types),
                "rolloutDelta": change.rollout_delta,
                "path": change.path,
                "rule": result.rule,
                "stages": list(result.stages),
                "gates": [_gate(g) for g in gates if _gate_applies(g, change)],
            },
        },
        merge,
        incident,
    )


def _gate_applies(gate: GateResult, change: Change) -> bool:
    return change.resource == "flag" and gate.environment in (None, change.environment)


def _gate(gate: GateResult) -> dict[str, Any]:
    return {
        "name": gate.name,
        "kind": gate.kind,
        "status": gate.status.value,
        "message": gate.message,
    }


def _base(
    event: str,
    actor: dict[str, Any],
    resource: dict[str, Any],
    action: dict[str, Any],
    merge: MergeContext,
    incident: str | None,
) -> dict[str, Any]:
    resource.setdefault("environment", None)
    action.setdefault("previousState", None)
    action.setdefault("newState", None)
    return {
        "timestamp": _iso(merge.merged_at),
        "eventType": event,
        "actor": {"name": None, "email": None, **actor},
        "resource": resource,
        "action": action,
        "context": {
            "repository": merge.repository,
            "pullRequest": merge.pull_request,
            "mergeSha": merge.merge_sha,
            "mergedBy": merge.merged_by,
            "ticketId": merge.ticket,
            "incidentId": incident,
            "approvalWorkflowId": merge.run_url,
        },
        "outcome": {"success": True, "errorCode": None, "errorMessage": None},
    }


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
