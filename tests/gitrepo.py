"""Real temporary git repositories for tests, and the CLI run as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.cli_runner import run_cli

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLE_POLICIES = PROJECT / "policies"
EXAMPLE_FLAGS = PROJECT / "flags"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}


@dataclass
class CliResult:
    """What a `flaggate` subprocess did."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


class GitRepo:
    """A git repository in a temporary directory, with the example policies by default."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    @classmethod
    def existing(cls, root: Path) -> GitRepo:
        """The repository already at ``root`` (a clone)."""
        repo = cls.__new__(cls)
        repo.root = root
        return repo

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            env={**os.environ, **GIT_ENV},
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
        return done.stdout.strip()

    def write(self, path: str, text: str) -> Path:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def remove(self, path: str) -> None:
        (self.root / path).unlink()

    def copy_example(self, flags: bool = True) -> None:
        shutil.copytree(EXAMPLE_POLICIES, self.root / "policies", dirs_exist_ok=True)
        if flags:
            shutil.copytree(EXAMPLE_FLAGS, self.root / "flags", dirs_exist_ok=True)

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def branch(self, name: str, start: str = "HEAD") -> None:
        self.git("checkout", "-q", "-b", name, start)

    def checkout(self, name: str) -> None:
        self.git("checkout", "-q", name)

    def flaggate(self, *args: str, env: dict[str, str] | None = None) -> CliResult:
        """Run `python -m flaggate ARGS` in the repository as a child process."""
        # Outside variables of a CI run (GITHUB_ACTIONS switches output formats) are not the
        # test's: only what it passes in ``env`` reaches the CLI.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_"))}
        done = run_cli(args, cwd=self.root, env={**inherited, "NO_COLOR": "1", **(env or {})})
        return CliResult(done.returncode, done.stdout, done.stderr)


def flag_yaml(
    name: str,
    environments: str,
    variants: str = "",
    tags: str = "[]",
    owner: str = '"@acme/team"',
    description: str = "A test flag",
) -> str:
    """A flag file; ``environments`` and ``variants`` are YAML blocks indented by 4 spaces."""
    text = (
        "apiVersion: flaggate/v1\n"
        "kind: FeatureFlag\n"
        "metadata:\n"
        f"  name: {name}\n"
        f"  owner: {owner}\n"
        f"  description: {description}\n"
        f"  tags: {tags}\n"
        "spec:\n"
    )
    if variants:
        text += "  variants:\n" + variants
    return text + "  environments:\n" + environments


THREE_ENVIRONMENTS = (
    "apiVersion: flaggate/v1\n"
    "kind: Environments\n"
    "metadata:\n"
    "  name: environments\n"
    "spec:\n"
    "  environments:\n"
    "    - name: development\n"
    "      riskLevel: low\n"
    "    - name: staging\n"
    "      riskLevel: medium\n"
    "    - name: production\n"
    "      riskLevel: critical\n"
)
"""An Environments document (development, staging, production) whose production entry
further lines, indented by 6 spaces, can extend."""


def edit(repo: GitRepo, path: str, old: str, new: str) -> None:
    """Replace ``old`` (which must be there) by ``new`` in ``path`` of ``repo``."""
    target = repo.root / path
    text = target.read_text()
    assert old in text, f"{old!r} not in {path}"
    target.write_text(text.replace(old, new))
