"""Notifications: Slack incoming webhooks and signed generic JSON webhooks.

A target's failure never stops the others and never raises: it is a `Delivery` with a
one-line reason that holds no secret (a Slack webhook URL is a secret as a whole: only the
name of its environment variable and its origin are ever shown).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx

from flaggate.integrations import http
from flaggate.model.settings import Notification, SlackTarget, WebhookTarget

SIGNATURE_HEADER = "X-Flaggate-Signature"
EVENT_HEADER = "X-Flaggate-Event"
DELIVERY_HEADER = "X-Flaggate-Delivery"
TIMEOUT_SECONDS = http.TIMEOUT_SECONDS
"""Read at call time (tests shorten it)."""

# Slack Block Kit limits (characters): header text, section text, a field, fields per section,
# a button's URL.
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
MAX_FIELDS = 10
URL_LIMIT = 3000

_EMOJI = {
    "approval.requested": "👀",
    "approval.approved": "✅",
    "approval.rejected": "❌",
    "stage.escalated": "⏰",
    "stage.expired": "⏰",
}
_NAMESPACE = uuid.UUID("3b6d8a0e-5f43-4c1e-9a57-0d2f6f1f9a11")
# Slack's error answers are short codes (`no_service`); anything else is not shown, so a body
# that echoes the request cannot leak into a reason.
_SLACK_ERROR = re.compile(r"[A-Za-z0-9_.-]{1,80}")


@dataclass(frozen=True)
class Event:
    """Something people should hear about."""

    type: str
    """One of `flaggate.model.settings.NOTIFICATION_EVENTS`, e.g. ``approval.requested``."""
    title: str
    """One line: ``Review needed: production change to new-checkout``."""
    text: str
    """A few lines of plain text (simple ``*bold*`` allowed)."""
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
        """Stable per (repository, type, key), so a receiver can drop repeats; without a key,
        per content (two different events never share an id)."""
        key = self.key or repr(
            (
                self.title,
                self.text,
                self.pull_request,
                self.url,
                self.flags,
                self.environments,
                self.stage,
                self.teams,
                self.actor,
            )
        )
        return str(uuid.uuid5(_NAMESPACE, f"{self.repository}\n{self.type}\n{key}"))


@dataclass(frozen=True)
class Delivery:
    """How sending to one target went: ``target`` names env variables, never URLs; ``reason``
    says why it failed (one line, no secret)."""

    target: str
    ok: bool
    reason: str = ""


def notify(
    event: Event,
    targets: Sequence[Notification],
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> list[Delivery]:
    """Send the event to every target that wants its type, in order; never raises (a failure
    is a `Delivery` with ``ok`` False). URLs and secrets are read from ``env`` (default: the
    process environment); ``now`` is the webhook's timestamp (default: the current time)."""
    env = os.environ if env is None else env
    moment = now or datetime.now(UTC)
    results = []
    for target in targets:
        if not target.wants(event.type):
            continue
        name, secrets = _describe(target, env)
        reason = http.attempt(partial(_deliver, event, target, env, moment), secrets)
        results.append(Delivery(name, reason is None, reason or ""))
    return results


def _deliver(event: Event, target: Notification, env: Mapping[str, str], now: datetime) -> None:
    if target.slack is not None:
        _to_slack(event, target.slack, env)
    elif target.webhook is not None:
        _to_webhook(event, target.webhook, env, now)
    else:
        raise http.Failed("no target")


def summary_lines(deliveries: Sequence[Delivery]) -> list[str]:
    """One line per failed delivery, for the log and the job summary."""
    return [f"⚠️ notification {d.target} failed: {d.reason}" for d in deliveries if not d.ok]


def slack_message(event: Event) -> dict[str, Any]:
    """The Block Kit message for a Slack incoming webhook (``text`` is the fallback shown in
    notifications)."""
    emoji = _EMOJI.get(event.type, "🚨" if event.type.startswith("compliance.") else "🔔")
    title = " ".join(event.title.split()) or event.type
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _cut(f"{emoji} {title}", HEADER_LIMIT),
                "emoji": True,
            },
        }
    ]
    if event.text.strip():
        blocks.append({"type": "section", "text": _mrkdwn(_escaped(event.text, SECTION_LIMIT))})
    fields = [_mrkdwn(f) for f in _fields(event)[:MAX_FIELDS]]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    context = _escaped(f"{event.repository} · {event.type}", SECTION_LIMIT)
    blocks.append({"type": "context", "elements": [_mrkdwn(context)]})
    if event.url and len(event.url) <= URL_LIMIT:
        label = "Open pull request" if event.pull_request is not None else "Open workflow run"
        button = {"type": "plain_text", "text": label}
        blocks.append(
            {"type": "actions", "elements": [{"type": "button", "text": button, "url": event.url}]}
        )
    return {"text": _escaped(title, SECTION_LIMIT), "blocks": blocks}


def webhook_body(event: Event, now: datetime) -> bytes:
    """The generic webhook's body: canonical JSON (sorted keys, no spaces, UTF-8); a naive
    ``now`` is taken as UTC."""
    moment = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    data = {
        "event": event.type,
        "id": event.delivery_id,
        "timestamp": moment.isoformat().replace("+00:00", "Z"),
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


def _fields(event: Event) -> list[str]:
    """The section fields, only those the event has."""
    fields = []
    if event.pull_request is not None:
        number = f"#{event.pull_request}"
        link = f"<{_escape(event.url)}|{number}>" if event.url else number
        fields.append(f"*Pull request*\n{link if len(link) < FIELD_LIMIT - 20 else number}")
    for label, values in (("Flag", event.flags), ("Environment", event.environments)):
        if values:
            plural = "s" if len(values) > 1 else ""
            fields.append(f"*{label}{plural}*\n{_escape(', '.join(values))}")
    for label, value in (
        ("Stage", event.stage),
        ("Teams", ", ".join(event.teams)),
        ("Actor", event.actor),
    ):
        if value:
            fields.append(f"*{label}*\n{_escape(value)}")
    return [_cut_escaped(field, FIELD_LIMIT) for field in fields]


def _describe(target: Notification, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """The target's name in results, and the secrets its reasons and logs must never show."""
    if target.slack is not None:
        url = env.get(target.slack.webhookEnv) or ""
        return f"slack {target.slack.webhookEnv}", [url, url.strip(), *http.url_secrets(url)]
    if target.webhook is not None:
        url = env.get(target.webhook.urlEnv) or ""
        secret = env.get(target.webhook.secretEnv) or ""
        return f"webhook {target.webhook.urlEnv}", [*http.url_secrets(url.strip()), secret]
    return "notification", []


def _to_slack(event: Event, target: SlackTarget, env: Mapping[str, str]) -> None:
    missing = http.unset(env, target.webhookEnv)
    if missing is not None:
        raise http.Failed(missing)
    body = json.dumps(slack_message(event), ensure_ascii=False).encode()
    url = env[target.webhookEnv].strip()
    status, text, attempts = _post(url, body, {"Content-Type": "application/json"}, "Slack")
    if not 200 <= status < 300:
        code = text.strip()
        detail = f" ({code})" if _SLACK_ERROR.fullmatch(code) else ""
        raise http.Failed(f"Slack answered HTTP {status}{detail}{_after(attempts)}")


def _to_webhook(event: Event, target: WebhookTarget, env: Mapping[str, str], now: datetime) -> None:
    missing = http.unset(env, target.urlEnv, target.secretEnv)
    if missing is not None:
        raise http.Failed(missing)
    url, secret = env[target.urlEnv].strip(), env[target.secretEnv]
    body = webhook_body(event, now)
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: event.type,
        DELIVERY_HEADER: event.delivery_id,
        SIGNATURE_HEADER: http.sign(body, secret),
    }
    where = http.origin(url)
    status, _, attempts = _post(url, body, headers, where)
    if not 200 <= status < 300:
        raise http.Failed(f"{where} answered HTTP {status}{_after(attempts)}")


def _post(url: str, body: bytes, headers: Mapping[str, str], where: str) -> tuple[int, str, int]:
    """POST; the status, the start of the answer and the requests made. Retried POSTs are
    safe here: a webhook delivery carries its id, a Slack message repeats at worst."""
    with http.client(timeout=TIMEOUT_SECONDS, retry_posts=True) as client:
        try:
            response = client.post(url, content=body, headers=dict(headers))
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise http.Failed(http.failure(exc, where, TIMEOUT_SECONDS)) from None
        retry = response.extensions.get("retry")
        attempts = int(getattr(retry, "attempts_made", 0)) + 1
        return response.status_code, response.text[:200], attempts


def _after(attempts: int) -> str:
    return f" after {attempts} attempts" if attempts > 1 else ""


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _escape(text: str) -> str:
    """Slack mrkdwn: ``&``, ``<`` and ``>`` are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escaped(text: str, limit: int) -> str:
    return _cut_escaped(_escape(text), limit)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cut_escaped(text: str, limit: int) -> str:
    """`_cut` that drops an entity (``&amp;``) the cut would split."""
    if len(text) <= limit:
        return text
    text = text[: limit - 1]
    split = text.rfind("&", len(text) - 4)
    if split != -1 and ";" not in text[split:]:
        text = text[:split]
    return text + "…"
