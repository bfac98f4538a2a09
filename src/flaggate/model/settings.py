"""The optional Settings document (SPEC 3.2); every field has a default."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from flaggate.model.base import DocumentMetadata, Model, NonEmpty, NonNegativeWhole, StrList


class Emergency(Model):
    """Who may bypass approval with the emergency label, and for which severities."""

    label: NonEmpty = "emergency"
    roles: StrList = ("incident-commander", "on-call-engineer", "sre")
    severities: StrList = ("SEV1", "SEV2")


class Tickets(Model):
    """The ticket gate: which provider, and where a ticket is required."""

    provider: Literal["jira", "github"]
    url: str | None = None
    requiredFor: StrList = ()
    allowedStatuses: StrList = ()
    flagField: str | None = None


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
    def _one_target(self) -> AuditSink:
        if (self.postgres is None) == (self.webhook is None):
            raise ValueError("an audit sink needs exactly one of `postgres` or `webhook`")
        return self


class Audit(Model):
    """Where audit records are appended: a branch (default) or a path on the default branch."""

    branch: NonEmpty | None = "flaggate-audit"
    path: NonEmpty | None = None
    dir: NonEmpty = "audit"
    sinks: Annotated[tuple[AuditSink, ...], Field(strict=False)] = ()


class SlackTarget(Model):
    webhookEnv: NonEmpty


class WebhookTarget(Model):
    urlEnv: NonEmpty
    secretEnv: NonEmpty | None = None


class Notification(Model):
    """Which events go to which target."""

    events: Annotated[tuple[NonEmpty, ...], Field(strict=False, min_length=1)]
    slack: SlackTarget | None = None
    webhook: WebhookTarget | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Notification:
        if (self.slack is None) == (self.webhook is None):
            raise ValueError("a notification needs exactly one of `slack` or `webhook`")
        return self


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
    prometheus: Prometheus = Prometheus()


class SettingsSpec(Model):
    statusContext: NonEmpty = "flaggate"
    flagsPath: NonEmpty = "flags"
    emergency: Emergency = Emergency()
    tickets: Tickets | None = None
    audit: Audit = Audit()
    notifications: Annotated[tuple[Notification, ...], Field(strict=False)] = ()
    gates: Gates = Gates()


class Settings(Model):
    """Project-wide settings."""

    apiVersion: Literal["featureflags/v1", "flaggate/v1"] = "flaggate/v1"
    kind: Literal["Settings"] = "Settings"
    metadata: DocumentMetadata = DocumentMetadata(name="settings")
    spec: SettingsSpec = SettingsSpec()
