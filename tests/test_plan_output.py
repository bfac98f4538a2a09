"""What `flaggate plan` prints: the decision on stdout whatever it is, one JSON shape (checked
against schemas/plan-output.schema.json), the sticky comment as Markdown, errors as JSON, the
description from stdin, and when text is coloured. The CLI runs as a subprocess in real git
repositories."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import jsonschema
import pytest

from flaggate import clock, render
from flaggate.git import Git
from flaggate.pipeline import compare, judge
from flaggate.planning import use_color
from flaggate.publish.comment import MARKER, CommentState
from flaggate.publish.comment import render as render_comment
from flaggate.pull.offline import OfflinePullRequest, SimulatedReview
from flaggate.schemas import generate
from tests.cli_runner import run_cli
from tests.gitrepo import PROJECT, CliResult, GitRepo
from tests.test_plan_cli import BOTH_APPROVALS, CHECKOUT, add_production_gates, turn_on_checkout

SCHEMA = json.loads((PROJECT / "schemas" / "plan-output.schema.json").read_text())
KEYS = [
    "version",
    "decision",
    "summary",
    "base",
    "mergeBase",
    "mergedTree",
    "head",
    "notes",
    "changes",
    "stages",
    "gates",
    "bypass",
    "ignoredReviews",
    "errors",
]
INCIDENT = "Restore checkout.\n\nIncident: INC-7\nSeverity: SEV1\nJustification: checkout is down\n"
BROKEN_ROLLOUT = (
    f"{CHECKOUT}:18: spec.environments.staging.rollout: rollout sums to 95, must be 100"
)


def plan(
    repo: GitRepo, *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None
) -> CliResult:
    """`flaggate plan ARGS` in ``repo``, with no colour variables unless ``env`` sets them."""
    clean = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    done = run_cli(
        ["plan", *args],
        cwd=repo.root,
        env={**clean, **(env or {})},
        stdin=stdin if stdin is not None else b"",
        text=False,
    )
    return CliResult(done.returncode, done.stdout.decode(), done.stderr.decode())


def break_rollout(repo: GitRepo) -> None:
    path = repo.root / CHECKOUT
    path.write_text(
        path.read_text().replace("rollout: {on: 25, off: 75}", "rollout: {on: 25, off: 70}")
    )


def break_base_policy(repo: GitRepo) -> None:
    path = repo.root / "policies/stages.yaml"
    path.write_text(path.read_text().replace("onTimeout: reject", "onTimeout: explode"))
    repo.commit("bad policy")


def gated_change(repo: GitRepo) -> None:
    add_production_gates(repo)
    turn_on_checkout(repo)


def feature_branch(repo: GitRepo) -> None:
    repo.branch("feature")
    turn_on_checkout(repo)
    repo.commit("turn on checkout")
    repo.checkout("main")


# --- JSON: one shape, every key, validated against the published schema ----------------------

Scenario = tuple[Callable[[GitRepo], None], tuple[str, ...], bytes | None, str, int]

SCENARIOS: dict[str, Scenario] = {
    "no-changes": (lambda repo: None, (), None, "no_changes", 0),
    "pending": (turn_on_checkout, (), None, "pending", 1),
    "approved": (turn_on_checkout, BOTH_APPROVALS, None, "approved", 0),
    "rejected": (
        turn_on_checkout,
        (*BOTH_APPROVALS, "--request-changes", "dave:product-manager", "--author", "erin"),
        None,
        "rejected",
        1,
    ),
    "committed-head": (feature_branch, ("--base", "main", "--head", "feature"), None, "pending", 1),
    "gates": (
        gated_change,
        (*BOTH_APPROVALS, "--check", "integration-tests", "--at", "2026-11-28T10:00Z"),
        None,
        "failed",
        1,
    ),
    "bypass": (
        turn_on_checkout,
        ("--label", "emergency", "--labeled-by", "olga:sre", "--body", "-"),
        INCIDENT.encode(),
        "bypassed",
        0,
    ),
    "bypass-refused": (turn_on_checkout, ("--label", "emergency"), None, "failed", 1),
    "invalid-file": (break_rollout, (), None, "invalid", 2),
    "invalid-base-policies": (break_base_policy, (), None, "invalid", 2),
    "error-unknown-ref": (lambda repo: None, ("--base", "no-such-ref"), None, "error", 2),
    "error-not-a-repository": (lambda repo: None, ("-C", "/"), None, "error", 2),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_json_has_every_key_and_matches_the_schema(repo: GitRepo, name: str) -> None:
    prepare, args, stdin, decision, code = SCENARIOS[name]
    prepare(repo)
    result = plan(repo, "--format", "json", *args, stdin=stdin)
    assert result.code == code, result.stderr
    data = result.json()
    assert list(data) == KEYS
    assert (data["version"], data["decision"]) == (1, decision)
    jsonschema.Draft202012Validator(SCHEMA).validate(data)


def test_json_of_a_committed_head_names_the_merge_base_and_the_merged_tree(repo: GitRepo) -> None:
    feature_branch(repo)
    data = plan(repo, "--format", "json", "--base", "main", "--head", "feature").json()
    assert data["base"] == repo.git("rev-parse", "main")
    assert data["head"] == repo.git("rev-parse", "feature")
    assert data["mergeBase"] == repo.git("merge-base", "main", "feature")
    assert data["mergedTree"] == repo.git("merge-tree", "--write-tree", "main", "feature")
    assert data["notes"] == []
    assert data["bypass"] is None


def test_json_of_the_working_tree_has_null_head_side(repo: GitRepo) -> None:
    turn_on_checkout(repo)
    data = plan(repo, "--format", "json").json()
    assert data["base"] == repo.git("rev-parse", "HEAD")
    assert (data["mergeBase"], data["mergedTree"], data["head"]) == (None, None, None)
    assert data["notes"] == []


def test_json_when_base_policies_do_not_load_knows_no_commits(repo: GitRepo) -> None:
    break_base_policy(repo)
    result = plan(repo, "--format", "json")
    data = result.json()
    assert result.stderr.startswith("policies/stages.yaml:27: spec.stages.2.onTimeout:")
    assert [data[k] for k in ("base", "mergeBase", "mergedTree", "head", "notes")] == [None] * 5
    assert data["errors"] == result.stderr.splitlines()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--base", "no-such-ref"), "unknown revision 'no-such-ref'"),
        (("-C", "/"), "git rev-parse failed"),
    ],
)
def test_git_error_is_json_and_one_line_on_stderr(
    repo: GitRepo, args: tuple[str, ...], message: str
) -> None:
    result = plan(repo, "--format", "json", *args)
    assert result.code == 2
    data = result.json()
    assert data["decision"] == "error"
    assert message in data["summary"]
    assert data["errors"] == [data["summary"]]
    assert result.stderr == f"flaggate: error: {data['summary']}\n"


def test_usage_error_prints_no_json(repo: GitRepo) -> None:
    result = plan(repo, "--format", "json", "--approve", "alice")
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr.startswith("flaggate: error: --approve 'alice': expected LOGIN:ROLE")


def test_git_error_in_text_is_only_the_line_on_stderr(repo: GitRepo) -> None:
    result = plan(repo, "--base", "no-such-ref")
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr.startswith("flaggate: error: unknown revision 'no-such-ref'")
    assert len(result.stderr.splitlines()) == 1


def test_the_schema_is_closed_and_requires_every_key() -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    document = render.plan_error_json("boom")
    validator.validate(document)
    assert not validator.is_valid({**document, "extra": 1})
    for key in KEYS:
        assert not validator.is_valid({k: v for k, v in document.items() if k != key}), key
    assert generate()["plan-output"] == SCHEMA


# --- invalid: the decision on stdout, the problems on stderr ---------------------------------


def test_invalid_text_prints_the_decision_on_stdout(repo: GitRepo) -> None:
    break_rollout(repo)
    result = plan(repo)
    assert result.code == 2
    assert result.stderr.splitlines() == [BROKEN_ROLLOUT]
    assert result.stdout.splitlines()[-1] == (
        "Decision: INVALID — 1 problem(s) in flag or policy files"
    )


def test_invalid_markdown_prints_the_comment_on_stdout(repo: GitRepo) -> None:
    break_rollout(repo)
    result = plan(repo, "--format", "markdown")
    assert result.code == 2
    assert result.stderr.splitlines() == [BROKEN_ROLLOUT]
    assert result.stdout.startswith("## ⚠️ flaggate: `invalid`\n")
    assert f"### Problems\n\n```\n{BROKEN_ROLLOUT}\n```" in result.stdout
    assert "**Next:** fix the problems listed above and push again." in result.stdout


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_base_policies_that_do_not_load_print_the_decision_on_stdout(
    repo: GitRepo, fmt: str
) -> None:
    break_base_policy(repo)
    result = plan(repo, "--format", fmt)
    assert result.code == 2
    assert result.stderr.startswith("policies/stages.yaml:27: spec.stages.2.onTimeout:")
    assert "INVALID" in result.stdout.upper()
    assert "Traceback" not in result.stderr


# --- markdown: the sticky comment, without its hidden lines ---------------------------------


def test_markdown_is_the_sticky_comment(repo: GitRepo) -> None:
    feature_branch(repo)
    result = plan(
        repo, "--format", "markdown", "--base", "main", "--head", "feature", *BOTH_APPROVALS[:2]
    )
    assert result.code == 1, result.stderr
    git = Git(repo.root)
    comparison = compare(git, "main", "feature")
    pr = OfflinePullRequest(
        approvals=[SimulatedReview.parse(BOTH_APPROVALS[1], "--approve")], base_branch="main"
    )
    evaluation = judge(git, comparison, pr, now=clock.now())
    base, head = repo.git("rev-parse", "main"), repo.git("rev-parse", "feature")
    footer = (
        f"local preview by `flaggate plan`, not posted · policies from {base[:7]} · head {head[:7]}"
    )
    roles = comparison.policies.roles
    assert result.stdout == render_comment(evaluation, roles, CommentState(), footer, hidden=False)
    posted = render_comment(evaluation, roles, CommentState(), footer).split("\n")
    assert posted[:2] == [MARKER, CommentState().to_html()]
    assert result.stdout == "\n".join(posted[2:])
    assert "<!--" not in result.stdout
    assert "**Next:** 1 approval(s) for **business-review** from @acme/product-owners" in (
        result.stdout
    )


def test_markdown_of_the_working_tree_says_so_and_notes_go_to_stderr(repo: GitRepo) -> None:
    path = repo.root / "flags/platform/api-rate-limit.yaml"
    good = path.read_text()
    path.write_text(good.replace("kind: FeatureFlag", "kind: FeatureFlag\nbogus: 1"))
    repo.commit("broken on main")
    path.write_text(good)
    result = plan(repo, "--format", "markdown")
    assert result.stdout.rstrip().endswith("· working tree</sub>")
    assert "local preview by `flaggate plan`, not posted" in result.stdout
    assert "base version does not load" in result.stderr
    assert all(line.startswith("note: ") for line in result.stderr.splitlines())


def test_there_is_one_markdown_renderer() -> None:
    assert not hasattr(render, "to_markdown")


# --- --body -: the description from standard input -------------------------------------------


def test_body_from_stdin_is_the_description(repo: GitRepo) -> None:
    turn_on_checkout(repo)
    args = ("--format", "json", "--label", "emergency", "--labeled-by", "olga:sre", "--body", "-")
    data = plan(repo, *args, stdin=INCIDENT.encode()).json()
    assert data["decision"] == "bypassed"
    assert data["bypass"]["incident"] == "INC-7"
    assert data["bypass"]["justification"] == "checkout is down"
    empty = plan(repo, *args, stdin=b"").json()
    assert empty["decision"] == "failed"
    assert "no `Incident: <ID>` line" in empty["bypass"]["reason"]


def test_body_from_stdin_must_be_utf8(repo: GitRepo) -> None:
    result = plan(repo, "--body", "-", stdin=b"\xff\xfe")
    assert result.code == 2
    assert result.stderr.startswith("flaggate: error: --body -: ")
    assert len(result.stderr.splitlines()) == 1


def test_body_file_still_works(repo: GitRepo, tmp_path: Path) -> None:
    turn_on_checkout(repo)
    body = tmp_path / "body.md"
    body.write_text(INCIDENT)
    args = ("--format", "json", "--label", "emergency", "--labeled-by", "olga:sre")
    assert plan(repo, *args, "--body", str(body)).json()["decision"] == "bypassed"


# --- colour ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "tty", "environ", "expected"),
    [
        ("auto", True, {}, True),
        ("auto", False, {}, False),
        ("auto", True, {"NO_COLOR": "1"}, False),
        ("auto", True, {"NO_COLOR": ""}, True),  # empty counts as unset (no-color.org)
        ("auto", False, {"FORCE_COLOR": "1"}, True),
        ("auto", False, {"FORCE_COLOR": "0"}, True),  # any non-empty value (force-color.org)
        ("auto", False, {"FORCE_COLOR": ""}, False),
        ("auto", False, {"NO_COLOR": "", "FORCE_COLOR": "1"}, True),
        ("auto", True, {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
        ("always", False, {"NO_COLOR": "1"}, True),
        ("never", True, {"FORCE_COLOR": "1"}, False),
        ("never", True, {}, False),
    ],
)
def test_use_color(choice: str, tty: bool, environ: dict[str, str], expected: bool) -> None:
    assert use_color(choice, tty, environ) is expected


def on_a_terminal(repo: GitRepo, *args: str, env: Mapping[str, str]) -> str:
    """Standard output of `flaggate plan ARGS` when it is a terminal (a pty)."""
    clean = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "flaggate", "plan", *args],
            cwd=repo.root,
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=subprocess.DEVNULL,
            env={**clean, **env},
        )
    finally:
        os.close(follower)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        process.wait(timeout=120)
    return b"".join(chunks).decode()


@pytest.mark.parametrize(
    ("env", "colored"),
    [({}, True), ({"NO_COLOR": "1"}, False), ({"NO_COLOR": ""}, True)],
)
def test_colour_on_a_terminal(repo: GitRepo, env: dict[str, str], colored: bool) -> None:
    turn_on_checkout(repo)
    out = on_a_terminal(repo, env=env)
    assert "Decision: " in out
    assert ("\033[" in out) is colored


@pytest.mark.parametrize(
    ("args", "env", "colored"),
    [
        ((), {}, False),
        ((), {"FORCE_COLOR": "1"}, True),
        ((), {"NO_COLOR": "", "FORCE_COLOR": "1"}, True),
        ((), {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
        (("--color", "always"), {"NO_COLOR": "1"}, True),
        (("--color", "never"), {"FORCE_COLOR": "1"}, False),
        (("--color", "auto"), {"FORCE_COLOR": "1"}, True),
    ],
)
def test_colour_when_stdout_is_not_a_terminal(
    repo: GitRepo, args: tuple[str, ...], env: dict[str, str], colored: bool
) -> None:
    turn_on_checkout(repo)
    result = plan(repo, *args, env=env)
    assert result.code == 1
    assert ("\033[" in result.stdout) is colored
    last = result.stdout.splitlines()[-1]
    painted = "\033[33;1mDecision: PENDING\033[0m" if colored else "Decision: PENDING"
    assert last.startswith(painted + " — needs technical-review")


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_only_text_is_coloured(repo: GitRepo, fmt: str) -> None:
    turn_on_checkout(repo)
    result = plan(repo, "--format", fmt, "--color", "always")
    assert "\033[" not in result.stdout


def test_color_rejects_other_values(repo: GitRepo) -> None:
    result = plan(repo, "--color", "sometimes")
    assert result.code == 2
    assert "invalid choice" in result.stderr
