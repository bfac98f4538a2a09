"""The evaluation result: a tree that explains itself, and the decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from flaggate.diff import Change

if TYPE_CHECKING:
    from flaggate.policy.emergency import Bypass


class Decision(StrEnum):
    """The outcome of evaluating a pull request (SPEC 4)."""

    NO_CHANGES = "no_changes"
    APPROVED = "approved"
    BYPASSED = "bypassed"
    PENDING = "pending"
    REJECTED = "rejected"
    FAILED = "failed"
    INVALID = "invalid"

    @property
    def exit_code(self) -> int:
        """The command's exit code for this decision (SPEC 5)."""
        if self in (Decision.APPROVED, Decision.NO_CHANGES, Decision.BYPASSED):
            return 0
        if self is Decision.INVALID:
            return 2
        return 1


class StageStatus(StrEnum):
    """Where a stage stands: satisfied, the one being waited on, after it, or rejected."""

    APPROVED = "approved"
    ACTIVE = "pending"
    WAITING = "waiting"
    REJECTED = "rejected"


class GateStatus(StrEnum):
    """A gate's outcome: ``error`` when the service behind it could not be asked."""

    PASSED = "passed"
    PENDING = "pending"
    FAILED = "failed"
    ERROR = "error"


@dataclass(frozen=True)
class ChangeResult:
    """A change, the rule that matched it and why."""

    change: Change
    rule: str
    requires_approval: bool
    stages: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class StageRequirement:
    """A stage the pull request must pass: how many distinct approvers from which roles."""

    name: str
    order: tuple[int, int]
    required: int
    roles: tuple[str, ...]
    rules: tuple[str, ...]
    source: str = "stage"
    """``stage`` (a named ApprovalStages stage), ``rule`` (a rule's own requirement) or
    ``default`` (no rule matched): a rule and a stage may share a name, never an identity."""
    timeout_hours: float | None = None
    on_timeout: str | None = None
    """``escalate``, ``reject`` or ``auto-approve`` once ``timeout_hours`` have passed."""
    escalate_to: tuple[str, ...] = ()
    own_roles: tuple[str, ...] = ()
    """Set once escalated: the roles before ``escalate_to`` was added."""


@dataclass(frozen=True)
class CountedApproval:
    """An approval counted for a stage, with the role that made it count."""

    login: str
    role: str
    at: datetime | None = None
    """When the review was submitted."""


@dataclass(frozen=True)
class StageTimeout:
    """A stage's clock: active since when, its deadline, and what its expiry did."""

    active_since: datetime
    deadline: datetime | None
    expired: bool
    action: str | None = None
    """``escalate``, ``reject`` or ``auto-approve`` when expired."""


@dataclass(frozen=True)
class StageResult:
    """A stage's outcome: who counted, how many are still needed."""

    stage: StageRequirement
    status: StageStatus
    approvals: tuple[CountedApproval, ...]
    missing: int
    timeout: StageTimeout | None = None
    """Set while the stage is (or was, when auto-approved) the one waited on."""

    @property
    def auto_approved(self) -> bool:
        """Approved by its timeout rather than by people."""
        return self.timeout is not None and self.timeout.action == "auto-approve"


@dataclass(frozen=True)
class IgnoredReview:
    """A review that did not count, and why (author, pusher, bot, stale, no role)."""

    login: str
    reason: str


@dataclass(frozen=True)
class GateResult:
    """One gate's outcome."""

    name: str
    status: GateStatus
    message: str
    kind: str = ""
    """``checks``, ``promotion``, ``freeze`` or ``metric``."""
    environment: str | None = None


@dataclass(frozen=True)
class Evaluation:
    """The whole result of evaluating a pull request."""

    decision: Decision
    summary: str
    changes: tuple[ChangeResult, ...] = ()
    stages: tuple[StageResult, ...] = ()
    gates: tuple[GateResult, ...] = ()
    rejections: tuple[str, ...] = ()
    ignored: tuple[IgnoredReview, ...] = ()
    errors: tuple[str, ...] = field(default_factory=tuple)
    bypass: Bypass | None = None
    """The emergency-label bypass, valid or not, when the label is on the pull request."""

    @classmethod
    def invalid(cls, errors: list[str]) -> Evaluation:
        """The result when flag or policy files do not load."""
        return cls(
            Decision.INVALID,
            f"{len(errors)} problem(s) in flag or policy files",
            errors=tuple(errors),
        )

    @property
    def active_stage(self) -> StageResult | None:
        """The first stage not yet satisfied."""
        return next((s for s in self.stages if s.status is not StageStatus.APPROVED), None)
