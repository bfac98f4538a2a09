"""The required-checks gate: check runs and commit statuses on the pull request's head.

Pure tests of the report mapping and of :func:`checks_gates`, then `flaggate github` as a
subprocess against the fake GitHub with a real git repository: pull request events, the
check/status events that re-evaluate a pull request, API call counts and a missing
permission.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest

from flaggate.gates.checks import checks_gates
from flaggate.policy.result import GateStatus
from flaggate.pull.checks import CheckReport, from_check_run, from_status
from tests.fakes.github import FakeGitHub, MemberState
from tests.github_env import (
    NAME,
    OWNER,
    REPOSITORY,
    WEBHOOKS,
    ActionRun,
    organisation,
    run_action,
    webhook_payload,
)
from tests.gitrepo import GIT_ENV, THREE_ENVIRONMENTS, GitRepo, edit

# --- pure: one report ------------------------------------------------------------------------

SHA = "abc1234def5678901234567890abcdef12345678"
HEAD_TIME = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
PROD = {"integration-tests": ["production"], "load-tests": ["production"]}


@pytest.mark.parametrize("conclusion", ["success", "neutral", "skipped"])
def test_passing_conclusions(conclusion: str) -> None:
    report = from_check_run("ci", "completed", conclusion, "https://ci/1")
    assert report == CheckReport("ci", "check run", GateStatus.PASSED, conclusion, "https://ci/1")


@pytest.mark.parametrize(
    "conclusion",
    ["failure", "cancelled", "timed_out", "action_required", "stale", "startup_failure"],
)
def test_failing_conclusions(conclusion: str) -> None:
    report = from_check_run("ci", "completed", conclusion, None)
    assert report.status is GateStatus.FAILED
    assert report.detail == conclusion
    assert report.source == "check run"


def test_completed_without_conclusion_fails_closed() -> None:
    report = from_check_run("ci", "completed", None, None)
    assert (report.status, report.detail) == (GateStatus.FAILED, "unknown")


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        ("queued", "queued"),
        ("in_progress", "in progress"),
        ("waiting", "waiting"),
        ("requested", "requested"),
        ("pending", "pending"),
    ],
)
def test_unfinished_check_runs_are_pending(status: str, detail: str) -> None:
    # A conclusion sent along with an unfinished status is ignored.
    report = from_check_run("ci", status, "success", None)
    assert (report.status, report.detail) == (GateStatus.PENDING, detail)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("success", GateStatus.PASSED),
        ("pending", GateStatus.PENDING),
        ("failure", GateStatus.FAILED),
        ("error", GateStatus.FAILED),
        ("something-new", GateStatus.FAILED),
    ],
)
def test_status_states(state: str, expected: GateStatus) -> None:
    report = from_status("ci/jenkins", state, None, "https://jenkins/1")
    assert report == CheckReport("ci/jenkins", "status", expected, state, "https://jenkins/1")


def test_status_detail_carries_the_description() -> None:
    report = from_status("ci/jenkins", "failure", "3 tests failed", None)
    assert report.detail == "failure: 3 tests failed"


# --- pure: the gate --------------------------------------------------------------------------


def gates(
    reports: Sequence[CheckReport],
    now: datetime = HEAD_TIME + timedelta(minutes=10),
    required: dict[str, list[str]] | None = None,
    grace: int = 30,
) -> dict[str, tuple[GateStatus, str]]:
    results = checks_gates(
        PROD if required is None else required, reports, SHA, HEAD_TIME, now, grace
    )
    assert all(r.kind == "checks" for r in results)
    return {r.name: (r.status, r.message) for r in results}


def run(name: str, conclusion: str | None = "success", status: str = "completed") -> CheckReport:
    return from_check_run(name, status, conclusion, None)


def test_one_result_per_required_check_sorted_by_name() -> None:
    required = {"zeta": ["production"], "alpha": ["staging", "production"]}
    results = checks_gates(
        required,
        [run("alpha"), run("zeta"), run("other", "failure")],
        SHA,
        HEAD_TIME,
        HEAD_TIME,
        30,
    )
    assert [r.name for r in results] == ["check alpha", "check zeta"]
    assert all(r.status is GateStatus.PASSED for r in results)
    assert all(r.environment is None for r in results)


def test_no_required_checks_no_results() -> None:
    assert checks_gates({}, [run("ci", "failure")], SHA, HEAD_TIME, HEAD_TIME, 30) == []


def test_messages_name_the_short_sha_and_the_report() -> None:
    result = gates([run("integration-tests"), run("load-tests", "failure")])
    assert result["check integration-tests"] == (
        GateStatus.PASSED,
        "passed on abc1234 (check run: success)",
    )
    assert result["check load-tests"] == (
        GateStatus.FAILED,
        "failed on abc1234 (check run: failure)",
    )


def test_running_message() -> None:
    result = gates([run("integration-tests"), run("load-tests", None, "in_progress")])
    assert result["check load-tests"] == (
        GateStatus.PENDING,
        "running on abc1234 (check run: in progress)",
    )


def test_status_report_message() -> None:
    result = gates(
        [from_status("load-tests", "error", "runner lost", None), run("integration-tests")]
    )
    assert result["check load-tests"] == (
        GateStatus.FAILED,
        "failed on abc1234 (status: error: runner lost)",
    )


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (run("load-tests"), from_status("load-tests", "failure", None, None), GateStatus.FAILED),
        (run("load-tests"), from_status("load-tests", "pending", None, None), GateStatus.PENDING),
        (
            run("load-tests", None, "queued"),
            from_status("load-tests", "error", None, None),
            GateStatus.FAILED,
        ),
        (
            run("load-tests", "failure"),
            from_status("load-tests", "success", None, None),
            GateStatus.FAILED,
        ),
        (run("load-tests"), from_status("load-tests", "success", None, None), GateStatus.PASSED),
        (run("load-tests"), run("load-tests", "cancelled"), GateStatus.FAILED),
    ],
)
def test_the_worse_report_of_a_name_wins_in_either_order(
    first: CheckReport, second: CheckReport, expected: GateStatus
) -> None:
    for reports in ([first, second], [second, first]):
        status, _ = gates([run("integration-tests"), *reports])["check load-tests"]
        assert status is expected


def test_worse_report_is_the_one_described() -> None:
    reports = [run("load-tests"), from_status("load-tests", "failure", "p99 too high", None)]
    _, message = gates([run("integration-tests"), *reports])["check load-tests"]
    assert message == "failed on abc1234 (status: failure: p99 too high)"


def test_names_are_exact() -> None:
    result = gates([run("Integration-Tests"), run("load-tests ")])
    assert result["check integration-tests"][0] is GateStatus.PENDING
    assert result["check load-tests"][0] is GateStatus.PENDING


def test_missing_within_grace_is_pending_with_the_time_left() -> None:
    required = {"load-tests": ["staging", "production"]}
    status, message = gates([], HEAD_TIME + timedelta(minutes=10), required)["check load-tests"]
    assert status is GateStatus.PENDING
    assert message == (
        "not reported yet on abc1234 (required for staging, production; fails if still "
        "missing 30m after the commit, in 20m)"
    )


def test_missing_at_the_deadline_fails() -> None:
    status, message = gates([run("integration-tests")], HEAD_TIME + timedelta(minutes=30))[
        "check load-tests"
    ]
    assert status is GateStatus.FAILED
    assert message == (
        "never reported on abc1234 within 30m of the commit (required for production); "
        "is the check's name right?"
    )


def test_missing_one_second_before_the_deadline_is_pending() -> None:
    now = HEAD_TIME + timedelta(minutes=30) - timedelta(seconds=1)
    status, message = gates([run("integration-tests")], now)["check load-tests"]
    assert status is GateStatus.PENDING
    assert message.endswith("in 0m)")


def test_missing_long_after_fails() -> None:
    status, _ = gates([], HEAD_TIME + timedelta(days=3))["check integration-tests"]
    assert status is GateStatus.FAILED


def test_custom_grace() -> None:
    now = HEAD_TIME + timedelta(minutes=10)
    status, message = gates([], now, grace=5)["check load-tests"]
    assert status is GateStatus.FAILED
    assert "within 5m of the commit" in message
    status, message = gates([], now, grace=120)["check load-tests"]
    assert status is GateStatus.PENDING
    assert "fails if still missing 120m after the commit, in 1h 50m" in message


def test_zero_grace_fails_a_missing_check_at_once() -> None:
    status, _ = gates([], HEAD_TIME, grace=0)["check load-tests"]
    assert status is GateStatus.FAILED


def test_a_report_counts_even_after_the_grace() -> None:
    late = HEAD_TIME + timedelta(days=2)
    result = gates([run("integration-tests"), run("load-tests", None, "queued")], late)
    assert result["check integration-tests"][0] is GateStatus.PASSED
    assert result["check load-tests"][0] is GateStatus.PENDING


# --- end to end: the repository and the fake GitHub -------------------------------------------

CHECKOUT = "flags/checkout/checkout-redesign.yaml"
PROD_OFF = "production:\n      enabled: false\n      variant: off"
PROD_ON = "production:\n      enabled: true\n      variant: on"
NUMBER = 7
REQUIRED = ("integration-tests", "load-tests")
RunStatus = Literal["queued", "in_progress", "completed"]
TEAMS: dict[str, dict[str, MemberState]] = {
    "tech-leads": {"alice": "active"},
    "senior-engineers": {},
    "product-owners": {"bob": "active"},
    "product-managers": {},
    "security": {"sam": "active"},
    "engineering": {"erin": "active", "dev": "active", "alice": "active"},
    "engineering-managers": {"mia": "active"},
    "flag-admins": {"root": "active"},
}
COMMITTED = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
"""The head commit's committer time (its author time is a day earlier)."""
WITHIN_GRACE = "2026-11-27T10:10:00+01:00"  # 10 minutes after the commit
AFTER_GRACE = "2026-11-27T09:31:00Z"


def environments_yaml(production_checks: Sequence[str] = REQUIRED) -> str:
    text = THREE_ENVIRONMENTS
    if production_checks:
        text += f"      requiredChecks: [{', '.join(production_checks)}]\n"
    return text


def commit_at(repo: GitRepo, committed: datetime, message: str) -> str:
    """Commit everything, committed at ``committed`` and authored a day before."""
    authored = committed - timedelta(days=1)
    repo.git("add", "-A")
    subprocess.run(
        ["git", "commit", "-q", "--allow-empty", "-m", message],
        cwd=repo.root,
        env={
            **os.environ,
            **GIT_ENV,
            "GIT_AUTHOR_DATE": f"@{int(authored.timestamp())} +0000",
            "GIT_COMMITTER_DATE": f"@{int(committed.timestamp())} +0000",
        },
        check=True,
        capture_output=True,
    )
    return repo.git("rev-parse", "HEAD")


def _retarget_repository(payload: dict[str, Any]) -> dict[str, Any]:
    payload["repository"]["full_name"] = REPOSITORY
    payload["repository"]["name"] = NAME
    payload["repository"]["owner"]["login"] = OWNER
    return payload


def _sample(path: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((WEBHOOKS / path).read_text()))


def check_run_payload(
    sha: str, name: str, conclusion: str = "success", action: str = "completed"
) -> dict[str, Any]:
    """GitHub's check_run webhook sample for ``name`` on ``sha``."""
    payload = _sample("check_run/completed.payload.json")
    payload["action"] = action
    run = payload["check_run"]
    run["head_sha"] = run["check_suite"]["head_sha"] = run["check_suite"]["after"] = sha
    run["name"] = name
    run["status"] = "completed" if action == "completed" else "in_progress"
    run["conclusion"] = conclusion if action == "completed" else None
    return _retarget_repository(payload)


def check_suite_payload(sha: str) -> dict[str, Any]:
    """GitHub's check_suite completed webhook sample on ``sha``."""
    payload = _sample("check_suite/completed.payload.json")
    payload["check_suite"]["head_sha"] = payload["check_suite"]["after"] = sha
    return _retarget_repository(payload)


def status_payload(sha: str, context: str, state: str = "success") -> dict[str, Any]:
    """GitHub's status webhook sample for ``context`` on ``sha``."""
    payload = _sample("status/payload.json")
    payload["sha"] = payload["commit"]["sha"] = sha
    payload["context"], payload["state"] = context, state
    return _retarget_repository(payload)


def workflow_run_payload(sha: str, action: str = "completed") -> dict[str, Any]:
    """A minimal workflow_run event (the fields GitHub documents that flaggate could read)."""
    repository = _sample("check_suite/completed.payload.json")["repository"]
    return _retarget_repository(
        {
            "action": action,
            "workflow_run": {
                "id": 30433642,
                "name": "CI",
                "event": "pull_request",
                "head_branch": "feature",
                "head_sha": sha,
                "status": "completed" if action == "completed" else "in_progress",
                "conclusion": "success" if action == "completed" else None,
                "pull_requests": [],
            },
            "repository": repository,
        }
    )


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with organisation(TEAMS) as server:
        yield server


@dataclass
class PullRequest:
    repo: GitRepo
    fake: FakeGitHub
    base: str
    head: str

    def run(
        self,
        event: str = "pull_request",
        action: str = "synchronize",
        now: str = WITHIN_GRACE,
    ) -> ActionRun:
        payload = webhook_payload(
            event, action, NUMBER, ("main", self.base), ("feature", self.head)
        )
        return self.send(event, payload, now)

    def send(self, event: str, payload: dict[str, Any], now: str = WITHIN_GRACE) -> ActionRun:
        return run_action(self.repo, self.fake, event, payload, extra_env={"FLAGGATE_NOW": now})

    def check(
        self, name: str, conclusion: str | None = "success", status: RunStatus = "completed"
    ) -> None:
        self.fake.add_check_run(OWNER, NAME, self.head, name, status=status, conclusion=conclusion)

    def statuses(self) -> list[dict[str, Any]]:
        return [s for s in self.fake.statuses(OWNER, NAME, self.head) if s["context"] == "flaggate"]

    def status(self) -> dict[str, Any]:
        written = self.statuses()
        assert written, "no flaggate status on the head"
        return written[-1]

    def comment(self) -> str:
        [comment] = self.fake.comments(OWNER, NAME, NUMBER)
        return str(comment["body"])

    def writes(self) -> list[tuple[str, str]]:
        # A GraphQL query reads.
        return [(m, p) for m, p in self.fake.calls if m != "GET" and p != "/graphql"]


def open_pull(
    repo: GitRepo,
    fake: FakeGitHub,
    checks: Sequence[str] = REQUIRED,
    approved: bool = True,
    settings: str | None = None,
) -> PullRequest:
    """Production requires ``checks``; the pull request turns checkout-redesign on there."""
    repo.write("policies/environments.yaml", environments_yaml(checks))
    if settings is not None:
        edit(repo, "policies/settings.yaml", "  statusContext: flaggate\n", settings)
    base = repo.commit("require checks")
    repo.branch("feature")
    edit(repo, CHECKOUT, PROD_OFF, PROD_ON)
    head = commit_at(repo, COMMITTED, "turn checkout-redesign on")
    fake.add_pull(OWNER, NAME, NUMBER, "dev", "main", base, "feature", head, created_at=COMMITTED)
    fake.set_commits(OWNER, NAME, NUMBER, [(head, "dev", "dev")])
    if approved:
        fake.add_review(OWNER, NAME, NUMBER, "alice", "APPROVED", head)
        fake.add_review(OWNER, NAME, NUMBER, "bob", "APPROVED", head)
    return PullRequest(repo, fake, base, head)


def test_all_required_checks_green_is_success(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake)
    pr.check("integration-tests")
    pr.check("load-tests", "neutral")
    result = pr.run()
    assert result.code == 0, result.stderr
    assert pr.status()["state"] == "success"
    assert result.outputs["decision"] == "approved"
    plan = json.loads(result.outputs["plan"])
    gates_by_name = {g["name"]: g for g in plan["gates"]}
    assert set(gates_by_name) == {"check integration-tests", "check load-tests"}
    assert gates_by_name["check load-tests"]["status"] == "passed"
    assert f"passed on {pr.head[:7]}" in gates_by_name["check load-tests"]["message"]


def test_without_approvals_green_checks_still_wait_for_reviews(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, approved=False)
    pr.check("integration-tests")
    pr.check("load-tests")
    result = pr.run()
    assert result.code == 0, result.stderr
    assert pr.status()["state"] == "pending"
    assert pr.status()["description"].startswith("needs technical-review")


def test_a_running_check_keeps_the_status_pending(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake)
    pr.check("integration-tests")
    pr.check("load-tests", None, "in_progress")
    result = pr.run()
    assert result.code == 0, result.stderr
    status = pr.status()
    assert status["state"] == "pending"
    assert status["description"] == (
        f"waiting for gate check load-tests: running on {pr.head[:7]} (check run: in progress)"
    )
    assert result.outputs["decision"] == "pending"


def test_a_failed_check_fails_the_status(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake)
    pr.check("integration-tests")
    pr.check("load-tests", "failure")
    result = pr.run()
    assert result.code == 0, result.stderr
    status = pr.status()
    assert status["state"] == "failure"
    assert "load-tests" in status["description"]
    assert "failed" in status["description"]
    assert "load-tests" in pr.comment()
    assert result.outputs["decision"] == "failed"


def test_a_commit_status_satisfies_a_required_check(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake)
    pr.check("integration-tests")
    fake.add_status(OWNER, NAME, pr.head, "success", "load-tests", "all good", creator="jenkins")
    result = pr.run()
    assert result.code == 0, result.stderr
    assert pr.status()["state"] == "success"
    plan = json.loads(result.outputs["plan"])
    [load] = [g for g in plan["gates"] if g["name"] == "check load-tests"]
    assert load["message"] == f"passed on {pr.head[:7]} (status: success: all good)"


def test_the_latest_status_of_a_context_counts(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake)
    pr.check("integration-tests")
    fake.add_status(OWNER, NAME, pr.head, "failure", "load-tests", creator="jenkins")
    fake.add_status(OWNER, NAME, pr.head, "success", "load-tests", creator="jenkins")
    assert pr.run().code == 0
    assert pr.status()["state"] == "success"


def test_a_failed_status_beats_a_green_check_run_of_the_same_name(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake)
    pr.check("integration-tests")
    pr.check("load-tests")
    fake.add_status(OWNER, NAME, pr.head, "error", "load-tests", "agent lost", creator="jenkins")
    assert pr.run().code == 0
    assert pr.status()["state"] == "failure"
    assert "load-tests" in pr.status()["description"]


def test_a_missing_check_is_pending_within_the_grace_then_fails(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake)
    pr.check("integration-tests")
    # Events that do not announce the head: the grace runs from the pull request's opening
    # (GitHub's time), the head it was opened with.
    within = pr.run("pull_request_review", "submitted", now=WITHIN_GRACE)
    assert within.code == 0, within.stderr
    status = pr.status()
    assert status["state"] == "pending"
    assert "load-tests" in status["description"]
    assert f"not reported yet on {pr.head[:7]}" in status["description"]
    assert "in 20m" in pr.comment()

    after = pr.run("pull_request_review", "submitted", now=AFTER_GRACE)
    assert after.code == 0, after.stderr
    status = pr.status()
    assert status["state"] == "failure"
    assert f"never reported on {pr.head[:7]} within 30m" in status["description"]
    assert "load-tests" in status["description"]


def test_the_grace_comes_from_the_base_settings(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(
        repo,
        fake,
        settings="  statusContext: flaggate\n  gates:\n    checksGraceMinutes: 5\n",
    )
    pr.check("integration-tests")
    assert pr.run("pull_request_review", "submitted", now=WITHIN_GRACE).code == 0
    assert pr.status()["state"] == "failure"
    assert f"never reported on {pr.head[:7]} within 5m" in pr.status()["description"]


def test_the_grace_runs_from_the_push_flaggate_saw_not_the_commit_date(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    """A synchronize event announces the head: the grace starts then, whatever date the
    commit carries (here 2019)."""
    pr = open_pull(repo, fake)
    pr.check("integration-tests")
    repo.write("README.md", "notes\n")
    pr.head = commit_at(repo, datetime(2019, 6, 1, tzinfo=UTC), "backdated")
    fake.update_pull(OWNER, NAME, NUMBER, head_sha=pr.head)
    fake.add_review(OWNER, NAME, NUMBER, "alice", "APPROVED", pr.head)
    fake.add_review(OWNER, NAME, NUMBER, "bob", "APPROVED", pr.head)
    pr.check("integration-tests")
    assert pr.run("pull_request", "synchronize", now="2026-11-27T12:00:00Z").code == 0
    assert pr.status()["state"] == "pending"
    assert pr.run("pull_request_review", "submitted", now="2026-11-27T12:29:00Z").code == 0
    assert pr.status()["state"] == "pending"
    assert pr.run("pull_request_review", "submitted", now="2026-11-27T12:31:00Z").code == 0
    assert pr.status()["state"] == "failure"
    assert "never reported" in pr.status()["description"]


def test_a_rerun_that_passes_replaces_the_failure(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake)
    pr.check("integration-tests")
    pr.check("load-tests", "failure")
    assert pr.run().code == 0
    assert pr.status()["state"] == "failure"
    pr.check("load-tests", "success")
    assert pr.run().code == 0
    assert pr.status()["state"] == "success"


def test_a_required_check_on_a_later_page_is_found(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake)
    pr.check("load-tests")
    pr.check("integration-tests")
    for i in range(120):
        pr.check(f"lint-{i:03}")
    fake.reset_calls()
    assert pr.run().code == 0
    assert pr.status()["state"] == "success"
    pages = [p for _, p in fake.calls if "/check-runs" in p]
    assert len(pages) == 2, pages


def test_checks_of_environments_the_pull_request_does_not_touch_are_not_read(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    repo.write("policies/environments.yaml", environments_yaml())
    base = repo.commit("require checks")
    repo.branch("feature")
    edit(repo, "flags/platform/api-rate-limit.yaml", "variant: strict", "variant: default")
    head = commit_at(repo, COMMITTED, "development only")
    fake.add_pull(OWNER, NAME, NUMBER, "dev", "main", base, "feature", head)
    fake.set_commits(OWNER, NAME, NUMBER, [(head, "dev", "dev")])
    pr = PullRequest(repo, fake, base, head)
    result = pr.run()
    assert result.code == 0, result.stderr
    assert pr.status()["state"] == "success"
    assert not any("/check-runs" in p or p.endswith("/status") for _, p in fake.calls)


# --- events about a commit ---------------------------------------------------------------------


def assert_re_evaluated(pr: PullRequest, result: ActionRun, state: str = "success") -> None:
    assert result.code == 0, result.stderr
    listing = f"/repos/{OWNER}/{NAME}/commits/{pr.head}/pulls"
    assert any(m == "GET" and p.split("?")[0] == listing for m, p in pr.fake.calls)
    assert pr.writes().count(("POST", f"/repos/{OWNER}/{NAME}/statuses/{pr.head}")) == 1
    assert pr.status()["state"] == state


def test_check_run_completed_for_a_required_check_re_evaluates(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake)
    pr.check("integration-tests")
    pr.check("load-tests", "failure")
    result = pr.send("check_run", check_run_payload(pr.head, "load-tests", "failure"))
    assert_re_evaluated(pr, result, "failure")
    assert "load-tests" in pr.status()["description"]


def test_check_run_completed_turns_a_pending_status_green(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake)
    pr.check("integration-tests")
    assert pr.run().code == 0
    assert pr.status()["state"] == "pending"
    pr.check("load-tests")
    fake.reset_calls()
    result = pr.send("check_run", check_run_payload(pr.head, "load-tests"))
    assert_re_evaluated(pr, result)


def test_check_run_for_a_check_no_environment_requires_writes_nothing(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake)
    pr.check("lint", "failure")
    result = pr.send("check_run", check_run_payload(pr.head, "lint", "failure"))
    assert result.code == 0, result.stderr
    assert "not a required check" in result.stdout
    assert pr.writes() == []
    assert pr.statuses() == []


def test_check_run_that_is_not_completed_is_ignored(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake)
    result = pr.send("check_run", check_run_payload(pr.head, "load-tests", action="created"))
    assert result.code == 0, result.stderr
    assert "nothing to do" in result.stdout
    assert fake.calls == []


def test_status_event_for_a_required_context_re_evaluates(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake)
    pr.check("integration-tests")
    fake.add_status(OWNER, NAME, pr.head, "success", "load-tests", creator="jenkins")
    result = pr.send("status", status_payload(pr.head, "load-tests"))
    assert_re_evaluated(pr, result)


def test_status_event_for_flaggates_own_context_writes_nothing(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake)
    pr.check("integration-tests")
    pr.check("load-tests")
    assert pr.run().code == 0
    written = len(pr.statuses())
    fake.reset_calls()
    result = pr.send("status", status_payload(pr.head, "flaggate", "success"))
    assert result.code == 0, result.stderr
    assert "not a required check" in result.stdout
    assert pr.writes() == []
    assert len(pr.statuses()) == written


def test_status_event_for_another_context_writes_nothing(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake)
    result = pr.send("status", status_payload(pr.head, "codecov/patch", "failure"))
    assert result.code == 0, result.stderr
    assert pr.writes() == []


def test_own_status_event_writes_nothing_even_when_the_flag_files_are_invalid(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    repo.write("policies/environments.yaml", environments_yaml())
    base = repo.commit("require checks")
    repo.branch("feature")
    edit(repo, CHECKOUT, "rollout: {on: 25, off: 75}", "rollout: {on: 25}")
    head = commit_at(repo, COMMITTED, "broken rollout")
    fake.add_pull(OWNER, NAME, NUMBER, "dev", "main", base, "feature", head)
    fake.set_commits(OWNER, NAME, NUMBER, [(head, "dev", "dev")])
    pr = PullRequest(repo, fake, base, head)
    assert pr.run().code == 2
    assert pr.status()["state"] == "failure"
    fake.reset_calls()
    result = pr.send("status", status_payload(pr.head, "flaggate", "failure"))
    assert pr.writes() == []
    assert result.code == 0, result.stderr


def test_own_status_event_writes_nothing_when_the_base_policies_do_not_load(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    repo.write("policies/environments.yaml", "apiVersion: flaggate/v1\nkind: Environments\n")
    base = repo.commit("broken policies")
    repo.branch("feature")
    edit(repo, CHECKOUT, "enabled: false\n      variant: off", "enabled: true\n      variant: on")
    head = commit_at(repo, COMMITTED, "turn on")
    fake.add_pull(OWNER, NAME, NUMBER, "dev", "main", base, "feature", head)
    fake.set_commits(OWNER, NAME, NUMBER, [(head, "dev", "dev")])
    pr = PullRequest(repo, fake, base, head)
    assert pr.run().code == 2
    assert pr.status()["state"] == "failure"
    fake.reset_calls()
    result = pr.send("status", status_payload(pr.head, "flaggate", "failure"))
    assert pr.writes() == []
    assert result.code == 2
    assert "cannot be matched to the policies" in result.stderr


def test_check_suite_completed_re_evaluates(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake)
    pr.check("integration-tests")
    pr.check("load-tests")
    result = pr.send("check_suite", check_suite_payload(pr.head))
    assert_re_evaluated(pr, result)


def test_workflow_run_completed_re_evaluates(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake)
    pr.check("integration-tests")
    pr.check("load-tests", "timed_out")
    result = pr.send("workflow_run", workflow_run_payload(pr.head))
    assert_re_evaluated(pr, result, "failure")


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("workflow_run", lambda sha: workflow_run_payload(sha, "requested")),
        ("check_suite", lambda sha: {**check_suite_payload(sha), "action": "requested"}),
    ],
)
def test_unfinished_suites_and_workflow_runs_are_ignored(
    repo: GitRepo, fake: FakeGitHub, event: str, payload: Callable[[str], dict[str, Any]]
) -> None:
    pr = open_pull(repo, fake)
    result = pr.send(event, payload(pr.head))
    assert result.code == 0, result.stderr
    assert fake.calls == []


def test_commit_that_heads_no_pull_request_writes_nothing(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake)
    result = pr.send("check_run", check_run_payload(pr.base, "load-tests"))
    assert result.code == 0, result.stderr
    assert "head of no open pull request" in result.stdout
    assert pr.writes() == []


def test_commit_that_heads_only_a_closed_pull_request_writes_nothing(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake)
    fake.update_pull(OWNER, NAME, NUMBER, state="closed")
    pr.check("integration-tests")
    pr.check("load-tests")
    result = pr.send("check_suite", check_suite_payload(pr.head))
    assert result.code == 0, result.stderr
    assert "head of no open pull request" in result.stdout
    assert pr.writes() == []


def test_commit_the_pull_request_moved_past_writes_nothing(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake)
    old = pr.head
    repo.write("README.md", "notes\n")
    new = commit_at(repo, COMMITTED + timedelta(minutes=5), "notes")
    fake.update_pull(OWNER, NAME, NUMBER, head_sha=new)
    fake.set_commits(OWNER, NAME, NUMBER, [(old, "dev", "dev"), (new, "dev", "dev")])
    fake.add_check_run(OWNER, NAME, old, "load-tests")
    result = pr.send("check_run", check_run_payload(old, "load-tests"))
    assert result.code == 0, result.stderr
    assert "head of no open pull request" in result.stdout
    assert pr.writes() == []


# --- cost and permissions --------------------------------------------------------------------


def normalized_calls(fake: FakeGitHub) -> list[str]:
    return sorted(re.sub(r"[0-9a-f]{40}", "<sha>", f"{m} {p}") for m, p in fake.calls)


def test_required_checks_cost_exactly_two_reads(make_repo: Callable[[], GitRepo]) -> None:
    calls = {}
    for checks in ((), REQUIRED):
        with FakeGitHub() as server:
            for slug, members in TEAMS.items():
                server.add_team(OWNER, slug, members)
            pr = open_pull(make_repo(), server, checks)
            pr.check("integration-tests")
            pr.check("load-tests")
            result = pr.run()
            assert result.code == 0, result.stderr
            assert result.outputs["decision"] == "approved"
            calls[checks] = normalized_calls(server)
            assert server.errors == []
    extra = list(calls[REQUIRED])
    for call in calls[()]:
        extra.remove(call)
    assert extra == [
        f"GET /repos/{OWNER}/{NAME}/commits/<sha>/check-runs?filter=latest&per_page=100",
        f"GET /repos/{OWNER}/{NAME}/commits/<sha>/status?per_page=100",
    ]


def test_forbidden_check_runs_give_an_error_naming_the_permission(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake)
    fake.fail("GET", rf"/repos/{OWNER}/{NAME}/commits/{pr.head}/check-runs$", 403)
    result = pr.run()
    assert result.code == 2
    status = pr.status()
    assert status["state"] == "error"
    assert "HTTP 403" in status["description"]
    assert "reading check runs" in status["description"]
    assert "'Checks: read'" in result.stderr
    assert result.outputs["decision"] == "error"
    assert "Traceback" not in result.stderr


def test_forbidden_statuses_give_an_error_naming_the_permission(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake)
    pr.check("integration-tests")
    pr.check("load-tests")
    fake.fail("GET", rf"/repos/{OWNER}/{NAME}/commits/{pr.head}/status$", 403)
    result = pr.run()
    assert result.code == 2
    assert pr.status()["state"] == "error"
    assert "'Commit statuses: read'" in result.stderr


def test_forbidden_check_runs_on_a_check_event_also_error(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake)
    fake.fail("GET", rf"/repos/{OWNER}/{NAME}/commits/{pr.head}/check-runs$", 403)
    result = pr.send("check_suite", check_suite_payload(pr.head))
    assert result.code == 2
    assert pr.status()["state"] == "error"
    assert "'Checks: read'" in result.stderr
