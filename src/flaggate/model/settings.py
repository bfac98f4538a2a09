"""The optional Settings document (SPEC 3.2); every field has a default.

A default that is itself a model is made with ``model_construct`` (each field at its default,
nothing to validate): ``Emergency()`` would build that model's validator as this module is
imported, which :class:`~flaggate.model.base.Model` leaves to the first document validated."""

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, field_validator, model_validator

from flaggate.model.base import DocumentMetadata, Model, NonEmpty, NonNegativeWhole, StrList


class Emergency(Model):
    """Who may bypass approval with the emergency label, and for which severities."""

    label: NonEmpty = "emergency"
    roles: StrList = ("incident-commander", "on-call-engineer", "sre")
    severities: StrList = ("SEV1", "SEV2")


class TicketLabels(Model):
    """The labels that show where a ticket's flag change stands."""

    pending: NonEmpty = "flag-change-pending"
    approved: NonEmpty = "flag-change-approved"
    rejected: NonEmpty = "flag-change-rejected"


class TicketTransitions(Model):
    """Transitions (by name, or by the status they lead to) made when a change is approved
    and when it merges; none by default. A GitHub issue knows only ``closed``."""

    approved: NonEmpty | None = None
    merged: NonEmpty | None = None


class Tickets(Model):
    """The ticket gate and ticket updates: which tracker, where a ticket is required, what a
    valid ticket looks like, and what is written back to it."""

    provider: Literal["jira", "github"]
    url: NonEmpty | None = None
    """Jira's base URL (``https://acme.atlassian.net``); else the ``JIRA_BASE_URL`` env."""
    restApi: Literal[2, 3] = 3
    """Jira's REST API: 3 (Jira Cloud) or 2 (Jira Data Center)."""
    emailEnv: NonEmpty = "JIRA_EMAIL"
    """Jira: the env var with the account email; set: basic auth with the API token."""
    tokenEnv: NonEmpty = "JIRA_API_TOKEN"
    """Jira: the env var with the API token (sent as a bearer token when no email is set)."""
    requiredFor: StrList = ()
    projects: StrList = ()
    """Jira project keys a ticket key may have (``FEAT``); empty: any."""
    allowedStatuses: StrList = ()
    """Jira statuses that allow a flag change; empty: any status not in the Done category."""
    requiredFields: StrList = ()
    """Fields (display names) that must not be empty on the ticket."""
    flagField: NonEmpty | None = None
    """A field that, when set on the ticket, must name every flag the change touches."""
    environmentField: NonEmpty | None = None
    """Jira: a field set to the environments on merge."""
    rolloutField: NonEmpty | None = None
    """Jira: a number field set to the production (else highest) rollout percentage on merge."""
    labels: TicketLabels = TicketLabels.model_construct()
    transitions: TicketTransitions = TicketTransitions.model_construct()
    timeoutSeconds: Annotated[float, Field(gt=0, le=120)] = 10.0

    @model_validator(mode="after")
    def _fits_provider(self) -> Self:
        if self.provider == "github":
            jira_only = [
                name
                for name in ("allowedStatuses", "projects", "environmentField", "rolloutField")
                if getattr(self, name)
            ]
            if self.restApi != 3:
                jira_only.append("restApi")
            if jira_only:
                raise ValueError(f"{', '.join(jira_only)}: Jira only (a GitHub issue must be open)")
            for when in ("approved", "merged"):
                target = getattr(self.transitions, when)
                if target is not None and target != "closed":
                    raise ValueError(
                        f"transitions.{when}: a GitHub issue can only be `closed`, not {target!r}"
                    )
        return self


class PostgresSink(Model):
    """A PostgreSQL table receiving every record (DSN only from the environment)."""

    dsnEnv: NonEmpty = "FLAGGATE_AUDIT_DSN"
    table: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")] = "flaggate_audit"


class WebhookSink(Model):
    """An HTTPS endpoint (a SIEM) receiving every record, signed with HMAC-SHA256."""

    urlEnv: NonEmpty = "FLAGGATE_AUDIT_WEBHOOK_URL"
    secretEnv: NonEmpty = "FLAGGATE_AUDIT_WEBHOOK_SECRET"


class AuditSink(Model):
    """One extra destination for audit records, besides the git log."""

    postgres: PostgresSink | None = None
    webhook: WebhookSink | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.postgres is None) == (self.webhook is None):
            raise ValueError("an audit sink needs exactly one of `postgres` or `webhook`")
        return self


class Audit(Model):
    """Where audit records are appended: a branch (default) or a path on the default branch."""

    branch: NonEmpty | None = "flaggate-audit"
    path: NonEmpty | None = None
    dir: NonEmpty = "audit"
    sinks: Annotated[tuple[AuditSink, ...], Field(strict=False)] = ()


NOTIFICATION_EVENTS = (
    "approval.requested",
    "approval.approved",
    "approval.rejected",
    "stage.escalated",
    "stage.expired",
    "compliance.bypass",
    "compliance.production_change",
    "compliance.policy_change",
    "compliance.direct_push",
)
"""Event types a notification can subscribe to (also ``*`` and a prefix such as
``compliance.*``)."""


def _known_event(name: str) -> str:
    prefix = name[:-1] if name.endswith("*") else None
    if prefix is not None and (prefix == "" or prefix.endswith(".")):
        if any(event.startswith(prefix) for event in NOTIFICATION_EVENTS):
            return name
    elif name in NOTIFICATION_EVENTS:
        return name
    raise ValueError(f"unknown event {name!r} (known: {', '.join(NOTIFICATION_EVENTS)}, *)")


EventName = Annotated[NonEmpty, AfterValidator(_known_event)]


class SlackTarget(Model):
    """A Slack incoming webhook; its URL (a secret) only from the environment."""

    webhookEnv: NonEmpty = "SLACK_WEBHOOK_URL"


class WebhookTarget(Model):
    """A JSON webhook signed with HMAC-SHA256; URL and secret only from the environment."""

    urlEnv: NonEmpty = "FLAGGATE_NOTIFY_WEBHOOK_URL"
    secretEnv: NonEmpty = "FLAGGATE_NOTIFY_WEBHOOK_SECRET"


class Notification(Model):
    """Which events go to which target."""

    events: Annotated[tuple[EventName, ...], Field(strict=False, min_length=1)]
    slack: SlackTarget | None = None
    webhook: WebhookTarget | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.slack is None) == (self.webhook is None):
            raise ValueError("a notification needs exactly one of `slack` or `webhook`")
        return self

    def wants(self, event: str) -> bool:
        """Whether this target subscribes to the event type."""
        return any(
            name == event or (name.endswith("*") and event.startswith(name[:-1]))
            for name in self.events
        )


class Prometheus(Model):
    """Where metric gates send their PromQL queries (a Prometheus-compatible HTTP API)."""

    url: NonEmpty | None = None
    """Base URL, e.g. ``http://prometheus:9090``; else the ``FLAGGATE_PROMETHEUS_URL`` env."""
    tokenEnv: NonEmpty = "FLAGGATE_PROMETHEUS_TOKEN"
    """Environment variable holding an optional bearer token (never a file value)."""
    timeoutSeconds: Annotated[float, Field(gt=0, le=300)] = 10.0


class Gates(Model):
    """How gates are checked: the grace for missing checks, the metrics endpoint."""

    checksGraceMinutes: NonNegativeWhole = 30
    """A required check not reported this long after the head commit fails, not waits."""
    prometheus: Prometheus = Prometheus.model_construct()


class Publish(Model):
    """Where the export of the merged default branch is published: one file per environment
    and format on ``branch``, rewritten on every merge that changes it."""

    branch: NonEmpty = "flaggate-dist"
    formats: Annotated[tuple[Literal["flagd"], ...], Field(min_length=1, strict=False)] = ("flagd",)
    environments: StrList = ()
    """The environments to publish (empty: every declared one)."""


class SettingsSpec(Model):
    statusContext: NonEmpty = "flaggate"
    flagsPath: NonEmpty = "flags"
    """The folder of the flag files: a relative path inside the repository."""
    emergency: Emergency = Emergency.model_construct()
    tickets: Tickets | None = None
    audit: Audit = Audit.model_construct()
    notifications: Annotated[tuple[Notification, ...], Field(strict=False)] = ()
    gates: Gates = Gates.model_construct()
    publish: Publish | None = None
    """Publishing the merged flags for applications (off when absent)."""

    @field_validator("flagsPath")
    @classmethod
    def _inside_the_repository(cls, path: str) -> str:
        parts = path.rstrip("/").split("/")
        if (
            path.startswith("/")
            or "\\" in path
            or ":" in parts[0]
            or any(part in ("", ".", "..") for part in parts)
        ):
            raise ValueError(
                f"{path!r} must be a relative path to a folder inside the repository, "
                "e.g. `flags` (no leading `/`, no empty, `.` or `..` parts)"
            )
        return path.rstrip("/")


class Settings(Model):
    """Project-wide settings."""

    apiVersion: Literal["featureflags/v1", "flaggate/v1"] = "flaggate/v1"
    kind: Literal["Settings"] = "Settings"
    metadata: DocumentMetadata = DocumentMetadata.model_construct(name="settings")
    spec: SettingsSpec = SettingsSpec.model_construct()
