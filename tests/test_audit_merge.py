"""Audit records written by `flaggate github` when a pull request merges (real git, the
fake GitHub over HTTP, the real merged-PR webhook payload)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from flaggate.audit.record import GENESIS, record_hash
from tests.fakes.github import FakeGitHub
from tests.github_env import NAME, OWNER, run_action, webhook_payload
from tests.gitrepo import GitRepo
from tests.test_github_action import NUMBER, PullRequest, open_pull, turn_on

BRANCH = "flaggate-audit"


def merge(repo: GitRepo, pr: PullRequest) -> str:
    repo.checkout("main")
    repo.git("merge", "--no-ff", "-q", "-m", "Merge feature", "feature")
    sha = repo.git("rev-parse", "HEAD").strip()
    pr.fake.update_pull(OWNER, NAME, NUMBER, merged_by="maintainer", merge_commit_sha=sha)
    return sha


def log_records(root: Path, ref: str = BRANCH) -> list[dict[str, object]]:
    files = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", ref], cwd=root, capture_output=True, text=True
    ).stdout.split()
    records = []
    for name in sorted(files):
        text = subprocess.run(
            ["git", "show", f"{ref}:{name}"], cwd=root, capture_output=True, text=True, check=True
        ).stdout
        records += [json.loads(line) for line in text.split("\n") if line.strip()]
    return records


def assert_chained(records: list[dict[str, object]]) -> None:
    previous = GENESIS
    for record in records:
        assert record["prevHash"] == previous
        assert record["hash"] == record_hash(record)
        previous = str(record["hash"])


def approved_and_merged(repo: GitRepo, fake: FakeGitHub) -> tuple[PullRequest, str]:
    pr = open_pull(repo, fake, turn_on)
    pr.review("alice")
    pr.review("bob")
    assert pr.run("pull_request_review", "submitted").code == 0
    return pr, merge(repo, pr)


def test_a_merge_appends_change_and_approval_records(repo: GitRepo, fake: FakeGitHub) -> None:
    pr, sha = approved_and_merged(repo, fake)
    result = pr.run("pull_request", "closed")
    assert result.code == 0, result.stderr
    assert "3 record(s) appended to branch flaggate-audit" in result.stdout
    records = log_records(repo.root)
    assert [r["eventType"] for r in records] == [
        "flag.toggled",
        "approval.approved",
        "approval.approved",
    ]
    change = records[0]
    assert change["resource"] == {
        "type": "flag",
        "id": "checkout-redesign",
        "name": "checkout-redesign",
        "environment": "production",
    }
    assert change["actor"]["login"] == "dev"  # type: ignore[index]
    action = change["action"]
    assert action["previousState"]["enabled"] is False  # type: ignore[index]
    assert action["newState"]["enabled"] is True  # type: ignore[index]
    assert action["metadata"]["rule"] == "production-changes"  # type: ignore[index]
    context = change["context"]
    assert context["repository"] == f"{OWNER}/{NAME}"  # type: ignore[index]
    assert context["pullRequest"] == NUMBER  # type: ignore[index]
    assert context["mergeSha"] == sha  # type: ignore[index]
    assert context["mergedBy"] == "maintainer"  # type: ignore[index]
    approvals = {(r["actor"]["login"], r["action"]["metadata"]["stage"]) for r in records[1:]}  # type: ignore[index]
    assert approvals == {("alice", "technical-review"), ("bob", "business-review")}
    assert_chained(records)
    assert "compliance alert::#7 changed checkout-redesign in production" in result.stdout
    # the working tree and the checked-out branch are untouched
    assert repo.git("status", "--porcelain").strip() == ""
    assert repo.git("rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


def test_running_the_merge_again_adds_nothing(repo: GitRepo, fake: FakeGitHub) -> None:
    pr, _ = approved_and_merged(repo, fake)
    assert pr.run("pull_request", "closed").code == 0
    first = log_records(repo.root)
    again = pr.run("pull_request", "closed")
    assert again.code == 0, again.stderr
    assert "0 record(s) appended to branch flaggate-audit, 3 already there" in again.stdout
    assert log_records(repo.root) == first


def test_two_merges_continue_one_chain(repo: GitRepo, fake: FakeGitHub) -> None:
    pr, _ = approved_and_merged(repo, fake)
    assert pr.run("pull_request", "closed").code == 0
    first = log_records(repo.root)
    # a second pull request, merged later, flips development
    repo.git("checkout", "-q", "-b", "second")
    path = repo.root / "flags/checkout/checkout-redesign.yaml"
    path.write_text(
        path.read_text().replace(
            "development:\n      enabled: true", "development:\n      enabled: false", 1
        )
    )
    head = repo.commit("dev off")
    fake.add_pull(
        OWNER, NAME, 8, "dev", "main", repo.git("rev-parse", "main").strip(), "second", head
    )
    fake.set_commits(OWNER, NAME, 8, [(head, "dev", "dev")])
    repo.checkout("main")
    repo.git("merge", "--no-ff", "-q", "-m", "Merge second", "second")
    sha = repo.git("rev-parse", "HEAD").strip()
    fake.update_pull(OWNER, NAME, 8, merged_by="maintainer", merge_commit_sha=sha)
    payload = webhook_payload("pull_request", "closed", 8, ("main", sha), ("second", head))
    result = run_action(repo, fake, "pull_request", payload)
    assert result.code == 0, result.stderr
    records = log_records(repo.root)
    assert records[: len(first)] == first
    assert records[-1]["eventType"] == "flag.toggled"
    assert records[-1]["resource"]["environment"] == "development"  # type: ignore[index]
    assert_chained(records)


def test_a_tampered_log_is_detected_by_recomputing_the_chain(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr, _ = approved_and_merged(repo, fake)
    assert pr.run("pull_request", "closed").code == 0
    records = log_records(repo.root)
    records[1]["actor"]["login"] = "mallory"  # type: ignore[index]
    try:
        assert_chained(records)
    except AssertionError:
        return
    raise AssertionError("an edited record went unnoticed")
