"""The ticket gate and ticket updates with GitHub issues as tickets: key extraction, the
gate's reasons, and `flaggate github` end to end against the fake GitHub over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from flaggate.gates.ticket import PullText, TicketLookup, find_ticket, ticket_gate
from flaggate.integrations.github_issues import field_value
from flaggate.integrations.ticket_updates import (
    PullInfo,
    TicketUpdate,
    apply_updates,
    exposure,
    merge_update,
    safely,
)
from flaggate.integrations.tickets import Move, Ticket, TicketComment, TicketError
from flaggate.model.settings import Tickets
from flaggate.policy.result import GateStatus
from tests.fakes.github import FakeGitHub
from tests.github_env import NAME, OWNER, ActionRun, run_action, webhook_payload
from tests.gitrepo import GitRepo
from tests.test_audit_merge import log_records
from tests.test_github_action import CHECKOUT, NUMBER, PROD_OFF, PROD_ON, edit

JIRA = Tickets(provider="jira")
GITHUB = Tickets(provider="github")


@pytest.mark.parametrize(
    ("settings", "title", "branch", "body", "expected"),
    [
        (JIRA, "FEAT-123: turn on checkout", "", "", ("FEAT-123", "title")),
        (JIRA, "turn on checkout", "feature/FEAT-9-checkout", "", ("FEAT-9", "branch")),
        (JIRA, "turn on checkout", "checkout", "Ticket: OPS-77", ("OPS-77", "body")),
        (JIRA, "FEAT-1 first", "OPS-2", "OPS-3", ("FEAT-1", "title")),
        (JIRA, "no key", "feat-12-lower", "", None),
        (
            Tickets(provider="jira", projects=["FEAT"]),
            "x",
            "feat-12-lower",
            "",
            ("FEAT-12", "branch"),
        ),
        (
            Tickets(provider="jira", projects=["FEAT"]),
            "OPS-1 and FEAT-2",
            "",
            "",
            ("FEAT-2", "title"),
        ),
        (
            JIRA,
            "see `FEAT-1` for the format",
            "",
            "```\nFEAT-2\n```\nreal: OPS-3",
            ("OPS-3", "body"),
        ),
        (JIRA, "UTF-8 handling", "", "", ("UTF-8", "title")),
        (JIRA, "FEAT-0 is not a key", "", "", None),
        (GITHUB, "Turn on checkout (#12)", "", "", ("#12", "title")),
        (GITHUB, "Turn on checkout", "34-turn-on-checkout", "", ("#34", "branch")),
        (GITHUB, "Turn on checkout", "issue-56", "", ("#56", "branch")),
        (GITHUB, "Turn on checkout", "feature/gh-78-x", "", ("#78", "branch")),
        (GITHUB, "x", "main", "Closes #9", ("#9", "body")),
        (GITHUB, "x", "main", "see acme/other#9 and &#35; only", None),
        (GITHUB, "x", "release-2024", "", None),
    ],
)
def test_the_ticket_key_is_found_in_title_then_branch_then_body(
    settings: Tickets, title: str, branch: str, body: str, expected: tuple[str, str] | None
) -> None:
    ref = find_ticket(PullText(title, branch, body), settings)
    assert (None if ref is None else (ref.key, ref.source)) == expected


ISSUE_FORM = """### Feature Flag

checkout-redesign

### Rollout plan

_No response_

### Risk
low
"""


@pytest.mark.parametrize(
    ("body", "name", "value"),
    [
        (ISSUE_FORM, "Feature Flag", "checkout-redesign"),
        (ISSUE_FORM, "Rollout plan", ""),
        (ISSUE_FORM, "risk", "low"),
        ("Why: speed\nFeature Flag: a, b\n", "Feature Flag", "a, b"),
        ("**Feature Flag:** checkout-redesign", "Feature Flag", "checkout-redesign"),
        ("nothing here", "Feature Flag", ""),
    ],
)
def test_github_issue_fields_are_read_from_the_body(body: str, name: str, value: str) -> None:
    assert field_value(body, name) == value


class StaticTracker:
    """A tracker holding one ticket (unit tests of the gate's reasons)."""

    name = "Tracker"

    def __init__(self, ticket: Ticket | None) -> None:
        self.ticket = ticket
        self.fetches = 0

    def fetch(self, key: str, fields: Any = ()) -> Ticket | None:
        self.fetches += 1
        return self.ticket


def _gate(
    settings: Tickets, ticket: Ticket | None, flags: tuple[str, ...] = ("checkout-redesign",)
):  # type: ignore[no-untyped-def]
    from flaggate.diff import Change

    changes = [
        Change(
            "flag",
            flag,
            "production",
            ("toggled",),
            {"enabled": False},
            {"enabled": True},
            100.0,
            "f",
        )
        for flag in flags
    ]
    tracker = StaticTracker(ticket)
    lookup = TicketLookup(find_ticket(PullText("FEAT-1 change", "", ""), settings), tracker)  # type: ignore[arg-type]
    return ticket_gate(changes, settings, lookup), tracker


def _ticket(**kw: Any) -> Ticket:
    values: dict[str, Any] = {
        "key": "FEAT-1",
        "url": "https://jira.example/browse/FEAT-1",
        "title": "New checkout",
        "status": "In Progress",
        "closed": False,
        "fields": {"Feature Flag": "checkout-redesign", "Risk": "low"},
    }
    return Ticket(**(values | kw))


REQUIRED = {"provider": "jira", "requiredFor": ["production"]}


@pytest.mark.parametrize(
    ("settings", "ticket", "status", "message"),
    [
        (REQUIRED, _ticket(), GateStatus.PASSED, "FEAT-1 In Progress: New checkout"),
        (REQUIRED, None, GateStatus.FAILED, "FEAT-1 not found in Tracker"),
        (
            REQUIRED,
            _ticket(status="Done", closed=True),
            GateStatus.FAILED,
            "FEAT-1 is closed (Done)",
        ),
        (
            REQUIRED | {"allowedStatuses": ["In Progress", "Ready for Release"]},
            _ticket(status="Backlog"),
            GateStatus.FAILED,
            "FEAT-1 is in status 'Backlog'; flag changes need one of: "
            "In Progress, Ready for Release",
        ),
        (
            REQUIRED | {"allowedStatuses": ["in progress"]},
            _ticket(),
            GateStatus.PASSED,
            "FEAT-1 In Progress: New checkout",
        ),
        (
            REQUIRED | {"requiredFields": ["Risk", "Rollback plan"]},
            _ticket(),
            GateStatus.FAILED,
            "FEAT-1: required field 'Rollback plan' is empty",
        ),
        (
            REQUIRED | {"flagField": "Feature Flag"},
            _ticket(fields={"Feature Flag": "search-ranking"}),
            GateStatus.FAILED,
            "FEAT-1's 'Feature Flag' names search-ranking, not checkout-redesign",
        ),
        (
            REQUIRED | {"flagField": "Feature Flag"},
            _ticket(fields={"Feature Flag": ""}),
            GateStatus.PASSED,
            "FEAT-1 In Progress: New checkout",
        ),
        (
            REQUIRED,
            _ticket(pull_request=True),
            GateStatus.FAILED,
            "FEAT-1 is a pull request, not an issue",
        ),
    ],
)
def test_the_gate_names_the_exact_reason(
    settings: dict[str, Any], ticket: Ticket | None, status: GateStatus, message: str
) -> None:
    gate, _ = _gate(Tickets(**settings), ticket)
    assert gate is not None
    assert (gate.status, gate.message) == (status, message)
    assert gate.kind == "ticket"


def test_a_ticket_naming_several_flags_covers_each_of_them() -> None:
    settings = Tickets(**REQUIRED | {"flagField": "Feature Flag"})  # type: ignore[arg-type]
    both = _ticket(fields={"Feature Flag": "checkout-redesign, search-ranking"})
    gate, tracker = _gate(settings, both, ("checkout-redesign", "search-ranking"))
    assert gate is not None and gate.status is GateStatus.PASSED
    assert tracker.fetches == 1
    gate, _ = _gate(settings, both, ("checkout-redesign", "onboarding-flow"))
    assert gate is not None and gate.message.endswith("not onboarding-flow")


def test_data_center_rest_v2_is_a_jira_setting() -> None:
    assert Tickets(provider="jira", restApi=2).restApi == 2
    with pytest.raises(ValueError, match="restApi: Jira only"):
        Tickets(provider="github", restApi=2)


def test_no_gate_where_no_ticket_is_required() -> None:
    gate, tracker = _gate(Tickets(provider="jira", requiredFor=["staging"]), _ticket())
    assert gate is None
    assert tracker.fetches == 0


# --- end to end: `flaggate github` with GitHub issues as tickets --------------------------

TICKETS_YAML = """apiVersion: flaggate/v1
kind: Settings
metadata:
  name: settings
spec:
  tickets:
    provider: github
    requiredFor: [production]
    flagField: Feature Flag
    transitions:
      merged: closed
"""
ISSUE = 3


class Pull:
    def __init__(self, repo: GitRepo, fake: FakeGitHub, title: str, body: str = "") -> None:
        repo.write("policies/settings.yaml", TICKETS_YAML)
        self.base = repo.commit("ticket settings")
        repo.branch("feature")
        edit(repo, CHECKOUT, PROD_OFF, PROD_ON)
        self.head = repo.commit("turn on checkout")
        fake.add_pull(
            OWNER,
            NAME,
            NUMBER,
            "dev",
            "main",
            self.base,
            "feature",
            self.head,
            title=title,
            body=body,
        )
        fake.set_commits(OWNER, NAME, NUMBER, [(self.head, "dev", "dev")])
        self.repo, self.fake = repo, fake

    def run(self, event: str = "pull_request", action: str = "synchronize") -> ActionRun:
        payload = webhook_payload(
            event, action, NUMBER, ("main", self.base), ("feature", self.head)
        )
        return run_action(self.repo, self.fake, event, payload)

    def status(self) -> dict[str, Any]:
        return self.fake.statuses(OWNER, NAME, self.head)[-1]

    def issue_comments(self) -> list[str]:
        return [c["body"] for c in self.fake.comments(OWNER, NAME, ISSUE)]

    def issue(self) -> dict[str, Any]:
        return self.fake.issue(OWNER, NAME, ISSUE)


def _issue(
    fake: FakeGitHub, body: str = "### Feature Flag\n\ncheckout-redesign\n", **kw: Any
) -> None:
    fake.add_issue(OWNER, NAME, "New checkout rollout", number=ISSUE, body=body, **kw)


def test_a_pull_request_without_a_ticket_fails_where_one_is_required(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pull = Pull(repo, fake, "Turn on checkout")
    pull.fake.add_review(OWNER, NAME, NUMBER, "alice", "APPROVED", pull.head)
    pull.fake.add_review(OWNER, NAME, NUMBER, "bob", "APPROVED", pull.head)
    result = pull.run("pull_request", "opened")
    assert result.code == 0, result.stderr
    status = pull.status()
    assert status["state"] == "failure"
    assert (
        "no ticket named in the title, branch or body (#123); required for production"
        in (result.outputs["plan"])
    )
    assert "ticket" in status["description"]


@pytest.mark.parametrize(
    ("issue", "reason"),
    [
        ({"state": "closed"}, "#3 is closed (closed)"),
        (
            {"body": "Feature Flag: search-ranking"},
            "#3's 'Feature Flag' names search-ranking, not checkout-redesign",
        ),
        (None, "#3 not found in GitHub issues"),
    ],
)
def test_an_invalid_ticket_fails_with_its_reason(
    repo: GitRepo, fake: FakeGitHub, issue: dict[str, Any] | None, reason: str
) -> None:
    if issue is not None:
        _issue(fake, **issue)
    pull = Pull(repo, fake, f"Turn on checkout (#{ISSUE})")
    fake.add_review(OWNER, NAME, NUMBER, "alice", "APPROVED", pull.head)
    fake.add_review(OWNER, NAME, NUMBER, "bob", "APPROVED", pull.head)
    result = pull.run("pull_request", "opened")
    assert result.code == 0, result.stderr
    assert pull.status()["state"] == "failure"
    assert reason in result.outputs["plan"]
    if issue is not None:
        assert pull.issue_comments() == []


def test_a_pull_request_naming_its_own_number_is_not_a_ticket(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pull = Pull(repo, fake, f"Turn on checkout (#{NUMBER})")
    result = pull.run("pull_request", "opened")
    assert f"#{NUMBER} is a pull request, not an issue" in result.outputs["plan"]
    assert pull.status()["state"] == "failure"


def test_the_ticket_follows_its_change_from_request_to_merge(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    _issue(fake)
    pull = Pull(repo, fake, "Turn on checkout", body=f"Rolls out #{ISSUE}.")
    opened = pull.run("pull_request", "opened")
    assert opened.code == 0, opened.stderr
    assert pull.status()["state"] == "pending"
    [requested] = pull.issue_comments()
    assert requested.startswith("**Feature flag change requested**")
    assert "- checkout-redesign · production: `off → on (true)`" in requested
    assert "- Requested by: `@dev`" in requested
    assert f"(https://github.com/{OWNER}/{NAME}/pull/{NUMBER})" in requested
    assert f"<!-- flaggate {OWNER}/{NAME}#{NUMBER} requested " in requested
    assert [label["name"] for label in pull.issue()["labels"]] == ["flag-change-pending"]

    # a re-run and a sweep-like re-evaluation post nothing again
    assert pull.run().code == 0
    assert len(pull.issue_comments()) == 1

    fake.add_review(OWNER, NAME, NUMBER, "alice", "APPROVED", pull.head)
    fake.add_review(OWNER, NAME, NUMBER, "bob", "APPROVED", pull.head)
    approved = pull.run("pull_request_review", "submitted")
    assert approved.code == 0, approved.stderr
    assert pull.status()["state"] == "success"
    comments = pull.issue_comments()
    assert len(comments) == 2
    assert comments[1].startswith("**Feature flag change approved**")
    assert "- Stage technical-review: `@alice (tech-lead)`" in comments[1]
    assert [label["name"] for label in pull.issue()["labels"]] == ["flag-change-approved"]
    assert pull.run("pull_request_review", "submitted").code == 0
    assert len(pull.issue_comments()) == 2

    repo.checkout("main")
    repo.git("merge", "--no-ff", "-q", "-m", "Merge feature", "feature")
    sha = repo.git("rev-parse", "HEAD")
    fake.update_pull(OWNER, NAME, NUMBER, merged_by="maintainer", merge_commit_sha=sha)
    merged = pull.run("pull_request", "closed")
    assert merged.code == 0, merged.stderr
    comments = pull.issue_comments()
    assert len(comments) == 3
    assert comments[2].startswith("**Feature flag change applied**")
    assert "- checkout-redesign · production: `on (true)`" in comments[2]
    assert f"- Merge commit: `{sha[:12]}`" in comments[2]
    assert "- Merged by: `@maintainer`" in comments[2]
    assert pull.issue()["state"] == "closed"
    records = log_records(repo.root)
    assert {r["context"]["ticketId"] for r in records} == {f"#{ISSUE}"}  # type: ignore[index]
    # the merge run again: nothing more on the ticket
    assert pull.run("pull_request", "closed").code == 0
    assert len(pull.issue_comments()) == 3


def test_a_rejected_change_is_told_to_the_ticket(repo: GitRepo, fake: FakeGitHub) -> None:
    _issue(fake)
    pull = Pull(repo, fake, f"FEAT: turn on checkout (#{ISSUE})")
    fake.add_review(OWNER, NAME, NUMBER, "alice", "CHANGES_REQUESTED", pull.head)
    result = pull.run("pull_request_review", "submitted")
    assert result.code == 0, result.stderr
    assert pull.status()["state"] == "failure"
    comments = pull.issue_comments()
    assert [c.split("\n", 1)[0] for c in comments] == [
        "**Feature flag change requested**",
        "**Feature flag change rejected**",
    ]
    assert [label["name"] for label in pull.issue()["labels"]] == ["flag-change-rejected"]


# --- updates: order, idempotency, resumption ---------------------------------------------


class RecordingTracker:
    """A tracker that records every call; ``fail_on`` makes one method raise once."""

    name = "Tracker"

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.comments: list[str] = []
        self.fail_on = fail_on

    def _call(self, name: str, value: Any) -> None:
        if name == self.fail_on:
            self.fail_on = None
            raise TicketError("unavailable", f"{name} failed")
        self.calls.append((name, value))

    def has_comment(self, key: str, marker: str) -> bool:
        self.calls.append(("has_comment", marker.split(" ")[2]))
        return any(marker in body for body in self.comments)

    def comment(self, key: str, comment: TicketComment) -> None:
        self._call("comment", comment.heading)
        self.comments.append(f"{comment.heading}\n{comment.marker}")

    def relabel(self, key: str, add: Any, remove: Any) -> None:
        self._call("relabel", (tuple(add), tuple(remove)))

    def move(self, key: str, name: str, dry_run: bool = False) -> Move:
        self._call("transition", name)
        return Move("moved", name, "Open")

    def set_fields(self, key: str, values: Any) -> None:
        self._call("set_fields", dict(values))


def _applied(settings: Tickets) -> TicketUpdate:
    from datetime import UTC, datetime

    from flaggate.diff import Change

    on = {
        "enabled": True,
        "variant": None,
        "rollout": {"on": 25.0, "off": 75.0},
        "targeting": None,
        "variants": {"off": False, "on": True},
    }
    changes = [
        Change(
            "flag",
            "checkout-redesign",
            "staging",
            ("rollout",),
            None,
            {**on, "rollout": {"on": 100.0}},
            100.0,
            "f",
        ),
        Change("flag", "checkout-redesign", "production", ("rollout",), None, on, 25.0, "f"),
    ]
    pull = PullInfo("acme/flags", 7, "https://github.com/acme/flags/pull/7", "dev")
    return merge_update(
        changes,
        settings,
        pull,
        "a" * 40,
        datetime(2026, 11, 28, tzinfo=UTC),
        "maintainer",
        ["development", "staging", "production"],
    )


def test_the_merge_update_records_environments_and_rollout() -> None:
    settings = Tickets(
        provider="jira",
        environmentField="Target Environment",
        rolloutField="Rollout Percentage",
        transitions={"merged": "Done"},  # type: ignore[arg-type]
    )
    update = _applied(settings)
    assert update.fields == {
        "Target Environment": "production",
        "Rollout Percentage": 25.0,
    }
    assert update.transition == "Done"
    assert update.marker == "flaggate acme/flags#7 applied aaaaaaaaaaaa"
    assert ("Merge commit", "aaaaaaaaaaaa") in update.comment.rows
    assert ("checkout-redesign · production", "on 25% / off 75%") in update.comment.rows


@pytest.mark.parametrize(
    ("state", "percent"),
    [
        (None, 0.0),
        ({"enabled": False, "variant": None, "rollout": None, "variants": {"off": False}}, 0.0),
        ({"enabled": True, "variant": "on", "rollout": None, "variants": {"on": True}}, 100.0),
        ({"enabled": True, "variant": "off", "rollout": None, "variants": {"off": False}}, 0.0),
        (
            {"enabled": True, "variant": None, "rollout": {"a": 30.0, "b": 70.0}, "variants": {}},
            100.0,
        ),
        (
            {
                "enabled": True,
                "variant": None,
                "rollout": {"on": 12.5, "off": 87.5},
                "variants": {},
            },
            12.5,
        ),
    ],
)
def test_the_rollout_percentage_is_what_is_not_off(state: Any, percent: float) -> None:
    assert exposure(state) == percent


def test_an_update_writes_labels_transition_fields_then_the_comment_once() -> None:
    settings = Tickets(provider="jira", rolloutField="Rollout", transitions={"merged": "Done"})  # type: ignore[arg-type]
    update = _applied(settings)
    tracker = RecordingTracker()
    made, _ = apply_updates(tracker, "FEAT-1", [update])  # type: ignore[arg-type]
    assert made == [update.key]
    assert [name for name, _ in tracker.calls] == [
        "has_comment",
        "relabel",
        "transition",
        "set_fields",
        "comment",
    ]
    tracker.calls.clear()
    assert apply_updates(tracker, "FEAT-1", [update])[0] == [update.key]  # type: ignore[arg-type]
    assert tracker.calls == [("has_comment", "applied")]
    tracker.calls.clear()
    # a key remembered in the pull request's state costs no call at all
    assert apply_updates(tracker, "FEAT-1", [update], done=[update.key]) == ([], [])  # type: ignore[arg-type]
    assert tracker.calls == []


def test_a_failed_update_is_completed_by_the_next_run() -> None:
    settings = Tickets(provider="jira", transitions={"merged": "Done"})  # type: ignore[arg-type]
    update = _applied(settings)
    tracker = RecordingTracker(fail_on="transition")
    made, lines, warning = safely(tracker, "FEAT-1", [update])  # type: ignore[arg-type]
    assert (made, warning) == ([], "Tracker FEAT-1 not updated: transition failed")
    assert tracker.comments == []
    made, lines, warning = safely(tracker, "FEAT-1", [update])  # type: ignore[arg-type]
    assert warning is None and made == [update.key]
    assert lines == ["FEAT-1 moved to Done", "told FEAT-1 the change was applied"]
    assert len(tracker.comments) == 1


def test_plan_finds_the_ticket_offline_and_fails_without_one(repo: GitRepo) -> None:
    repo.write("policies/settings.yaml", TICKETS_YAML)
    repo.commit("ticket settings")
    edit(repo, CHECKOUT, PROD_OFF, PROD_ON)
    approvals = ("--approve", "alice:tech-lead", "--approve", "bob:product-owner")
    missing = repo.flaggate("plan", *approvals, "--format", "json")
    assert missing.code == 1
    [gate] = [g for g in missing.json()["gates"] if g["kind"] == "ticket"]
    assert gate["status"] == "failed"
    named = repo.flaggate("plan", *approvals, "--branch", "12-checkout", "--format", "json")
    [gate] = [g for g in named.json()["gates"] if g["kind"] == "ticket"]
    assert (gate["name"], gate["status"]) == ("ticket #12", "pending")
    assert "from the branch" in gate["message"]
    assert named.code == 1


def test_the_example_settings_load_with_tickets_and_notifications_uncommented(
    repo: GitRepo,
) -> None:
    path = repo.root / "policies/settings.yaml"
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  # tickets:"))
    uncommented = [
        line.replace("  # ", "  ", 1)
        if i >= start and not line.startswith(("  # Notif", "  # Publishing"))
        else line
        for i, line in enumerate(lines)
    ]
    path.write_text("\n".join(uncommented) + "\n")
    result = repo.flaggate("validate")
    assert result.code == 0, result.stderr
    from flaggate.model.load import load_policies

    files = {f"policies/{f.name}": f.read_bytes() for f in (repo.root / "policies").iterdir()}
    settings = load_policies(files).settings.spec
    assert settings.tickets is not None and settings.tickets.requiredFor == (
        "staging",
        "production",
    )
    assert [n.events for n in settings.notifications] == [
        ("approval.requested", "stage.escalated"),
        ("compliance.*",),
    ]
    assert settings.publish is not None and settings.publish.branch == "flaggate-dist"
    assert settings.publish.environments == ("staging", "production")
