"""What each command imports: a command loads what it uses when it uses it (`--help` nothing
beyond argparse, an offline `plan` no HTTP, GitHub, Jira or PostgreSQL client, no gate its
environments do not declare) and builds the validators of the documents it reads only."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.gitrepo import GitRepo, edit
from tests.test_github_action import CHECKOUT, PROD_OFF, PROD_ON

PROBE = """
import contextlib, io, json, sys
from flaggate.cli import main
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
built = []
base = sys.modules.get("flaggate.model.base")
if base is not None:
    models = list(base.Model.__subclasses__())
    while models:
        model = models.pop()
        models += model.__subclasses__()
        if model.__pydantic_complete__:
            built.append(model.__name__)
print(json.dumps({"code": code, "out": out.getvalue(), "modules": sorted(sys.modules),
                  "built": sorted(built)}))
"""

NEVER_OFFLINE = ("httpx", "github", "requests", "urllib3", "psycopg", "markdown_it")
"""Top-level packages an offline plan has no use for."""

UNUSED_OFFLINE = (
    "importlib.metadata",  # pydantic's plugin lookup, with plugins disabled
    "re2",  # for `regex` conditions
    "difflib",  # for did-you-mean hints
    "flaggate.gates.checks",
    "flaggate.gates.freeze",
    "flaggate.gates.soak",
    "flaggate.gates.ticket",
    "flaggate.integrations.tickets",
    "flaggate.policy.emergency",
    "flaggate.publish.comment",
    "flaggate.pull.checks",
)
"""Modules a JSON plan of the example repository (no gates, no tickets, no `regex`
condition, no emergency label, no --check, no misspelt name) has no use for."""

DOCUMENTS = {"FeatureFlag", "ApprovalPolicy", "ApprovalStages", "RoleBindings", "Environments"}
"""The models of the example repository's files; Settings, read from its file, too."""


def imported(repo: GitRepo, *args: str) -> dict[str, object]:
    """The exit code, standard output and modules loaded by one fresh interpreter running
    ``flaggate ARGS`` in ``repo``."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=repo.root,
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")},
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def tops(modules: object) -> set[str]:
    assert isinstance(modules, list)
    return {name.split(".")[0] for name in modules}


def test_an_offline_plan_loads_no_network_client(repo: GitRepo) -> None:
    edit(repo, CHECKOUT, PROD_OFF, PROD_ON)
    run = imported(repo, "plan", "--format", "json")
    assert run["code"] == 1  # pending: the production change needs approvals
    assert json.loads(str(run["out"]))["decision"] == "pending"
    modules = run["modules"]
    assert isinstance(modules, list)
    assert not tops(modules) & set(NEVER_OFFLINE), sorted(tops(modules) & set(NEVER_OFFLINE))
    loaded = [m for m in modules if m.startswith(("flaggate.github", "flaggate.integrations.jira"))]
    assert loaded == []
    assert "flaggate.gates.metrics" not in modules
    assert sorted(set(modules) & set(UNUSED_OFFLINE)) == []
    # Validators are built for the documents read, each with its parts inside; none for a
    # part alone (a settings section such as tickets, audit sinks or notifications).
    assert run["built"] == sorted(DOCUMENTS | {"Settings"})


def test_help_loads_neither_the_models_nor_yaml(repo: GitRepo) -> None:
    for command in ("validate", "plan"):
        run = imported(repo, command, "--help")
        assert run["code"] == 0
        assert f"usage: flaggate {command}" in str(run["out"])
        modules = tops(run["modules"])
        assert not modules & {"pydantic", "pydantic_core", "yaml", "ruamel", "httpx"}, command


def test_the_version_is_read_only_when_asked_for(repo: GitRepo) -> None:
    run = imported(repo, "--version")
    assert run["code"] == 0
    assert str(run["out"]).startswith("flaggate ")
    quiet = imported(repo, "validate", "--help")
    assert "importlib.metadata" not in tops(quiet["modules"]) | set(
        quiet["modules"]  # type: ignore[arg-type]
    )


def test_the_command_list_loads_no_command(repo: GitRepo) -> None:
    run = imported(repo, "--help")
    assert run["code"] == 0
    assert "validate  validate flags and policies" in str(run["out"])
    modules = run["modules"]
    assert isinstance(modules, list)
    assert [m for m in modules if m.startswith("flaggate.commands.")] == []
    assert not tops(modules) & {"pydantic", "yaml", "github", "httpx"}


COLLECTOR = """
import contextlib, gc, io, json, sys
from flaggate.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    main(["validate", "--help"])
    called = [gc.isenabled(), gc.get_freeze_count()]
    sys.argv = ["flaggate", "validate", "--help"]
    main()
print(json.dumps({"called": called, "program": [gc.isenabled(), gc.get_freeze_count() > 0]}))
"""


def test_the_program_leaves_garbage_to_its_exit() -> None:
    """As the program (no ``argv``) the collector is off while the command runs and what it
    left is frozen, out of the collection at exit; called with ``argv``, the caller's collector
    is left as it was."""
    done = subprocess.run(
        [sys.executable, "-c", COLLECTOR], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == {"called": [True, 0], "program": [False, True]}
