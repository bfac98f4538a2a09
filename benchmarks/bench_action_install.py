#!/usr/bin/env python3
"""Benchmark the GitHub Action's install step plus the first evaluation.

Standalone: standard library and subprocesses only. It runs ``scripts/install-action.sh``, as
the two steps of ``action.yml`` that run it do (``--cache-key``, then the installation; both are
in the install time), with ``GITHUB_ACTION_PATH`` set to a fresh copy of the project (as a
runner's download of the action: no ``__pycache__``) and ``RUNNER_TEMP`` to a fresh directory,
then the first evaluation with the new virtualenv:
``python -I -c "import flaggate.commands.github"`` and
``flaggate plan --base main --head change --format json`` on the bundled example (a production
change: ``pending``, exit 1).

Scenarios (``--repeat`` timed runs each; the table shows medians and the best total):

- ``pip``: plain pip (``FLAGGATE_INSTALLER=pip``), as when uv cannot be had;
- ``uv on PATH``: a uv on PATH (``astral-sh/setup-uv``, a self-hosted runner);
- ``no uv on the runner`` (a GitHub-hosted runner): the script downloads the uv wheel pinned
  in ``scripts/action-lock.txt``, checks its sha256 and unpacks it, then uses it;
- ``uv bootstrapped with pip``: the same runner with ``FLAGGATE_UV_DOWNLOAD=0``: uv installed
  from PyPI with the interpreter's pip (what the script did for that runner before the pinned
  wheel; now its fallback);
- ``restored venv``: the venv actions/cache restores on a cache hit.

Every route installs ``scripts/action-lock.txt`` (hashes, no resolution). ``cold`` runs get
empty pip/uv caches (``PIP_CACHE_DIR``, ``UV_CACHE_DIR``: a fresh runner); ``warm`` runs keep
them, after one untimed run that fills them. Targets: a cold install plus the first evaluation
within 3 s, a cache hit within 1 s. A reference row times the standard ``python3 -m venv`` +
``pip install <project>`` (a wheel build, resolving from PyPI) once, cold. The load average is
printed before and after: the figures are wall times.

Run ``python benchmarks/bench_action_install.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTALL_SCRIPT = Path("scripts") / "install-action.sh"
TARGET_S = 3.0  # a fresh runner: install + first evaluation
CACHE_HIT_TARGET_S = 1.0  # actions/cache restored the venv
TIMEOUT_S = 300.0
PROD_OFF = "production:\n      enabled: false\n      variant: off"
PROD_ON = "production:\n      enabled: true\n      variant: on"
CHANGED_FLAG = Path("flags/checkout/checkout-redesign.yaml")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


@dataclass(frozen=True)
class Scenario:
    """One row of the table."""

    name: str
    installer: str  # FLAGGATE_INSTALLER
    uv_on_path: bool
    cache: str  # cold | warm | restored venv
    expected_route: str  # what the script must report in its `installer` output
    how: str  # and in its `ready in` line: where uv came from
    uv_download: bool = True  # FLAGGATE_UV_DOWNLOAD

    @property
    def target_s(self) -> float:
        return CACHE_HIT_TARGET_S if self.cache == "venv" else TARGET_S


NO_UV = "no uv on the runner: pinned uv wheel (auto)"
BOOTSTRAPPED = "no uv on the runner: uv bootstrapped with pip (FLAGGATE_UV_DOWNLOAD=0)"
PINNED = "uv from the pinned wheel"
SCENARIOS = (
    Scenario("pip", "pip", False, "cold", "pip", "pip"),
    Scenario("pip", "pip", False, "warm", "pip", "pip"),
    Scenario("uv on PATH", "auto", True, "cold", "uv", "uv on PATH"),
    Scenario("uv on PATH", "auto", True, "warm", "uv", "uv on PATH"),
    Scenario(NO_UV, "auto", False, "cold", "uv", PINNED),
    Scenario(NO_UV, "auto", False, "warm", "uv", PINNED),
    Scenario(BOOTSTRAPPED, "auto", False, "cold", "uv", "uv bootstrapped with pip", False),
    Scenario("restored venv (actions/cache hit)", "auto", False, "venv", "cached", "cached"),
)


@dataclass
class Sample:
    install_s: float
    eval_s: float

    @property
    def total_s(self) -> float:
        return self.install_s + self.eval_s


@dataclass
class Row:
    scenario: Scenario
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None


class BenchError(Exception):
    """A step did not do what it should (its output is in the message)."""


def run(
    cmd: Sequence[str], env: Mapping[str, str], cwd: Path, ok: frozenset[int] = frozenset({0})
) -> tuple[float, str]:
    """Run ``cmd``; return (wall seconds, stdout). Raise BenchError on an unexpected exit."""
    start = time.perf_counter()
    done = subprocess.run(
        list(cmd),
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    took = time.perf_counter() - start
    if done.returncode not in ok:
        raise BenchError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return took, done.stdout


def copy_action(dest: Path) -> Path:
    """What a runner downloads for `uses: owner/flaggate@ref`, minus what the script ignores."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(PROJECT_ROOT / name, dest / name)
    for name in ("src", "scripts"):
        shutil.copytree(PROJECT_ROOT / name, dest / name, ignore=ignore)
    return dest


def make_example(dest: Path, env: Mapping[str, str]) -> Path:
    """The bundled example on `main`, and branch `change` turning a flag on in production."""
    dest.mkdir(parents=True)
    shutil.copytree(PROJECT_ROOT / "flags", dest / "flags")
    shutil.copytree(PROJECT_ROOT / "policies", dest / "policies")
    git_env = {**env, **GIT_ENV}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "example"]):
        run(["git", *args], git_env, dest)
    run(["git", "checkout", "-q", "-b", "change"], git_env, dest)
    flag = dest / CHANGED_FLAG
    text = flag.read_text()
    if PROD_OFF not in text:
        raise BenchError(f"{CHANGED_FLAG} no longer has {PROD_OFF!r}")
    flag.write_text(text.replace(PROD_OFF, PROD_ON))
    run(["git", "commit", "-q", "-am", "turn on"], git_env, dest)
    return dest


def find_uv(explicit: Path | None, work: Path, env: Mapping[str, str]) -> tuple[Path, str]:
    """A uv binary for the `uv on PATH` rows, and where it came from."""
    if explicit:
        return explicit, "--uv"
    for candidate in (shutil.which("uv"), shutil.which("uv", path=sysconfig.get_path("scripts"))):
        if candidate:
            return Path(candidate), "found on PATH"
    tool = work / "uv-tool"
    run([sys.executable, "-m", "venv", "--without-pip", str(tool)], env, work)
    run(
        [sys.executable, "-m", "pip", "--python", str(tool / "bin" / "python"), "install", "-q",
         "uv"],
        env,
        work,
    )  # fmt: skip
    return tool / "bin" / "uv", "installed from PyPI for this benchmark (not timed)"


def path_without_uv(path: str) -> str:
    """PATH minus every directory holding a `uv` (a GitHub-hosted runner has none)."""
    return os.pathsep.join(d for d in path.split(os.pathsep) if d and not (Path(d) / "uv").exists())


class Bench:
    def __init__(self, work: Path, uv: Path, repeat: int, python_dir: Path) -> None:
        self.work = work
        self.repeat = repeat
        self.counter = 0
        # A runner does not set PYTHONDONTWRITEBYTECODE; bytecode written by the first import
        # is part of what makes the evaluation after it fast.
        self.base_env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "PYTHONPATH")
            and not k.startswith(("GITHUB_", "RUNNER_", "FLAGGATE_", "UV_", "PIP_CACHE"))
        }
        self.base_env["NO_COLOR"] = "1"
        # uv alone in a directory: the uv found may sit next to a python3 that must not
        # become the base interpreter.
        self.uv_dir = work / "uv-bin"
        self.uv_dir.mkdir()
        (self.uv_dir / "uv").symlink_to(uv.resolve())
        # python3 is the interpreter itself, first on PATH, as actions/setup-python leaves it
        # (not a launcher such as a pyenv shim, which costs ~0.05 s a start).
        self.clean_path = os.pathsep.join(
            [str(python_dir), path_without_uv(self.base_env.get("PATH", ""))]
        )
        self.example = make_example(work / "example", self.base_env)
        self.restored_venv: Path | None = None

    def fresh(self, name: str) -> Path:
        self.counter += 1
        path = self.work / f"{self.counter:03d}-{name}"
        path.mkdir()
        return path

    def env(self, scenario: Scenario, caches: Path) -> dict[str, str]:
        path = self.clean_path
        if scenario.uv_on_path:
            path = f"{self.uv_dir}{os.pathsep}{path}"
        return {
            **self.base_env,
            "PATH": path,
            "FLAGGATE_INSTALLER": scenario.installer,
            "FLAGGATE_UV_DOWNLOAD": "1" if scenario.uv_download else "0",
            "PIP_CACHE_DIR": str(caches / "pip"),
            "UV_CACHE_DIR": str(caches / "uv"),
        }

    def once(self, scenario: Scenario, caches: Path) -> Sample:
        """One install + first evaluation, in a fresh action copy and RUNNER_TEMP."""
        run_dir = self.fresh("run")
        action = copy_action(run_dir / "action")
        runner_temp = run_dir / "runner-temp"
        runner_temp.mkdir()
        if scenario.cache == "venv":
            if self.restored_venv is None:  # no uv row ran before: build one, untimed
                self.once(SCENARIOS[2], self.fresh("caches"))
            assert self.restored_venv is not None
            shutil.copytree(self.restored_venv, runner_temp / "flaggate-venv", symlinks=True)
        output = run_dir / "github-output"
        env = {
            **self.env(scenario, caches),
            "GITHUB_ACTION_PATH": str(action),
            "RUNNER_TEMP": str(runner_temp),
            "GITHUB_OUTPUT": str(output),
        }
        # The action's two steps that run the script: the cache key, then the installation.
        key_s, _ = run([str(action / INSTALL_SCRIPT), "--cache-key"], env, run_dir)
        install_s, log = run([str(action / INSTALL_SCRIPT)], env, run_dir)
        install_s += key_s
        if f"({scenario.how};" not in log:
            raise BenchError(f"expected {scenario.how}, got:\n{log}")
        outputs = dict(
            line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
        )
        if outputs.get("installer") != scenario.expected_route:
            raise BenchError(
                f"expected the {scenario.expected_route} route, got {outputs.get('installer')}"
            )
        python = outputs["python"]
        flaggate = str(Path(python).parent / "flaggate")
        start = time.perf_counter()
        run([python, "-I", "-c", "import flaggate.commands.github"], env, self.example)
        _, plan = run(
            [flaggate, "plan", "--base", "main", "--head", "change", "--format", "json"],
            env,
            self.example,
            ok=frozenset({1}),  # pending: the production change needs approvals
        )
        eval_s = time.perf_counter() - start
        if '"decision": "pending"' not in plan:
            raise BenchError(f"unexpected plan:\n{plan}")
        if self.restored_venv is None and scenario.expected_route == "uv":
            # Keep one venv, as the cache's post step saves it after the job's run.
            self.restored_venv = self.fresh("saved-venv") / "flaggate-venv"
            shutil.copytree(runner_temp / "flaggate-venv", self.restored_venv, symlinks=True)
        return Sample(install_s, eval_s)

    def scenario(self, scenario: Scenario) -> Row:
        row = Row(scenario)
        try:
            shared = self.fresh("caches")
            if scenario.cache == "warm":
                self.once(scenario, shared)  # fills the caches; not timed
            for _ in range(self.repeat):
                caches = self.fresh("caches") if scenario.cache == "cold" else shared
                row.samples.append(self.once(scenario, caches))
        except (BenchError, subprocess.TimeoutExpired) as exc:
            row.error = str(exc)
        return row

    def reference(self) -> Row:
        """Standard packaging, for comparison: `python3 -m venv` + `pip install <project>`."""
        scenario = Scenario("reference: venv + pip install <project>", "-", False, "cold", "-", "-")
        row = Row(scenario)
        try:
            run_dir = self.fresh("reference")
            action = copy_action(run_dir / "action")
            env = {**self.env(scenario, run_dir), "PATH": self.clean_path}
            venv = run_dir / "venv"
            start = time.perf_counter()
            run(["python3", "-m", "venv", str(venv)], env, run_dir)
            run([str(venv / "bin" / "pip"), "install", "-q", str(action)], env, run_dir)
            install_s = time.perf_counter() - start
            start = time.perf_counter()
            run([str(venv / "bin" / "python"), "-I", "-c", "import flaggate.commands.github"],
                env, self.example)  # fmt: skip
            run(
                [str(venv / "bin" / "flaggate"), "plan", "--base", "main", "--head", "change"],
                env,
                self.example,
                ok=frozenset({1}),
            )
            row.samples.append(Sample(install_s, time.perf_counter() - start))
        except (BenchError, subprocess.TimeoutExpired) as exc:
            row.error = str(exc)
        return row


def markdown_table(rows: Sequence[Row]) -> str:
    lines = [
        "| scenario | caches | install s | first evaluation s | total s (median) | total s (min)"
        " | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        s = row.scenario
        caches = {"cold": "cold", "warm": "warm", "venv": "-"}[s.cache]
        if row.error or not row.samples:
            lines.append(f"| {s.name} | {caches} | failed | | | | |")
            continue
        install = statistics.median(x.install_s for x in row.samples)
        evaluation = statistics.median(x.eval_s for x in row.samples)
        total = statistics.median(x.total_s for x in row.samples)
        best = min(x.total_s for x in row.samples)
        met = "met" if total <= s.target_s else "not met"
        lines.append(
            f"| {s.name} | {caches} | {install:.2f} | {evaluation:.2f} | {total:.2f} "
            f"| {best:.2f} | <= {s.target_s:g} s: {met} |"
        )
    return "\n".join(lines)


def load_average() -> str:
    """1, 5 and 15 minute load averages (this machine may be shared)."""
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def selected(scenarios: Sequence[Scenario], only: Sequence[str] | None) -> list[Scenario]:
    if not only:
        return list(scenarios)
    return [s for s in scenarios if any(text in f"{s.name} {s.cache}" for text in only)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per scenario (5)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="TEXT",
        help="run only the scenarios whose name or caches contain TEXT (repeatable)",
    )
    parser.add_argument("--uv", type=Path, help="uv binary for the `uv on PATH` rows")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference row")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="flaggate-bench-install-"))
    started = time.perf_counter()
    try:
        uv, uv_source = find_uv(args.uv, work, os.environ)
        uv_version = run([str(uv), "--version"], os.environ, work)[1].strip()
        found = shutil.which("python3") or "python3"
        show = "import sys; print(sys.executable); print(sys.version.split()[0])"
        python3, py_version = run([found, "-c", show], os.environ, work)[1].split()
        print(f"# flaggate action install benchmark ({time.strftime('%Y-%m-%d %H:%M')})\n")
        print(f"- {platform.platform()}, {os.cpu_count()} CPUs; base interpreter {python3}"
              f" (Python {py_version}; `python3` on PATH: {found})")  # fmt: skip
        print(f"- {uv_version}: {uv_source}")
        print(f"- repeat {args.repeat}; warm rows after one untimed run; work dir {work}")
        print(f"- load average before: {load_average()}\n")
        bench = Bench(work, uv, args.repeat, Path(python3).parent)
        rows = []
        for scenario in selected(SCENARIOS, args.only):
            print(f"running: {scenario.name}, {scenario.cache} ...", file=sys.stderr, flush=True)
            rows.append(bench.scenario(scenario))
        if not args.no_reference and not args.only:
            print("running: reference ...", file=sys.stderr, flush=True)
            rows.append(bench.reference())
        print(markdown_table(rows))
        failed = [row for row in rows if row.error]
        for row in failed:
            print(f"\n- FAILED {row.scenario.name} ({row.scenario.cache}): {row.error}")
        print(f"\nLoad average after: {load_average()}")
        print(f"Total benchmark time: {time.perf_counter() - started:.0f} s")
        return 1 if failed else 0
    finally:
        if args.keep:
            print(f"\nKept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
