"""`flaggate set` and `flaggate create`: real repositories, the CLI as a subprocess.

Every edit keeps the lines it does not touch byte for byte, re-reads (under flaggate's YAML 1.2
loader) as exactly the state asked for, validates, and writes what it touched in a form a
YAML 1.1 reader (PyYAML's safe_load) reads the same way. Refusals leave the file untouched.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from flaggate.model.load import load_flag
from flaggate.yamlio import load_documents
from tests.gitrepo import EXAMPLE_FLAGS, GIT_ENV, CliResult, GitRepo

CHECKOUT = "flags/checkout/checkout-redesign.yaml"
ENVIRONMENTS = ("development", "staging", "production")
DECLARED = frozenset(ENVIRONMENTS)
EXAMPLES = sorted(
    p.relative_to(EXAMPLE_FLAGS.parent).as_posix() for p in EXAMPLE_FLAGS.rglob("*.yaml")
)


def run(repo: GitRepo, *args: str, stdin: str | None = None, **env: str) -> CliResult:
    """The CLI in ``repo``, with standard input and a git identity for commits."""
    done = subprocess.run(
        [sys.executable, "-m", "flaggate", *args],
        cwd=repo.root,
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV, "NO_COLOR": "1", "GITHUB_ACTIONS": "", **env},
        check=False,
        timeout=120,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


def data_of(path: Path) -> Any:
    [document] = load_documents(path.read_bytes())
    return document.data


# --- what a set form should do to the data -----------------------------------------------------


def expected_after(data: Any, env: str, args: list[str], targeting: Any = None) -> Any:
    """The document with the edit ``args`` made, done independently of flaggate's code."""
    expected = copy.deepcopy(data)
    state = expected["spec"].setdefault("environments", {}).setdefault(env, {})
    i = 0
    while i < len(args):
        option = args[i]
        if option in ("--on", "--off"):
            state["enabled"] = option == "--on"
        elif option == "--variant":
            state.pop("rollout", None)
            state["variant"] = args[i + 1]
            i += 1
        elif option == "--rollout":
            state.pop("variant", None)
            pairs = (part.split("=") for part in args[i + 1].split(","))
            state["rollout"] = {name: json.loads(pct) for name, pct in pairs}
            i += 1
        elif option == "--targeting":
            state["targeting"] = targeting
            i += 1
        elif option == "--no-targeting":
            state.pop("targeting", None)
        i += 1
    return expected


def env_lines(text: str, env: str) -> tuple[int, int]:
    """The lines (start, end) of one environment's entry in a block `environments:` mapping
    indented by 4 (the example files' layout); (n, n) where it would be appended."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"    {env}:")), None)
    if start is None:
        return len(lines), len(lines)
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith("      ")):
        end += 1
    return start, end


def assert_only_env_changed(before: bytes, after: bytes, env: str) -> None:
    """Every line outside the environment's entry is there, byte for byte, in order."""
    old = before.splitlines(keepends=True)
    new = after.splitlines(keepends=True)
    start, end = env_lines(before.decode(), env)
    tail = len(old) - end
    assert new[:start] == old[:start]
    assert new[len(new) - tail :] == old[end:], "lines after the environment changed"


def written_forms(flag: dict[str, Any]) -> list[list[str]]:
    """Every form of `set`, with values that fit the flag."""
    variants = list(flag["spec"].get("variants", {"on": True, "off": False}))
    first, last = variants[0], variants[-1]
    return [
        ["--on"],
        ["--off"],
        ["--variant", last],
        ["--on", "--rollout", f"{first}=12.5,{last}=87.5"],
        ["--targeting", "rules.json"],
        ["--no-targeting"],
    ]


CASES = [
    (path, env, i)
    for path in EXAMPLES
    for i, env in enumerate(
        ("production", "staging", "development", "production", "staging", "staging")
    )
]


@pytest.mark.parametrize(("path", "env", "form"), CASES, ids=lambda v: str(v).split("/")[-1])
def test_every_set_form_round_trips_on_the_examples(
    repo: GitRepo, path: str, env: str, form: int
) -> None:
    target = repo.root / path
    before = target.read_bytes()
    data = data_of(target)
    args = written_forms(data)[form]
    variants = list(data["spec"].get("variants", {"on": True, "off": False}))
    rules = {"if": [{"in": ["@acme.example", {"var": "email"}]}, variants[0], variants[-1]]}
    (repo.root / "rules.json").write_text(json.dumps(rules))
    key = Path(path).stem
    result = run(repo, "set", key, env, *args)
    assert result.code == 0, result.stderr
    after = target.read_bytes()
    assert_only_env_changed(before, after, env)
    expected = expected_after(data, env, args, rules)
    assert data_of(target) == expected
    flag, problems = load_flag(path, after, DECLARED)
    assert problems == [] and flag is not None
    assert run(repo, "validate", "--format", "text").code == 0
    # A YAML 1.1 reader sees the strings set wrote as strings.
    yaml11 = yaml.safe_load(after)["spec"]["environments"][env]
    if "--variant" in args:
        assert yaml11["variant"] == args[args.index("--variant") + 1]
    if "--rollout" in args:
        assert all(isinstance(name, str) for name in yaml11["rollout"])
        assert yaml11["rollout"] == expected["spec"]["environments"][env]["rollout"]
    if "--targeting" in args:
        assert yaml11["targeting"] == rules


def test_set_prints_the_plan_row_and_what_a_pull_request_needs(repo: GitRepo) -> None:
    result = run(repo, "set", "checkout-redesign", "production", "--on", "--variant", "on")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{CHECKOUT}: written"
    assert re.split(r"\s{2,}", lines[1].strip()) == [
        "FLAG",
        "ENV",
        "CHANGE",
        "BEFORE",
        "AFTER",
        "RULE",
    ]
    assert re.split(r"\s{2,}", lines[2].strip()) == [
        "checkout-redesign",
        "production",
        "toggled,variant",
        "off",
        "on (true)",
        "production-changes",
    ]
    assert lines[3].startswith("a pull request with this change needs")
    assert "technical-review (1 of tech-lead, senior-engineer" in lines[3]
    assert ", then business-review (1 of product-owner, product-manager" in lines[3]
    # The same row as plan shows for the working tree.
    plan = repo.flaggate("plan", env={"GITHUB_ACTIONS": ""})
    assert plan.code == 1
    assert any(
        re.split(r"\s{2,}", line.strip()) == re.split(r"\s{2,}", lines[2].strip())
        for line in plan.stdout.splitlines()
    )


def test_on_and_off_are_written_quoted_and_untouched_lines_stay(repo: GitRepo) -> None:
    target = repo.root / CHECKOUT
    before = target.read_text()
    assert "variant: on\n" in before  # the example writes it unquoted: PyYAML reads True
    assert yaml.safe_load(before)["spec"]["environments"]["development"]["variant"] is True
    assert run(repo, "set", "checkout-redesign", "production", "--variant", "on").code == 0
    after = target.read_text()
    assert changed_lines(before, after) == (["      variant: off\n"], ['      variant: "on"\n'])
    assert yaml.safe_load(after)["spec"]["environments"]["production"]["variant"] == "on"
    assert run(repo, "set", "checkout-redesign", "staging", "--rollout", "on=50,off=50").code == 0
    text = target.read_text()
    assert '      rollout: {"on": 50, "off": 50}' in text
    assert "# a quarter of staging traffic" in text  # the comment stays on its line
    assert yaml.safe_load(text)["spec"]["environments"]["staging"]["rollout"] == {
        "on": 50,
        "off": 50,
    }


def test_a_file_with_comments_odd_indentation_and_flow_rules_keeps_every_other_byte(
    repo: GitRepo,
) -> None:
    text = (
        "# A hand-written flag.\n"
        "apiVersion: flaggate/v1\n"
        "kind: FeatureFlag\n"
        "metadata:\n"
        "    name: odd   # four-space indent\n"
        "    owner: '@acme/odd'\n"
        "    tags: [a,   b]\n"
        "spec:\n"
        "    variants: {on: true, off: false}\n"
        "\n"
        "    environments:\n"
        "        # the first one\n"
        "        development:\n"
        "            enabled: true\n"
        "            targeting:\n"
        "                if:\n"
        '                    - {ends_with: [{var: email}, "@acme.example"]}\n'
        "                    - on\n"
        "                    - off\n"
        "            variant: on   # served by default\n"
        "\n"
        "        # later\n"
        "        production: {enabled: false}\n"
    )
    target = repo.write("flags/odd.yaml", text)
    assert run(repo, "set", "odd", "development", "--variant", "off").code == 0
    after = target.read_text()
    assert changed_lines(text, after) == (
        ["            variant: on   # served by default\n"],
        ['            variant: "off" # served by default\n'],
    )
    assert run(repo, "set", "odd", "production", "--on", "--variant", "on").code == 0
    assert changed_lines(after, target.read_text()) == (
        ["        production: {enabled: false}\n"],
        ['        production: {enabled: true, variant: "on"}\n'],
    )
    after = target.read_text()
    assert run(repo, "set", "odd", "staging", "--off").code == 0
    assert target.read_text() == after + "        staging:\n            enabled: false\n"
    assert data_of(target)["spec"]["environments"]["staging"] == {"enabled": False}
    assert data_of(target)["spec"]["environments"]["development"]["targeting"] == {
        "if": [{"ends_with": [{"var": "email"}, "@acme.example"]}, "on", "off"]
    }


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """The lines removed and added between two texts."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    removed: list[str] = []
    added: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new).get_opcodes():
        if tag != "equal":
            removed += old[i1:i2]
            added += new[j1:j2]
    return removed, added


def test_crlf_files_keep_their_line_endings_and_permissions(repo: GitRepo) -> None:
    target = repo.root / CHECKOUT
    target.write_bytes(target.read_bytes().replace(b"\n", b"\r\n"))
    target.chmod(0o640)
    assert run(repo, "set", "checkout-redesign", "staging", "--off").code == 0
    after = target.read_bytes()
    assert b"\n" not in after.replace(b"\r\n", b"")
    assert b"      enabled: false\r\n      rollout:" in after
    assert target.stat().st_mode & 0o777 == 0o640


def test_targeting_from_standard_input_and_its_removal(repo: GitRepo) -> None:
    rules = "if:\n  - {in: [beta, {var: groups}]}\n  - on\n  - off\n"
    result = run(repo, "set", "checkout-redesign", "production", "--targeting", "-", stdin=rules)
    assert result.code == 0, result.stderr
    target = repo.root / CHECKOUT
    state = data_of(target)["spec"]["environments"]["production"]
    assert state["targeting"] == {"if": [{"in": ["beta", {"var": "groups"}]}, "on", "off"]}
    assert yaml.safe_load(target.read_text())["spec"]["environments"]["production"]["targeting"][
        "if"
    ][1:] == ["on", "off"]
    assert "targeting" in result.stdout
    assert run(repo, "set", "checkout-redesign", "production", "--no-targeting").code == 0
    assert "targeting" not in data_of(target)["spec"]["environments"]["production"]


def test_an_environment_missing_from_the_flag_needs_on_or_off(repo: GitRepo) -> None:
    path = "flags/checkout/payment-provider-kill-switch.yaml"
    text = (repo.root / path).read_text().replace("    production: {enabled: false}\n", "")
    repo.write(path, text)
    refused = run(repo, "set", "payment-provider-kill-switch", "production", "--variant", "on")
    assert refused.code == 2
    assert "say --on or --off" in refused.stderr
    added = run(repo, "set", "payment-provider-kill-switch", "production", "--off")
    assert added.code == 0, added.stderr
    assert (repo.root / path).read_text() == text + "    production:\n      enabled: false\n"
    assert re.search(r"production\s+created", added.stdout)


# --- refusals: the file is left as it was -------------------------------------------------------


def untouched(repo: GitRepo, path: str) -> Callable[[], None]:
    target = repo.root / path
    before, mtime = target.read_bytes(), target.stat().st_mtime_ns
    status = repo.git("status", "--porcelain", "--untracked-files=all")

    def check() -> None:
        assert target.read_bytes() == before
        assert target.stat().st_mtime_ns == mtime
        assert repo.git("status", "--porcelain", "--untracked-files=all") == status

    return check


REFUSALS: dict[str, tuple[list[str], str]] = {
    "unknown-environment": (
        ["production-eu", "--on"],
        "flaggate: error: environment 'production-eu' is not declared in policies/ "
        "(development, staging, production) (did you mean 'production'?)",
    ),
    "abbreviated-environment": (["prod", "--on"], "(did you mean 'production'?)"),
    "unknown-variant": (
        ["production", "--variant", "onn"],
        "flaggate: error: --variant: variant 'onn' is not declared in "
        f"{CHECKOUT} (variants: on, off) (did you mean 'on'?)",
    ),
    "rollout-not-100": (
        ["staging", "--rollout", "on=30,off=60"],
        "flaggate: error: --rollout 'on=30,off=60': the percentages sum to 90, not 100",
    ),
    "rollout-decimals-not-100": (
        ["staging", "--rollout", "on=33.3,off=66.6"],
        "the percentages sum to 99.9, not 100",
    ),
    "rollout-unknown-variant": (
        ["staging", "--rollout", "on=50,of=50"],
        "variant 'of' is not declared in flags/checkout/checkout-redesign.yaml (variants: on, "
        "off) (did you mean 'off'?)",
    ),
    "rollout-malformed": (["staging", "--rollout", "on:50"], "expected VARIANT=PERCENT"),
    "rollout-negative": (["staging", "--rollout", "on=-10,off=110"], "is not a percentage"),
    "rollout-nan": (["staging", "--rollout", "on=nan,off=100"], "is not a percentage"),
    "nothing-to-set": (["staging"], "nothing to set"),
    "on-and-off": (["staging", "--on", "--off"], "not allowed with argument"),
    "variant-and-rollout": (
        ["staging", "--variant", "on", "--rollout", "on=100"],
        "not allowed with argument",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_name_the_problem_and_leave_the_file(repo: GitRepo, case: str) -> None:
    args, message = REFUSALS[case]
    check = untouched(repo, CHECKOUT)
    result = run(repo, "set", "checkout-redesign", *args)
    assert result.code == 2, result
    assert message in result.stderr
    assert result.stdout == ""
    check()


TARGETING_REFUSALS: dict[str, tuple[str, str]] = {
    "syntax": ("if: [a, b\n", "rules.yaml:1: invalid YAML: did not find expected ',' or ']'"),
    "a-list": ("- on\n- off\n", "rules.yaml:1: targeting must be one JSON object"),
    "unknown-result": (
        '{"if": [{"var": "beta"}, "on", "of"]}',
        "rules.yaml: targeting returns 'of', which is not a variant of "
        f"{CHECKOUT} (variants: on, off) (did you mean 'off'?)",
    ),
    "python-tag": ("!!python/object:os.system {}\n", "rules.yaml:1: tag"),
    "duplicate-key": ("if: []\nif: []\n", "rules.yaml:2: duplicate key 'if'"),
}


@pytest.mark.parametrize("case", sorted(TARGETING_REFUSALS))
def test_invalid_targeting_is_refused_with_file_and_line(repo: GitRepo, case: str) -> None:
    content, message = TARGETING_REFUSALS[case]
    (repo.root.parent / "rules.yaml").write_text(content)
    check = untouched(repo, CHECKOUT)
    result = run(repo, "set", "checkout-redesign", "staging", "--targeting", "../rules.yaml")
    assert result.code == 2
    assert message.replace("rules.yaml", "../rules.yaml") in result.stderr, result.stderr
    check()


def test_a_result_the_loader_rejects_is_refused_with_its_reason(repo: GitRepo) -> None:
    created = run(repo, "create", "limits", "--owner", "@acme/x", "--variants", "low=1", "high=2")
    assert created.code == 0, created.stderr
    check = untouched(repo, "flags/limits.yaml")
    result = run(repo, "set", "limits", "staging", "--on")
    assert result.code == 2
    assert result.stderr.splitlines() == [
        "flags/limits.yaml:15: spec.environments.staging: an enabled environment needs "
        "`variant` or `rollout` (no `on` variant)",
        "flaggate: refused: the result would not be valid; flags/limits.yaml is unchanged",
    ]
    check()


def test_a_broken_flag_file_is_not_edited(repo: GitRepo) -> None:
    target = repo.root / CHECKOUT
    target.write_text(target.read_text().replace("enabled: false", "enabled: no", 1))
    check = untouched(repo, CHECKOUT)
    result = run(repo, "set", "checkout-redesign", "staging", "--off")
    assert result.code == 2
    assert "does not load: fix it first" in result.stderr
    assert "Input should be a valid boolean (got 'no')" in result.stderr
    check()


def test_unknown_flag_suggests_the_closest(repo: GitRepo) -> None:
    result = run(repo, "set", "checkout-redesing", "staging", "--off")
    assert result.code == 2
    assert result.stderr == (
        "flaggate: error: no flag 'checkout-redesing' in flags/ "
        "(did you mean 'checkout-redesign'?)\n"
    )


def test_setting_what_is_already_so_writes_nothing(repo: GitRepo) -> None:
    check = untouched(repo, CHECKOUT)
    result = run(repo, "set", "checkout-redesign", "staging", "--on")
    assert result.code == 0
    assert result.stdout == f"{CHECKOUT}: already so; nothing to change\n"
    check()


# --- --branch ------------------------------------------------------------------------------------


def test_branch_commits_only_the_flag_file(repo: GitRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    other = repo.root / "flags/growth/search-ranking.yaml"
    other.write_text(other.read_text() + "# an unrelated edit\n")
    repo.write("notes.txt", "untracked\n")
    result = run(
        repo,
        "set",
        "checkout-redesign",
        "production",
        "--on",
        "--variant",
        "on",
        "--branch",
        "enable-checkout",
    )
    assert result.code == 0, result.stderr
    assert repo.git("branch", "--show-current") == "enable-checkout"
    assert repo.git("rev-parse", "HEAD^") == base
    assert repo.git("show", "--name-only", "--format=", "HEAD") == CHECKOUT
    assert repo.git("log", "-1", "--format=%s") == "checkout-redesign: production: off → on (true)"
    assert "Made with `flaggate set checkout-redesign production" in repo.git(
        "log", "-1", "--format=%b"
    )
    assert repo.git("diff", "--name-only") == "flags/growth/search-ranking.yaml"
    assert repo.git("diff", "--cached", "--name-only") == ""
    assert repo.git("ls-files", "--others", "--exclude-standard") == "notes.txt"
    assert "committed" in result.stdout and "git push -u origin enable-checkout" in result.stdout
    plan = repo.flaggate("plan", "--base", "main", "--head", "enable-checkout", "--format", "json")
    assert [c["flag"] for c in plan.json()["changes"]] == ["checkout-redesign"]


def test_branch_refuses_an_existing_branch_or_staged_changes(repo: GitRepo) -> None:
    repo.git("branch", "taken")
    check = untouched(repo, CHECKOUT)
    taken = run(repo, "set", "checkout-redesign", "staging", "--off", "--branch", "taken")
    assert taken.code == 2
    assert "--branch 'taken': the branch already exists" in taken.stderr
    check()
    repo.write("notes.txt", "staged\n")
    repo.git("add", "notes.txt")
    check = untouched(repo, CHECKOUT)
    staged = run(repo, "set", "checkout-redesign", "staging", "--off", "--branch", "new")
    assert staged.code == 2
    assert "other changes are staged (notes.txt)" in staged.stderr
    check()
    assert repo.git("branch", "--show-current") == "main"
    bad = run(repo, "set", "checkout-redesign", "staging", "--off", "--branch", "a..b")
    assert bad.code == 2 and "not a valid branch name" in bad.stderr


def test_branch_refuses_a_flag_file_with_uncommitted_edits(repo: GitRepo) -> None:
    target = repo.root / CHECKOUT
    target.write_text(target.read_text() + "# draft\n")
    check = untouched(repo, CHECKOUT)
    result = run(repo, "set", "checkout-redesign", "staging", "--off", "--branch", "b")
    assert result.code == 2
    assert f"{CHECKOUT} has uncommitted changes" in result.stderr
    check()


# --- create -------------------------------------------------------------------------------------


def test_create_writes_a_valid_quoted_flag_off_everywhere(repo: GitRepo) -> None:
    result = run(
        repo,
        "create",
        "new-search",
        "--owner",
        "@acme/search",
        "--tag",
        "search",
        "--tag",
        "yes",
        "--description",
        "Search: the new one",
        "--dir",
        "growth",
    )
    assert result.code == 0, result.stderr
    path = repo.root / "flags/growth/new-search.yaml"
    text = path.read_text()
    assert text.startswith(
        "# yaml-language-server: $schema=https://raw.githubusercontent.com/flaggate/flaggate/"
        "v1/schemas/feature-flag.schema.json\n"
    )
    assert data_of(path) == {
        "apiVersion": "flaggate/v1",
        "kind": "FeatureFlag",
        "metadata": {
            "name": "new-search",
            "owner": "@acme/search",
            "description": "Search: the new one",
            "tags": ["search", "yes"],
        },
        "spec": {
            "variants": {"on": True, "off": False},
            "environments": {env: {"enabled": False} for env in ENVIRONMENTS},
        },
    }
    assert yaml.safe_load(text) == data_of(path)  # YAML 1.1 reads it the same
    assert '    "on": true\n    "off": false\n' in text
    row = r"new-search\s+production\s+created\s+—\s+off\s+production-changes"
    assert re.search(row, result.stdout)
    assert repo.flaggate("validate", "--format", "text").code == 0


def test_create_with_object_variants_then_every_set_form(repo: GitRepo) -> None:
    created = run(
        repo,
        "create",
        "onboarding-v2",
        "--owner",
        "@acme/growth",
        "--variants",
        'short={"steps": 3, "skippable": true},guided={"steps": 6, "skippable": false}',
    )
    assert created.code == 0, created.stderr
    path = repo.root / "flags/onboarding-v2.yaml"
    assert "    short: {steps: 3, skippable: true}\n" in path.read_text()
    repo.commit("create")
    for args in (
        ["staging", "--on", "--variant", "guided"],
        ["production", "--on", "--rollout", "short=90,guided=10"],
        ["development", "--targeting", "../r.json"],
        ["development", "--no-targeting"],
    ):
        (repo.root.parent / "r.json").write_text('{"if": [{"var": "x"}, "guided", "short"]}')
        before_data, before = data_of(path), path.read_bytes()
        result = run(repo, "set", "onboarding-v2", *args)
        assert result.code == 0, result.stderr
        targeting = {"if": [{"var": "x"}, "guided", "short"]}
        assert data_of(path) == expected_after(before_data, args[0], args[1:], targeting)
        assert_only_env_changed(before, path.read_bytes(), args[0])
    assert repo.flaggate("validate", "--format", "text").code == 0


def test_create_refuses_an_existing_flag_a_bad_name_and_mixed_types(repo: GitRepo) -> None:
    exists = run(repo, "create", "checkout-redesign", "--owner", "@x/y")
    assert exists.code == 2
    assert f"flag 'checkout-redesign' already exists: {CHECKOUT}" in exists.stderr
    bad = run(repo, "create", "Bad_Name", "--owner", "@x/y")
    assert bad.code == 2 and "must match" in bad.stderr
    mixed = run(repo, "create", "mixed", "--owner", "@x/y", "--variants", "a=1", "b=text")
    assert mixed.code == 2
    assert "flags/mixed.yaml:" in mixed.stderr and "variants mix types" in mixed.stderr
    assert not (repo.root / "flags/mixed.yaml").exists()
    escape = run(repo, "create", "x", "--owner", "@x/y", "--dir", "../outside")
    assert escape.code == 2 and "without . or .." in escape.stderr


def test_create_on_a_branch_commits_the_new_file(repo: GitRepo) -> None:
    result = run(repo, "create", "beta-banner", "--owner", "@acme/web", "--branch", "add-beta")
    assert result.code == 0, result.stderr
    assert repo.git("branch", "--show-current") == "add-beta"
    assert repo.git("show", "--name-status", "--format=", "HEAD") == "A\tflags/beta-banner.yaml"
    assert repo.git("status", "--porcelain") == ""


def test_a_failed_commit_puts_everything_back(repo: GitRepo) -> None:
    hook = repo.root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'hook says no' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = (repo.root / CHECKOUT).read_bytes()
    result = run(repo, "set", "checkout-redesign", "staging", "--off", "--branch", "doomed")
    assert result.code == 2
    assert "git commit failed" in result.stderr
    assert (repo.root / CHECKOUT).read_bytes() == before
    assert repo.git("branch", "--show-current") == "main"
    assert repo.git("branch", "--list", "doomed") == ""
    assert repo.git("status", "--porcelain") == ""
    created = run(repo, "create", "doomed-too", "--owner", "@x/y", "--branch", "doomed")
    assert created.code == 2
    assert not (repo.root / "flags/doomed-too.yaml").exists()
    assert repo.git("branch", "--show-current") == "main"
