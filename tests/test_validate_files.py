"""`flaggate validate FILE...` as pre-commit runs it, and the hook manifest it is run from."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.cli_runner import run_cli
from tests.gitrepo import EXAMPLE_FLAGS, PROJECT, CliResult, GitRepo, flag_yaml
from tests.test_validate_cli import problem_lines

EXAMPLE_COUNT = len(list(EXAMPLE_FLAGS.rglob("*.yaml")))
OK = f"ok: {EXAMPLE_COUNT} flag file(s), policies in policies/: no problems\n"
QA = "    qa:\n      enabled: false\n"
QA_PROBLEM = (
    "{path}:10: spec.environments.qa: environment 'qa' is not declared in "
    "Environments (development, production, staging)"
)


def a_flag(repo: GitRepo) -> str:
    """The path, relative to the repository, of one example flag file."""
    return next((repo.root / "flags").rglob("*.yaml")).relative_to(repo.root).as_posix()


def run_in(cwd: Path, *args: str) -> CliResult:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    done = run_cli(["validate", *args], cwd=cwd, env=env)
    return CliResult(done.returncode, done.stdout, done.stderr)


def test_files_of_one_repository_validate_it_once(repo: GitRepo) -> None:
    result = repo.flaggate("validate", a_flag(repo), "policies/roles.yaml", "policies/stages.yaml")
    assert (result.code, result.stdout, result.stderr) == (0, OK, "")


def test_a_problem_in_a_file_not_named_is_still_found(repo: GitRepo) -> None:
    """The whole repository is validated: a file passed may be fine while another is not."""
    repo.write("flags/x/bad.yaml", flag_yaml("bad", QA))
    assert problem_lines(repo.flaggate("validate", a_flag(repo))) == [
        QA_PROBLEM.format(path="flags/x/bad.yaml")
    ]


def test_duplicates_span_files_when_one_file_is_passed(repo: GitRepo) -> None:
    repo.write("flags/a/dup.yaml", flag_yaml("dup", QA.replace("qa", "development")))
    repo.write("flags/b/dup.yaml", flag_yaml("dup", QA.replace("qa", "development")))
    assert problem_lines(repo.flaggate("validate", "flags/b/dup.yaml")) == [
        "flags/b/dup.yaml: flag 'dup' is also defined in flags/a/dup.yaml"
    ]


def test_a_flag_is_checked_against_the_policies_when_only_it_is_passed(repo: GitRepo) -> None:
    environments = repo.root / "policies/environments.yaml"
    text = environments.read_text()
    assert "staging" in text
    repo.write("flags/x/stage.yaml", flag_yaml("stage", QA.replace("qa", "staging")))
    environments.write_text(text.replace("staging", "preprod"))
    lines = problem_lines(repo.flaggate("validate", "flags/x/stage.yaml"))
    assert any(
        line.startswith(
            "flags/x/stage.yaml:10: spec.environments.staging: environment "
            "'staging' is not declared"
        )
        for line in lines
    ), lines


def test_pre_commit_invocation_from_the_root(repo: GitRepo) -> None:
    """pre-commit runs the entry from the repository root with the matching staged files,
    relative to it, many at once (require_serial: one process)."""
    repo.write("flags/x/bad.yml", flag_yaml("bad", QA))
    repo.git("add", "-A")
    staged = repo.git("diff", "--cached", "--name-only").splitlines()
    hook = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())[0]
    files = [path for path in staged if re.search(hook["files"], path)]
    assert "flags/x/bad.yml" in files
    every = sorted(
        p.relative_to(repo.root).as_posix()
        for top in ("flags", "policies")
        for p in (repo.root / top).rglob("*.y*ml")
    )
    done = subprocess.run(
        [sys.executable, "-m", "flaggate", *hook["entry"].split()[1:], *every],
        cwd=repo.root,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"},
    )
    result = CliResult(done.returncode, done.stdout, done.stderr)
    assert problem_lines(result) == [QA_PROBLEM.format(path="flags/x/bad.yml")]
    assert result.stderr.splitlines()[-1] == (
        f"flaggate: 1 problem(s): 1 in {EXAMPLE_COUNT + 1} flag file(s), 0 in policies/"
    )


def test_files_from_two_repositories_validate_each(make_repo: Callable[..., GitRepo]) -> None:
    here, there = make_repo(), make_repo()
    there.write("flags/x/bad.yaml", flag_yaml("bad", QA))
    other = f"../{there.root.name}"
    result = here.flaggate(
        "validate", a_flag(here), f"{other}/flags/x/bad.yaml", "policies/roles.yaml"
    )
    assert result.code == 2
    assert result.stdout == f"== . ==\n{OK}== {other} ==\n"
    assert result.stderr.splitlines() == [
        QA_PROBLEM.format(path="flags/x/bad.yaml"),
        f"flaggate: 1 problem(s): 1 in {EXAMPLE_COUNT + 1} flag file(s), 0 in policies/",
    ]


def test_two_clean_repositories_pass(make_repo: Callable[..., GitRepo]) -> None:
    here, there = make_repo(), make_repo()
    other = f"../{there.root.name}"
    result = here.flaggate("validate", f"{other}/policies/roles.yaml", a_flag(here))
    assert (result.code, result.stderr) == (0, "")
    assert result.stdout == f"== {other} ==\n{OK}== . ==\n{OK}"


def test_a_file_and_its_repository_root_validate_it_once(repo: GitRepo) -> None:
    for args in ((".", a_flag(repo)), (a_flag(repo), str(repo.root)), ("policies/roles.yaml",)):
        result = repo.flaggate("validate", *args)
        assert (result.code, result.stdout, result.stderr) == (0, OK, ""), args


def test_file_and_directory_of_different_repositories(make_repo: Callable[..., GitRepo]) -> None:
    here, there = make_repo(), make_repo()
    here.write("flags/x/bad.yaml", flag_yaml("bad", QA))
    result = here.flaggate("validate", str(there.root), "flags/x/bad.yaml")
    assert result.code == 2
    assert result.stdout == f"== {there.root} ==\n{OK}== . ==\n"
    assert result.stderr.splitlines()[0] == QA_PROBLEM.format(path="flags/x/bad.yaml")


def test_files_from_a_subdirectory_find_their_repository(repo: GitRepo) -> None:
    repo.write("flags/x/bad.yaml", flag_yaml("bad", QA))
    result = run_in(repo.root / "flags", "x/bad.yaml")
    assert problem_lines(result) == [QA_PROBLEM.format(path="flags/x/bad.yaml")]


def test_without_git_the_current_directory_is_the_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    GitRepo(plain).copy_example()
    shutil.rmtree(plain / ".git")
    assert not any((folder / ".git").exists() for folder in plain.parents)
    flag = next((plain / "flags").rglob("*.yaml")).relative_to(plain).as_posix()
    result = run_in(plain, flag, "policies/roles.yaml")
    assert (result.code, result.stdout, result.stderr) == (0, OK, "")


def test_a_missing_file_is_a_usage_error(repo: GitRepo) -> None:
    for args in (("flags/nope.yaml",), (a_flag(repo), "flags/nope.yaml"), ("no-such-dir",)):
        result = repo.flaggate("validate", *args)
        assert result.code == 2, args
        assert result.stdout == ""
        assert result.stderr.splitlines() == [
            f"flaggate: error: {args[-1]}: no such file or directory"
        ]


def test_policies_and_jobs_options_still_apply_with_files(repo: GitRepo) -> None:
    repo.git("mv", "policies", "rules")
    result = repo.flaggate("validate", "--policies", "rules", "--jobs", "1", "rules/roles.yaml")
    expected = f"ok: {EXAMPLE_COUNT} flag file(s), policies in rules/: no problems\n"
    assert (result.code, result.stdout, result.stderr) == (0, expected, "")
    bad = repo.flaggate("validate", a_flag(repo), "--jobs", "0")
    assert bad.code == 2
    assert "--jobs" in bad.stderr


def test_pre_commit_hook_manifest() -> None:
    manifest = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
    assert isinstance(manifest, list)
    (hook,) = manifest
    for key in ("id", "name", "entry", "language"):  # required by pre-commit
        assert isinstance(hook[key], str) and hook[key], key
    assert hook["id"] == "flaggate-validate"
    assert hook["entry"] == "flaggate validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is True
    assert hook["require_serial"] is True
    files = re.compile(hook["files"])
    for path in ("flags/a.yaml", "flags/x/y/b.yml", "policies/roles.yaml"):
        assert files.search(path), path
    for path in ("README.md", "flags/notes.txt", "other/flags/a.yaml", "schemas/x.yaml.json"):
        assert not files.search(path), path
