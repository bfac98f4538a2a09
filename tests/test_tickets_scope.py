"""Which changes need a ticket (a flag created or deleted as a whole touches every
environment), and what a ticket's transition is said to have done (never "moved to" when it
did not move). Through the fake Jira and the fake GitHub, like the other ticket tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import github
import pytest

from flaggate.diff import Change
from flaggate.gates.ticket import PullText, TicketLookup, find_ticket, ticket_gate
from flaggate.integrations.github_issues import GitHubIssues
from flaggate.integrations.jira import JiraTickets
from flaggate.integrations.ticket_updates import TicketUpdate, safely
from flaggate.integrations.tickets import Move, Ticket, TicketComment
from flaggate.model.settings import Tickets
from flaggate.policy.result import GateStatus
from tests.fakes.github import FakeGitHub
from tests.fakes.jira import API, FakeJira
from tests.github_env import NAME, OWNER, ActionRun, run_action, webhook_payload
from tests.gitrepo import GitRepo, flag_yaml
from tests.test_github_action import NUMBER
from tests.test_tickets_jira import Pull, ticket

# --- scope: a flag created or deleted as a whole -----------------------------------------

SCOPED = Tickets(provider="jira", requiredFor=("staging", "production"))
NO_TICKET = (
    "no ticket named in the title, branch or body (FEAT-123); required for staging, production"
)
DEV_ON = {"enabled": True}


def _entry(flag: str, types: tuple[str, ...], env: str = "development") -> Change:
    previous, new = (None, DEV_ON) if types == ("created",) else (DEV_ON, None)
    return Change("flag", flag, env, types, previous, new, 100.0, f"flags/{flag}.yaml")


@pytest.mark.parametrize(
    ("change", "base", "head"),
    [
        (
            _entry("new-banner", ("created",)),
            {"checkout-redesign"},
            {"checkout-redesign", "new-banner"},
        ),
        (
            _entry("old-banner", ("deleted",)),
            {"checkout-redesign", "old-banner"},
            {"checkout-redesign"},
        ),
    ],
    ids=["created", "deleted"],
)
def test_a_flag_created_or_deleted_as_a_whole_touches_every_required_environment(
    change: Change, base: set[str], head: set[str]
) -> None:
    gate = ticket_gate([change], SCOPED, TicketLookup(None), base, head)
    assert gate is not None
    assert (gate.status, gate.message) == (GateStatus.FAILED, NO_TICKET)
    assert gate.environment is None


@pytest.mark.parametrize("types", [("created",), ("deleted",)])
def test_an_environment_entry_of_a_flag_on_both_sides_touches_only_its_environment(
    types: tuple[str, ...],
) -> None:
    both = {"checkout-redesign"}
    change = _entry("checkout-redesign", types)
    assert ticket_gate([change], SCOPED, TicketLookup(None), both, both) is None
    staging = _entry("checkout-redesign", types, "staging")
    gate = ticket_gate([change, staging], SCOPED, TicketLookup(None), both, both)
    assert gate is not None and gate.message.endswith("; required for staging")


class OneTicket:
    name = "Jira"

    def __init__(self, ticket: Ticket) -> None:
        self.ticket = ticket

    def fetch(self, key: str, fields: Any = ()) -> Ticket:
        return self.ticket


def test_the_flag_field_must_name_a_flag_created_in_a_lower_environment() -> None:
    settings = Tickets(
        provider="jira", requiredFor=("staging", "production"), flagField="Feature Flag"
    )
    named = Ticket(
        "FEAT-1", "u", "Banner", "In Progress", False, {"Feature Flag": "checkout-redesign"}
    )
    lookup = TicketLookup(find_ticket(PullText("FEAT-1 banner"), settings), OneTicket(named))  # type: ignore[arg-type]
    change = _entry("new-banner", ("created",))
    gate = ticket_gate([change], settings, lookup, set(), {"new-banner"})
    assert gate is not None and gate.status is GateStatus.FAILED
    assert gate.message == "FEAT-1's 'Feature Flag' names checkout-redesign, not new-banner"


SCOPE_SETTINGS = """apiVersion: flaggate/v1
kind: Settings
metadata:
  name: settings
spec:
  tickets:
    provider: jira
    url: {url}
    requiredFor: [staging, production]
"""
DEV_ONLY = "    development:\n      enabled: true\n      variant: on\n"
BANNER = "flags/growth/new-banner.yaml"


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira() as server:
        yield server
        assert server.errors == []


def _scope_run(
    repo: GitRepo, fake: FakeGitHub, jira: FakeJira, deleted: bool
) -> tuple[ActionRun, str]:
    """A pull request, with no ticket named, that creates (or deletes) a flag defined in
    development only."""
    repo.write("policies/settings.yaml", SCOPE_SETTINGS.format(url=jira.url))
    if deleted:
        repo.write(BANNER, flag_yaml("new-banner", DEV_ONLY))
    base = repo.commit("ticket settings")
    repo.branch("feature")
    if deleted:
        (repo.root / BANNER).unlink()
    else:
        repo.write(BANNER, flag_yaml("new-banner", DEV_ONLY))
    head = repo.commit("the banner flag")
    fake.add_pull(OWNER, NAME, NUMBER, "dev", "main", base, "feature", head, title="Banner")
    fake.set_commits(OWNER, NAME, NUMBER, [(head, "dev", "dev")])
    payload = webhook_payload("pull_request", "opened", NUMBER, ("main", base), ("feature", head))
    return run_action(repo, fake, "pull_request", payload, extra_env=jira.env), head


def _ticket_gates(result: ActionRun) -> list[dict[str, Any]]:
    return [g for g in json.loads(result.outputs["plan"])["gates"] if g["kind"] == "ticket"]


@pytest.mark.parametrize("deleted", [False, True], ids=["created", "deleted"])
def test_a_pull_request_creating_or_deleting_a_development_only_flag_needs_a_ticket(
    repo: GitRepo, fake: FakeGitHub, jira: FakeJira, deleted: bool
) -> None:
    result, head = _scope_run(repo, fake, jira, deleted)
    assert result.code == 0, result.stderr
    [gate] = _ticket_gates(result)
    assert (gate["status"], gate["message"]) == ("failed", NO_TICKET)
    assert fake.statuses(OWNER, NAME, head)[-1]["state"] == "failure"


def test_a_new_development_entry_of_an_existing_flag_needs_no_ticket(
    repo: GitRepo, fake: FakeGitHub, jira: FakeJira
) -> None:
    repo.write("policies/settings.yaml", SCOPE_SETTINGS.format(url=jira.url))
    repo.write(BANNER, flag_yaml("new-banner", "    staging:\n      enabled: false\n"))
    base = repo.commit("ticket settings and a staging-only flag")
    repo.branch("feature")
    repo.write(BANNER, flag_yaml("new-banner", "    staging:\n      enabled: false\n" + DEV_ONLY))
    head = repo.commit("the banner in development")
    fake.add_pull(OWNER, NAME, NUMBER, "dev", "main", base, "feature", head, title="Banner")
    fake.set_commits(OWNER, NAME, NUMBER, [(head, "dev", "dev")])
    payload = webhook_payload("pull_request", "opened", NUMBER, ("main", base), ("feature", head))
    result = run_action(repo, fake, "pull_request", payload, extra_env=jira.env)
    assert result.code == 0, result.stderr
    assert _ticket_gates(result) == []
    assert jira.requests == []


# --- transitions: say what happened ------------------------------------------------------

ISSUE = f"{API}/issue/FEAT-1$"
TRANSITIONS = f"{API}/issue/FEAT-1/transitions$"


def _approved(transition: str) -> TicketUpdate:
    comment = TicketComment(
        "Feature flag change approved",
        (("Approval", "none required"),),
        None,
        "flaggate acme/flags#7 approved 0123456789ab",
    )
    return TicketUpdate("approved", "0123456789ab", comment, transition=transition)


def _jira(fake: FakeJira) -> JiraTickets:
    return JiraTickets.from_settings(Tickets(provider="jira", url=fake.url), fake.env)


IN_PROGRESS: dict[str, Any] = {"status": "In Progress"}
IN_REVIEW: dict[str, Any] = {"status": "In Review"}
DONE: dict[str, Any] = {
    "status": "Done",
    "category": "done",
    "transitions": [("41", "Reopen", "To Do", "new")],
}
ALREADY = Move("already", "In Progress", "In Progress")
TO_REVIEW = Move("moved", "In Review", "In Progress")


@pytest.mark.parametrize(
    ("issue", "name", "dry_run", "expected", "posts"),
    [
        (IN_PROGRESS, "In Progress", False, ALREADY, 0),
        (IN_PROGRESS, "in progress", True, ALREADY, 0),
        # a transition named in the settings that leads to the status the ticket is in
        (IN_REVIEW, "QA Review", False, Move("already", "In Review", "In Review"), 0),
        (DONE, "In Progress", False, Move("unavailable", "Done", "Done", ("Reopen",)), 0),
        (IN_PROGRESS, "QA Review", True, TO_REVIEW, 0),
        (IN_PROGRESS, "QA Review", False, TO_REVIEW, 1),
    ],
    ids=["already", "already-dry-run", "already-by-name", "unavailable", "dry-run", "moved"],
)
def test_a_jira_move_says_whether_it_moved(
    jira: FakeJira, issue: dict[str, Any], name: str, dry_run: bool, expected: Move, posts: int
) -> None:
    jira.add_issue("FEAT-1", **issue)
    assert _jira(jira).move("FEAT-1", name, dry_run) == expected
    assert jira.count("POST", TRANSITIONS) == posts
    assert jira.issue("FEAT-1").status == (expected.status if posts else issue["status"])


@pytest.mark.parametrize(
    ("issue", "name", "dry_run", "line", "warning"),
    [
        (IN_PROGRESS, "In Progress", False, "FEAT-1 is already In Progress", None),
        (
            DONE,
            "In Progress",
            False,
            None,
            "Jira FEAT-1 not updated: no transition to In Progress is available from Done "
            "(available: Reopen)",
        ),
        (IN_PROGRESS, "QA Review", True, "would move FEAT-1 to In Review", None),
        (IN_PROGRESS, "QA Review", False, "FEAT-1 moved to In Review", None),
    ],
    ids=["already", "unavailable", "dry-run", "moved"],
)
def test_the_log_says_what_the_transition_did(
    jira: FakeJira,
    issue: dict[str, Any],
    name: str,
    dry_run: bool,
    line: str | None,
    warning: str | None,
) -> None:
    jira.add_issue("FEAT-1", **issue)
    made, said, warned = safely(_jira(jira), "FEAT-1", [_approved(name)], dry_run=dry_run)
    told = f"{'would tell' if dry_run else 'told'} FEAT-1 the change was approved"
    assert (said, warned) == ([line, told] if line else [], warning)
    assert len(made) == (0 if dry_run or warning else 1)
    if dry_run or warning:
        assert jira.count("POST", TRANSITIONS) == 0
        assert jira.comments("FEAT-1") == []


def _issues(fake: FakeGitHub) -> GitHubIssues:
    client = github.Github(
        auth=github.Auth.Token(fake.token),
        base_url=fake.url,
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    return GitHubIssues(client.get_repo(f"{OWNER}/{NAME}"))


@pytest.mark.parametrize(
    ("state", "dry_run", "line", "final"),
    [
        ("closed", False, "#3 is already closed", "closed"),
        ("open", True, "would move #3 to closed", "open"),
        ("open", False, "#3 moved to closed", "closed"),
    ],
)
def test_a_github_issue_is_said_to_move_only_when_it_closes(
    fake: FakeGitHub, state: Any, dry_run: bool, line: str, final: str
) -> None:
    fake.add_issue(OWNER, NAME, "Banner", number=3, state=state)
    _, said, warned = safely(_issues(fake), "#3", [_approved("closed")], dry_run=dry_run)
    assert warned is None
    assert said[0] == line
    assert fake.issue(OWNER, NAME, 3)["state"] == final


def test_a_github_issue_has_no_other_transition(fake: FakeGitHub) -> None:
    fake.add_issue(OWNER, NAME, "Banner", number=3)
    assert _issues(fake).move("#3", "In Progress") == Move(
        "unavailable", "open", "open", ("closed",)
    )


# --- end to end: `flaggate github` against the fake GitHub and the fake Jira --------------

APPROVED_IN_PROGRESS = """apiVersion: flaggate/v1
kind: Settings
metadata:
  name: settings
spec:
  tickets:
    provider: jira
    url: {url}
    requiredFor: [production]
    transitions: {{approved: In Progress}}
"""


def _approved_run(
    repo: GitRepo, fake: FakeGitHub, jira: FakeJira, *args: str
) -> tuple[Pull, ActionRun]:
    pull = Pull(repo, fake, jira, settings=APPROVED_IN_PROGRESS)
    pull.approve()
    payload = webhook_payload(
        "pull_request_review", "submitted", NUMBER, ("main", pull.base), ("feature", pull.head)
    )
    result = run_action(repo, fake, "pull_request_review", payload, pull.env, args)
    assert result.code == 0, result.stderr
    return pull, result


def test_a_ticket_already_in_the_status_is_not_said_to_move(
    repo: GitRepo, fake: FakeGitHub, jira: FakeJira
) -> None:
    ticket(jira)  # In Progress
    pull, result = _approved_run(repo, fake, jira)
    assert pull.status()["state"] == "success"
    assert "flaggate: FEAT-1 is already In Progress\n" in result.stdout
    assert "moved to" not in result.stdout + result.stderr + result.summary
    assert jira.count("POST", "/transitions$") == 0
    requested, approved = pull.texts()
    assert requested.startswith("Feature flag change requested")
    assert approved.startswith("Feature flag change approved")


def test_an_unavailable_transition_is_a_warning_that_says_so(
    repo: GitRepo, fake: FakeGitHub, jira: FakeJira
) -> None:
    ticket(jira, status="In Review", transitions=[("31", "Done", "Done", "done")])
    _, result = _approved_run(repo, fake, jira)
    warning = (
        "Jira FEAT-1 not updated: no transition to In Progress is available from In Review "
        "(available: Done)"
    )
    assert f"flaggate: warning: {warning}" in result.stderr
    assert warning in result.summary
    assert "moved to" not in result.stdout + result.stderr + result.summary
    assert jira.issue("FEAT-1").status == "In Review"


def test_a_dry_run_says_what_the_transition_would_do(
    repo: GitRepo, fake: FakeGitHub, jira: FakeJira
) -> None:
    ticket(jira, status="To Do", category="new")
    _, result = _approved_run(repo, fake, jira, "--dry-run")
    assert "flaggate: dry run: would move FEAT-1 to In Progress\n" in result.stdout
    assert "moved to" not in result.stdout + result.stderr + result.summary
    assert jira.issue("FEAT-1").status == "To Do"
    assert jira.count("POST") == jira.count("PUT") == 0
