"""Notifications to Slack incoming webhooks and signed JSON webhooks, over real HTTP to loopback
receivers; and `flaggate github` notifying approvers and compliance end to end."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest

from flaggate.integrations import http
from flaggate.integrations import notify as notify_module
from flaggate.integrations.notify import Delivery, Event, notify, summary_lines
from flaggate.model.settings import NOTIFICATION_EVENTS, Notification
from tests.fakes.github import FakeGitHub
from tests.github_env import NAME, OWNER, ActionRun, run_action, webhook_payload
from tests.gitrepo import GitRepo
from tests.prometheus import closed_port
from tests.receiver import Receiver, Reply
from tests.test_github_action import CHECKOUT, NUMBER, PROD_OFF, PROD_ON, edit

SLACK_ENV, URL_ENV, SECRET_ENV = "SLACK_T0P_WEBHOOK", "HOOK_URL", "HOOK_SECRET"
SLACK_PATH = "/services/T0SEKRIT/B0SEKRIT/xyzzySlackToken42"
HOOK_PATH = "/hooks/flaggate?token=qtokSekrit77"
SECRET = "whsec-9f8e7d6c5b4a"
SECRETS = ("T0SEKRIT", "B0SEKRIT", "xyzzySlackToken42", "qtokSekrit77", SECRET)
SLACK = Notification(events=["*"], slack={"webhookEnv": SLACK_ENV})  # type: ignore[arg-type]
WEBHOOK = Notification(events=["*"], webhook={"urlEnv": URL_ENV, "secretEnv": SECRET_ENV})  # type: ignore[arg-type]
NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
URL = "https://github.com/acme/flags/pull/7"

# --- Slack Block Kit's constraints on the blocks flaggate sends ------------------------------
# (api.slack.com/reference/block-kit: blocks, composition objects, block elements)


def _text(kind: str | None = None, limit: int = 3000) -> dict[str, Any]:
    """A text object: ``plain_text`` or ``mrkdwn`` (or only ``kind``), 1 to ``limit`` chars."""
    return {
        "type": "object",
        "required": ["type", "text"],
        "additionalProperties": False,
        "properties": {
            "type": {"const": kind} if kind else {"enum": ["plain_text", "mrkdwn"]},
            "text": {"type": "string", "minLength": 1, "maxLength": limit},
            "emoji": {"type": "boolean"},
            "verbatim": {"type": "boolean"},
        },
    }


def _block(kind: str, required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", *required],
        "additionalProperties": False,
        "properties": {"type": {"const": kind}, "block_id": {"maxLength": 255}, **properties},
    }


BUTTON = {
    "type": "object",
    "required": ["type", "text"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "button"},
        "text": _text("plain_text", 75),
        "url": {"type": "string", "minLength": 1, "maxLength": 3000},
        "action_id": {"type": "string", "maxLength": 255},
    },
}
BLOCK_KIT = {
    "type": "object",
    "required": ["text", "blocks"],
    "additionalProperties": False,
    "properties": {
        "text": {"type": "string", "minLength": 1, "maxLength": 40000},
        "blocks": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {
                "oneOf": [
                    _block("header", ["text"], text=_text("plain_text", 150)),
                    {
                        **_block(
                            "section",
                            [],
                            text=_text(limit=3000),
                            fields={
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 10,
                                "items": _text(limit=2000),
                            },
                        ),
                        "anyOf": [{"required": ["text"]}, {"required": ["fields"]}],
                    },
                    _block(
                        "context",
                        ["elements"],
                        elements={"type": "array", "minItems": 1, "maxItems": 10, "items": _text()},
                    ),
                    _block(
                        "actions",
                        ["elements"],
                        elements={"type": "array", "minItems": 1, "maxItems": 25, "items": BUTTON},
                    ),
                ]
            },
        },
    },
}
EMOJI = {
    "approval.requested": "👀",
    "approval.approved": "✅",
    "approval.rejected": "❌",
    "stage.escalated": "⏰",
    "stage.expired": "⏰",
}


def event(**kw: Any) -> Event:
    values: dict[str, Any] = {
        "type": "approval.requested",
        "title": "Review needed: technical-review for checkout-redesign in production",
        "text": "Turn on checkout\n1 more approval(s) needed from *tech-lead*.",
        "repository": "acme/flags",
        "pull_request": 7,
        "url": URL,
        "flags": ("checkout-redesign",),
        "environments": ("production",),
        "stage": "technical-review",
        "teams": ("@acme/tech-leads",),
        "actor": "dev",
        "key": "requested:technical-review:abc",
    }
    return Event(**(values | kw))


@pytest.fixture
def slack() -> Iterator[Receiver]:
    """Stands in for hooks.slack.com."""
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def hook() -> Iterator[Receiver]:
    """Stands in for a generic webhook receiver."""
    with Receiver() as receiver:
        yield receiver


def env(slack: Receiver | None = None, hook: Receiver | None = None) -> dict[str, str]:
    values = {SECRET_ENV: SECRET}
    if slack is not None:
        values[SLACK_ENV] = slack.url + SLACK_PATH
    if hook is not None:
        values[URL_ENV] = hook.url + HOOK_PATH
    return values


def sent_to_slack(slack: Receiver, message: Event) -> dict[str, Any]:
    """Send ``message`` to Slack; the one message the receiver got, checked against Block Kit."""
    assert notify(message, [SLACK], env(slack)) == [Delivery(f"slack {SLACK_ENV}", True)]
    [request] = slack.requests
    assert (request.method, request.path) == ("POST", SLACK_PATH)
    assert request.headers["content-type"] == "application/json"
    body: dict[str, Any] = request.json()
    jsonschema.validate(body, BLOCK_KIT)
    return body


def block(body: dict[str, Any], kind: str, index: int = 0) -> dict[str, Any]:
    found: dict[str, Any] = [b for b in body["blocks"] if b["type"] == kind][index]
    return found


def field_texts(body: dict[str, Any]) -> list[str]:
    sections = [b for b in body["blocks"] if "fields" in b]
    return [f["text"] for s in sections for f in s["fields"]]


# --- Slack messages ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", NOTIFICATION_EVENTS)
def test_each_event_type_is_a_block_kit_message(slack: Receiver, kind: str) -> None:
    body = sent_to_slack(slack, event(type=kind))
    assert [b["type"] for b in body["blocks"]] == [
        "header",
        "section",
        "section",
        "context",
        "actions",
    ]
    header = block(body, "header")["text"]
    emoji = EMOJI.get(kind, "🚨")
    assert header == {"type": "plain_text", "text": f"{emoji} {event().title}", "emoji": True}
    assert body["text"] == event().title
    assert block(body, "section")["text"] == {
        "type": "mrkdwn",
        "text": "Turn on checkout\n1 more approval(s) needed from *tech-lead*.",
    }
    assert field_texts(body) == [
        f"*Pull request*\n<{URL}|#7>",
        "*Flag*\ncheckout-redesign",
        "*Environment*\nproduction",
        "*Stage*\ntechnical-review",
        "*Teams*\n@acme/tech-leads",
        "*Actor*\ndev",
    ]
    assert block(body, "context")["elements"] == [
        {"type": "mrkdwn", "text": f"acme/flags · {kind}"}
    ]
    [button] = block(body, "actions")["elements"]
    assert button == {
        "type": "button",
        "text": {"type": "plain_text", "text": "Open pull request"},
        "url": URL,
    }


@pytest.mark.parametrize(
    ("changes", "fields", "blocks"),
    [
        (
            {"flags": ("a", "b"), "environments": ("staging", "production"), "teams": ("@x",)},
            [
                f"*Pull request*\n<{URL}|#7>",
                "*Flags*\na, b",
                "*Environments*\nstaging, production",
                "*Stage*\ntechnical-review",
                "*Teams*\n@x",
                "*Actor*\ndev",
            ],
            ["header", "section", "section", "context", "actions"],
        ),
        (
            {"url": None, "stage": None, "teams": (), "actor": None},
            ["*Pull request*\n#7", "*Flag*\ncheckout-redesign", "*Environment*\nproduction"],
            ["header", "section", "section", "context"],
        ),
        (
            {"pull_request": None, "flags": (), "environments": (), "stage": None, "teams": ()},
            ["*Actor*\ndev"],
            ["header", "section", "section", "context", "actions"],
        ),
        (
            {"pull_request": None, "url": None, "flags": (), "environments": (), "stage": None}
            | {"teams": (), "actor": None, "text": " \n"},
            [],
            ["header", "context"],
        ),
    ],
    ids=["plural", "no-link", "run-link", "bare"],
)
def test_fields_and_blocks_only_for_what_is_set(
    slack: Receiver, changes: dict[str, Any], fields: list[str], blocks: list[str]
) -> None:
    body = sent_to_slack(slack, event(**changes))
    assert [b["type"] for b in body["blocks"]] == blocks
    assert field_texts(body) == fields
    if "actions" in blocks and "pull_request" in changes:
        [button] = block(body, "actions")["elements"]
        assert button["text"]["text"] == "Open workflow run"


def test_user_text_is_escaped_for_mrkdwn(slack: Receiver) -> None:
    url = "https://github.com/acme/flags/pull/7?a=1&b=<2>"
    body = sent_to_slack(
        slack,
        event(
            title="Flip <b> & co",
            text="a < b && c > d, *bold* <!channel>",
            url=url,
            flags=("x<y>&z",),
            stage="<@U123>",
            teams=("@acme/a&b",),
            actor="<!here>",
            repository="acme/<flags>",
        ),
    )
    assert block(body, "header")["text"]["text"] == "👀 Flip <b> & co"  # plain_text: as is
    assert body["text"] == "Flip &lt;b&gt; &amp; co"
    assert block(body, "section")["text"]["text"] == (
        "a &lt; b &amp;&amp; c &gt; d, *bold* &lt;!channel&gt;"
    )
    assert field_texts(body) == [
        "*Pull request*\n<https://github.com/acme/flags/pull/7?a=1&amp;b=&lt;2&gt;|#7>",
        "*Flag*\nx&lt;y&gt;&amp;z",
        "*Environment*\nproduction",
        "*Stage*\n&lt;@U123&gt;",
        "*Teams*\n@acme/a&amp;b",
        "*Actor*\n&lt;!here&gt;",
    ]
    assert block(body, "context")["elements"][0]["text"] == (
        "acme/&lt;flags&gt; · approval.requested"
    )
    assert block(body, "actions")["elements"][0]["url"] == url


def test_texts_are_cut_to_block_kit_limits(slack: Receiver) -> None:
    flags = tuple(f"flag-{n:04}" for n in range(400))
    body = sent_to_slack(
        slack,
        event(title="t " + "x" * 400, text="&" * 2000, flags=flags, teams=("@t",) * 900),
    )
    header = block(body, "header")["text"]["text"]
    assert len(header) == 150 and header.startswith("👀 t xxx") and header.endswith("x…")
    section = block(body, "section")["text"]["text"]
    assert len(section) <= 3000 and section.endswith("…")
    assert section[:-1].replace("&amp;", "") == ""  # no entity cut in half
    fields = field_texts(body)
    assert all(len(f) <= 2000 for f in fields)
    assert fields[1].startswith("*Flags*\nflag-0000, flag-0001") and fields[1].endswith("…")
    assert len(fields) <= 10


def test_a_multi_line_title_is_one_line(slack: Receiver) -> None:
    body = sent_to_slack(slack, event(title="Review\nneeded:   now"))
    assert block(body, "header")["text"]["text"] == "👀 Review needed: now"
    assert body["text"] == "Review needed: now"


# --- the generic webhook ----------------------------------------------------------------------


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_the_webhook_is_signed_canonical_json(hook: Receiver) -> None:
    hook.reply(Reply(202, b""))
    message = event(text="Flip → “quoted” ✅ ü")
    assert notify(message, [WEBHOOK], env(hook=hook), NOW) == [Delivery(f"webhook {URL_ENV}", True)]
    [request] = hook.requests
    assert (request.method, request.path) == ("POST", HOOK_PATH)
    data = request.json()
    assert request.body == json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert data == {
        "event": "approval.requested",
        "id": message.delivery_id,
        "timestamp": "2026-11-28T09:30:00Z",
        "repository": "acme/flags",
        "pullRequest": {"number": 7, "url": URL},
        "title": message.title,
        "text": "Flip → “quoted” ✅ ü",
        "flags": ["checkout-redesign"],
        "environments": ["production"],
        "stage": "technical-review",
        "teams": ["@acme/tech-leads"],
        "actor": "dev",
    }
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Flaggate-Event"] == "approval.requested"
    assert request.headers["X-Flaggate-Delivery"] == message.delivery_id
    sent = request.headers["X-Flaggate-Signature"]
    assert hmac.compare_digest(sent, signature(request.body, SECRET))
    assert not hmac.compare_digest(sent, signature(request.body, SECRET + "x"))
    assert not hmac.compare_digest(sent, signature(request.body + b" ", SECRET))


def test_empty_lists_and_no_pull_request_are_still_sent(hook: Receiver) -> None:
    bare = Event("compliance.direct_push", "Unapproved push", "", "acme/flags", key="push:1")
    later = NOW.astimezone(UTC).replace(tzinfo=None) + timedelta(microseconds=5)
    [result] = notify(bare, [WEBHOOK], env(hook=hook), later)
    assert result.ok
    data = hook.requests[0].json()
    assert data["pullRequest"] is None and data["stage"] is None and data["actor"] is None
    assert data["flags"] == data["environments"] == data["teams"] == []
    assert data["timestamp"] == "2026-11-28T09:30:00.000005Z"  # a naive time is UTC


def test_the_same_occurrence_has_the_same_delivery_id(hook: Receiver) -> None:
    first, retried = event(), event(title="edited", text="edited")
    other = event(key="requested:business-review:abc")
    for message, moment in ((first, NOW), (retried, NOW + timedelta(hours=1)), (other, NOW)):
        assert notify(message, [WEBHOOK], env(hook=hook), moment)[0].ok
    ids = [r.headers["X-Flaggate-Delivery"] for r in hook.requests]
    assert ids[0] == ids[1] != ids[2]
    assert [r.json()["id"] for r in hook.requests] == ids
    assert event(type="approval.approved").delivery_id != first.delivery_id
    assert event(repository="acme/other").delivery_id != first.delivery_id
    # Without a key, the content identifies the occurrence.
    assert event(key="").delivery_id == event(key="").delivery_id
    assert event(key="").delivery_id != event(key="", title="other").delivery_id


# --- routing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slack_events", "hook_events", "kind", "received"),
    [
        (["*"], ["compliance.*"], "stage.escalated", ["slack"]),
        (["*"], ["compliance.*"], "compliance.bypass", ["slack", "webhook"]),
        (["approval.requested"], ["compliance.bypass"], "approval.approved", []),
        (["approval.requested", "stage.expired"], ["*"], "stage.expired", ["slack", "webhook"]),
        (["compliance.*"], ["compliance.bypass"], "compliance.policy_change", ["slack"]),
        (
            ["approval.approved"],
            ["compliance.policy_change"],
            "compliance.policy_change",
            ["webhook"],
        ),
        (["stage.*"], ["approval.*"], "approval.rejected", ["webhook"]),
    ],
)
def test_a_target_gets_only_the_events_it_wants(
    slack: Receiver,
    hook: Receiver,
    slack_events: list[str],
    hook_events: list[str],
    kind: str,
    received: list[str],
) -> None:
    targets = [
        Notification(events=slack_events, slack={"webhookEnv": SLACK_ENV}),  # type: ignore[arg-type]
        Notification(events=hook_events, webhook={"urlEnv": URL_ENV, "secretEnv": SECRET_ENV}),  # type: ignore[arg-type]
    ]
    results = notify(event(type=kind), targets, env(slack, hook))
    assert [r.target.split()[0] for r in results] == received
    assert all(r.ok for r in results)
    assert len(slack.requests) == int("slack" in received)
    assert len(hook.requests) == int("webhook" in received)
    assert [r.headers["X-Flaggate-Event"] for r in hook.requests] == [kind] * len(hook.requests)


def test_unknown_event_names_do_not_load() -> None:
    with pytest.raises(ValueError, match=r"unknown event 'approval\.request'"):
        Notification(events=["approval.request"], slack={})  # type: ignore[arg-type]


# --- failures ---------------------------------------------------------------------------------


def test_retry_after_is_honoured(slack: Receiver) -> None:
    slack.reply(Reply(429, "rate_limited", {"Retry-After": "1"}))
    [result] = notify(event(), [SLACK], env(slack))
    assert result.ok
    first, second = slack.requests
    assert second.at - first.at >= 0.95
    assert first.body == second.body


@dataclass(frozen=True)
class Case:
    """A target that fails; the other target must still get the event."""

    failing: str
    """``slack`` or ``webhook``."""
    reason: str
    """``{origin}``: the failing receiver's origin."""
    replies: tuple[Reply, ...] = ()
    default: Reply = field(default_factory=Reply)
    requests: int = 1
    env: dict[str, str | None] = field(default_factory=dict)
    """Values replacing (None: removing) those pointing at the receivers."""
    closed: bool = False
    """Point the failing target at a port that refuses connections."""


CASES = {
    "slack-unset": Case("slack", f"{SLACK_ENV} is not set", requests=0, env={SLACK_ENV: None}),
    "slack-empty": Case("slack", f"{SLACK_ENV} is not set", requests=0, env={SLACK_ENV: ""}),
    "hook-unset": Case(
        "webhook",
        f"{URL_ENV} and {SECRET_ENV} are not set",
        requests=0,
        env={URL_ENV: None, SECRET_ENV: None},
    ),
    "secret-unset": Case("webhook", f"{SECRET_ENV} is not set", requests=0, env={SECRET_ENV: None}),
    "slack-404": Case("slack", "Slack answered HTTP 404 (no_service)", (Reply(404, "no_service"),)),
    "slack-400": Case(
        "slack", "Slack answered HTTP 400 (invalid_payload)", (Reply(400, "invalid_payload"),)
    ),
    "slack-403": Case(
        "slack", "Slack answered HTTP 403 (invalid_token)", (Reply(403, "invalid_token"),)
    ),
    "slack-410": Case(
        "slack",
        "Slack answered HTTP 410 (channel_is_archived)",
        (Reply(410, "channel_is_archived"),),
    ),
    "slack-echo": Case(
        "slack",
        "Slack answered HTTP 400",
        (Reply(400, f"<html>bad request to {SLACK_PATH}</html>", content_type="text/html"),),
    ),
    "slack-redirect": Case(
        "slack", "Slack answered HTTP 302", (Reply(302, "", {"Location": "http://127.0.0.1:9/"}),)
    ),
    "slack-500": Case(
        "slack",
        "Slack answered HTTP 500 (rollup_error) after 4 attempts",
        default=Reply(500, "rollup_error\n"),
        requests=4,
    ),
    "slack-429": Case(
        "slack",
        "Slack answered HTTP 429 (rate_limited) after 4 attempts",
        default=Reply(429, "rate_limited"),
        requests=4,
    ),
    "slack-503-then-404": Case(
        "slack",
        "Slack answered HTTP 404 (channel_not_found) after 2 attempts",
        (Reply(503, "busy"), Reply(404, "channel_not_found")),
        requests=2,
    ),
    "hook-500": Case(
        "webhook", "{origin} answered HTTP 500 after 4 attempts", default=Reply(500), requests=4
    ),
    "hook-401": Case("webhook", "{origin} answered HTTP 401", (Reply(401, SECRET),)),
    "slack-refused": Case("slack", "cannot reach Slack: ConnectError", closed=True),
    "hook-refused": Case("webhook", "cannot reach {origin}: ConnectError", closed=True),
    "slack-timeout": Case("slack", "Slack timed out after 0.3s", (Reply(delay=1.0),)),
    "hook-timeout": Case("webhook", "{origin} timed out after 0.3s", (Reply(delay=1.0),)),
    "slack-not-a-url": Case(
        "slack", "Slack: not a valid URL", requests=0, env={SLACK_ENV: "hooks.slack.com/xyzzy"}
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_a_failing_target_spares_the_other(
    case: Case, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(http, "BACKOFF_FACTOR", 0.001)
    monkeypatch.setattr(notify_module, "TIMEOUT_SECONDS", 0.3)
    caplog.set_level(logging.DEBUG)
    failing = Receiver(*case.replies, default=case.default)
    working = Receiver()
    with failing, working, closed_port() as refused:
        slack, hook = (failing, working) if case.failing == "slack" else (working, failing)
        values: dict[str, str | None] = {**env(slack, hook), **case.env}
        if case.closed:
            key = SLACK_ENV if case.failing == "slack" else URL_ENV
            values[key] = refused + (SLACK_PATH if case.failing == "slack" else HOOK_PATH)
        origin = refused if case.closed else failing.url
        targets = [SLACK, WEBHOOK] if case.failing == "slack" else [WEBHOOK, SLACK]
        results = notify(event(), targets, {k: v for k, v in values.items() if v is not None})
    name = f"slack {SLACK_ENV}" if case.failing == "slack" else f"webhook {URL_ENV}"
    reason = case.reason.format(origin=origin)
    assert results[0] == Delivery(name, False, reason)
    assert results[1].ok
    assert len(failing.requests) == (0 if case.closed else case.requests)
    assert len(working.requests) == 1
    assert summary_lines(results) == [f"⚠️ notification {name} failed: {reason}"]
    if failing.requests or case.closed:
        assert "***" in caplog.text  # the request was logged, its URL hidden
    for secret in SECRETS:
        assert secret not in caplog.text
        assert secret not in repr(results)


def test_an_unexpected_error_is_a_failed_delivery(
    hook: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(message: Event) -> dict[str, Any]:
        raise RuntimeError(f"cannot render for {hook.url}{SLACK_PATH}\nsecond line")

    monkeypatch.setattr(notify_module, "slack_message", broken)
    results = notify(event(), [SLACK, WEBHOOK], env(hook, hook))
    assert results[0] == Delivery(
        f"slack {SLACK_ENV}", False, "unexpected RuntimeError: cannot render for *** second line"
    )
    assert results[1].ok and len(hook.requests) == 1


def test_secrets_stay_out_of_debug_logs_of_a_delivery(
    slack: Receiver, hook: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    results = notify(event(), [SLACK, WEBHOOK], env(slack, hook))
    assert all(r.ok for r in results)
    posts = [r.getMessage() for r in caplog.records if "HTTP Request: POST" in r.getMessage()]
    assert len(posts) == 2 and all("***" in line for line in posts)
    for secret in SECRETS:
        assert secret not in caplog.text
    # Nothing stays hidden once a delivery is over.
    logging.getLogger("httpx").info("after %s", SLACK_PATH)
    assert caplog.records[-1].getMessage() == f"after {SLACK_PATH}"


def test_no_failure_no_summary() -> None:
    assert summary_lines([Delivery("slack X", True), Delivery("webhook Y", True)]) == []


# --- end to end: approvers and compliance hear about a pull request ------------------------

SETTINGS = f"""apiVersion: flaggate/v1
kind: Settings
metadata:
  name: settings
spec:
  notifications:
    - events: [approval.requested, approval.approved]
      slack: {{webhookEnv: {SLACK_ENV}}}
    - events: ["compliance.*"]
      webhook: {{urlEnv: {URL_ENV}, secretEnv: {SECRET_ENV}}}
"""


def test_approvers_and_compliance_are_notified_once(
    repo: GitRepo, fake: FakeGitHub, slack: Receiver, hook: Receiver
) -> None:
    repo.write("policies/settings.yaml", SETTINGS)
    base = repo.commit("notification settings")
    repo.branch("feature")
    edit(repo, CHECKOUT, PROD_OFF, PROD_ON)
    head = repo.commit("turn on checkout")
    fake.add_pull(OWNER, NAME, NUMBER, "dev", "main", base, "feature", head, title="Checkout on")
    fake.set_commits(OWNER, NAME, NUMBER, [(head, "dev", "dev")])

    def run(event_name: str, action: str) -> ActionRun:
        payload = webhook_payload(event_name, action, NUMBER, ("main", base), ("feature", head))
        result = run_action(repo, fake, event_name, payload, extra_env=env(slack, hook))
        assert result.code == 0, result.stderr
        return result

    def slack_titles() -> list[str]:
        return [r.json()["text"] for r in slack.requests]

    run("pull_request", "opened")
    run("pull_request", "synchronize")
    assert slack_titles() == ["Review needed: technical-review for checkout-redesign in production"]
    fake.add_review(OWNER, NAME, NUMBER, "alice", "APPROVED", head)
    run("pull_request_review", "submitted")
    fake.add_review(OWNER, NAME, NUMBER, "bob", "APPROVED", head)
    run("pull_request_review", "submitted")
    run("pull_request_review", "submitted")
    assert slack_titles() == [
        "Review needed: technical-review for checkout-redesign in production",
        "Review needed: business-review for checkout-redesign in production",
        "Approved: checkout-redesign in production",
    ]
    for request in slack.requests:
        jsonschema.validate(request.json(), BLOCK_KIT)
    teams = field_texts(slack.requests[1].json())[4]
    assert teams == "*Teams*\n@acme/product-owners, @acme/product-managers"
    assert hook.requests == []

    repo.checkout("main")
    repo.git("merge", "--no-ff", "-q", "-m", "Merge feature", "feature")
    sha = repo.git("rev-parse", "HEAD")
    fake.update_pull(OWNER, NAME, NUMBER, merged_by="maintainer", merge_commit_sha=sha)
    run("pull_request", "closed")
    run("pull_request", "closed")
    compliance = [r.json() for r in hook.requests]
    assert [c["event"] for c in compliance] == ["compliance.production_change"]
    assert compliance[0]["title"] == "Production flag change merged: checkout-redesign"
    assert compliance[0]["actor"] == "maintainer"
    assert compliance[0]["text"] == "checkout-redesign: off → on (true)"
    [request] = hook.requests
    assert hmac.compare_digest(
        request.headers["X-Flaggate-Signature"], signature(request.body, SECRET)
    )
    assert len(slack.requests) == 3


def test_a_failed_notification_shows_in_the_summary_and_is_tried_again(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    repo.write("policies/settings.yaml", SETTINGS)
    base = repo.commit("notification settings")
    repo.branch("feature")
    edit(repo, CHECKOUT, PROD_OFF, PROD_ON)
    head = repo.commit("turn on checkout")
    fake.add_pull(OWNER, NAME, NUMBER, "dev", "main", base, "feature", head)
    fake.set_commits(OWNER, NAME, NUMBER, [(head, "dev", "dev")])
    payload = webhook_payload("pull_request", "opened", NUMBER, ("main", base), ("feature", head))
    with Receiver(default=Reply(404, "no_service")) as gone:
        failed = run_action(repo, fake, "pull_request", payload, extra_env=env(gone))
    assert failed.code == 0, failed.stderr
    assert fake.statuses(OWNER, NAME, head)[-1]["state"] == "pending"
    assert (
        f"notification slack {SLACK_ENV} failed: Slack answered HTTP 404 (no_service)"
        in failed.summary
    )
    assert "xyzzySlackToken42" not in failed.summary + failed.stderr + failed.stdout
    with Receiver() as back:
        again = run_action(repo, fake, "pull_request", payload, extra_env=env(back))
        assert again.code == 0
        assert len(back.requests) == 1


# --- which events an evaluation calls for ---------------------------------------------------


def _evaluation(decision: str, stages: tuple[Any, ...] = (), bypass: Any = None) -> Any:
    from flaggate.diff import Change
    from flaggate.policy.result import ChangeResult, Decision, Evaluation

    change = Change(
        "flag",
        "checkout-redesign",
        "production",
        ("toggled",),
        {"enabled": False},
        {"enabled": True},
        100.0,
        "flags/checkout/checkout-redesign.yaml",
    )
    result = ChangeResult(change, "production-changes", True, ("technical-review",), "")
    return Evaluation(
        Decision(decision), "summary", changes=(result,), stages=stages, bypass=bypass
    )


def _stage(action: str | None, status: str = "pending") -> Any:
    from flaggate.policy.result import StageRequirement, StageResult, StageStatus, StageTimeout

    requirement = StageRequirement(
        "technical-review",
        (1, 0),
        1,
        ("tech-lead", "sre"),
        ("r",),
        timeout_hours=4,
        on_timeout=action,
        escalate_to=("sre",),
    )
    timing = StageTimeout(NOW, NOW, action is not None, action)
    return StageResult(requirement, StageStatus(status), (), 1, timing)


@pytest.mark.parametrize(
    ("decision", "action", "types"),
    [
        ("pending", None, ["approval.requested"]),
        ("pending", "escalate", ["approval.requested", "stage.escalated"]),
        ("rejected", "reject", ["approval.rejected", "stage.expired"]),
        ("approved", "auto-approve", ["approval.approved", "stage.expired"]),
    ],
)
def test_an_evaluation_calls_for_its_events(
    decision: str, action: str | None, types: list[str]
) -> None:
    from flaggate.model.policy import RoleBinding
    from flaggate.publish.announce import PullLink, evaluation_events

    status = "approved" if decision == "approved" else "pending"
    roles = {
        "tech-lead": RoleBinding(teams=("acme/tech-leads",)),
        "sre": RoleBinding(users=("oncall",)),
    }
    link = PullLink("acme/flags", 7, "https://github.com/acme/flags/pull/7", "Checkout on", "dev")
    events = evaluation_events(_evaluation(decision, (_stage(action, status),)), roles, link)
    assert [e.type for e in events] == types
    assert len({e.key for e in events}) == len(events)
    for found in events:
        assert found.flags == ("checkout-redesign",) and found.environments == ("production",)
    if action is not None:
        timed = events[-1]
        assert timed.stage == "technical-review"
        assert timed.teams == ("@acme/tech-leads", "@oncall")
