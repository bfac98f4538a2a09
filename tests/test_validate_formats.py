"""`flaggate validate --format text|github|json`, columns and did-you-mean hints, and the
annotations `flaggate github` prints for an `invalid` evaluation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from flaggate.annotations import command, escape_data, escape_property
from flaggate.errors import Problem
from flaggate.model.load import load_flag
from tests.fakes.github import FakeGitHub
from tests.github_env import NAME, OWNER, run_action, webhook_payload
from tests.gitrepo import PROJECT, GitRepo, edit, flag_yaml

SCHEMA = json.loads((PROJECT / "schemas" / "validate-output.schema.json").read_text())
TEXT = {"GITHUB_ACTIONS": ""}
ACTIONS = {"GITHUB_ACTIONS": "true"}


def broken(repo: GitRepo) -> None:
    """Three broken flag files: a misspelt key, a name with `,` and `:`, a key with `%`."""
    repo.write("flags/new/demo.yaml", flag_yaml("demo", "    development:\n      enabeld: true\n"))
    repo.write("flags/new/odd,na:me.yaml", flag_yaml("odd", "    development: {enabled: true}\n"))
    repo.write(
        "flags/new/pct.yaml", flag_yaml("pct", '    staging: {enabled: true, "50%off": 1}\n')
    )


EXPECTED_JSON = [
    {
        "file": "flags/new/demo.yaml",
        "line": 10,
        "column": 5,
        "message": "spec.environments.development.enabled: required key is missing",
        "hint": None,
        "severity": "error",
    },
    {
        "file": "flags/new/demo.yaml",
        "line": 11,
        "column": 7,
        "message": "spec.environments.development.enabeld: unknown key",
        "hint": "did you mean 'enabled'?",
        "severity": "error",
    },
    {
        "file": "flags/new/odd,na:me.yaml",
        "line": 4,
        "column": 3,
        "message": "metadata.name: 'odd' must equal the file name's stem 'odd,na:me'",
        "hint": None,
        "severity": "error",
    },
    {
        "file": "flags/new/pct.yaml",
        "line": 10,
        "column": 30,
        "message": "spec.environments.staging.50%off: unknown key",
        "hint": None,
        "severity": "error",
    },
]


def validate_schema(data: Any) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(data)


def test_json_lists_every_problem_with_line_column_and_hint(repo: GitRepo) -> None:
    broken(repo)
    result = repo.flaggate("validate", "--format", "json", env=ACTIONS)
    assert result.code == 2
    assert result.stderr == ""
    data = result.json()
    validate_schema(data)
    assert data == EXPECTED_JSON


def test_json_of_a_clean_repository_is_an_empty_list(repo: GitRepo) -> None:
    result = repo.flaggate("validate", "--format", "json")
    assert (result.code, result.stdout, result.stderr) == (0, "[]\n", "")
    validate_schema(result.json())


def test_json_reports_role_warnings_where_the_role_is_bound(repo: GitRepo) -> None:
    edit(repo, "policies/roles.yaml", "sre: {teams: [acme/sre]}", "sre: {teams: []}")
    result = repo.flaggate("validate", "--format", "json")
    assert result.code == 0
    data = result.json()
    validate_schema(data)
    assert data == [
        {
            "file": "policies/roles.yaml",
            "line": 19,
            "column": 5,
            "message": "role 'sre' (the emergency bypass) is bound to no team and no user",
            "hint": None,
            "severity": "warning",
        }
    ]


def test_json_of_several_repositories_prefixes_their_folders(repo: GitRepo, tmp_path: Path) -> None:
    other = GitRepo(tmp_path / "second")
    other.copy_example()
    broken(other)
    result = repo.flaggate("validate", "--format", "json", ".", str(other.root))
    assert result.code == 2
    data = result.json()
    validate_schema(data)
    assert [d["file"] for d in data] == [f"{other.root}/{d['file']}" for d in EXPECTED_JSON]


def test_github_format_annotates_lines_and_keeps_the_text(repo: GitRepo) -> None:
    broken(repo)
    result = repo.flaggate("validate", env=ACTIONS)  # the default in GitHub Actions
    assert result.code == 2
    assert result.stdout.splitlines() == [
        "::error file=flags/new/demo.yaml,line=10,col=5,title=flaggate::"
        "spec.environments.development.enabled: required key is missing",
        "::error file=flags/new/demo.yaml,line=11,col=7,title=flaggate::"
        "spec.environments.development.enabeld: unknown key; did you mean 'enabled'?",
        "::error file=flags/new/odd%2Cna%3Ame.yaml,line=4,col=3,title=flaggate::"
        "metadata.name: 'odd' must equal the file name's stem 'odd,na:me'",
        "::error file=flags/new/pct.yaml,line=10,col=30,title=flaggate::"
        "spec.environments.staging.50%25off: unknown key",
    ]
    assert result.stderr.splitlines() == [
        "flags/new/demo.yaml:10: spec.environments.development.enabled: required key is missing",
        "flags/new/demo.yaml:11: spec.environments.development.enabeld: unknown key; "
        "did you mean 'enabled'?",
        "flags/new/odd,na:me.yaml:4: metadata.name: 'odd' must equal the file name's stem "
        "'odd,na:me'",
        "flags/new/pct.yaml:10: spec.environments.staging.50%off: unknown key",
        "flaggate: 4 problem(s): 4 in 8 flag file(s), 0 in policies/",
    ]
    explicit = repo.flaggate("validate", "--format", "github", env=TEXT)
    assert explicit.stdout == result.stdout


def test_text_is_the_default_outside_actions_and_can_be_chosen_inside(repo: GitRepo) -> None:
    broken(repo)
    for env, args in ((TEXT, ()), (ACTIONS, ("--format", "text"))):
        result = repo.flaggate("validate", *args, env=env)
        assert result.code == 2
        assert result.stdout == ""
        assert "::" not in result.stderr


def test_github_format_warns_about_roles_on_their_binding(repo: GitRepo) -> None:
    edit(repo, "policies/roles.yaml", "sre: {teams: [acme/sre]}", "")
    result = repo.flaggate("validate", env=ACTIONS)
    assert result.code == 0
    assert result.stdout.splitlines() == [
        "ok: 5 flag file(s), policies in policies/: no problems",
        "::warning file=policies/roles.yaml,line=7,col=3,title=flaggate::"
        "role 'sre' (the emergency bypass) has no binding in RoleBindings",
    ]


def test_a_key_with_a_newline_is_one_escaped_annotation(repo: GitRepo) -> None:
    path = "flags/checkout/checkout-redesign.yaml"
    edit(repo, path, "  tags:", '  "x\\n::error::forged": 1\n  tags:')
    result = repo.flaggate("validate", env=ACTIONS)
    assert result.stdout.splitlines() == [
        f"::error file={path},line=7,col=3,title=flaggate::"
        "metadata.x%0A::error::forged: unknown key"
    ]
    assert f"{path}:7: metadata.x\\n::error::forged: unknown key" in result.stderr


def test_did_you_mean_for_roles_stages_environments_kinds_and_variants(repo: GitRepo) -> None:
    edit(repo, "policies/stages.yaml", "[security-engineer]", "[security-engineers]")
    edit(
        repo, "policies/approval-policy.yaml", "review, security-review]", "review, securty-review]"
    )
    edit(repo, "policies/settings.yaml", "kind: Settings", "kind: Setting")
    data = repo.flaggate("validate", "--format", "json").json()
    hints = {d["message"].split(": ")[0]: d["hint"] for d in data}
    assert hints["kind"] == "did you mean 'Settings'?"
    edit(repo, "policies/settings.yaml", "kind: Setting", "kind: Settings")
    data = repo.flaggate("validate", "--format", "json").json()
    hints = {d["message"].split(": ")[0]: d["hint"] for d in data}
    assert hints == {
        "spec.rules.5.approval.stages.1": "did you mean 'security-review'?",
        "spec.stages.2.approverRoles.0": "did you mean 'security-engineer'?",
    }
    text = flag_yaml(
        "demo", "    prod:\n      enabled: true\n      variant: onn\n"
    )  # a bad environment and variant in one file
    problems = load_flag("flags/demo.yaml", text.encode(), frozenset({"production"}))[1]
    assert [(p.line, p.column, p.hint) for p in problems] == [
        (12, 7, "did you mean 'on'?"),
        (10, 5, "did you mean 'production'?"),
    ]


# --- the escaping rules ------------------------------------------------------------------------


def test_escaping_follows_githubs_rules() -> None:
    assert escape_data("50% a\r\nb:c,d") == "50%25 a%0D%0Ab:c,d"
    assert escape_property("50% a\r\nb:c,d") == "50%25 a%0D%0Ab%3Ac%2Cd"
    assert command("error", "bad\n", file="a,b:c.yaml", line=3, column=9) == (
        "::error file=a%2Cb%3Ac.yaml,line=3,col=9,title=flaggate::bad%0A"
    )
    assert command("warning", "no file") == "::warning title=flaggate::no file"
    assert command("error", "x", file="f.yaml", column=4) == "::error file=f.yaml,title=flaggate::x"
    assert command("error", "bell\x07 \x1b[31m") == "::error title=flaggate::bell\\x07 \\x1b[31m"


@pytest.mark.parametrize(
    ("problem", "text"),
    [
        (Problem("a.yaml", 3, "bad"), "a.yaml:3: bad"),
        (Problem("a.yaml", 3, "bad", column=7), "a.yaml:3: bad"),
        (
            Problem("a.yaml", None, "bad", hint="did you mean 'x'?"),
            "a.yaml: bad; did you mean 'x'?",
        ),
    ],
)
def test_problem_text_stays_path_line_message(problem: Problem, text: str) -> None:
    assert str(problem) == text


def test_problems_sort_by_file_line_column_then_message() -> None:
    problems = [
        Problem("b.yaml", 1, "a"),
        Problem("a.yaml", 2, "z", column=9),
        Problem("a.yaml", 2, "y", column=3),
        Problem("a.yaml", None, "m"),
        Problem("a.yaml", 2, "x"),
    ]
    assert [(p.path, p.line, p.column, p.message) for p in sorted(problems)] == [
        ("a.yaml", None, None, "m"),
        ("a.yaml", 2, None, "x"),
        ("a.yaml", 2, 3, "y"),
        ("a.yaml", 2, 9, "z"),
        ("b.yaml", 1, None, "a"),
    ]


# --- `flaggate github`: an invalid evaluation annotates the pull request's lines ----------------


def test_github_invalid_evaluation_prints_annotations(repo: GitRepo, fake: FakeGitHub) -> None:
    base = repo.git("rev-parse", "main")
    repo.branch("feature")
    path = "flags/checkout/checkout-redesign.yaml"
    edit(repo, path, "rollout: {on: 25, off: 75}", "rollout: {on: 25}")
    head = repo.commit("break a rollout")
    fake.add_pull(OWNER, NAME, 7, "dev", "main", base, "feature", head)
    fake.set_commits(OWNER, NAME, 7, [(head, "dev", "dev")])
    payload = webhook_payload("pull_request", "opened", 7, ("main", base), ("feature", head))
    inside = run_action(repo, fake, "pull_request", payload, extra_env=ACTIONS)
    assert inside.code == 2
    message = "spec.environments.staging.rollout: rollout sums to 25, must be 100"
    assert f"::error file={path},line=18,col=7,title=flaggate::{message}" in inside.stdout
    assert f"{path}:18: {message}" in inside.stderr
    outside = run_action(repo, fake, "pull_request", payload)
    assert "::error" not in outside.stdout
