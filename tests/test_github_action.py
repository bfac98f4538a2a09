"""`flaggate github` end to end: a real git repository, real webhook payloads, the CLI as a
subprocess, and the fake GitHub REST server over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from flaggate.github.api import connect
from flaggate.github.snapshot import read_pull
from tests.fakes.github import FakeGitHub, MemberState
from tests.github_env import (
    NAME,
    OWNER,
    ActionRun,
    app_key_pair,
    run_action,
    webhook_payload,
)
from tests.gitrepo import GitRepo, edit, flag_yaml

CHECKOUT = "flags/checkout/checkout-redesign.yaml"
PROD_OFF = "production:\n      enabled: false\n      variant: off"
PROD_ON = "production:\n      enabled: true\n      variant: on"
PROD_ROLLOUT = "production:\n      enabled: true\n      rollout: {on: 10, off: 90}"
NUMBER = 7


@dataclass
class PullRequest:
    """A pull request living both in the git repository and on the fake GitHub."""

    repo: GitRepo
    fake: FakeGitHub
    base: str
    head: str
    author: str = "dev"

    def run(self, event: str = "pull_request", action: str = "synchronize", **kw: Any) -> ActionRun:
        payload = webhook_payload(
            event, action, NUMBER, ("main", self.base), ("feature", self.head)
        )
        return run_action(self.repo, self.fake, event, payload, **kw)

    def review(self, login: str, state: str = "APPROVED", sha: str | None = None) -> dict[str, Any]:
        return self.fake.add_review(OWNER, NAME, NUMBER, login, state, sha or self.head)  # type: ignore[arg-type]

    def push(self, change: Callable[[GitRepo], None], message: str = "push") -> str:
        change(self.repo)
        self.head = self.repo.commit(message)
        self.fake.update_pull(OWNER, NAME, NUMBER, head_sha=self.head)
        self.fake.set_commits(OWNER, NAME, NUMBER, [(self.head, self.author, self.author)])
        return self.head

    def status(self) -> dict[str, Any]:
        statuses = self.fake.statuses(OWNER, NAME, self.head)
        assert statuses, "no status on head"
        return statuses[-1]

    def comments(self) -> list[dict[str, Any]]:
        return self.fake.comments(OWNER, NAME, NUMBER)

    def requested(self) -> dict[str, list[str]]:
        return self.fake.requested_reviewers(OWNER, NAME, NUMBER)


def open_pull(
    repo: GitRepo, fake: FakeGitHub, change: Callable[[GitRepo], None], author: str = "dev"
) -> PullRequest:
    base = repo.git("rev-parse", "main")
    repo.branch("feature")
    change(repo)
    head = repo.commit("change flags")
    fake.add_pull(OWNER, NAME, NUMBER, author, "main", base, "feature", head)
    fake.set_commits(OWNER, NAME, NUMBER, [(head, author, author)])
    return PullRequest(repo, fake, base, head, author)


def turn_on(repo: GitRepo) -> None:
    edit(repo, CHECKOUT, PROD_OFF, PROD_ON)


def test_production_change_walks_through_every_stage(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    first = pr.run("pull_request", "opened")
    assert first.code == 0, first.stderr
    status = pr.status()
    assert status["state"] == "pending"
    assert status["context"] == "flaggate"
    assert (
        status["description"]
        == "needs technical-review: 1 of @acme/tech-leads, @acme/senior-engineers"
    )
    assert status["target_url"] == "https://github.com/acme/flags/actions/runs/4242"
    assert pr.requested()["teams"] == ["tech-leads", "senior-engineers"]
    [comment] = pr.comments()
    assert "## ⏳ flaggate: `pending`" in comment["body"]
    assert (
        "| `checkout-redesign` | production | toggled, variant | off | on (true) |"
        in comment["body"]
    )
    assert "```mermaid" in comment["body"]
    assert (
        "**Next:** 1 approval(s) for **technical-review** from @acme/tech-leads" in comment["body"]
    )
    assert first.outputs["decision"] == "pending"
    assert json.loads(first.outputs["plan"])["stages"][0]["name"] == "technical-review"
    assert "flaggate: `pending`" in first.summary

    pr.review("alice")
    second = pr.run("pull_request_review", "submitted")
    assert second.code == 0, second.stderr
    assert pr.status()["description"] == (
        "needs business-review: 1 of @acme/product-owners, @acme/product-managers"
    )
    # tech-leads' request was satisfied by alice's review; senior-engineers' stays pending.
    assert sorted(pr.requested()["teams"]) == [
        "product-managers",
        "product-owners",
        "senior-engineers",
    ]
    [comment] = pr.comments()  # edited in place, never a second comment
    assert "@alice (tech-lead)" in comment["body"]

    pr.review("bob")
    third = pr.run("pull_request_review", "submitted")
    assert third.code == 0
    assert pr.status()["state"] == "success"
    assert third.outputs["decision"] == "approved"
    [comment] = pr.comments()
    assert "**Next:** ready to merge." in comment["body"]


def test_rerun_with_nothing_new_writes_no_comment_and_requests_nobody(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on)
    assert pr.run().code == 0
    fake.reset_calls()
    assert pr.run().code == 0
    methods = [method for method, _ in fake.calls]
    assert methods.count("PATCH") == 0
    assert not any(path.endswith("/requested_reviewers") for m, path in fake.calls if m == "POST")


def test_no_flag_changes_is_success(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, lambda r: r.write("README.md", "docs only\n"))
    result = pr.run("pull_request", "opened")
    assert result.code == 0
    assert pr.status()["state"] == "success"
    assert pr.status()["description"] == "no flag or policy changes"
    assert pr.requested() == {"users": [], "teams": []}


def test_development_only_change_is_approved_without_reviews(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(
        repo,
        fake,
        lambda r: edit(
            r, "flags/platform/api-rate-limit.yaml", "variant: strict", "variant: default"
        ),
    )
    assert pr.run().code == 0
    assert pr.status()["state"] == "success"
    assert pr.status()["description"] == "no approval required"


@pytest.mark.parametrize(
    ("login", "reason"),
    [
        ("erin", "holds none of the required roles"),
        ("tina", "holds none of the required roles"),  # pending team invitation
        ("dev", "author of the pull request"),
    ],
)
def test_approvals_that_do_not_count(
    repo: GitRepo, fake: FakeGitHub, login: str, reason: str
) -> None:
    pr = open_pull(repo, fake, turn_on)
    pr.review(login)
    result = pr.run("pull_request_review", "submitted")
    assert result.code == 0
    assert pr.status()["state"] == "pending"
    plan = json.loads(result.outputs["plan"])
    assert {"login": login, "reason": reason} in plan["ignoredReviews"]


def test_a_pusher_does_not_count(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    fake.set_commits(OWNER, NAME, NUMBER, [(pr.head, "dev", "dev"), (pr.head, "alice", "alice")])
    pr.review("alice")
    plan = json.loads(pr.run("pull_request_review", "submitted").outputs["plan"])
    assert {"login": "alice", "reason": "pushed commits to the pull request"} in plan[
        "ignoredReviews"
    ]


def test_bot_approval_does_not_count(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    fake.add_review(OWNER, NAME, NUMBER, "helper[bot]", "APPROVED", pr.head, bot=True)
    plan = json.loads(pr.run("pull_request_review", "submitted").outputs["plan"])
    assert {"login": "helper[bot]", "reason": "bot account"} in plan["ignoredReviews"]


def test_new_push_changing_the_flag_edit_drops_approvals(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    pr.review("alice")
    pr.review("bob")
    assert pr.run("pull_request_review", "submitted").outputs["decision"] == "approved"
    pr.push(lambda r: edit(r, CHECKOUT, PROD_ON, PROD_ROLLOUT))
    result = pr.run("pull_request", "synchronize")
    assert result.outputs["decision"] == "pending"
    assert pr.status()["state"] == "pending"
    plan = json.loads(result.outputs["plan"])
    reasons = {item["login"]: item["reason"] for item in plan["ignoredReviews"]}
    assert reasons == {
        "alice": "approved an older commit with other changes",
        "bob": "approved an older commit with other changes",
    }


def test_push_without_flag_effect_keeps_approvals(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    pr.review("alice")
    pr.review("bob")
    pr.push(lambda r: r.write("README.md", "notes\n"))
    result = pr.run("pull_request", "synchronize")
    assert result.outputs["decision"] == "approved"
    assert pr.status()["state"] == "success"


def test_rebase_keeps_approvals(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    pr.review("alice")
    pr.review("bob")
    repo.checkout("main")
    repo.write("docs/changelog.md", "unrelated\n")
    new_base = repo.commit("unrelated on main")
    repo.checkout("feature")
    repo.git("rebase", "-q", "main")
    pr.head = repo.git("rev-parse", "HEAD")
    pr.base = new_base
    fake.update_pull(OWNER, NAME, NUMBER, head_sha=pr.head)
    result = pr.run("pull_request", "synchronize")
    assert result.code == 0, result.stderr
    assert result.outputs["decision"] == "approved"


def test_changes_requested_fails_with_who(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    pr.review("alice")
    pr.review("bob", "CHANGES_REQUESTED")
    result = pr.run("pull_request_review", "submitted")
    assert result.code == 0
    assert pr.status()["state"] == "failure"
    assert pr.status()["description"] == "changes requested by @bob"
    assert "address the changes requested by @bob" in pr.comments()[0]["body"]


def test_dismissed_approval_does_not_count(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    review = pr.review("alice")
    fake.dismiss_review(OWNER, NAME, NUMBER, review["id"])
    result = pr.run("pull_request_review", "dismissed")
    assert result.outputs["decision"] == "pending"
    assert pr.status()["description"].startswith("needs technical-review")


def test_policy_edited_in_the_pull_request_is_ignored(repo: GitRepo, fake: FakeGitHub) -> None:
    def sneaky(r: GitRepo) -> None:
        edit(
            r,
            "policies/approval-policy.yaml",
            "value: production\n      approval:\n        required: true",
            "value: production\n      approval:\n        required: false",
        )
        turn_on(r)

    pr = open_pull(repo, fake, sneaky)
    result = pr.run("pull_request", "opened")
    plan = json.loads(result.outputs["plan"])
    assert result.outputs["decision"] == "pending"
    rules = {c["flag"]: c["rule"] for c in plan["changes"]}
    assert rules == {
        "checkout-redesign": "production-changes",
        "policies/approval-policy.yaml": "policy-changes",
    }


def test_invalid_flag_file_fails_with_file_and_line(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(
        repo, fake, lambda r: edit(r, CHECKOUT, "rollout: {on: 25, off: 75}", "rollout: {on: 25}")
    )
    result = pr.run("pull_request", "opened")
    assert result.code == 2
    assert pr.status()["state"] == "failure"
    body = pr.comments()[0]["body"]
    assert (
        f"{CHECKOUT}:18: spec.environments.staging.rollout: rollout sums to 25, must be 100" in body
    )


def test_forbidden_team_membership_fails_closed_naming_the_permission(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on)
    fake.set_team_forbidden(OWNER, "tech-leads")
    pr.review("alice")
    result = pr.run("pull_request_review", "submitted")
    assert result.code == 2
    status = pr.status()
    assert status["state"] == "error"
    assert "team acme/tech-leads: Resource not accessible by integration" in status["description"]
    assert "Members: read" in result.stderr
    assert result.outputs["decision"] == "error"


def test_server_errors_are_retried(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    fake.fail("POST", "^/graphql$", 502, times=2)
    result = pr.run()
    assert result.code == 0, result.stderr
    assert pr.status()["state"] == "pending"
    assert fake.calls.count(("POST", "/graphql")) == 3


def test_persistent_server_errors_give_an_error_status_and_exit_2(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on)
    fake.fail("POST", "^/graphql$", 500, times=100)
    pr.review("alice")
    result = pr.run("pull_request_review", "submitted", extra_env={"FLAGGATE_RETRIES": "2"})
    assert result.code == 2
    assert pr.status()["state"] == "error"
    assert pr.status()["description"].startswith(
        f"flaggate could not evaluate: reading pull request #{NUMBER} (GraphQL): HTTP 500"
    )
    assert "Traceback" not in result.stderr


def test_large_change_keeps_the_comment_under_the_limit(repo: GitRepo, fake: FakeGitHub) -> None:
    def many(r: GitRepo) -> None:
        for i in range(5000):
            r.write(
                f"flags/bulk/bulk-{i:04}.yaml",
                flag_yaml(f"bulk-{i:04}", "    production:\n      enabled: true\n"),
            )

    pr = open_pull(repo, fake, many)
    result = pr.run("pull_request", "opened")
    assert result.code == 0, result.stderr
    body = pr.comments()[0]["body"]
    assert len(body) <= 65_536
    assert "### Changes (5000)" in body
    assert "more change(s) not shown" in body


def test_merged_pull_request_is_not_evaluated_again(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    result = pr.run("pull_request", "closed")
    assert result.code == 0, result.stderr
    assert "merged without an emergency bypass; nothing to follow up" in result.stdout
    assert fake.statuses(OWNER, NAME, pr.head) == []
    assert fake.issues(OWNER, NAME) == [] or all(
        "Post-incident" not in i["title"] for i in fake.issues(OWNER, NAME)
    )


@pytest.mark.parametrize(
    ("event", "action"),
    [
        ("pull_request", "opened"),
        ("pull_request", "labeled"),
        ("pull_request", "unlabeled"),
        ("pull_request", "reopened"),
        ("pull_request", "ready_for_review"),
        ("pull_request_review", "submitted"),
        ("pull_request_review", "dismissed"),
        ("pull_request_review", "edited"),
    ],
)
def test_every_event_of_the_spec_is_evaluated(
    repo: GitRepo, fake: FakeGitHub, event: str, action: str
) -> None:
    pr = open_pull(repo, fake, turn_on)
    result = pr.run(event, action)
    assert result.code == 0, result.stderr
    assert pr.status()["state"] == "pending"


def test_dry_run_writes_nothing(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    result = pr.run(args=("--dry-run",))
    assert result.code == 0
    assert "dry run: would set status flaggate=pending" in result.stdout
    assert [c for c in fake.calls if c[0] != "GET" and c[1] != "/graphql"] == []


def test_secret_token_never_printed(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    fake.set_team_forbidden(OWNER, "tech-leads")
    pr.review("alice")
    result = pr.run("pull_request_review", "submitted")
    for text in (result.stdout, result.stderr, result.summary, *result.outputs.values()):
        assert fake.token not in text


def reference_pull(
    repo: GitRepo, fake: FakeGitHub, flags: int, *, last: bool = True
) -> PullRequest:
    """3 stages (a production change and a policy edit), 4 reviews (the last stage's
    approval only when ``last``), 1 label."""

    def change(r: GitRepo) -> None:
        turn_on(r)
        edit(r, "policies/stages.yaml", "timeoutHours: 72", "timeoutHours: 96")
        for i in range(flags - 1):
            r.write(
                f"flags/bulk/bulk-{i:04}.yaml",
                flag_yaml(f"bulk-{i:04}", "    production:\n      enabled: true\n"),
            )

    pr = open_pull(repo, fake, change)
    fake.update_pull(OWNER, NAME, NUMBER, labels=["flags"])
    pr.review("alice")
    pr.review("bob")
    if last:
        pr.review("sam")
    pr.review("erin", "COMMENTED")
    return pr


def request_lines(fake: FakeGitHub) -> str:
    return "\n".join(f"{m} {p}" for m, p in fake.calls)


@pytest.mark.parametrize("flags", [1, 500])
def test_api_calls_stay_within_budget_and_do_not_grow_with_flags(
    repo: GitRepo, fake: FakeGitHub, flags: int
) -> None:
    pr = reference_pull(repo, fake, flags, last=False)
    assert pr.run().code == 0  # the comment now exists
    pr.review("sam")  # the last stage: the decision changes
    fake.reset_calls()
    result = pr.run("pull_request_review", "submitted")
    assert result.code == 0, result.stderr
    assert result.outputs["decision"] == "approved"
    plan = json.loads(result.outputs["plan"])
    assert [s["name"] for s in plan["stages"]] == [
        "technical-review",
        "business-review",
        "security-review",
    ]
    # One read (the pull request, its reviews, comments, events, commits, labels, the head's
    # statuses and the 12 teams of the roles), then only what changed: the status, and the
    # comment (read again just before it is edited, so that a concurrent run loses nothing).
    assert fake.calls == [
        ("POST", "/graphql"),
        ("POST", f"/repos/{OWNER}/{NAME}/statuses/{pr.head}"),
        ("GET", f"/repos/{OWNER}/{NAME}/issues/comments/{pr.comments()[0]['id']}"),
        ("PATCH", f"/repos/{OWNER}/{NAME}/issues/comments/{pr.comments()[0]['id']}"),
    ], request_lines(fake)
    assert "4 GitHub API requests" in result.summary


def test_an_evaluation_that_changes_nothing_reads_once_and_writes_nothing(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = reference_pull(repo, fake, 1)
    assert pr.run().code == 0
    fake.reset_calls()
    result = pr.run("pull_request_review", "submitted")
    assert result.code == 0, result.stderr
    assert fake.calls == [("POST", "/graphql")], request_lines(fake)
    assert "1 GitHub API request<" in result.summary


def test_a_hundred_reviews_and_more_cost_no_more_requests(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = reference_pull(repo, fake, 1, last=False)
    for i in range(96):
        fake.add_user(f"reader-{i}")
        pr.review(f"reader-{i}", "COMMENTED")
    assert pr.run().code == 0
    pr.review("sam")
    fake.reset_calls()
    result = pr.run("pull_request_review", "submitted")
    assert result.outputs["decision"] == "approved"
    assert len(fake.calls) == 4, request_lines(fake)
    for i in range(96, 120):  # a second page of reviews: one more query
        fake.add_user(f"reader-{i}")
        pr.review(f"reader-{i}", "COMMENTED")
    fake.reset_calls()
    assert pr.run("pull_request_review", "submitted").outputs["decision"] == "approved"
    assert fake.calls == [("POST", "/graphql")] * 2, request_lines(fake)


def test_secondary_rate_limit_is_waited_out(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    pr.review("alice")
    fake.fail("POST", "^/graphql$", 403, headers={"Retry-After": "1"})
    result = pr.run("pull_request_review", "submitted")
    assert result.code == 0, result.stderr
    assert pr.status()["description"].startswith("needs business-review")
    assert fake.calls.count(("POST", "/graphql")) == 2


def test_dropped_connection_is_retried(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    fake.drop_connection("POST", "^/graphql$")
    result = pr.run()
    assert result.code == 0, result.stderr
    assert pr.status()["state"] == "pending"


def test_a_team_of_more_than_a_hundred_is_asked_about_the_reviewers_only(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    crowd: dict[str, MemberState] = {f"engineer-{i:03}": "active" for i in range(150)}
    fake.add_team(OWNER, "tech-leads", crowd | {"alice": "active"})
    pr = open_pull(repo, fake, turn_on)
    pr.review("alice")
    fake.reset_calls()
    result = pr.run("pull_request_review", "submitted")
    assert result.code == 0, result.stderr
    assert pr.status()["description"].startswith("needs business-review")
    queries = [r.json() for r in fake.requests if r.path == "/graphql"]
    assert len(queries) == 2, request_lines(fake)
    assert "members(first: 100, query: $q0)" in queries[1]["query"]
    assert queries[1]["variables"] == {"o0": OWNER, "s0": "tech-leads", "q0": "alice"}


def test_github_app_installation_token(repo: GitRepo, fake: FakeGitHub) -> None:
    private_pem, public_pem = app_key_pair()
    fake.enable_app("123456", public_pem)
    pr = open_pull(repo, fake, turn_on)
    pr.review("alice")
    result = pr.run(
        "pull_request_review",
        "submitted",
        extra_env={
            "GITHUB_TOKEN": "",
            "FLAGGATE_APP_ID": "123456",
            "FLAGGATE_APP_PRIVATE_KEY": private_pem,
        },
    )
    assert result.code == 0, result.stderr
    assert pr.status()["description"].startswith("needs business-review")
    paths = [p for _, p in fake.calls]
    assert f"/repos/{OWNER}/{NAME}/installation" in paths
    assert "/app/installations/4711/access_tokens" in paths
    assert private_pem not in result.stdout + result.stderr


def test_base_branch_change_is_re_evaluated(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    payload = webhook_payload(
        "pull_request", "opened", NUMBER, ("main", pr.base), ("feature", pr.head)
    )
    payload["action"] = "edited"
    payload["changes"] = {"base": {"ref": {"from": "develop"}, "sha": {"from": "0" * 40}}}
    result = run_action(repo, fake, "pull_request", payload)
    assert result.code == 0, result.stderr
    assert pr.status()["state"] == "pending"


# --- what lands: the base branch's tip, moved bases, merge queues ---------------------------


def push_payload(branch: str, before: str, after: str) -> dict[str, Any]:
    """A push event as GitHub sends it (the fields flaggate reads)."""
    return {
        "ref": f"refs/heads/{branch}",
        "before": before,
        "after": after,
        "deleted": False,
        "repository": {"full_name": f"{OWNER}/{NAME}", "default_branch": "main"},
    }


def test_a_symlinked_flag_is_a_failure_status(repo: GitRepo, fake: FakeGitHub) -> None:
    def symlink(r: GitRepo) -> None:
        (r.root / CHECKOUT).unlink()
        (r.root / CHECKOUT).symlink_to("../growth/search-ranking.yaml")

    pr = open_pull(repo, fake, symlink)
    result = pr.run("pull_request", "opened")
    assert result.code == 2
    assert pr.status()["state"] == "failure"
    assert f"{CHECKOUT}: is a symlink (mode 120000)" in result.stderr


def test_the_base_tip_is_judged_not_the_reported_base(repo: GitRepo, fake: FakeGitHub) -> None:
    """main drops the kill-switch tag after the branch point; GitHub still reports the old
    base SHA. The flip of the old branch needs approvals."""
    kill = "flags/checkout/payment-provider-kill-switch.yaml"
    pr = open_pull(
        repo,
        fake,
        lambda r: edit(r, kill, "production: {enabled: false}", "production: {enabled: true}"),
    )
    assert pr.run().code == 0
    assert pr.status()["state"] == "success"  # a kill switch on the base: no approval
    repo.checkout("main")
    edit(repo, kill, "tags: [kill-switch, payments]", "tags: [payments]")
    moved = repo.commit("no longer a kill switch")
    repo.checkout("feature")
    result = run_action(repo, fake, "push", push_payload("main", pr.base, moved))
    assert result.code == 0, result.stderr
    assert "main moved: re-judging #7" in result.stdout
    assert pr.status()["state"] == "pending"
    # the pull request's own next event judges the same
    assert pr.run().code == 0
    assert pr.status()["state"] == "pending"


def test_a_base_move_that_does_not_touch_the_change_keeps_the_status(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on)
    pr.review("alice")
    pr.review("bob")
    assert pr.run().code == 0
    assert pr.status()["state"] == "success"
    count = len(fake.statuses(OWNER, NAME, pr.head))
    repo.checkout("main")
    repo.write("README.md", "unrelated\n")
    moved = repo.commit("docs")
    repo.checkout("feature")
    result = run_action(repo, fake, "push", push_payload("main", pr.base, moved))
    assert result.code == 0, result.stderr
    assert pr.status()["state"] == "success"  # approvals kept: same change set
    assert len(fake.statuses(OWNER, NAME, pr.head)) == count  # unchanged: not rewritten


def test_a_merge_group_is_judged_as_it_lands(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    repo.checkout("main")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge pull request #7", "feature")
    group = repo.git("rev-parse", "HEAD")
    repo.git("reset", "-q", "--hard", pr.base)
    fake.push_commit(OWNER, NAME, group)
    payload = {
        "action": "checks_requested",
        "merge_group": {
            "head_sha": group,
            "head_ref": f"refs/heads/gh-readonly-queue/main/pr-{NUMBER}-{pr.head}",
            "base_sha": pr.base,
            "base_ref": "refs/heads/main",
            "head_commit": {"id": group, "tree_id": repo.git("rev-parse", f"{group}^{{tree}}")},
        },
        "repository": {"full_name": f"{OWNER}/{NAME}", "default_branch": "main"},
    }
    result = run_action(repo, fake, "merge_group", payload)
    assert result.code == 0, result.stderr
    [status] = fake.statuses(OWNER, NAME, group)
    assert status["state"] == "pending"
    assert status["description"] == "merge group of 1: #7: pending"
    pr.review("alice")
    pr.review("bob")
    result = run_action(repo, fake, "merge_group", payload)
    assert result.code == 0, result.stderr
    assert fake.statuses(OWNER, NAME, group)[-1]["state"] == "success"


def test_a_merge_group_commit_no_queued_pull_request_explains_is_an_error(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    base = repo.git("rev-parse", "main")
    turn_on(repo)
    group = repo.commit("not from the queue")
    fake.push_commit(OWNER, NAME, group)
    payload = {
        "action": "checks_requested",
        "merge_group": {
            "head_sha": group,
            "head_ref": "refs/heads/gh-readonly-queue/main/not-a-pull-request",
            "base_sha": base,
            "base_ref": "refs/heads/main",
            "head_commit": {"id": group},
        },
    }
    result = run_action(repo, fake, "merge_group", payload)
    assert result.code == 2
    [status] = fake.statuses(OWNER, NAME, group)
    assert status["state"] == "error"


def test_a_pull_request_that_moved_since_its_event_is_judged_as_it_is_now(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on)
    pr.review("alice")
    pr.review("bob")
    old = pr.head
    assert pr.run("pull_request_review", "submitted").outputs["decision"] == "approved"
    new = pr.push(lambda r: edit(r, CHECKOUT, PROD_ON, PROD_ROLLOUT))
    pr.head = old  # a late event: its payload still names the old head
    result = pr.run("pull_request_review", "submitted")
    assert result.code == 0, result.stderr
    assert result.outputs["decision"] == "pending"  # the approvals saw other changes
    assert fake.statuses(OWNER, NAME, new)[-1]["state"] == "pending"
    assert [s["state"] for s in fake.statuses(OWNER, NAME, old)] == ["success"]


def test_more_than_a_page_of_timeline_events_is_read_back_to_the_first(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on)
    for i in range(130):
        fake.add_label_event(OWNER, NAME, NUMBER, f"label-{i}", "dev")
    gh = connect(fake.url, fake.token)
    fake.reset_calls()
    pull = read_pull(gh.requester, f"{OWNER}/{NAME}", NUMBER, pr.head)
    assert [e.label for e in pull.events] == [f"label-{i}" for i in range(130)]
    assert fake.calls == [("POST", "/graphql")] * 2  # the last 100, then the 30 before
