"""The optional Settings document (SPEC 3.2); every field has a default."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from flaggate.model.base import DocumentMetadata, Model, NonEmpty, StrList


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


class Audit(Model):
    """Where audit records are appended: a branch (default) or a path on the default branch."""

    branch: NonEmpty | None = "flaggate-audit"
    path: NonEmpty | None = None
    dir: NonEmpty = "audit"


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


class SettingsSpec(Model):
    statusContext: NonEmpty = "flaggate"
    flagsPath: NonEmpty = "flags"
    emergency: Emergency = Emergency()
    tickets: Tickets | None = None
    audit: Audit = Audit()
    notifications: Annotated[tuple[Notification, ...], Field(strict=False)] = ()


class Settings(Model):
    """Project-wide settings."""

    apiVersion: Literal["featureflags/v1", "flaggate/v1"] = "flaggate/v1"
    kind: Literal["Settings"] = "Settings"
    metadata: DocumentMetadata = DocumentMetadata(name="settings")
    spec: SettingsSpec = SettingsSpec()
