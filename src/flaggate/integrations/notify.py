"""Notifications: Slack incoming webhooks and signed generic JSON webhooks.

A target's failure never stops the others and never raises: it is a `Delivery` with a
one-line reason that holds no secret (a Slack webhook URL is a secret as a whole: only the
name of its environment variable and its origin are ever shown).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from flaggate.integrations import http
from flaggate.model.settings import Notification, SlackTarget, WebhookTarget

SIGNATURE_HEADER = "X-Flaggate-Signature"
EVENT_HEADER = "X-Flaggate-Event"
DELIVERY_HEADER = "X-Flaggate-Delivery"
TIMEOUT_SECONDS = http.TIMEOUT_SECONDS
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
MAX_FIELDS = 10
_EMOJI = {
    "approval.requested": "👀",
    "approval.approved": "✅",
    "approval.rejected": "❌",
    "stage.escalated": "⏰",
    "stage.expired": "⏰",
}
_NAMESPACE = uuid.UUID("3b6d8a0e-5f43-4c1e-9a57-0d2f6f1f9a11")


@dataclass(frozen=True)
class Event:
    """Something people should hear about."""

    type: str
    """One of `flaggate.model.settings.NOTIFICATION_EVENTS`, e.g. ``approval.requested``."""
    title: str
    text: str
    repository: str
    pull_request: int | None = None
    url: str | None = None
    """The pull request (or the workflow run)."""
    flags: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()
    stage: str | None = None
    teams: tuple[str, ...] = ()
    """``@acme/sre`` teams and ``@login`` users."""
    actor: str | None = None
    key: str = ""
    """Identifies this occurrence: the same key gives the same delivery id."""

    @property
    def delivery_id(self) -> str:
        """Stable per (repository, type, key), so a receiver can drop repeats."""
        return str(uuid.uuid5(_NAMESPACE, f"{self.repository}\n{self.type}\n{self.key}"))


@dataclass(frozen=True)
class Delivery:
    """How sending to one target went (``target`` names env variables, never URLs)."""

    target: str
    ok: bool
    reason: str = ""


class _Failed(Exception):
    """A delivery failed; the message is its reason."""


def notify(
    event: Event,
    targets: Sequence[Notification],
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> list[Delivery]:
    """Send the event to every target that wants its type; never raises."""
    env = os.environ if env is None else env
    moment = now or datetime.now(UTC)
    results = []
    for target in targets:
        if not target.wants(event.type):
            continue
        name, secrets = _describe(target, env)
        try:
            with http.hidden_in_logs(secrets):
                if target.slack is not None:
                    _to_slack(event, target.slack, env)
                elif target.webhook is not None:
                    _to_webhook(event, target.webhook, env, moment)
        except _Failed as exc:
            results.append(Delivery(name, False, http.redact(str(exc), secrets)))
        except Exception as exc:
            reason = f"unexpected {type(exc).__name__}: {exc}"
            results.append(Delivery(name, False, http.redact(reason, secrets)))
        else:
            results.append(Delivery(name, True))
    return results


def summary_lines(deliveries: Sequence[Delivery]) -> list[str]:
    """One line per failed delivery, for the log and the job summary."""
    return [f"⚠️ notification {d.target} failed: {d.reason}" for d in deliveries if not d.ok]


def slack_message(event: Event) -> dict[str, Any]:
    """The Block Kit message for a Slack incoming webhook."""
    emoji = _EMOJI.get(event.type, "🚨" if event.type.startswith("compliance.") else "🔔")
    header = _cut(f"{emoji} {event.title}", HEADER_LIMIT)
    fields = []
    if event.pull_request is not None and event.url:
        fields.append(f"*Pull request*\n<{event.url}|#{event.pull_request}>")
    for label, values in (
        ("Flags", event.flags),
        ("Environments", event.environments),
        ("Teams", event.teams),
    ):
        if values:
            fields.append(f"*{label}*\n{_escape(', '.join(values))}")
    if event.stage:
        fields.append(f"*Stage*\n{_escape(event.stage)}")
    if event.actor:
        fields.append(f"*Actor*\n{_escape(event.actor)}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
    ]
    if event.text.strip():
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut(_escape(event.text), SECTION_LIMIT)},
            }
        )
    if fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": _cut(f, FIELD_LIMIT)} for f in fields[:MAX_FIELDS]
                ],
            }
        )
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _escape(f"{event.repository} · {event.type}")}],
        }
    )
    if event.url:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {
                            "type": "plain_text",
                            "text": "Open pull request"
                            if event.pull_request is not None
                            else "Open",
                        },
                        "url": event.url,
                    }
                ],
            }
        )
    return {"text": _cut(event.title, SECTION_LIMIT), "blocks": blocks}


def webhook_body(event: Event, now: datetime) -> bytes:
    """The generic webhook's body: canonical JSON (sorted keys, no spaces, UTF-8)."""
    data = {
        "event": event.type,
        "id": event.delivery_id,
        "timestamp": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "repository": event.repository,
        "pullRequest": (
            None if event.pull_request is None else {"number": event.pull_request, "url": event.url}
        ),
        "title": event.title,
        "text": event.text,
        "flags": list(event.flags),
        "environments": list(event.environments),
        "stage": event.stage,
        "teams": list(event.teams),
        "actor": event.actor,
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _describe(target: Notification, env: Mapping[str, str]) -> tuple[str, list[str]]:
    if target.slack is not None:
        url = env.get(target.slack.webhookEnv) or ""
        return f"slack {target.slack.webhookEnv}", [url, *http.url_secrets(url)]
    assert target.webhook is not None
    url = env.get(target.webhook.urlEnv) or ""
    secret = env.get(target.webhook.secretEnv) or ""
    return f"webhook {target.webhook.urlEnv}", [*http.url_secrets(url), secret]


def _to_slack(event: Event, target: SlackTarget, env: Mapping[str, str]) -> None:
    missing = http.unset(env, target.webhookEnv)
    if missing is not None:
        raise _Failed(missing)
    url = env[target.webhookEnv]
    body = json.dumps(slack_message(event), ensure_ascii=False).encode()
    status, text = _post(url, body, {"Content-Type": "application/json"}, "Slack")
    if not 200 <= status < 300:
        detail = " ".join(text.split())[:80]
        raise _Failed(f"Slack answered HTTP {status}" + (f" ({detail})" if detail else ""))


def _to_webhook(event: Event, target: WebhookTarget, env: Mapping[str, str], now: datetime) -> None:
    missing = http.unset(env, target.urlEnv, target.secretEnv)
    if missing is not None:
        raise _Failed(missing)
    url, secret = env[target.urlEnv], env[target.secretEnv]
    body = webhook_body(event, now)
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: event.type,
        DELIVERY_HEADER: event.delivery_id,
        SIGNATURE_HEADER: http.sign(body, secret),
    }
    status, _ = _post(url, body, headers, http.origin(url))
    if not 200 <= status < 300:
        raise _Failed(f"{http.origin(url)} answered HTTP {status}")


def _post(url: str, body: bytes, headers: Mapping[str, str], where: str) -> tuple[int, str]:
    """POST and return the status and the start of the answer; retried POSTs are safe here
    (a delivery id, or a Slack message repeated at worst once)."""
    with http.client(timeout=TIMEOUT_SECONDS, retry_posts=True) as client:
        try:
            response = client.post(url, content=body, headers=dict(headers))
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _Failed(http.failure(exc, where, TIMEOUT_SECONDS)) from None
        return response.status_code, response.text[:200]


def _escape(text: str) -> str:
    """Slack mrkdwn: ``&``, ``<`` and ``>`` are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
