"""Jira tickets through `flaggate github`: the fake GitHub and the fake Jira, both over real
HTTP on loopback, a real git repository and the CLI as a subprocess."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from flaggate.integrations.jira import wiki_comment
from flaggate.integrations.tickets import TicketComment
from tests.fakes.github import FakeGitHub
from tests.fakes.jira import FakeJira, adf_problems, adf_text
from tests.github_env import NAME, OWNER, ActionRun, run_action, webhook_payload
from tests.gitrepo import GitRepo
from tests.test_audit_merge import log_records
from tests.test_github_action import CHECKOUT, NUMBER, PROD_OFF, PROD_ON, edit

SETTINGS = """apiVersion: flaggate/v1
kind: Settings
metadata:
  name: settings
spec:
  tickets:
    provider: jira
    url: {url}
    requiredFor: [production]
    allowedStatuses: [In Progress, In Review]
    requiredFields: [Flag Owner]
    flagField: Feature Flag
    environmentField: Target Environment
    rolloutField: Rollout Percentage
    transitions: {{approved: QA Review, merged: Done}}
"""


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira() as server:
        yield server
        assert server.errors == []


class Pull:
    def __init__(
        self,
        repo: GitRepo,
        fake: FakeGitHub,
        jira: FakeJira,
        title: str = "FEAT-1: checkout",
        settings: str = SETTINGS,
    ) -> None:
        repo.write("policies/settings.yaml", settings.format(url=jira.url))
        self.base = repo.commit("ticket settings")
        repo.branch("feature")
        edit(repo, CHECKOUT, PROD_OFF, PROD_ON)
        self.head = repo.commit("turn on checkout")
        fake.add_pull(
            OWNER, NAME, NUMBER, "dev", "main", self.base, "feature", self.head, title=title
        )
        fake.set_commits(OWNER, NAME, NUMBER, [(self.head, "dev", "dev")])
        self.repo, self.fake, self.jira = repo, fake, jira
        self.env = dict(jira.env)

    def run(self, event: str = "pull_request", action: str = "synchronize") -> ActionRun:
        payload = webhook_payload(
            event, action, NUMBER, ("main", self.base), ("feature", self.head)
        )
        return run_action(self.repo, self.fake, event, payload, extra_env=self.env)

    def approve(self) -> None:
        self.fake.add_review(OWNER, NAME, NUMBER, "alice", "APPROVED", self.head)
        self.fake.add_review(OWNER, NAME, NUMBER, "bob", "APPROVED", self.head)

    def status(self) -> dict[str, Any]:
        return self.fake.statuses(OWNER, NAME, self.head)[-1]

    def texts(self, key: str = "FEAT-1") -> list[str]:
        return [adf_text(body) for body in self.jira.comments(key)]


def ticket(jira: FakeJira, key: str = "FEAT-1", **kw: Any) -> None:
    fields = {"Feature Flag": "checkout-redesign", "Flag Owner": "Olga Owner"}
    jira.add_issue(key, "New checkout", fields=fields | kw.pop("fields", {}), **kw)


def test_a_jira_ticket_follows_its_change_from_request_to_merge(
    repo: GitRepo, fake: FakeGitHub, jira: FakeJira
) -> None:
    ticket(jira)
    pull = Pull(repo, fake, jira)
    opened = pull.run("pull_request", "opened")
    assert opened.code == 0, opened.stderr
    assert pull.status()["state"] == "pending"
    [requested] = pull.texts()
    assert requested.startswith("Feature flag change requested")
    assert "checkout-redesign · production: off → on (true)" in requested
    assert f"flaggate {OWNER}/{NAME}#{NUMBER} requested " in requested
    for body in jira.comments("FEAT-1"):
        assert adf_problems(body) == []
    assert jira.issue("FEAT-1").labels == ["flag-change-pending"]
    assert jira.count("GET", "/rest/api/3/field$") == 1

    jira.reset_calls()
    again = pull.run()
    assert again.code == 0, again.stderr
    assert len(pull.texts()) == 1
    # remembered in the pull request's state: no comment listing, no write
    assert jira.count("GET", "/comment") == 0
    assert jira.count("POST") == jira.count("PUT") == 0

    pull.approve()
    approved = pull.run("pull_request_review", "submitted")
    assert approved.code == 0, approved.stderr
    assert pull.status()["state"] == "success"
    texts = pull.texts()
    assert len(texts) == 2 and texts[1].startswith("Feature flag change approved")
    assert "Stage technical-review: @alice (tech-lead)" in texts[1]
    assert jira.issue("FEAT-1").labels == ["flag-change-approved"]
    assert jira.issue("FEAT-1").status == "In Review"

    repo.checkout("main")
    repo.git("merge", "--no-ff", "-q", "-m", "Merge feature", "feature")
    sha = repo.git("rev-parse", "HEAD")
    fake.update_pull(OWNER, NAME, NUMBER, merged_by="maintainer", merge_commit_sha=sha)
    merged = pull.run("pull_request", "closed")
    assert merged.code == 0, merged.stderr
    texts = pull.texts()
    assert len(texts) == 3 and texts[2].startswith("Feature flag change applied")
    assert "checkout-redesign · production: on (true)" in texts[2]
    assert f"Merge commit: {sha[:12]}" in texts[2]
    issue = jira.issue("FEAT-1")
    assert issue.status == "Done"
    assert jira.value("FEAT-1", "Rollout Percentage") == 100
    assert jira.value("FEAT-1", "Target Environment")["value"] == "production"  # type: ignore[index]
    assert {r["context"]["ticketId"] for r in log_records(repo.root)} == {"FEAT-1"}  # type: ignore[index]

    assert pull.run("pull_request", "closed").code == 0
    assert len(pull.texts()) == 3


@pytest.mark.parametrize(
    ("issue", "reason"),
    [
        (None, "FEAT-1 not found in Jira"),
        ({"status": "Done", "category": "done"}, "FEAT-1 is closed (Done)"),
        ({"status": "Backlog", "category": "new"}, "FEAT-1 is in status 'Backlog'"),
        ({"fields": {"Flag Owner": None}}, "FEAT-1: required field 'Flag Owner' is empty"),
        (
            {"fields": {"Feature Flag": "search-ranking"}},
            "FEAT-1's 'Feature Flag' names search-ranking, not checkout-redesign",
        ),
    ],
)
def test_an_invalid_jira_ticket_fails_the_gate(
    repo: GitRepo,
    fake: FakeGitHub,
    jira: FakeJira,
    issue: dict[str, Any] | None,
    reason: str,
) -> None:
    if issue is not None:
        ticket(jira, **issue)
    pull = Pull(repo, fake, jira)
    pull.approve()
    result = pull.run("pull_request", "opened")
    assert result.code == 0, result.stderr
    assert pull.status()["state"] == "failure"
    assert reason in result.outputs["plan"]
    if issue is not None:
        assert pull.texts() == []


def test_no_ticket_key_fails_the_gate(repo: GitRepo, fake: FakeGitHub, jira: FakeJira) -> None:
    pull = Pull(repo, fake, jira, title="Turn on checkout")
    pull.approve()
    result = pull.run("pull_request", "opened")
    assert pull.status()["state"] == "failure"
    assert "no ticket named in the title, branch or body (FEAT-123)" in result.outputs["plan"]
    assert jira.requests == []


@pytest.mark.parametrize(
    ("env", "fault", "reason"),
    [
        ({"JIRA_API_TOKEN": "wr0ng-t0ken-value"}, None, "Jira rejected the credentials"),
        ({"JIRA_API_TOKEN": ""}, None, "JIRA_API_TOKEN"),
        ({}, 503, "503"),
    ],
)
def test_jira_trouble_is_an_error_never_a_pass(
    repo: GitRepo,
    fake: FakeGitHub,
    jira: FakeJira,
    env: dict[str, str],
    fault: int | None,
    reason: str,
) -> None:
    ticket(jira)
    pull = Pull(repo, fake, jira)
    pull.env.update(env)
    if fault is not None:
        jira.fail(fault, times=None)
    pull.approve()
    result = pull.run("pull_request", "opened")
    assert result.code == 0, result.stderr
    status = pull.status()
    assert status["state"] == "error"
    assert reason in result.outputs["plan"]
    output = (
        result.stdout + result.stderr + result.summary + str(fake.comments(OWNER, NAME, NUMBER))
    )
    for secret in ("wr0ng-t0ken-value", jira.token):
        assert secret not in output


def test_plan_online_looks_the_ticket_up_in_jira(repo: GitRepo, jira: FakeJira) -> None:
    repo.write("policies/settings.yaml", SETTINGS.format(url=jira.url))
    repo.commit("ticket settings")
    edit(repo, CHECKOUT, PROD_OFF, PROD_ON)
    ticket(jira, fields={"Feature Flag": "search-ranking"})
    args = ("plan", "--title", "FEAT-1: checkout", "--format", "json")
    offline = repo.flaggate(*args)
    [gate] = [g for g in offline.json()["gates"] if g["kind"] == "ticket"]
    assert gate["status"] == "pending"
    assert jira.requests == []
    online = repo.flaggate(*args, "--online", env=jira.env)
    [gate] = [g for g in online.json()["gates"] if g["kind"] == "ticket"]
    assert gate["status"] == "failed"
    assert gate["message"] == "FEAT-1's 'Feature Flag' names search-ranking, not checkout-redesign"
    assert online.code == 1


@pytest.fixture
def data_center() -> Iterator[FakeJira]:
    with FakeJira(rest_api=2) as server:
        yield server
        assert server.errors == []


def test_jira_data_center_speaks_rest_v2_with_wiki_markup(
    repo: GitRepo, fake: FakeGitHub, data_center: FakeJira
) -> None:
    jira = data_center
    ticket(jira)
    v2 = SETTINGS.replace("provider: jira", "provider: jira\n    restApi: 2")
    pull = Pull(repo, fake, jira, settings=v2)
    pull.env = {"JIRA_API_TOKEN": jira.token}  # a personal access token, sent as a bearer token
    result = pull.run("pull_request", "opened")
    assert result.code == 0, result.stderr
    [requested] = jira.comments("FEAT-1")
    assert isinstance(requested, str)
    assert requested.startswith("*Feature flag change requested*\n")
    assert "* checkout\\-redesign · production: {{off → on (true)}}" in requested
    assert f"[Pull request acme/flags\\#{NUMBER}|https://github.com/acme/flags/pull/{NUMBER}]" in (
        requested
    )
    assert all(r.path.startswith("/rest/api/2/") for r in jira.requests)
    assert all(r.headers["authorization"].startswith("Bearer ") for r in jira.requests)
    assert pull.run().code == 0
    assert len(jira.comments("FEAT-1")) == 1
    pull.approve()
    assert pull.run("pull_request_review", "submitted").code == 0
    assert pull.status()["state"] == "success"
    approved = jira.comments("FEAT-1")[1]
    assert approved.startswith("*Feature flag change approved*\n")
    assert "* Stage technical\\-review: {{@alice (tech\\-lead)}}" in approved
    assert jira.issue("FEAT-1").status == "In Review"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("plain words", "plain words"),
        ("{{code}} [link|x] *bold* _it_ -strike- +under+ ^sup^ ~sub~ ??cite?? !img!", None),
        ("back\\slash | pipe # hash", None),
    ],
)
def test_wiki_markup_escapes_what_would_format(value: str, shown: str | None) -> None:
    body = wiki_comment(TicketComment("Heading", (("Value", value),), None, "m"))
    row = body.split("\n")[1]
    assert row.startswith("* Value: {{") and row.endswith("}}")
    inner = row[len("* Value: {{") : -2]
    if shown is not None:
        assert inner == shown
    # every special character is preceded by a backslash, and removing them gives the value
    assert re.sub(r"\\(.)", r"\1", inner) == value
    assert not re.search(r"(?<!\\)[{}\[\]|*_+^~?!#-]", inner.replace("\\\\", ""))
