"""One-time notices: a stage's timeout acted (a comment each), an emergency bypass was used
(a compliance alert). Each has a key kept in the sticky comment's state, so a re-run or the
next sweep does not repeat it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flaggate.model.policy import RoleBinding
from flaggate.policy.result import Evaluation, StageResult
from flaggate.publish.audience import audience


@dataclass(frozen=True)
class Notice:
    """Something to say once: ``comment`` text for the pull request, or an ``alert``."""

    key: str
    text: str
    kind: str
    """``comment`` or ``alert``."""


def notices(evaluation: Evaluation, roles: Mapping[str, RoleBinding]) -> list[Notice]:
    """The notices this evaluation calls for (already-given ones are filtered by the caller)."""
    found = [_timeout(stage, roles) for stage in evaluation.stages]
    result = [notice for notice in found if notice is not None]
    bypass = evaluation.bypass
    if bypass is not None and bypass.valid:
        result.append(
            Notice(
                f"bypass:{bypass.note.incident}:{bypass.actor}",
                f"{bypass.reason}; justification: {bypass.note.justification}",
                "alert",
            )
        )
    return result


def _timeout(stage: StageResult, roles: Mapping[str, RoleBinding]) -> Notice | None:
    timing = stage.timeout
    if timing is None or timing.action is None or timing.deadline is None:
        return None
    name, hours = stage.stage.name, f"{stage.stage.timeout_hours:g}h"
    key = f"timeout:{name}:{timing.action}:{timing.deadline.isoformat()}"
    if timing.action == "escalate":
        who = ", ".join(audience(stage, roles)) or ", ".join(stage.stage.escalate_to)
        text = (
            f"⏰ **{name}** has waited more than {hours}: escalated to "
            f"{', '.join(stage.stage.escalate_to)} ({who}). Their approvals now count for "
            "this stage."
        )
    elif timing.action == "reject":
        text = (
            f"⏰ **{name}** expired after {hours} without approval: this pull request is "
            "rejected. Push a new commit to start the clock again."
        )
    else:
        text = (
            f"⏰ **{name}** waited {hours}: approved automatically as the policy says "
            "(`onTimeout: auto-approve`); recorded for the audit."
        )
    return Notice(key, f"<!-- flaggate:{key} -->\n{text}", "comment")
