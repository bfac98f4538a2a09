"""The follow-up issue opened after an emergency bypass merges, and the state it carries.

The issue body holds a hidden JSON block (the marker) with what was bypassed and what has
been done since: the retroactive approval and the post-incident review. It is the durable
record GitHub keeps for us (no external state), read back by the sweep and by the audit.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from flaggate.policy.emergency import Bypass

STATE_MARKER = "flaggate:post-incident"
LABEL = "post-incident-review"
PULL_MARKER = "<!-- flaggate:follow-up #{number} -->"
"""On the merged pull request: points at its follow-up issue."""
REMINDER_MARKER = "<!-- flaggate:reminder -->"
NO_FINDINGS_MARKER = "<!-- flaggate:no-findings -->"

_STATE = re.compile(r"<!-- flaggate:post-incident (\{.*?\}) -->", re.DOTALL)
_PULL_LINK = re.compile(r"<!-- flaggate:follow-up #(\d+) -->")
_FINDINGS = re.compile(r"^##\s*Findings\s*$(.*?)(?=^#{1,2}\s|\Z)", re.MULTILINE | re.DOTALL)
_COMMENTS = re.compile(r"<!--.*?-->", re.DOTALL)
_RETRO_BOX = "- [ ] Retroactive approval"


@dataclass(frozen=True)
class Approval:
    """A reviewer counted for a stage in the retroactive approval."""

    login: str
    role: str
    stage: str
    at: str | None


@dataclass(frozen=True)
class FollowUp:
    """What a follow-up issue records."""

    pullRequest: int
    incident: str
    severity: str
    bypassedBy: str
    role: str
    justification: str
    mergeSha: str
    flags: list[str]
    retroactiveApproval: list[Approval] | None = None
    retroactiveApprovedAt: str | None = None
    reviewedBy: str | None = None
    reviewedAt: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_bypass(cls, number: int, bypass: Bypass, merge_sha: str, flags: list[str]) -> FollowUp:
        """The state of a new follow-up issue for a merged, bypassed pull request."""
        note = bypass.note
        return cls(
            pullRequest=number,
            incident=note.incident or "",
            severity=note.severity or "",
            bypassedBy=bypass.actor or "",
            role=bypass.role or "",
            justification=note.justification or "",
            mergeSha=merge_sha,
            flags=flags,
        )

    @classmethod
    def parse(cls, body: str | None) -> FollowUp | None:
        """The state in an issue body, or None when it is not a follow-up issue."""
        match = _STATE.search(body or "")
        if not match:
            return None
        try:
            data = json.loads(match.group(1))
            approvals = data.pop("retroactiveApproval", None)
            known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
            state = cls(**known)
        except (ValueError, TypeError):
            return None
        if approvals is not None:
            state = replace(state, retroactiveApproval=[Approval(**a) for a in approvals])
        return state

    def to_marker(self) -> str:
        """The hidden block holding this state."""
        data = asdict(self)
        data.pop("extra")
        text = json.dumps(data, sort_keys=True, separators=(",", ":")).replace("--", "\\u002d-")
        return f"<!-- {STATE_MARKER} {text} -->"

    @property
    def title(self) -> str:
        """``Post-incident review: <flag> (#12, INC-4711)``."""
        flags = ", ".join(self.flags[:3]) + (
            f" and {len(self.flags) - 3} more" if len(self.flags) > 3 else ""
        )
        return f"Post-incident review: {flags or 'policies'} (#{self.pullRequest}, {self.incident})"


def render_body(state: FollowUp, repository: str) -> str:
    """The follow-up issue's body: what happened, what is owed, where to write findings."""
    pr = f"#{state.pullRequest}"
    return "\n".join(
        [
            state.to_marker(),
            f"Emergency change {pr} merged without the normal approval, under incident "
            f"**{state.incident}** ({state.severity}). @{state.bypassedBy} ({state.role}) "
            f"added the emergency label.",
            "",
            f"> {state.justification}",
            "",
            f"Flags: {', '.join(f'`{f}`' for f in state.flags) or 'none (policy files)'} · "
            f"merge commit `{state.mergeSha[:12]}` in {repository}",
            "",
            "## Owed",
            "",
            f"- [ ] Retroactive approval: reviewers of the required stages approve {pr} "
            "(flaggate ticks this and records who)",
            "- [ ] Findings written below",
            "- [ ] Action items filed and linked below",
            "",
            "Close this issue once the findings are written: flaggate records the review.",
            "",
            "## Findings",
            "",
            "<!-- what happened, why the bypass was needed, what the change did -->",
            "",
            "## Action items",
            "",
            "<!-- links to the issues that follow up -->",
            "",
        ]
    )


def with_state(body: str, state: FollowUp) -> str:
    """``body`` with its state block replaced (and the retroactive box ticked when done)."""
    updated = _STATE.sub(lambda _: state.to_marker(), body, count=1)
    if state.retroactiveApproval is not None:
        updated = updated.replace(_RETRO_BOX, "- [x] Retroactive approval", 1)
    return updated


def has_findings(body: str | None) -> bool:
    """Whether the ``## Findings`` section holds text beyond the template's comment."""
    match = _FINDINGS.search(body or "")
    return bool(match and _COMMENTS.sub("", match.group(1)).strip())


def linked_issue(comment_bodies: list[str]) -> int | None:
    """The follow-up issue a merged pull request's comments point at."""
    for text in comment_bodies:
        match = _PULL_LINK.search(text)
        if match:
            return int(match.group(1))
    return None
