"""Policy document kinds (SPEC 3.2): ApprovalPolicy, ApprovalStages, RoleBindings, Environments."""

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from flaggate.errors import excerpt
from flaggate.model.base import (
    DocumentMetadata,
    Model,
    Name,
    NonEmpty,
    NonNegativeWhole,
    PositiveWhole,
    StrList,
    WholeNumber,
)

Operator = Literal[
    "equals",
    "notEquals",
    "in",
    "notIn",
    "contains",
    "notContains",
    "greaterThan",
    "lessThan",
    "regex",
    "exists",
]

CONDITION_FIELDS = frozenset(
    {
        "flag.key",
        "flag.tags",
        "flag.owner",
        "environment",
        "change.type",
        "change.types",
        "change.rolloutDelta",
        "change.tagsAdded",
        "change.tagsRemoved",
        "change.tagsChanged",
        "previousValue",
        "newValue",
        "resource.type",
        "pr.author",
        "pr.labels",
        "pr.baseRef",
    }
)
"""Fields a condition may read; ``previousValue.*`` and ``newValue.*`` sub-paths too."""

_VALUE_PREFIXES = ("previousValue.", "newValue.")
Hours = Annotated[float, Field(gt=0)]


def is_known_field(field: str) -> bool:
    """Whether a condition may name ``field``."""
    return field in CONDITION_FIELDS or (
        field.startswith(_VALUE_PREFIXES) and all(field.split("."))
    )


class Condition(Model):
    """``{field, operator, value}``: one test on a change."""

    field: NonEmpty
    operator: Operator
    value: Any = None

    @field_validator("field")
    @classmethod
    def _known_field(cls, field: str) -> str:
        if not is_known_field(field):
            allowed = ", ".join(sorted(CONDITION_FIELDS))
            raise ValueError(f"unknown field {field!r} (allowed: {allowed}, newValue.<path>)")
        return field

    @model_validator(mode="after")
    def _value_fits_operator(self) -> Self:
        op, value = self.operator, self.value
        if op in ("in", "notIn") and not isinstance(value, list):
            raise ValueError(f"operator {op!r} needs a list value")
        if op in ("greaterThan", "lessThan") and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            raise ValueError(f"operator {op!r} needs a number value")
        if op == "regex":
            if not isinstance(value, str):
                raise ValueError("operator 'regex' needs a string value")
            from flaggate.patterns import PatternError, compiled  # RE2, for `regex` only

            try:
                compiled(value)
            except PatternError as exc:
                raise ValueError(
                    f"invalid regex {excerpt(value)}: {exc} (patterns use RE2 syntax: "
                    "no backreferences or look-around)"
                ) from None
        if op == "exists" and value is not None and not isinstance(value, bool):
            raise ValueError("operator 'exists' takes true, false or no value")
        if op not in ("exists",) and value is None and op not in ("equals", "notEquals"):
            raise ValueError(f"operator {op!r} needs a value")
        return self


class Approval(Model):
    """What a matching rule requires."""

    required: bool
    minApprovers: NonNegativeWhole = 1
    approverRoles: StrList = ()
    stages: StrList = ()

    @model_validator(mode="after")
    def _roles_when_required(self) -> Self:
        if self.required and not self.stages:
            if not self.approverRoles:
                raise ValueError("a required approval needs `approverRoles` or `stages`")
            if self.minApprovers < 1:
                raise ValueError("a required approval needs `minApprovers` of at least 1")
        return self


class Rule(Model):
    """A named rule: all conditions must hold for it to match."""

    name: Name
    description: str | None = None
    conditions: Annotated[tuple[Condition, ...], Field(strict=False)] = ()
    approval: Approval


class PolicySpec(Model):
    rules: Annotated[tuple[Rule, ...], Field(strict=False)]


class ApprovalPolicy(Model):
    """The seed's ApprovalPolicy: first matching rule wins."""

    apiVersion: Literal["featureflags/v1", "flaggate/v1"]
    kind: Literal["ApprovalPolicy"]
    metadata: DocumentMetadata
    spec: PolicySpec


class Stage(Model):
    """One approval stage (seed fields)."""

    name: Name
    order: WholeNumber
    requiredApprovers: PositiveWhole = 1
    approverRoles: Annotated[tuple[NonEmpty, ...], Field(strict=False, min_length=1)]
    timeoutHours: Hours | None = None
    onTimeout: Literal["escalate", "reject", "auto-approve"] | None = None
    escalateTo: StrList = ()

    @model_validator(mode="after")
    def _escalation(self) -> Self:
        if self.onTimeout == "escalate" and not self.escalateTo:
            raise ValueError("onTimeout 'escalate' needs `escalateTo` roles")
        if self.onTimeout is not None and self.timeoutHours is None:
            raise ValueError("`onTimeout` needs `timeoutHours`")
        return self


class StagesSpec(Model):
    stages: Annotated[tuple[Stage, ...], Field(strict=False)]


class ApprovalStages(Model):
    """The ordered approval stages rules may name."""

    apiVersion: Literal["featureflags/v1", "flaggate/v1"]
    kind: Literal["ApprovalStages"]
    metadata: DocumentMetadata
    spec: StagesSpec


class RoleBinding(Model):
    """Who holds a role: GitHub teams (``org/team-slug``) and users."""

    teams: Annotated[
        tuple[Annotated[str, Field(pattern=r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$")], ...],
        Field(strict=False),
    ] = ()
    users: StrList = ()


class RolesSpec(Model):
    roles: dict[NonEmpty, RoleBinding]


class RoleBindings(Model):
    """Role name -> teams and users."""

    apiVersion: Literal["featureflags/v1", "flaggate/v1"]
    kind: Literal["RoleBindings"]
    metadata: DocumentMetadata
    spec: RolesSpec


class Promotion(Model):
    """The soak gate: the same state must have been served in ``from`` for a while."""

    from_: Name = Field(alias="from")
    minSoakHours: Annotated[float, Field(ge=0)]
    compare: Literal["served", "enabled"] = "served"
    allowWithoutLower: bool = False


_DAYS = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_CLOCK = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
_LOCAL_TIME = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")]


FREEZE_YEARS = (1970, 9998)
"""Years an absolute freeze window may use: any time zone's offset keeps them representable."""


def _local_time(text: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"`{field}` {text!r} is not a valid date and time: {exc}") from None
    first, last = FREEZE_YEARS
    if not first <= moment.year <= last:
        raise ValueError(f"`{field}` {text!r} is out of range (years {first} to {last})")
    return moment


class FreezeWindow(Model):
    """An absolute (start/end) or weekly recurring (days/from/to) freeze window."""

    name: NonEmpty
    timezone: NonEmpty = "UTC"
    start: _LOCAL_TIME | None = None
    end: _LOCAL_TIME | None = None
    days: Annotated[tuple[_DAYS, ...], Field(strict=False)] = ()
    from_: _CLOCK | None = Field(default=None, alias="from")
    to: _CLOCK | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, timezone: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {timezone!r}") from None
        return timezone

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        absolute = self.start is not None or self.end is not None
        weekly = bool(self.days) or self.from_ is not None or self.to is not None
        if absolute == weekly:
            raise ValueError("a freeze window has either `start`/`end` or `days`/`from`/`to`")
        if absolute:
            if self.start is None or self.end is None:
                raise ValueError("an absolute freeze window needs `start` and `end`")
            if _local_time(self.start, "start") >= _local_time(self.end, "end"):
                raise ValueError("an absolute freeze window needs `start` before `end`")
        if weekly and (not self.days or self.from_ is None or self.to is None):
            raise ValueError("a weekly freeze window needs `days`, `from` and `to`")
        return self


class MetricGate(Model):
    """A PromQL instant query whose value must stay within ``min``/``max``."""

    name: Name
    query: NonEmpty
    max: float | None = Field(default=None)
    min: float | None = Field(default=None)

    @model_validator(mode="after")
    def _bound(self) -> Self:
        if self.max is None and self.min is None:
            raise ValueError("a metric gate needs `max` or `min`")
        return self


class Environment(Model):
    """One deployment environment and the gates a change to it must pass."""

    name: Name
    riskLevel: Literal["low", "medium", "high", "critical"]
    requiredChecks: StrList = ()
    promotion: Promotion | None = None
    freeze: Annotated[tuple[FreezeWindow, ...], Field(strict=False)] = ()
    metrics: Annotated[tuple[MetricGate, ...], Field(strict=False)] = ()


class EnvironmentsSpec(Model):
    environments: Annotated[tuple[Environment, ...], Field(strict=False, min_length=1)]


class Environments(Model):
    """The ordered environments (lowest risk first)."""

    apiVersion: Literal["featureflags/v1", "flaggate/v1"]
    kind: Literal["Environments"]
    metadata: DocumentMetadata
    spec: EnvironmentsSpec
