"""The commit status: exactly one mapping from a result to GitHub's state, fail closed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from flaggate.model.policy import RoleBinding
from flaggate.policy.result import Decision, Evaluation, GateStatus
from flaggate.publish.audience import audience

StatusState = Literal["success", "pending", "failure", "error"]

MAX_DESCRIPTION = 140

_STATES: dict[Decision, StatusState] = {
    Decision.APPROVED: "success",
    Decision.NO_CHANGES: "success",
    Decision.BYPASSED: "success",
    Decision.PENDING: "pending",
    Decision.REJECTED: "failure",
    Decision.FAILED: "failure",
    Decision.INVALID: "failure",
}


def status_state(evaluation: Evaluation | None) -> StatusState:
    """``success`` only for a full evaluation that approves; ``error`` when there is none."""
    if evaluation is None:
        return "error"
    gates = {g.status for g in evaluation.gates}
    # Only a gate's service failed to answer: an error, not a verdict on the change.
    service_down = GateStatus.ERROR in gates and GateStatus.FAILED not in gates
    if evaluation.decision is Decision.FAILED and service_down:
        return "error"
    return _STATES[evaluation.decision]


def description(evaluation: Evaluation, roles: Mapping[str, RoleBinding]) -> str:
    """A short description (under 140 characters) naming who is needed next."""
    active = evaluation.active_stage
    if evaluation.decision is Decision.PENDING and active is not None and active.missing:
        who = ", ".join(audience(active, roles)) or ", ".join(active.stage.roles)
        text = f"needs {active.stage.name}: {active.missing} of {who}"
    else:
        text = evaluation.summary
    return shorten(text)


def shorten(text: str, limit: int = MAX_DESCRIPTION - 1) -> str:
    """``text`` cut to fit GitHub's status description."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
