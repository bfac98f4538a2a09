"""Presenting an evaluation: JSON for machines, aligned text for people, and the Markdown
pieces the sticky comment (:mod:`flaggate.publish.comment`, the one Markdown renderer) uses."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from flaggate.diff import describe_state
from flaggate.policy.result import ChangeResult, Decision, Evaluation, StageResult, StageStatus

MARKERS = {
    StageStatus.APPROVED: "✅",
    StageStatus.ACTIVE: "⏳",
    StageStatus.WAITING: "⏸️",
    StageStatus.REJECTED: "❌",
}


def to_json(evaluation: Evaluation, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """The evaluation as the JSON object of SPEC 5."""
    return {
        "decision": evaluation.decision.value,
        "summary": evaluation.summary,
        **(context or {}),
        "changes": [_change_json(c) for c in evaluation.changes],
        "stages": [_stage_json(s) for s in evaluation.stages],
        "gates": [
            {
                "name": g.name,
                "kind": g.kind,
                "environment": g.environment,
                "status": g.status.value,
                "message": g.message,
            }
            for g in evaluation.gates
        ],
        "bypass": bypass_json(evaluation),
        "ignoredReviews": [{"login": i.login, "reason": i.reason} for i in evaluation.ignored],
        "errors": list(evaluation.errors),
    }


PLAN_OUTPUT_VERSION = 1
"""``version`` of the ``flaggate plan --format json`` document (schemas/plan-output.schema.json);
raised when a key is removed or changes meaning, not when one is added."""

ERROR = "error"
"""The ``decision`` of a ``plan --format json`` document when nothing could be evaluated."""


def plan_json(
    evaluation: Evaluation,
    *,
    base: str | None = None,
    merge_base: str | None = None,
    merged_tree: str | None = None,
    head: str | None = None,
    notes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The ``flaggate plan --format json`` document: always the same keys, None (null) for
    what is not known (or, for ``head``, ``mergeBase`` and ``mergedTree``, the working tree)."""
    context = {
        "base": base,
        "mergeBase": merge_base,
        "mergedTree": merged_tree,
        "head": head,
        "notes": None if notes is None else list(notes),
    }
    return {"version": PLAN_OUTPUT_VERSION, **to_json(evaluation, context)}


def plan_error_json(message: str) -> dict[str, Any]:
    """The ``plan --format json`` document when a git error stopped the evaluation:
    decision ``error``, the message as ``summary`` and only entry of ``errors``."""
    data = plan_json(Evaluation(Decision.INVALID, message, errors=(message,)))
    data["decision"] = ERROR
    return data


def dumps(data: dict[str, Any]) -> str:
    """Stable, readable JSON."""
    return json.dumps(data, indent=2, ensure_ascii=False)


def _change_json(result: ChangeResult) -> dict[str, Any]:
    return {
        **result.change.to_json(),
        "rule": result.rule,
        "requiresApproval": result.requires_approval,
        "stages": list(result.stages),
        "reason": result.reason,
    }


def _stage_json(result: StageResult) -> dict[str, Any]:
    return {
        "name": result.stage.name,
        "requiredApprovers": result.stage.required,
        "approverRoles": list(result.stage.roles),
        "status": result.status.value,
        "approvals": [{"login": a.login, "role": a.role} for a in result.approvals],
        "missing": result.missing,
        "rules": list(result.stage.rules),
        "timeout": _timeout_json(result),
    }


def _timeout_json(result: StageResult) -> dict[str, Any] | None:
    timing = result.timeout
    if timing is None:
        return None
    return {
        "activeSince": timing.active_since.isoformat(),
        "deadline": timing.deadline.isoformat() if timing.deadline else None,
        "expired": timing.expired,
        "action": timing.action,
    }


def bypass_json(evaluation: Evaluation) -> dict[str, Any] | None:
    """The emergency bypass as JSON data (None without the label)."""
    bypass = evaluation.bypass
    if bypass is None:
        return None
    return {
        "valid": bypass.valid,
        "label": bypass.label,
        "actor": bypass.actor,
        "role": bypass.role,
        "incident": bypass.note.incident,
        "severity": bypass.note.severity,
        "justification": bypass.note.justification,
        "reason": bypass.reason,
    }


def timeout_note(result: StageResult) -> str:
    """``auto-approved after 24h``, ``escalated after 24h to sre``, ``expires 2026-…``."""
    timing = result.timeout
    if timing is None or timing.deadline is None:
        return ""
    hours = f"{result.stage.timeout_hours:g}h"
    if timing.action == "auto-approve":
        return f"auto-approved after {hours}"
    if timing.action == "escalate":
        return f"escalated after {hours} to {', '.join(result.stage.escalate_to)}"
    if timing.action == "reject":
        return f"expired after {hours}"
    when = timing.deadline.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{result.stage.on_timeout or 'times out'} at {when}"


def stage_line(result: StageResult) -> str:
    """``1 of tech-lead, senior-engineer: alice (tech-lead)`` style text."""
    who = ", ".join(f"{a.login} ({a.role})" for a in result.approvals)
    need = f"{result.stage.required} of {', '.join(result.stage.roles)}"
    if result.missing:
        who = (who + "; " if who else "") + f"needs {result.missing} more"
    note = timeout_note(result)
    return f"{need}: {who}" + (f" ({note})" if note else "")


def to_text(
    evaluation: Evaluation, header: str, notes: Sequence[str] = (), color: bool = False
) -> str:
    """Aligned plain text; ANSI colour only when ``color``."""

    def paint(text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if color else text

    lines = [header, ""]
    if evaluation.changes:
        rows = [["FLAG", "ENV", "CHANGE", "BEFORE", "AFTER", "RULE"]]
        rows += [
            [
                r.change.flag,
                r.change.environment,
                ",".join(r.change.types),
                describe_state(r.change.previous),
                describe_state(r.change.new),
                r.rule + ("" if r.requires_approval else " (no approval)"),
            ]
            for r in evaluation.changes
        ]
        lines.append(paint(f"Changes ({len(evaluation.changes)})", "1"))
        lines += ["  " + line for line in _table(rows)]
        lines.append("")
    if evaluation.stages:
        lines.append(paint("Stages", "1"))
        width = max(len(s.stage.name) for s in evaluation.stages)
        for i, stage in enumerate(evaluation.stages, 1):
            mark = {"approved": "ok", "pending": "..", "waiting": "  ", "rejected": "!!"}[
                stage.status.value
            ]
            lines.append(f"  {mark} {i}. {stage.stage.name:<{width}}  {stage_line(stage)}")
        lines.append("")
    if evaluation.gates:
        lines.append(paint("Gates", "1"))
        lines += [f"  {g.status.value:<7} {g.name}: {g.message}" for g in evaluation.gates]
        lines.append("")
    if evaluation.bypass is not None:
        bypass = evaluation.bypass
        lines.append(paint("Emergency bypass", "1"))
        lines.append(f"  {'valid' if bypass.valid else 'refused'}: {bypass.reason}")
        if bypass.valid:
            lines.append(f"  justification: {bypass.note.justification}")
        lines.append("")
    if evaluation.ignored:
        lines.append(paint("Reviews not counted", "1"))
        lines += [f"  {i.login}: {i.reason}" for i in evaluation.ignored]
        lines.append("")
    for note in notes:
        lines.append(f"note: {note}")
    codes = {"approved": "32", "no_changes": "32", "bypassed": "32", "pending": "33"}
    decision = evaluation.decision.value
    lines.append(
        paint(f"Decision: {decision.upper()}", codes.get(decision, "31") + ";1")
        + f" — {evaluation.summary}"
    )
    return "\n".join(lines) + "\n"


def markdown_change_row(result: ChangeResult) -> str:
    """One row of the Flag | Environment | Change | Before | After | Rule table."""
    change = result.change
    approval = "" if result.requires_approval else " (no approval)"
    return (
        f"| `{change.flag}` | {change.environment} | {', '.join(change.types)} | "
        f"{md(describe_state(change.previous))} | {md(describe_state(change.new))} | "
        f"{result.rule}{approval} |"
    )


def md(text: str) -> str:
    """Text made safe for one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
