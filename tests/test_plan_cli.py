"""`flaggate plan` end to end: real git repositories, the CLI as a subprocess."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from flaggate.git import Git
from flaggate.source import compare
from tests.gitrepo import PROJECT, GitRepo, flag_yaml

CHECKOUT = "flags/checkout/checkout-redesign.yaml"
PROD_OFF = "production:\n      enabled: false\n      variant: off"
PROD_ON = "production:\n      enabled: true\n      variant: on"
BOTH_APPROVALS = ("--approve", "alice:tech-lead", "--approve", "bob:product-owner")


def turn_on_checkout(repo: GitRepo) -> None:
    path = repo.root / CHECKOUT
    text = path.read_text()
    assert PROD_OFF in text
    path.write_text(text.replace(PROD_OFF, PROD_ON))


def changes_of(data: dict[str, object]) -> list[tuple[str, str, str]]:
    return [(c["flag"], c["environment"], c["type"]) for c in data["changes"]]  # type: ignore[index,attr-defined]


def test_working_tree_change_waits_for_both_stages_in_order(repo: GitRepo) -> None:
    turn_on_checkout(repo)
    result = repo.flaggate("plan", "--format", "json")
    assert result.code == 1, result.stderr
    data = result.json()
    assert data["decision"] == "pending"
    assert data["head"] is None
    assert changes_of(data) == [("checkout-redesign", "production", "toggled")]
    change = data["changes"][0]
    assert change["types"] == ["toggled", "variant"]
    assert change["rule"] == "production-changes"
    assert change["requiresApproval"] is True
    assert change["previousValue"]["enabled"] is False
    assert change["newValue"] == {
        "enabled": True,
        "variant": "on",
        "rollout": None,
        "targeting": None,
        "variants": {"off": False, "on": True},
    }
    assert [(s["name"], s["status"]) for s in data["stages"]] == [
        ("technical-review", "pending"),
        ("business-review", "waiting"),
    ]
    assert data["summary"] == "needs technical-review: 1 more of tech-lead, senior-engineer"


def test_both_approvals_satisfy_production(repo: GitRepo) -> None:
    turn_on_checkout(repo)
    result = repo.flaggate("plan", "--format", "json", *BOTH_APPROVALS)
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["decision"] == "approved"
    assert [s["approvals"] for s in data["stages"]] == [
        [{"login": "alice", "role": "tech-lead"}],
        [{"login": "bob", "role": "product-owner"}],
    ]


def test_one_person_with_both_roles_counts_once(repo: GitRepo) -> None:
    turn_on_checkout(repo)
    result = repo.flaggate("plan", "--format", "json", "--approve", "carol:tech-lead,product-owner")
    assert result.code == 1
    stages = result.json()["stages"]
    assert [s["status"] for s in stages] == ["approved", "pending"]


def test_author_cannot_approve_own_change(repo: GitRepo) -> None:
    turn_on_checkout(repo)
    result = repo.flaggate("plan", "--format", "json", "--author", "alice", *BOTH_APPROVALS)
    assert result.code == 1
    data = result.json()
    assert {"login": "alice", "reason": "author of the pull request"} in data["ignoredReviews"]


def test_changes_requested_rejects(repo: GitRepo) -> None:
    turn_on_checkout(repo)
    result = repo.flaggate(
        "plan", "--format", "json", *BOTH_APPROVALS, "--request-changes", "dave:product-manager"
    )
    assert result.code == 1
    data = result.json()
    assert data["decision"] == "rejected"
    assert data["summary"] == "changes requested by @dave"


def test_committed_branches_and_merge_base(repo: GitRepo) -> None:
    repo.branch("feature")
    turn_on_checkout(repo)
    repo.commit("turn on checkout")
    # main moves on after the branch point: that change is not the pull request's.
    repo.checkout("main")
    path = repo.root / "flags/platform/api-rate-limit.yaml"
    path.write_text(path.read_text().replace("variant: strict", "variant: default"))
    repo.commit("unrelated change on main")
    result = repo.flaggate("plan", "--base", "main", "--head", "feature", "--format", "json")
    assert result.code == 1, result.stderr
    data = result.json()
    assert changes_of(data) == [("checkout-redesign", "production", "toggled")]
    assert data["base"] == repo.git("rev-parse", "main")
    assert data["head"] == repo.git("rev-parse", "feature")
    merged = repo.git("merge-tree", "--write-tree", "main", "feature")
    assert data["mergedTree"] == merged
    assert data["mergeBase"] == repo.git("merge-base", "main", "feature")
    assert data["mergeBase"] != data["base"]


def test_policy_edited_in_the_pull_request_is_ignored(repo: GitRepo) -> None:
    repo.branch("sneaky")
    policy = repo.root / "policies/approval-policy.yaml"
    # The PR tries to make production auto-approve...
    policy.write_text(
        policy.read_text().replace(
            "        required: true\n        minApprovers: 2",
            "        required: false\n        minApprovers: 2",
            1,
        )
    )
    turn_on_checkout(repo)
    repo.commit("sneaky")
    result = repo.flaggate("plan", "--base", "main", "--head", "sneaky", "--format", "json")
    data = result.json()
    assert result.code == 1
    assert data["decision"] == "pending"
    by_flag = {c["flag"]: c for c in data["changes"]}
    assert by_flag["checkout-redesign"]["rule"] == "production-changes"
    policy_change = by_flag["policies/approval-policy.yaml"]
    assert policy_change["resource"] == "policy"
    assert policy_change["type"] == "updated"
    assert policy_change["rule"] == "policy-changes"
    assert [s["name"] for s in data["stages"]] == [
        "technical-review",
        "business-review",
        "security-review",
    ]


def test_new_flag_in_untracked_file(repo: GitRepo) -> None:
    repo.write(
        "flags/new/fresh-idea.yaml",
        flag_yaml(
            "fresh-idea",
            "    development:\n      enabled: true\n    staging:\n      enabled: false\n",
        ),
    )
    result = repo.flaggate("plan", "--format", "json", "--approve", "erin:developer")
    assert result.code == 0, result.stderr
    data = result.json()
    assert changes_of(data) == [
        ("fresh-idea", "development", "created"),
        ("fresh-idea", "staging", "created"),
    ]
    assert [c["rule"] for c in data["changes"]] == ["development-auto-approve", "staging-changes"]


def test_kill_switch_needs_no_approval(repo: GitRepo) -> None:
    path = repo.root / "flags/checkout/payment-provider-kill-switch.yaml"
    path.write_text(
        path.read_text().replace("production: {enabled: false}", "production: {enabled: true}")
    )
    result = repo.flaggate("plan", "--format", "json")
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["decision"] == "approved"
    assert data["changes"][0]["rule"] == "kill-switch-bypass"
    assert data["stages"] == []


def test_adding_kill_switch_tag_does_not_exempt_the_change(repo: GitRepo) -> None:
    path = repo.root / CHECKOUT
    path.write_text(path.read_text().replace("tags: [checkout, experiment]", "tags: [kill-switch]"))
    turn_on_checkout(repo)
    data = repo.flaggate("plan", "--format", "json").json()
    rules = {(c["environment"], c["rule"]) for c in data["changes"]}
    assert rules == {("production", "production-changes"), ("*", "exempting-tag-edits")}
    assert data["decision"] == "pending"


def test_rename_is_delete_plus_create(repo: GitRepo) -> None:
    old = repo.root / "flags/platform/api-rate-limit.yaml"
    text = old.read_text().replace("name: api-rate-limit", "name: api-throttle")
    old.unlink()
    repo.write("flags/platform/api-throttle.yaml", text)
    data = repo.flaggate("plan", "--format", "json").json()
    assert sorted({(c["flag"], c["type"]) for c in data["changes"]}) == [
        ("api-rate-limit", "deleted"),
        ("api-throttle", "created"),
    ]
    assert len(data["changes"]) == 6


def test_moving_a_file_without_renaming_the_flag_changes_nothing(repo: GitRepo) -> None:
    repo.git("mv", "flags/platform/api-rate-limit.yaml", "flags/api-rate-limit.yaml")
    result = repo.flaggate("plan", "--format", "json")
    assert result.code == 0
    assert result.json()["decision"] == "no_changes"


def test_no_changes(repo: GitRepo) -> None:
    result = repo.flaggate("plan")
    assert result.code == 0
    assert "Decision: NO_CHANGES" in result.stdout


def test_invalid_head_file_reports_file_and_line(repo: GitRepo) -> None:
    path = repo.root / CHECKOUT
    path.write_text(
        path.read_text().replace("rollout: {on: 25, off: 75}", "rollout: {on: 25, off: 70}")
    )
    result = repo.flaggate("plan", "--format", "json")
    assert result.code == 2
    assert result.stderr.splitlines()[0] == (
        f"{CHECKOUT}:18: spec.environments.staging.rollout: rollout sums to 95, must be 100"
    )
    assert "Traceback" not in result.stderr
    assert result.json()["decision"] == "invalid"
    assert result.json()["errors"] == result.stderr.splitlines()


def test_broken_base_file_counts_every_environment_as_changed(repo: GitRepo) -> None:
    path = repo.root / "flags/platform/api-rate-limit.yaml"
    good = path.read_text()
    path.write_text(good.replace("kind: FeatureFlag", "kind: FeatureFlag\nbogus: 1"))
    repo.commit("broken on main")
    path.write_text(good)
    data = repo.flaggate("plan", "--format", "json").json()
    assert {(c["environment"], c["type"]) for c in data["changes"]} == {
        ("development", "created"),
        ("staging", "created"),
        ("production", "created"),
    }
    assert any("base version does not load" in note for note in data["notes"])


def test_invalid_policy_on_base_is_invalid(repo: GitRepo) -> None:
    path = repo.root / "policies/stages.yaml"
    path.write_text(path.read_text().replace("onTimeout: reject", "onTimeout: explode"))
    repo.commit("bad policy")
    result = repo.flaggate("plan")
    assert result.code == 2
    assert result.stderr.startswith("policies/stages.yaml:27: spec.stages.2.onTimeout:")
    assert "Decision: INVALID" not in result.stderr
    assert result.stdout.splitlines()[-1].startswith("Decision: INVALID — ")


def test_text_output_is_aligned(repo: GitRepo) -> None:
    turn_on_checkout(repo)
    result = repo.flaggate("plan")
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.strip().startswith("FLAG"))
    row = next(line for line in lines if line.strip().startswith("checkout-redesign"))
    assert header.index("ENV") == row.index("production")
    assert "\033[" not in result.stdout
    assert lines[-1] == (
        "Decision: PENDING — needs technical-review: 1 more of tech-lead, senior-engineer"
    )


def test_markdown_output(repo: GitRepo) -> None:
    turn_on_checkout(repo)
    result = repo.flaggate("plan", "--format", "markdown", *BOTH_APPROVALS)
    assert result.code == 0
    assert (
        "| `checkout-redesign` | production | toggled, variant | off | on (true) |" in result.stdout
    )
    assert result.stdout.startswith("## ✅ flaggate: `approved`\n")
    assert (
        "| ✅ | technical-review | 1 of tech-lead, senior-engineer "
        "| @acme/tech-leads, @acme/senior-engineers | @alice (tech-lead) |"
    ) in result.stdout
    assert "**Next:** ready to merge." in result.stdout
    assert "local preview by `flaggate plan`, not posted" in result.stdout
    assert "<!--" not in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("plan", "--base", "nope"), "flaggate: error: unknown revision 'nope'"),
        (("plan", "--approve", "alice"), "expected LOGIN:ROLE"),
        (("plan", "--format", "yaml"), "invalid choice"),
    ],
)
def test_usage_and_ref_errors_are_one_line(
    repo: GitRepo, args: tuple[str, ...], message: str
) -> None:
    result = repo.flaggate(*args)
    assert result.code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_outside_a_repository(tmp_path: object, make_repo: Callable[..., GitRepo]) -> None:
    repo = make_repo()
    result = repo.flaggate("plan", "-C", "/")
    assert result.code == 2
    assert result.stderr.startswith("flaggate: error: git rev-parse failed")


def test_git_processes_do_not_grow_with_the_change(make_repo: Callable[..., GitRepo]) -> None:
    counts = {}
    for size in (1, 60):
        repo = make_repo(flags=False)
        for i in range(80):
            repo.write(
                f"flags/f{i:03}.yaml",
                flag_yaml(f"f{i:03}", "    production:\n      enabled: false\n"),
            )
        repo.commit("flags")
        repo.branch("change")
        for i in range(size):
            repo.write(
                f"flags/f{i:03}.yaml",
                flag_yaml(f"f{i:03}", "    production:\n      enabled: true\n"),
            )
        repo.commit("flip")
        git = Git(repo.root)
        comparison = compare(git, "main", "change")
        assert len(comparison.changes) == size
        counts[size] = git.processes
    # rev-parse, ls-tree + cat-file (policies), merge-tree, diff, ls-tree (what lands),
    # cat-file (flags), read-tree + check-attr (attributes of the changed files)
    assert counts[1] == counts[60] == 9


def test_demo_runs_on_the_bundled_example(repo: GitRepo) -> None:
    result = repo.flaggate("demo", "--source", str(PROJECT))
    assert result.code == 0, result.stderr
    assert "Decision: PENDING" in result.stdout
    assert "Decision: APPROVED" in result.stdout


def add_production_gates(repo: GitRepo) -> None:
    """Production requires the check `integration-tests` and freezes on weekends."""
    envs = repo.root / "policies/environments.yaml"
    envs.write_text(
        envs.read_text().replace(
            "riskLevel: critical",
            "riskLevel: critical\n      requiredChecks: [integration-tests]\n"
            "      freeze:\n"
            "        - {name: weekends, days: [sat, sun], from: '00:00', to: '23:59'}",
        )
    )
    repo.commit("gates on production")


@pytest.mark.parametrize(
    ("now", "code", "decision", "freeze"),
    [
        ("2026-11-28T10:00Z", 1, "failed", "failed"),  # a Saturday
        ("2026-11-30T10:00Z", 1, "pending", "passed"),  # a Monday
    ],
)
def test_plan_runs_the_gates_it_can_and_keeps_the_rest_pending(
    repo: GitRepo, now: str, code: int, decision: str, freeze: str
) -> None:
    add_production_gates(repo)
    turn_on_checkout(repo)
    result = repo.flaggate("plan", "--format", "json", *BOTH_APPROVALS, env={"FLAGGATE_NOW": now})
    assert result.code == code
    data = result.json()
    assert data["decision"] == decision
    assert [(g["name"], g["kind"], g["status"]) for g in data["gates"]] == [
        ("check integration-tests", "checks", "pending"),
        ("production: freeze 'weekends'", "freeze", freeze),
    ]
    assert "by `flaggate github`" in data["gates"][0]["message"]


def test_policies_already_read_are_not_read_again(repo: GitRepo) -> None:
    repo.branch("change")
    turn_on_checkout(repo)
    repo.commit("flip")
    first = Git(repo.root)
    comparison = compare(first, "main", "change")
    again = Git(repo.root)
    reused = compare(again, "main", "change", policies=comparison.policies)
    assert reused.changes == comparison.changes
    # no ls-tree and cat-file for the policies the second time
    assert again.processes == first.processes - 2


def test_the_example_gates_work_once_uncommented(repo: GitRepo) -> None:
    envs = repo.root / "policies/environments.yaml"
    text = re.sub(r"(?m)^(      )# ", r"\1", envs.read_text())
    assert "      promotion: {from: staging" in text
    envs.write_text(text)
    repo.commit("enable the example gates")
    turn_on_checkout(repo)
    checks = [f"--check={name}" for name in ("integration-tests", "load-tests", "security-scan")]
    result = repo.flaggate(
        "plan", "--format", "json", "--at", "2026-11-30T10:00Z", *BOTH_APPROVALS, *checks
    )
    data = result.json()
    assert [(g["kind"], g["status"]) for g in data["gates"]] == [
        ("checks", "passed"),
        ("checks", "passed"),
        ("checks", "passed"),
        ("promotion", "failed"),  # staging serves on=25%, the change sets on=100%
        ("freeze", "passed"),
        ("freeze", "passed"),
        ("metric", "pending"),  # not queried without --online
    ]
    assert data["decision"] == "failed" and result.code == 1
    assert "staging serves off=75%/on=25% on the base branch" in data["gates"][3]["message"]
