"""Notifications to Slack incoming webhooks and signed JSON webhooks, captured by a loopback
HTTP receiver; and `flaggate github` notifying approvers and compliance end to end."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import httpx_retries.retry
import jsonschema
import pytest

from flaggate.integrations import http
from flaggate.integrations import notify as notify_module
from flaggate.integrations.notify import Delivery, Event, notify, slack_message, summary_lines
from flaggate.model.settings import NOTIFICATION_EVENTS, Notification
from tests.fakes.github import FakeGitHub
from tests.github_env import NAME, OWNER, ActionRun, run_action, webhook_payload
from tests.gitrepo import GitRepo
from tests.prometheus import closed_port, silent_port
from tests.test_audit_sinks import Receiver
from tests.test_github_action import CHECKOUT, NUMBER, PROD_OFF, PROD_ON, edit

SLACK_ENV, URL_ENV, SECRET_ENV = "SLACK_T0P_WEBHOOK", "HOOK_URL", "HOOK_SECRET"
SECRET = "whsec-9f8e7d6c5b4a"
SLACK = Notification(events=["*"], slack={"webhookEnv": SLACK_ENV})  # type: ignore[arg-type]
WEBHOOK = Notification(events=["*"], webhook={"urlEnv": URL_ENV, "secretEnv": SECRET_ENV})  # type: ignore[arg-type]
NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)

# Slack Block Kit's limits for the blocks flaggate sends (api.slack.com/reference/block-kit).
TEXT = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {
        "type": {"enum": ["plain_text", "mrkdwn"]},
        "text": {"type": "string", "minLength": 1},
    },
}
BLOCK_KIT = {
    "type": "object",
    "required": ["text", "blocks"],
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "blocks": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "oneOf": [
                    {
                        "properties": {
                            "type": {"const": "header"},
                            "text": {
                                "allOf": [TEXT],
                                "properties": {
                                    "type": {"const": "plain_text"},
                                    "text": {"maxLength": 150},
                                },
                            },
                        },
                        "required": ["type", "text"],
                        "additionalProperties": False,
                    },
                    {
                        "properties": {
                            "type": {"const": "section"},
                            "text": {"allOf": [TEXT], "properties": {"text": {"maxLength": 3000}}},
                            "fields": {
                                "type": "array",
                                "maxItems": 10,
                                "items": {
                                    "allOf": [TEXT],
                                    "properties": {"text": {"maxLength": 2000}},
                                },
                            },
                        },
                        "required": ["type"],
                        "anyOf": [{"required": ["text"]}, {"required": ["fields"]}],
                        "additionalProperties": False,
                    },
                    {
                        "properties": {
                            "type": {"const": "context"},
                            "elements": {"type": "array", "maxItems": 10, "items": TEXT},
                        },
                        "required": ["type", "elements"],
                        "additionalProperties": False,
                    },
                    {
                        "properties": {
                            "type": {"const": "actions"},
                            "elements": {
                                "type": "array",
                                "maxItems": 25,
                                "items": {
                                    "type": "object",
                                    "required": ["type", "text", "url"],
                                    "properties": {
                                        "type": {"const": "button"},
                                        "text": {
                                            "allOf": [TEXT],
                                            "properties": {
                                                "type": {"const": "plain_text"},
                                                "text": {"maxLength": 75},
                                            },
                                        },
                                        "url": {"type": "string", "maxLength": 3000},
                                    },
                                },
                            },
                        },
                        "required": ["type", "elements"],
                        "additionalProperties": False,
                    },
                ]
            },
        },
    },
}


def event(**kw: Any) -> Event:
    values: dict[str, Any] = {
        "type": "approval.requested",
        "title": "Review needed: technical-review for checkout-redesign in production",
        "text": "Turn on checkout\n1 more approval(s) needed from tech-lead.",
        "repository": "acme/flags",
        "pull_request": 7,
        "url": "https://github.com/acme/flags/pull/7",
        "flags": ("checkout-redesign",),
        "environments": ("production",),
        "stage": "technical-review",
        "teams": ("@acme/tech-leads",),
        "actor": "dev",
        "key": "requested:technical-review:abc",
    }
    return Event(**(values | kw))


def env(receiver: Receiver) -> dict[str, str]:
    return {SLACK_ENV: receiver.url, URL_ENV: receiver.url, SECRET_ENV: SECRET}


@pytest.mark.parametrize("kind", NOTIFICATION_EVENTS)
def test_slack_messages_follow_block_kit(kind: str) -> None:
    message = slack_message(event(type=kind))
    jsonschema.validate(message, BLOCK_KIT)
    header = message["blocks"][0]["text"]["text"]
    assert header.endswith("Review needed: technical-review for checkout-redesign in production")
    expected = {"approval.requested": "👀", "approval.approved": "✅", "approval.rejected": "❌"}
    emoji = expected.get(kind, "⏰" if kind.startswith("stage.") else "🚨")
    assert header.startswith(emoji)
    fields = [f["text"] for f in message["blocks"][2]["fields"]]
    assert fields == [
        "*Pull request*\n<https://github.com/acme/flags/pull/7|#7>",
        "*Flags*\ncheckout-redesign",
        "*Environments*\nproduction",
        "*Teams*\n@acme/tech-leads",
        "*Stage*\ntechnical-review",
        "*Actor*\ndev",
    ]
    assert message["blocks"][-1]["elements"][0]["url"] == "https://github.com/acme/flags/pull/7"
    assert message["text"] == event().title


def test_slack_text_is_escaped_and_cut_to_its_limits() -> None:
    long = event(title="x" * 400, text="<script> & " + "y" * 5000, stage=None, teams=(), actor=None)
    message = slack_message(long)
    jsonschema.validate(message, BLOCK_KIT)
    assert len(message["blocks"][0]["text"]["text"]) == 150
    section = message["blocks"][1]["text"]["text"]
    assert section.startswith("&lt;script&gt; &amp; ") and len(section) == 3000
    assert [f["text"].split("\n")[0] for f in message["blocks"][2]["fields"]] == [
        "*Pull request*",
        "*Flags*",
        "*Environments*",
    ]


def test_a_message_without_a_link_has_no_button() -> None:
    message = slack_message(event(url=None, pull_request=None))
    jsonschema.validate(message, BLOCK_KIT)
    assert [b["type"] for b in message["blocks"]] == ["header", "section", "section", "context"]


def test_slack_receives_the_message() -> None:
    with Receiver([(200, {})]) as receiver:
        [result] = notify(event(), [SLACK], env(receiver))
    assert result == Delivery(f"slack {SLACK_ENV}", True)
    [delivery] = receiver.deliveries
    assert json.loads(delivery.body) == slack_message(event())
    assert delivery.headers["Content-Type"] == "application/json"


def test_the_webhook_is_signed_canonical_json() -> None:
    with Receiver([(202, {})]) as receiver:
        [result] = notify(event(), [WEBHOOK], env(receiver), NOW)
    assert result.ok
    [delivery] = receiver.deliveries
    expected = "sha256=" + hmac.new(SECRET.encode(), delivery.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(delivery.headers["X-Flaggate-Signature"], expected)
    wrong = "sha256=" + hmac.new(b"other", delivery.body, hashlib.sha256).hexdigest()
    assert not hmac.compare_digest(delivery.headers["X-Flaggate-Signature"], wrong)
    data = json.loads(delivery.body)
    assert delivery.body == json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    assert data == {
        "event": "approval.requested",
        "id": event().delivery_id,
        "timestamp": "2026-11-28T09:30:00Z",
        "repository": "acme/flags",
        "pullRequest": {"number": 7, "url": "https://github.com/acme/flags/pull/7"},
        "title": event().title,
        "text": event().text,
        "flags": ["checkout-redesign"],
        "environments": ["production"],
        "stage": "technical-review",
        "teams": ["@acme/tech-leads"],
        "actor": "dev",
    }
    assert delivery.headers["X-Flaggate-Event"] == "approval.requested"
    assert delivery.headers["X-Flaggate-Delivery"] == event().delivery_id
    assert event().delivery_id == event(title="other").delivery_id
    assert event().delivery_id != event(key="other").delivery_id


@pytest.mark.parametrize(
    ("events", "kind", "wanted"),
    [
        (["*"], "stage.escalated", True),
        (["compliance.*"], "compliance.bypass", True),
        (["compliance.*"], "approval.requested", False),
        (["approval.requested", "stage.escalated"], "stage.escalated", True),
        (["approval.requested"], "approval.approved", False),
    ],
)
def test_a_target_gets_only_the_events_it_wants(events: list[str], kind: str, wanted: bool) -> None:
    target = Notification(events=events, slack={"webhookEnv": SLACK_ENV})  # type: ignore[arg-type]
    with Receiver([(200, {})]) as receiver:
        results = notify(event(type=kind), [target], env(receiver))
    assert len(receiver.deliveries) == len(results) == int(wanted)


def test_unknown_event_names_do_not_load() -> None:
    with pytest.raises(ValueError, match=r"unknown event 'approval\.request'"):
        Notification(events=["approval.request"], slack={})  # type: ignore[arg-type]


def test_retry_after_is_honoured() -> None:
    with Receiver([(429, {"Retry-After": "1"}), (200, {})]) as receiver:
        started = time.monotonic()
        [result] = notify(event(), [SLACK], env(receiver))
    assert result.ok
    assert len(receiver.deliveries) == 2
    assert time.monotonic() - started >= 0.9


def test_failures_are_reported_never_raised_and_spare_the_other_targets(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(httpx_retries.retry.time, "sleep", lambda seconds: None)
    caplog.set_level(logging.DEBUG)
    with Receiver([(500, {})]) as failing, Receiver([(200, {})]) as working:
        slack_url = failing.url + "/T000/B000/" + "s3cretpath"
        results = notify(
            event(),
            [SLACK, WEBHOOK],
            {SLACK_ENV: slack_url, URL_ENV: working.url, SECRET_ENV: SECRET},
        )
    assert [r.ok for r in results] == [False, True]
    assert results[0].reason == 'Slack answered HTTP 500 ({"status": 500})'
    assert len(failing.deliveries) == http.ATTEMPTS
    assert len(working.deliveries) == 1
    for secret in ("s3cretpath", SECRET):
        assert secret not in caplog.text and secret not in str(results)
    assert summary_lines(results) == [
        f'⚠️ notification slack {SLACK_ENV} failed: Slack answered HTTP 500 ({{"status": 500}})'
    ]


def test_slack_errors_carry_slacks_reason() -> None:
    with Receiver([(404, {})]) as receiver:
        [result] = notify(event(), [SLACK], env(receiver))
    assert not result.ok
    assert result.reason.startswith("Slack answered HTTP 404")
    assert len(receiver.deliveries) == 1


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({}, f"{SLACK_ENV} is not set"),
        ({SLACK_ENV: "not a url"}, "Slack: not a valid URL"),
    ],
)
def test_unset_or_broken_slack_urls(values: dict[str, str], reason: str) -> None:
    [result] = notify(event(), [SLACK], values)
    assert result == Delivery(f"slack {SLACK_ENV}", False, reason)


def test_webhook_settings_missing() -> None:
    [result] = notify(event(), [WEBHOOK], {})
    assert result.reason == f"{URL_ENV} and {SECRET_ENV} are not set"


def test_unreachable_and_silent_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpx_retries.retry.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(notify_module, "TIMEOUT_SECONDS", 0.5)
    with closed_port() as url:
        [refused] = notify(event(), [SLACK], {SLACK_ENV: url + "/T/B/s3cret"})
    assert refused.reason.startswith("cannot reach Slack:")
    with silent_port() as url:
        [silent] = notify(event(), [SLACK], {SLACK_ENV: url + "/T/B/s3cret"})
    assert silent.reason == "Slack timed out after 0.5s"
    assert "s3cret" not in refused.reason + silent.reason


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


def test_approvers_and_compliance_are_notified_once(repo: GitRepo, fake: FakeGitHub) -> None:
    repo.write("policies/settings.yaml", SETTINGS)
    base = repo.commit("notification settings")
    repo.branch("feature")
    edit(repo, CHECKOUT, PROD_OFF, PROD_ON)
    head = repo.commit("turn on checkout")
    fake.add_pull(OWNER, NAME, NUMBER, "dev", "main", base, "feature", head, title="Checkout on")
    fake.set_commits(OWNER, NAME, NUMBER, [(head, "dev", "dev")])

    def run(receiver: Receiver, event_name: str, action: str) -> ActionRun:
        payload = webhook_payload(event_name, action, NUMBER, ("main", base), ("feature", head))
        result = run_action(repo, fake, event_name, payload, extra_env=env(receiver))
        assert result.code == 0, result.stderr
        return result

    def slack_titles(receiver: Receiver) -> list[str]:
        return [
            json.loads(d.body)["text"]
            for d in receiver.deliveries
            if "blocks" in json.loads(d.body)
        ]

    with Receiver([(200, {})]) as receiver:
        run(receiver, "pull_request", "opened")
        run(receiver, "pull_request", "synchronize")
        assert slack_titles(receiver) == [
            "Review needed: technical-review for checkout-redesign in production"
        ]
        fake.add_review(OWNER, NAME, NUMBER, "alice", "APPROVED", head)
        run(receiver, "pull_request_review", "submitted")
        fake.add_review(OWNER, NAME, NUMBER, "bob", "APPROVED", head)
        run(receiver, "pull_request_review", "submitted")
        run(receiver, "pull_request_review", "submitted")
        assert slack_titles(receiver) == [
            "Review needed: technical-review for checkout-redesign in production",
            "Review needed: business-review for checkout-redesign in production",
            "Approved: checkout-redesign in production",
        ]
        teams = json.loads(receiver.deliveries[1].body)["blocks"][2]["fields"][3]["text"]
        assert teams == "*Teams*\n@acme/product-owners, @acme/product-managers"

        repo.checkout("main")
        repo.git("merge", "--no-ff", "-q", "-m", "Merge feature", "feature")
        sha = repo.git("rev-parse", "HEAD")
        fake.update_pull(OWNER, NAME, NUMBER, merged_by="maintainer", merge_commit_sha=sha)
        run(receiver, "pull_request", "closed")
        run(receiver, "pull_request", "closed")
        compliance = [
            json.loads(d.body) for d in receiver.deliveries if "X-Flaggate-Event" in d.headers
        ]
    assert [c["event"] for c in compliance] == ["compliance.production_change"]
    assert compliance[0]["title"] == "Production flag change merged: checkout-redesign"
    assert compliance[0]["actor"] == "maintainer"
    assert compliance[0]["text"] == "checkout-redesign: off → on (true)"


def test_a_failed_notification_shows_in_the_summary_and_is_tried_again(
    repo: GitRepo, fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("policies/settings.yaml", SETTINGS)
    base = repo.commit("notification settings")
    repo.branch("feature")
    edit(repo, CHECKOUT, PROD_OFF, PROD_ON)
    head = repo.commit("turn on checkout")
    fake.add_pull(OWNER, NAME, NUMBER, "dev", "main", base, "feature", head)
    fake.set_commits(OWNER, NAME, NUMBER, [(head, "dev", "dev")])
    payload = webhook_payload("pull_request", "opened", NUMBER, ("main", base), ("feature", head))
    with Receiver([(404, {})]) as receiver:
        failed = run_action(repo, fake, "pull_request", payload, extra_env=env(receiver))
    assert failed.code == 0, failed.stderr
    assert fake.statuses(OWNER, NAME, head)[-1]["state"] == "pending"
    assert f"notification slack {SLACK_ENV} failed: Slack answered HTTP 404" in failed.summary
    with Receiver([(200, {})]) as receiver:
        again = run_action(repo, fake, "pull_request", payload, extra_env=env(receiver))
        assert again.code == 0
        assert len(receiver.deliveries) == 1


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
