"""`flaggate init`: a working repository in one command, then validate and plan in it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from flaggate.yamlio import load_documents
from tests.gitrepo import GIT_ENV, PROJECT, CliResult, GitRepo

FILES = [
    ".github/workflows/flaggate.yml",
    "flags/welcome-banner.yaml",
    "policies/approval-policy.yaml",
    "policies/environments.yaml",
    "policies/roles.yaml",
    "policies/settings.yaml",
    "policies/stages.yaml",
]
PLACEHOLDER_ROLES = [
    ("tech-lead", "rule 'exempting-tag-edits'"),
    ("developer", "rule 'staging-changes'"),
    ("engineering-manager", "stage 'technical-review'"),
    ("product-owner", "stage 'business-review'"),
    ("security-engineer", "stage 'security-review'"),
    ("admin", "changes no rule matches"),
    ("incident-commander", "the emergency bypass"),
    ("on-call-engineer", "the emergency bypass"),
]
SCHEMAS = PROJECT / "schemas"
WORKFLOW_SCHEMA = Path(__file__).resolve().parent / "data" / "schemas" / "github-workflow.json"


def cli(cwd: Path, *args: str) -> CliResult:
    done = subprocess.run(
        [sys.executable, "-m", "flaggate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV, "NO_COLOR": "1", "GITHUB_ACTIONS": ""},
        check=False,
        timeout=120,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **GIT_ENV}
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def started(tmp_path: Path) -> Path:
    """A repository `flaggate init` started in a new folder."""
    root = tmp_path / "flags-repo"
    result = cli(tmp_path, "init", "flags-repo")
    assert result.code == 0, result.stderr
    return root


def test_init_writes_every_file_and_a_git_repository(tmp_path: Path) -> None:
    result = cli(tmp_path, "init", "flags-repo")
    assert result.code == 0, result.stderr
    root = tmp_path / "flags-repo"
    assert (root / ".git").is_dir()
    written = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    )
    assert written == FILES
    lines = result.stdout.splitlines()
    assert lines[0].startswith("initialised an empty git repository in flags-repo (branch ")
    assert [line for line in lines if line.startswith("created ")] == [
        f"created flags-repo/{f}" for f in sorted(FILES, key=_template_order)
    ]
    for role, user in PLACEHOLDER_ROLES:
        assert f"  role {role!r} ({user}) is bound to no team and no user" in lines


def _template_order(path: str) -> int:
    order = [
        "flags/",
        "policies/approval",
        "policies/stages",
        "policies/roles",
        "policies/environments",
        "policies/settings",
        ".github/",
    ]
    return next(i for i, prefix in enumerate(order) if path.startswith(prefix))


def test_validate_passes_and_names_every_role_to_bind(started: Path) -> None:
    result = cli(started, "validate")
    assert result.code == 0, result.stderr
    assert result.stdout == "ok: 1 flag file(s), policies in policies/: no problems\n"
    assert result.stderr.splitlines() == [
        f"policies/: warning: role {role!r} ({user}) is bound to no team and no user"
        for role, user in PLACEHOLDER_ROLES
    ]
    data = cli(started, "validate", "--format", "json").json()
    assert {d["severity"] for d in data} == {"warning"}
    assert [(d["file"], d["message"].split("'")[1]) for d in data] == [
        ("policies/roles.yaml", role) for role, _ in PLACEHOLDER_ROLES
    ]


def test_files_carry_modelines_of_schemas_they_satisfy(started: Path) -> None:
    ids = {}
    for schema_file in SCHEMAS.glob("*.schema.json"):
        schema = json.loads(schema_file.read_text())
        ids[schema["$id"]] = schema
    for name in FILES:
        if not name.endswith(".yaml"):
            continue
        text = (started / name).read_text()
        first = text.splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema=https://"), name
        url = first.split("$schema=", 1)[1]
        [document] = load_documents(text)
        jsonschema.Draft202012Validator(ids[url]).validate(document.data)


def test_the_workflow_is_the_bundled_one_for_this_repository(started: Path) -> None:
    text = (started / ".github/workflows/flaggate.yml").read_text()
    workflow = yaml.safe_load(text)
    branch = git(started, "symbolic-ref", "--short", "HEAD")
    assert workflow[True]["push"]["branches"] == [branch]  # PyYAML reads `on:` as True
    steps = workflow["jobs"]["evaluate"]["steps"]
    assert [s.get("uses") for s in steps] == ["actions/checkout@v7", "flaggate/flaggate@v1", None]
    assert "flaggate-self" not in text and "__DEFAULT_BRANCH__" not in text
    schema = json.loads(WORKFLOW_SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(workflow | {"on": workflow.pop(True)})
    actionlint = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    if Path(actionlint).exists():
        done = subprocess.run(
            [actionlint, "-no-color", ".github/workflows/flaggate.yml"],
            cwd=started,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_a_change_in_the_new_repository_plans(started: Path) -> None:
    git(started, "add", "-A")
    git(started, "commit", "-q", "-m", "flaggate init")
    changed = cli(started, "set", "welcome-banner", "production", "--on", "--variant", "on")
    assert changed.code == 0, changed.stderr
    pending = cli(started, "plan", "--format", "json")
    assert pending.code == 1
    data = pending.json()
    assert data["decision"] == "pending"
    assert [(c["flag"], c["environment"], c["rule"]) for c in data["changes"]] == [
        ("welcome-banner", "production", "production-changes")
    ]
    assert data["summary"] == "needs technical-review: 1 more of tech-lead"
    approved = cli(started, "plan", "--approve", "ana:tech-lead", "--approve", "bo:product-owner")
    assert approved.code == 0, approved.stdout
    assert "Decision: APPROVED" in approved.stdout
    staging = cli(started, "set", "welcome-banner", "staging", "--on", "--variant", "on")
    assert staging.code == 0
    assert "staging-changes (1 of developer, tech-lead)" in staging.stdout


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "existing"
    (root / "policies").mkdir(parents=True)
    (root / "policies/roles.yaml").write_text("mine\n")
    (root / "flags").mkdir()
    (root / "flags/welcome-banner.yaml").write_text("mine too\n")
    result = cli(tmp_path, "init", "existing")
    assert result.code == 2
    assert result.stderr == (
        "flaggate: error: existing: refusing to overwrite existing files: "
        "flags/welcome-banner.yaml, policies/roles.yaml (remove or move them, or run init "
        "in another directory)\n"
    )
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "flags/welcome-banner.yaml",
        "policies/roles.yaml",
    ]
    assert (root / "policies/roles.yaml").read_text() == "mine\n"
    assert not (root / ".git").exists()


def test_init_in_an_existing_repository_keeps_it(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "code")
    repo.write("README.md", "hello\n")
    head = repo.commit("first")
    result = cli(repo.root, "init")
    assert result.code == 0, result.stderr
    assert not result.stdout.startswith("initialised")
    assert repo.git("rev-parse", "HEAD") == head
    workflow = (repo.root / ".github/workflows/flaggate.yml").read_text()
    assert "    branches: [main]\n" in workflow


def test_init_below_the_top_of_a_repository_is_refused(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "mono")
    result = cli(repo.root, "init", "sub/flags")
    assert result.code == 2
    assert "is inside the git repository" in result.stderr
    assert not (repo.root / "sub").exists()
