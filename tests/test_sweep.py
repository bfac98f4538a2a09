"""The sweep end to end: `flaggate sweep` and `flaggate github` on `schedule` /
`workflow_dispatch`, as subprocesses against the fake GitHub, at fixed instants."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest

from flaggate.incident.followup import LABEL, REMINDER_MARKER, Approval, FollowUp, render_body
from tests.cli_runner import run_cli
from tests.fakes.github import FakeGitHub
from tests.github_env import (
    NAME,
    OWNER,
    REPOSITORY,
    ActionRun,
    organisation,
    parse_outputs,
    run_action,
    webhook_payload,
)
from tests.gitrepo import GitRepo, edit

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""When the pull requests are opened."""
SECOND = timedelta(seconds=1)

STAGES = """\
apiVersion: featureflags/v1
kind: ApprovalStages
metadata: {name: stages}
spec:
  stages:
    - name: qa-review
      order: 1
      requiredApprovers: 1
      approverRoles: [developer]
      timeoutHours: 12
      onTimeout: auto-approve
    - name: technical-review
      order: 2
      requiredApprovers: 1
      approverRoles: [tech-lead]
      timeoutHours: 24
      onTimeout: escalate
      escalateTo: [engineering-manager]
    - name: business-review
      order: 3
      requiredApprovers: 1
      approverRoles: [product-owner]
      timeoutHours: 24
      onTimeout: reject
"""
POLICY = """\
apiVersion: featureflags/v1
kind: ApprovalPolicy
metadata: {name: policy}
spec:
  rules:
    - name: production-changes
      conditions: [{field: environment, operator: equals, value: production}]
      approval: {required: true, stages: [technical-review, business-review]}
    - name: staging-changes
      conditions: [{field: environment, operator: equals, value: staging}]
      approval: {required: true, stages: [qa-review, business-review]}
"""
ROLES = """\
apiVersion: flaggate/v1
kind: RoleBindings
metadata: {name: roles}
spec:
  roles:
    developer: {teams: [acme/qa]}
    tech-lead: {teams: [acme/tech-leads]}
    engineering-manager: {teams: [acme/engineering-managers]}
    product-owner: {teams: [acme/product-owners]}
    admin: {teams: [acme/flag-admins]}
    incident-commander: {teams: [acme/incident-commanders]}
    on-call-engineer: {users: [oncall]}
    sre: {users: [sre]}
"""
TEAMS = {
    "qa": {"quinn": "active"},
    "tech-leads": {"alice": "active"},
    "engineering-managers": {"mia": "active"},
    "product-owners": {"bob": "active"},
    "flag-admins": {"root": "active"},
    "incident-commanders": {"ivy": "active"},
}

CHECKOUT = "flags/checkout/checkout-redesign.yaml"
WRITES = ("POST", "PATCH", "PUT", "DELETE")


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@contextmanager
def dated(moment: datetime) -> Iterator[None]:
    """Commits made inside are authored and committed at ``moment``."""
    stamp = f"{int(moment.timestamp())} +0000"
    with mock.patch.dict(os.environ, {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}):
        yield


def turn_on(repo: GitRepo) -> str:
    edit(repo, CHECKOUT, "enabled: false\n      variant: off", "enabled: true\n      variant: on")
    return CHECKOUT


def add_notes(repo: GitRepo) -> str:
    repo.write("README.md", "notes\n")
    return "README.md"


RANKING = "flags/growth/search-ranking.yaml"


def archive(repo: GitRepo) -> str:
    # Kept as text: a FeatureFlag document outside flags/ would be an error.
    (repo.root / "archive").mkdir()
    repo.git("mv", RANKING, "archive/search-ranking.yaml.txt")
    return "archive/search-ranking.yaml.txt"


def staging_rollout(repo: GitRepo) -> str:
    edit(repo, CHECKOUT, "rollout: {on: 25, off: 75}", "rollout: {on: 50, off: 50}")
    return CHECKOUT


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with organisation(TEAMS) as server:
        yield server


@pytest.fixture
def workspace(tmp_path: Path) -> GitRepo:
    """The default branch's checkout, with this module's stages, rules and roles."""
    repo = GitRepo(tmp_path / "repo")
    repo.copy_example()
    repo.write("policies/stages.yaml", STAGES)
    repo.write("policies/approval-policy.yaml", POLICY)
    repo.write("policies/roles.yaml", ROLES)
    with dated(T0 - timedelta(days=7)):
        repo.commit("policies and flags")
    return repo


@dataclass
class Pull:
    """A pull request in the git repository and on the fake GitHub."""

    repo: GitRepo
    fake: FakeGitHub
    number: int
    base: str
    head: str
    author: str = "dev"

    def status(self) -> dict[str, Any]:
        statuses = self.fake.statuses(OWNER, NAME, self.head)
        assert statuses, f"no status on the head of #{self.number}"
        return statuses[-1]

    def comments(self) -> list[str]:
        return [c["body"] for c in self.fake.comments(OWNER, NAME, self.number)]

    def sticky(self) -> str:
        [body] = [c for c in self.comments() if "<!-- flaggate:sticky-comment -->" in c]
        return body

    def notices(self, key: str) -> list[str]:
        return [c for c in self.comments() if f"<!-- flaggate:timeout:{key}" in c]

    def teams(self) -> list[str]:
        return self.fake.requested_reviewers(OWNER, NAME, self.number)["teams"]

    def team_requests(self, slug: str) -> int:
        """How many times a review was requested from ``slug`` (issue events)."""
        events = self.fake.events(OWNER, NAME, self.number)
        return sum(
            1
            for e in events
            if e["event"] == "review_requested"
            and (e.get("requested_team") or {}).get("slug") == slug
        )

    def review(self, login: str, moment: datetime, state: str = "APPROVED") -> None:
        self.fake.add_review(OWNER, NAME, self.number, login, state, self.head, moment)  # type: ignore[arg-type]

    def push(self, change: Callable[[GitRepo], str], moment: datetime) -> str:
        self.repo.checkout(f"pr-{self.number}")
        path = change(self.repo)
        with dated(moment):
            self.head = self.repo.commit("push")
        self.repo.checkout("main")
        self.fake.update_pull(OWNER, NAME, self.number, head_sha=self.head)
        self.fake.set_commits(OWNER, NAME, self.number, [(self.head, self.author, self.author)])
        self.fake.set_files(OWNER, NAME, self.number, [CHECKOUT, path])
        return self.head


def open_pull(
    repo: GitRepo,
    fake: FakeGitHub,
    change: Callable[[GitRepo], str],
    number: int = 7,
    *,
    created: datetime = T0,
    committed: datetime = T0 - timedelta(hours=1),
    author: str = "dev",
) -> Pull:
    base = repo.git("rev-parse", "main")
    repo.branch(f"pr-{number}", "main")
    path = change(repo)
    with dated(committed):
        head = repo.commit(f"change for #{number}")
    repo.checkout("main")
    fake.add_pull(
        OWNER, NAME, number, author, "main", base, f"pr-{number}", head, created_at=created
    )
    fake.set_commits(OWNER, NAME, number, [(head, author, author)])
    fake.set_files(OWNER, NAME, number, [path])
    return Pull(repo, fake, number, base, head, author)


def sweep(
    repo: GitRepo, fake: FakeGitHub, now: datetime, *args: str, env: dict[str, str] | None = None
) -> ActionRun:
    """`flaggate sweep` at ``now`` in a checkout of the default branch."""
    work = repo.root.parent / f"sweep-{len(list(repo.root.parent.iterdir()))}"
    work.mkdir()
    output = work / "output.txt"
    environment = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GITHUB_", "INPUT_", "FLAGGATE_"))
        },
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_API_URL": fake.url,
        "GITHUB_TOKEN": fake.token,
        "GITHUB_WORKSPACE": str(repo.root),
        "GITHUB_OUTPUT": str(output),
        "FLAGGATE_RETRY_BACKOFF": "0.01",
        "FLAGGATE_NOW": iso(now),
        "NO_COLOR": "1",
        **(env or {}),
    }
    done = run_cli(["sweep", *args], cwd=repo.root, env=environment)
    outputs = parse_outputs(output.read_text()) if output.exists() else {}
    return ActionRun(done.returncode, done.stdout, done.stderr, outputs)


def scheduled(
    repo: GitRepo,
    fake: FakeGitHub,
    now: datetime,
    event: str = "schedule",
    env: dict[str, str] | None = None,
) -> ActionRun:
    """`flaggate github` for a ``schedule`` (or ``workflow_dispatch``) event at ``now``."""
    payload: dict[str, Any] = (
        {"schedule": "17 * * * *"} if event == "schedule" else {"inputs": {}, "ref": "main"}
    )
    return run_action(repo, fake, event, payload, {"FLAGGATE_NOW": iso(now), **(env or {})})


def ok(result: ActionRun) -> ActionRun:
    assert result.code == 0, result.stdout + result.stderr
    return result


def writes(fake: FakeGitHub) -> list[tuple[str, str]]:
    return [
        (method, path)
        for method, path in fake.calls
        if method in WRITES and path != "/graphql"  # a GraphQL query reads
    ]


def path_of(url: str) -> str:
    return urlsplit(url).path


# --- escalate ------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ["sweep", "schedule"])
def test_escalation_requests_the_manager_team_and_comments_once(
    workspace: GitRepo, fake: FakeGitHub, entry: str
) -> None:
    def run(now: datetime) -> ActionRun:
        return ok(
            sweep(workspace, fake, now) if entry == "sweep" else scheduled(workspace, fake, now)
        )

    pr = open_pull(workspace, fake, turn_on)
    before = run(T0 + timedelta(hours=24) - SECOND)
    assert "#7: re-evaluating" in before.stdout
    assert pr.status()["state"] == "pending"
    assert pr.status()["description"] == "needs technical-review: 1 of @acme/tech-leads"
    assert pr.teams() == ["tech-leads"]
    assert pr.notices("technical-review") == []
    assert "escalate at 2026-03-03 09:00 UTC" in pr.sticky()

    fake.reset_calls()
    run(T0 + timedelta(hours=24) + SECOND)
    assert pr.status()["description"] == (
        "needs technical-review: 1 of @acme/tech-leads, @acme/engineering-managers"
    )
    assert pr.teams() == ["tech-leads", "engineering-managers"]
    requests = [
        r.json()
        for r in fake.requests
        if r.method == "POST" and r.path.endswith("/pulls/7/requested_reviewers")
    ]
    assert requests == [{"reviewers": [], "team_reviewers": ["engineering-managers"]}]
    [notice] = pr.notices("technical-review")
    assert notice == (
        "<!-- flaggate:timeout:technical-review:escalate:2026-03-03T09:00:00+00:00 -->\n"
        "⏰ **technical-review** has waited more than 24h: escalated to engineering-manager "
        "(@acme/tech-leads, @acme/engineering-managers). Their approvals now count for this "
        "stage."
    )
    sticky = pr.sticky()
    assert "escalated after 24h to engineering-manager" in sticky
    assert '"notices":["timeout:technical-review:escalate:2026-03-03T09:00:00+00:00"]' in sticky

    for hours in (25, 30):
        run(T0 + timedelta(hours=hours))
    assert len(pr.notices("technical-review")) == 1
    assert pr.team_requests("engineering-managers") == 1
    assert pr.team_requests("tech-leads") == 1
    assert len(pr.comments()) == 2  # the sticky comment and the one notice

    # The manager's approval now counts for technical-review; business-review is next.
    pr.review("mia", T0 + timedelta(hours=31))
    run(T0 + timedelta(hours=32))
    assert pr.status()["description"] == "needs business-review: 1 of @acme/product-owners"
    assert "@mia (engineering-manager)" in pr.sticky()
    assert pr.team_requests("engineering-managers") == 1
    assert pr.team_requests("product-owners") == 1
    assert len(pr.notices("technical-review")) == 1


@pytest.mark.parametrize(
    "committed",
    [T0 + timedelta(hours=10), T0 - timedelta(days=2000)],
    ids=["forward-dated", "backdated"],
)
def test_commit_dates_do_not_move_the_clock(
    workspace: GitRepo, fake: FakeGitHub, committed: datetime
) -> None:
    """The pusher writes commit dates: the clock starts at the opening, GitHub's time."""
    pr = open_pull(workspace, fake, turn_on, committed=committed)
    ok(sweep(workspace, fake, T0 + timedelta(hours=24) - SECOND))
    assert pr.status()["description"] == "needs technical-review: 1 of @acme/tech-leads"
    ok(sweep(workspace, fake, T0 + timedelta(hours=24)))
    assert pr.status()["description"] == (
        "needs technical-review: 1 of @acme/tech-leads, @acme/engineering-managers"
    )
    [notice] = pr.notices("technical-review")
    assert "escalate:2026-03-03T09:00:00+00:00" in notice


def test_a_backdated_push_restarts_the_clock_when_flaggate_sees_it(
    workspace: GitRepo, fake: FakeGitHub
) -> None:
    """A push announced by a synchronize event restarts the clock at flaggate's sight of it,
    however old the commit claims to be."""
    pr = open_pull(workspace, fake, turn_on)
    ok(sweep(workspace, fake, T0 + timedelta(hours=1)))
    pr.push(add_notes, datetime(2019, 6, 1, tzinfo=UTC))
    payload = webhook_payload(
        "pull_request", "synchronize", 7, ("main", pr.base), ("pr-7", pr.head)
    )
    payload["sender"]["login"] = "dev"
    ok(
        run_action(
            workspace,
            fake,
            "pull_request",
            payload,
            {"FLAGGATE_NOW": iso(T0 + timedelta(hours=20))},
        )
    )
    ok(sweep(workspace, fake, T0 + timedelta(hours=30)))
    assert pr.status()["description"] == "needs technical-review: 1 of @acme/tech-leads"
    assert pr.notices("technical-review") == []
    ok(sweep(workspace, fake, T0 + timedelta(hours=44)))
    [notice] = pr.notices("technical-review")
    assert "escalate:2026-03-04T05:00:00+00:00" in notice


# --- reject --------------------------------------------------------------------------------


def test_rejection_fails_the_status_and_comments_once(workspace: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(workspace, fake, turn_on)
    pr.review("alice", T0 + timedelta(hours=2))
    first = ok(scheduled(workspace, fake, T0 + timedelta(hours=26) - SECOND))
    assert pr.status()["state"] == "pending"
    assert pr.status()["description"] == "needs business-review: 1 of @acme/product-owners"
    assert json.loads(first.outputs["plan"])["stages"][1]["timeout"] == {
        "activeSince": "2026-03-02T11:00:00+00:00",
        "deadline": "2026-03-03T11:00:00+00:00",
        "expired": False,
        "action": None,
    }

    second = ok(scheduled(workspace, fake, T0 + timedelta(hours=26) + SECOND))
    assert second.outputs["decision"] == "rejected"
    status = pr.status()
    assert status["state"] == "failure"
    assert status["description"] == "business-review expired after 24h without approval"
    [notice] = pr.notices("business-review")
    assert notice == (
        "<!-- flaggate:timeout:business-review:reject:2026-03-03T11:00:00+00:00 -->\n"
        "⏰ **business-review** expired after 24h without approval: this pull request is "
        "rejected. Push a new commit to start the clock again."
    )
    assert "## ❌ flaggate: `rejected`" in pr.sticky()

    ok(scheduled(workspace, fake, T0 + timedelta(hours=27)))
    ok(scheduled(workspace, fake, T0 + timedelta(hours=27)))
    assert len(pr.notices("business-review")) == 1
    assert pr.status()["state"] == "failure"
    assert len(pr.comments()) == 2

    # A new push restarts the clock: alice's approval still counts (same flag change).
    pr.push(add_notes, T0 + timedelta(hours=30))
    ok(scheduled(workspace, fake, T0 + timedelta(hours=31)))
    assert pr.status()["state"] == "pending"
    assert pr.status()["description"] == "needs business-review: 1 of @acme/product-owners"
    assert "## ⏳ flaggate: `pending`" in pr.sticky()
    assert len(pr.notices("business-review")) == 1


def test_rejection_by_timeout_tells_what_to_do_next(workspace: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(workspace, fake, turn_on)
    ok(sweep(workspace, fake, T0 + timedelta(hours=24) + SECOND))  # technical-review escalates
    pr.review("mia", T0 + timedelta(hours=25))
    ok(sweep(workspace, fake, T0 + timedelta(hours=50)))  # business-review expired at +49h
    assert pr.status()["state"] == "failure"
    assert "changes requested by ," not in pr.sticky()


# --- auto-approve --------------------------------------------------------------------------


def test_auto_approval_moves_on_to_the_next_stage(workspace: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(workspace, fake, staging_rollout)
    ok(scheduled(workspace, fake, T0 + timedelta(hours=12) - SECOND, "workflow_dispatch"))
    assert pr.status()["description"] == "needs qa-review: 1 of @acme/qa"
    assert pr.teams() == ["qa"]

    run = ok(scheduled(workspace, fake, T0 + timedelta(hours=12) + SECOND, "workflow_dispatch"))
    assert pr.status()["state"] == "pending"
    assert pr.status()["description"] == "needs business-review: 1 of @acme/product-owners"
    assert pr.teams() == ["qa", "product-owners"]
    sticky = pr.sticky()
    assert "| ✅ | qa-review | 1 of developer | @acme/qa | — (auto-approved after 12h) |" in sticky
    assert "| ⏳ | business-review |" in sticky
    assert "**Next:** 1 approval(s) for **business-review** from @acme/product-owners." in sticky
    [notice] = pr.notices("qa-review")
    assert notice.startswith("<!-- flaggate:timeout:qa-review:auto-approve:2026-03-02T21:00:00")
    assert "⏰ **qa-review** waited 12h: approved automatically" in notice
    stages = json.loads(run.outputs["plan"])["stages"]
    assert [(s["name"], s["status"], s["timeout"]) for s in stages] == [
        (
            "qa-review",
            "approved",
            {
                "activeSince": "2026-03-02T09:00:00+00:00",
                "deadline": "2026-03-02T21:00:00+00:00",
                "expired": True,
                "action": "auto-approve",
            },
        ),
        (
            "business-review",
            "pending",
            {
                "activeSince": "2026-03-02T21:00:00+00:00",
                "deadline": "2026-03-03T21:00:00+00:00",
                "expired": False,
                "action": None,
            },
        ),
    ]

    # The next stage's clock started at the deadline: it expires 24h after it.
    ok(scheduled(workspace, fake, T0 + timedelta(hours=36) - SECOND, "workflow_dispatch"))
    assert pr.status()["state"] == "pending"
    ok(scheduled(workspace, fake, T0 + timedelta(hours=36), "workflow_dispatch"))
    assert pr.status()["description"] == "business-review expired after 24h without approval"
    assert len(pr.notices("qa-review")) == 1
    assert len(pr.notices("business-review")) == 1


# --- post-incident reminders ----------------------------------------------------------------


def follow_up(fake: FakeGitHub, created: datetime, **changes: Any) -> int:
    state = FollowUp(
        pullRequest=12,
        incident="INC-4711",
        severity="SEV1",
        bypassedBy="ivy",
        role="incident-commander",
        justification="checkout is down",
        mergeSha="a" * 40,
        flags=["checkout-redesign"],
        **changes,
    )
    assert FollowUp.parse(state.to_marker()) == state
    issue = fake.add_issue(
        OWNER,
        NAME,
        state.title,
        body=render_body(state, REPOSITORY),
        labels=[LABEL],
        assignees=["ivy"],
        created_at=created,
    )
    return int(issue["number"])


def reminders(fake: FakeGitHub, number: int) -> list[str]:
    return [c["body"] for c in fake.comments(OWNER, NAME, number) if REMINDER_MARKER in c["body"]]


def test_post_incident_reminders_after_48_hours_once(workspace: GitRepo, fake: FakeGitHub) -> None:
    fresh = follow_up(fake, T0)
    approved = follow_up(
        fake,
        T0 - timedelta(days=1),
        retroactiveApproval=[Approval("alice", "tech-lead", "technical-review", None)],
        retroactiveApprovedAt="2026-03-01T12:00:00+00:00",
    )
    unlabelled = fake.add_issue(
        OWNER, NAME, "Not a follow-up", body="no state here", labels=[LABEL], created_at=T0
    )["number"]
    closed = fake.add_issue(
        OWNER,
        NAME,
        "Done",
        body=render_body(
            FollowUp(12, "INC-1", "SEV2", "ivy", "sre", "why", "b" * 40, []), REPOSITORY
        ),
        labels=[LABEL],
        state="closed",
        created_at=T0 - timedelta(days=30),
    )["number"]

    early = ok(sweep(workspace, fake, T0 + timedelta(hours=48) - SECOND))
    assert reminders(fake, fresh) == []
    assert reminders(fake, approved) == [
        f"{REMINDER_MARKER}\n@ivy: the post-incident review of #12 (INC-4711) is still open "
        "after 48 hours. Owed: findings."
    ]
    assert f"flaggate: sweep: reminded on #{approved} (findings)" in early.stdout

    due = ok(sweep(workspace, fake, T0 + timedelta(hours=48) + SECOND))
    assert reminders(fake, fresh) == [
        f"{REMINDER_MARKER}\n@ivy: the post-incident review of #12 (INC-4711) is still open "
        "after 48 hours. Owed: retroactive approval and findings."
    ]
    assert f"reminded on #{fresh} (retroactive approval and findings)" in due.stdout
    assert f"#{approved}" not in due.stdout
    assert "0 open pull request(s), 0 re-evaluated" in due.stdout

    fake.reset_calls()
    later = ok(scheduled(workspace, fake, T0 + timedelta(days=10)))
    assert "reminded" not in later.stdout
    assert writes(fake) == []
    for number in (fresh, approved):
        assert len(reminders(fake, number)) == 1
    for number in (unlabelled, closed):
        assert fake.comments(OWNER, NAME, number) == []


# --- dry run -------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ["sweep --dry-run", "schedule with INPUT_DRY_RUN"])
def test_dry_run_prints_and_writes_nothing(
    workspace: GitRepo, fake: FakeGitHub, entry: str
) -> None:
    pr = open_pull(workspace, fake, turn_on)
    issue = follow_up(fake, T0 - timedelta(days=3))
    now = T0 + timedelta(hours=25)
    if entry.startswith("sweep"):
        result = ok(sweep(workspace, fake, now, "--dry-run"))
    else:
        result = ok(scheduled(workspace, fake, now, env={"INPUT_DRY_RUN": "true"}))
    assert writes(fake) == []
    assert fake.statuses(OWNER, NAME, pr.head) == []
    assert pr.comments() == []
    assert pr.teams() == []
    assert fake.comments(OWNER, NAME, issue) == []
    out = result.stdout
    assert (
        "dry run: would set status flaggate=pending ('needs technical-review: 1 of "
        "@acme/tech-leads, @acme/engineering-managers'), request "
        "['acme/tech-leads', 'acme/engineering-managers']"
    ) in out
    assert (
        "dry run: would comment: <!-- flaggate:timeout:technical-review:escalate:"
        "2026-03-03T09:00:00+00:00 -->"
    ) in out
    assert f"flaggate: sweep: would remind on #{issue} (retroactive approval and findings)" in out
    assert "flaggate: sweep: 1 open pull request(s), 1 re-evaluated" in out


def test_dry_run_after_a_real_sweep_announces_no_notice_again(
    workspace: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(workspace, fake, turn_on)
    ok(sweep(workspace, fake, T0 + timedelta(hours=25)))
    assert len(pr.notices("technical-review")) == 1
    fake.reset_calls()
    dry = ok(sweep(workspace, fake, T0 + timedelta(hours=26), "--dry-run"))
    assert writes(fake) == []
    assert "request nobody" in dry.stdout
    assert "would comment" not in dry.stdout


# --- what the sweep reads and writes -------------------------------------------------------


def test_pull_request_without_flag_files_costs_one_files_call(
    workspace: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(workspace, fake, turn_on)
    fake.add_pull(OWNER, NAME, 8, "dev", "main", pr.base, "docs", "d" * 40, created_at=T0)
    fake.set_files(OWNER, NAME, 8, ["README.md", "docs/flags.md", "flagsmith/config.yaml"])
    open_pull(workspace, fake, archive, number=9)  # only the old name is under flags/
    fake.set_files(OWNER, NAME, 9, [("archive/search-ranking.yaml.txt", f"renamed:{RANKING}")])
    result = ok(sweep(workspace, fake, T0 + timedelta(hours=1)))
    assert "flaggate: sweep: #8: no flag or policy files; skipped" in result.stdout
    assert "flaggate: sweep: #9: re-evaluating" in result.stdout
    assert "3 open pull request(s), 2 re-evaluated" in result.stdout
    eight = [
        (method, path)
        for method, path in fake.calls
        if any(part in path for part in ("/pulls/8", "/issues/8", "d" * 40))
    ]
    assert [(method, path_of(path)) for method, path in eight] == [
        ("GET", "/repos/acme/flags/pulls/8/files")
    ]
    assert fake.statuses(OWNER, NAME, "d" * 40) == []
    assert fake.comments(OWNER, NAME, 8) == []


def test_sweep_of_pull_requests_without_flag_files_makes_exactly_these_calls(
    workspace: GitRepo, fake: FakeGitHub
) -> None:
    base = workspace.git("rev-parse", "main")
    for number in (3, 4):
        fake.add_pull(OWNER, NAME, number, "dev", "main", base, f"b{number}", f"{number}" * 40)
        fake.set_files(OWNER, NAME, number, ["README.md"])
    result = ok(sweep(workspace, fake, T0))
    assert "2 open pull request(s), 0 re-evaluated" in result.stdout
    assert [(method, path_of(path)) for method, path in fake.calls] == [
        ("GET", "/repos/acme/flags/pulls"),
        ("GET", "/repos/acme/flags/pulls/4/files"),
        ("GET", "/repos/acme/flags/pulls/3/files"),
        ("GET", "/repos/acme/flags/issues"),
    ]
    queries = [urlsplit(path).query for _, path in fake.calls]
    assert "state=open" in queries[0]
    assert "labels=post-incident-review" in queries[3]


def _second_sweep_writes(workspace: GitRepo, fake: FakeGitHub) -> list[tuple[str, str]]:
    open_pull(workspace, fake, turn_on)
    open_pull(workspace, fake, staging_rollout, number=8)
    follow_up(fake, T0 - timedelta(days=3))
    now = T0 + timedelta(hours=25)  # technical-review escalated, qa-review auto-approved
    ok(sweep(workspace, fake, now))
    fake.reset_calls()
    ok(sweep(workspace, fake, now))
    return writes(fake)


def test_second_sweep_writes_no_comment_request_or_issue(
    workspace: GitRepo, fake: FakeGitHub
) -> None:
    assert [(m, p) for m, p in _second_sweep_writes(workspace, fake) if "/statuses/" not in p] == []


def test_second_sweep_right_after_the_first_writes_nothing(
    workspace: GitRepo, fake: FakeGitHub
) -> None:
    assert _second_sweep_writes(workspace, fake) == []
