"""The sticky pull-request comment: what changes, who must approve, what happens next."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flaggate.model.policy import RoleBinding
from flaggate.policy.result import Decision, Evaluation, GateStatus, StageResult, StageStatus
from flaggate.publish.audience import audience
from flaggate.render import MARKERS, markdown_change_row, timeout_note
from flaggate.render import md as _md

MARKER = "<!-- flaggate:sticky-comment -->"
MAX_COMMENT = 65_536
"""GitHub's limit for a comment body, in characters."""

_STATE = re.compile(r"<!-- flaggate:state (\{.*?\}) -->")
_ROW_LIMITS = (200, 50, 10, 0)
_ICONS = {
    Decision.APPROVED: "✅",
    Decision.NO_CHANGES: "✅",
    Decision.BYPASSED: "🚨",
    Decision.PENDING: "⏳",
    Decision.REJECTED: "❌",
    Decision.FAILED: "❌",
    Decision.INVALID: "⚠️",
}
_GATE_ICONS = {
    GateStatus.PASSED: "✅",
    GateStatus.PENDING: "⏳",
    GateStatus.FAILED: "❌",
    GateStatus.ERROR: "⚠️",
}
_MERMAID_CLASSES = {
    StageStatus.APPROVED: "approved",
    StageStatus.ACTIVE: "active",
    StageStatus.WAITING: "waiting",
    StageStatus.REJECTED: "rejected",
}


@dataclass(frozen=True)
class CommentState:
    """Facts kept in the comment between runs (hidden), so that writes happen once."""

    requested: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()
    """Keys of one-time notices already given (stage timeouts, bypass alerts)."""
    ledger: Any = None
    """The pull request's :class:`~flaggate.pull.ledger.Ledger` as JSON data (None: none)."""
    mac: str | None = None
    """The ledger's seal when a state key is configured."""

    def to_html(self) -> str:
        data: dict[str, Any] = {"requested": list(self.requested)}
        if self.notices:
            data["notices"] = list(self.notices)
        if self.ledger is not None:
            data["ledger"] = self.ledger
        if self.mac is not None:
            data["mac"] = self.mac
        text = json.dumps(data, separators=(",", ":")).replace("--", "\\u002d-")
        return f"<!-- flaggate:state {text} -->"

    @classmethod
    def parse(cls, body: str | None) -> CommentState:
        """The state kept in an existing comment (empty when there is none or it is unreadable)."""
        match = _STATE.search(body or "")
        if match is None:
            return cls()
        try:
            data = json.loads(match.group(1))
            mac = data.get("mac")
            return cls(
                tuple(str(item) for item in data.get("requested", [])),
                tuple(str(item) for item in data.get("notices", [])),
                data.get("ledger"),
                mac if isinstance(mac, str) else None,
            )
        except (ValueError, AttributeError, TypeError):
            return cls()


def render(
    evaluation: Evaluation,
    roles: Mapping[str, RoleBinding],
    state: CommentState,
    footer: str = "",
    *,
    hidden: bool = True,
) -> str:
    """The comment body: always under GitHub's size limit, with left-out rows counted.

    ``hidden=False`` leaves out the two HTML comments GitHub does not show (:data:`MARKER`
    and the state): what `flaggate plan --format markdown` prints, a preview of the comment
    that can never be taken for flaggate's sticky comment, nor carry state, if posted.
    """
    for limit in _ROW_LIMITS:
        body = _render(evaluation, roles, state, footer, limit, hidden)
        if len(body) <= MAX_COMMENT:
            return body
    return body[: MAX_COMMENT - 200] + "\n\n… (cut to fit GitHub's comment size limit)\n"


def _render(
    evaluation: Evaluation,
    roles: Mapping[str, RoleBinding],
    state: CommentState,
    footer: str,
    max_rows: int,
    hidden: bool,
) -> str:
    decision = evaluation.decision
    lines = [MARKER, state.to_html()] if hidden else []
    lines += [
        f"## {_ICONS[decision]} flaggate: `{decision.value}`",
        "",
        _md(evaluation.summary),
        "",
    ]
    lines += _bypass(evaluation)
    lines += _changes(evaluation, max_rows)
    lines += _stages(evaluation.stages, roles)
    lines += _gates(evaluation)
    lines += _errors(evaluation, max_rows)
    if evaluation.ignored:
        lines += ["<details><summary>Reviews that do not count</summary>", ""]
        lines += [f"- @{i.login}: {_md(i.reason)}" for i in evaluation.ignored]
        lines += ["", "</details>", ""]
    lines += ["**Next:** " + next_action(evaluation, roles), ""]
    if footer:
        lines += [f"<sub>{footer}</sub>", ""]
    return "\n".join(lines)


def next_action(evaluation: Evaluation, roles: Mapping[str, RoleBinding]) -> str:
    """What has to happen for this pull request to move on."""
    decision = evaluation.decision
    if decision is Decision.INVALID:
        return "fix the problems listed above and push again."
    if decision is Decision.REJECTED and not evaluation.rejections:
        return "the stage above expired without approval: push a new commit to start again."
    if decision is Decision.REJECTED:
        who = ", ".join(f"@{login}" for login in evaluation.rejections)
        return f"address the changes requested by {who}, then ask them to approve."
    if decision is Decision.FAILED and evaluation.bypass and not evaluation.bypass.valid:
        return (
            f"fix the emergency bypass (see above), or remove the `{evaluation.bypass.label}` "
            "label and get the approvals below."
        )
    if decision is Decision.BYPASSED:
        return "ready to merge under the emergency bypass; a post-incident review follows."
    if decision is Decision.FAILED:
        if not any(g.status is GateStatus.FAILED for g in evaluation.gates):
            return (
                "a gate's service could not be asked (see above); re-run the workflow once "
                "it is reachable."
            )
        return "the failed gates above must pass before this can merge."
    if decision is Decision.PENDING:
        active = evaluation.active_stage
        if active is not None and active.missing:
            who = ", ".join(audience(active, roles)) or ", ".join(active.stage.roles)
            return f"{active.missing} approval(s) for **{active.stage.name}** from {who}."
        return "waiting for the pending gates above."
    if decision is Decision.NO_CHANGES:
        return "nothing to approve: no flag or policy changes."
    return "ready to merge."


def _changes(evaluation: Evaluation, max_rows: int) -> list[str]:
    changes = evaluation.changes
    if not changes:
        return []
    lines = [
        f"### Changes ({len(changes)})",
        "",
        "| Flag | Environment | Change | Before | After | Rule |",
        "|---|---|---|---|---|---|",
    ]
    lines += [markdown_change_row(result) for result in changes[:max_rows]]
    left = len(changes) - max_rows
    if left > 0:
        environments = sorted({r.change.environment for r in changes[max_rows:]})
        lines.append(
            f"\n*{left} more change(s) not shown (environments: {', '.join(environments)}); "
            "run `flaggate plan` for the full list.*"
        )
    return [*lines, ""]


def _stages(stages: Sequence[StageResult], roles: Mapping[str, RoleBinding]) -> list[str]:
    if not stages:
        return []
    lines = [
        "### Approval stages",
        "",
        "| | Stage | Needs | Who can approve | Approved by |",
        "|---|---|---|---|---|",
    ]
    for stage in stages:
        who = ", ".join(audience(stage, roles)) or "—"
        approved = ", ".join(f"@{a.login} ({a.role})" for a in stage.approvals) or "—"
        if stage.missing:
            approved += f"; {stage.missing} more needed"
        note = timeout_note(stage)
        if note:
            approved += f" ({note})"
        needs = f"{stage.stage.required} of {', '.join(stage.stage.roles)}"
        lines.append(
            f"| {MARKERS[stage.status]} | {stage.stage.name} | {needs} | {who} | {approved} |"
        )
    lines += ["", "```mermaid", "flowchart LR"]
    for i, stage in enumerate(stages):
        label = f"{stage.stage.name}<br/>{len(stage.approvals)}/{stage.stage.required}"
        lines.append(f'  s{i}["{label}"]:::{_MERMAID_CLASSES[stage.status]}')
        if i:
            lines.append(f"  s{i - 1} --> s{i}")
    lines += [
        "  classDef approved fill:#d3f9d8,stroke:#2b8a3e",
        "  classDef active fill:#fff3bf,stroke:#e67700",
        "  classDef waiting fill:#f1f3f5,stroke:#868e96",
        "  classDef rejected fill:#ffe3e3,stroke:#c92a2a",
        "```",
        "",
    ]
    return lines


def _bypass(evaluation: Evaluation) -> list[str]:
    bypass = evaluation.bypass
    if bypass is None:
        return []
    note = bypass.note
    if not bypass.valid:
        return [
            "### ⛔ Emergency bypass refused",
            "",
            _md(bypass.reason),
            "",
            "Normal approval applies. A bypass needs the `"
            + _md(bypass.label)
            + "` label added by someone holding one of the bypass roles, and `Incident: <ID>`, "
            "`Severity: <level>` and `Justification: <why>` lines in the description.",
            "",
        ]
    return [
        "### 🚨 Emergency bypass",
        "",
        f"@{bypass.actor} ({bypass.role}) bypassed approval for **{_md(note.incident or '')}** "
        f"({_md(note.severity or '')}).",
        "",
        f"> {_md(note.justification or '')}",
        "",
        "Owed after the merge (a follow-up issue tracks them):",
        "",
        "- retroactive approval of this pull request by the stages below (approve it even "
        "after it merged);",
        "- a post-incident review with findings and action items.",
        "",
    ]


def _gates(evaluation: Evaluation) -> list[str]:
    if not evaluation.gates:
        return []
    lines = ["### Gates", "", "| | Gate | Detail |", "|---|---|---|"]
    lines += [
        f"| {_GATE_ICONS[g.status]} | {_md(g.name)} | {_md(g.message)} |" for g in evaluation.gates
    ]
    return [*lines, ""]


def _errors(evaluation: Evaluation, max_rows: int) -> list[str]:
    if not evaluation.errors:
        return []
    shown = evaluation.errors[: max(max_rows, 10)]
    lines = ["### Problems", "", "```", *shown, "```"]
    if len(evaluation.errors) > len(shown):
        lines.append(f"*{len(evaluation.errors) - len(shown)} more problem(s) not shown.*")
    return [*lines, ""]
