"""The project's own CI checks, run by the test command as by .github/workflows/ci.yml: lint,
format, types, actionlint on every workflow, and a package that builds and passes twine."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.test_action_files import actionlint_command

PROJECT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((PROJECT / ".github" / "workflows").glob("*.yml"))


def tool(name: str) -> str:
    """A console script of the test extra, next to this interpreter."""
    return str(Path(sysconfig.get_path("scripts")) / name)


def run(*command: str, cwd: Path = PROJECT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, check=False, timeout=600
    )


def test_ruff_finds_nothing() -> None:
    done = run(tool("ruff"), "check", "src", "tests", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_code_is_formatted() -> None:
    done = run(tool("ruff"), "format", "--check", "src", "tests", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_passes(tmp_path: Path) -> None:
    done = run(tool("mypy"), "--cache-dir", str(tmp_path / "cache"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_workflows_are_what_ci_and_release_need() -> None:
    names = {path.name for path in WORKFLOWS}
    assert {"ci.yml", "release.yml", "flaggate.yml"} <= names


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_actionlint_passes(workflow: Path) -> None:
    done = run(*actionlint_command(), str(workflow.relative_to(PROJECT)))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_package_builds_and_passes_twine(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    done = run(sys.executable, "-m", "build", "--outdir", str(out), str(PROJECT), cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    built = sorted(out.iterdir())
    assert sorted(p.suffix for p in built) == [".gz", ".whl"], built
    checked = run(tool("twine"), "check", "--strict", *map(str, built))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    wheel = next(p for p in built if p.suffix == ".whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "flaggate/github/pull_query.graphql" in names
    assert not [n for n in names if n.startswith("tests/")], "tests must not ship"
    assert os.path.getsize(wheel) > 10_000
