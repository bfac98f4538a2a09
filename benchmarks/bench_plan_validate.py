#!/usr/bin/env python3
"""Benchmark ``flaggate plan`` and ``flaggate validate`` on generated flag repositories.

Standalone: standard library and subprocesses only. For each repository size it

1. generates a git repository (``git fast-import``) with N flags x 3 environments under
   ``flags/team-NN/<name>.yaml`` plus the project's ``policies/``, on branch ``main``, and the
   branches ``change-1`` (one flag turned on in production) and ``change-500`` (500 flags);
2. times the installed console script (``plan`` on both branches and on a working-tree edit,
   ``validate .``), ``check-jsonschema`` on every flag file of the largest repository, and the
   ``import flaggate.cli`` baseline;
3. prints a Markdown table against the performance targets, and the number of git processes one
   ``plan`` run starts (it must not grow with the number of changed flags).

Run ``python benchmarks/bench_plan_validate.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POLICIES = PROJECT_ROOT / "policies"
DEFAULT_SCHEMA = PROJECT_ROOT / "schemas" / "feature-flag.schema.json"
DEFAULT_FLAGGATE = Path("/tmp/venv/bin/flaggate")
BENCH_VENV_CHECK_JSONSCHEMA = Path("/tmp/bench-venv/bin/check-jsonschema")

ENVIRONMENTS = ("development", "staging", "production")
TEAMS = 20
RUN_TIMEOUT_S = 600.0
FLAGGATE_OK_EXIT = frozenset({0, 1})  # approved/no_changes, pending/rejected/failed
MAIN_DATE_S = 7 * 24 * 3600  # main is committed a week before the change branches

# Targets (seconds); the speed-up target is a ratio.
TARGET_PLAN_1 = 0.4
TARGET_PLAN_500 = 0.8
TARGET_VALIDATE_LARGE = 1.2
VALIDATE_TARGET_SIZE = 20_000
TARGET_SPEEDUP = 40.0


# --------------------------------------------------------------------------- flag files


@dataclass(frozen=True)
class Shape:
    """A kind of flag: its variants and its state (YAML flow text) per environment."""

    variants: str
    development: str
    staging: str
    production_off: str
    production_on: str | None  # None: already on in production, so never changed

    def spec(self, production_on: bool) -> str:
        """The ``spec:`` body of a flag file of this shape."""
        production = self.production_on if production_on else self.production_off
        if production is None:
            raise ValueError("this shape cannot be turned on in production")
        return (
            f"  variants:\n{self.variants}"
            "  environments:\n"
            f"    development:\n{self.development}"
            f"    staging:\n{self.staging}"
            f"    production:\n{production}"
        )


def _state(enabled: bool, served: str) -> str:
    """An environment's state block; ``served`` is ``variant: x`` or ``rollout: {...}``."""
    return f"      enabled: {str(enabled).lower()}\n      {served}\n"


_BOOL = "    on: true\n    off: false\n"
SHAPES: tuple[Shape, ...] = (
    # exactly the example of the brief
    Shape(
        _BOOL,
        _state(True, "variant: on"),
        _state(True, "rollout: {on: 25, off: 75}"),
        _state(False, "variant: off"),
        _state(True, "variant: on"),
    ),
    # string variants
    Shape(
        '    blue: "blue"\n    green: "green"\n',
        _state(True, "variant: green"),
        _state(True, "rollout: {blue: 50, green: 50}"),
        _state(False, "variant: blue"),
        _state(True, "variant: green"),
    ),
    # a production rollout in progress
    Shape(
        _BOOL,
        _state(True, "variant: on"),
        _state(True, "variant: on"),
        _state(True, "rollout: {on: 10, off: 90}"),
        None,
    ),
    # fully on in staging, off in development
    Shape(
        _BOOL,
        _state(False, "variant: off"),
        _state(True, "variant: on"),
        _state(False, "variant: off"),
        _state(True, "variant: on"),
    ),
)
SHAPE_ORDER = (0, 1, 0, 2, 3)  # index % 5 -> shape: 40% example, 20% each other shape
EXTRA_TAGS = ("", ", checkout", ", experiment", ", gradual", ", ui")


@dataclass(frozen=True)
class Flag:
    """One generated flag: its index picks its team and its shape."""

    index: int

    @property
    def name(self) -> str:
        return f"flag-{self.index:05d}"

    @property
    def team(self) -> str:
        return f"team-{self.index % TEAMS:02d}"

    @property
    def path(self) -> str:
        return f"flags/{self.team}/{self.name}.yaml"

    @property
    def shape(self) -> Shape:
        return SHAPES[SHAPE_ORDER[self.index % len(SHAPE_ORDER)]]

    @property
    def can_turn_on(self) -> bool:
        """Whether the flag is off in production, so a change can turn it on."""
        return self.shape.production_on is not None

    def render(self, production_on: bool = False) -> bytes:
        """The flag file; ``production_on`` enables production with its "on" variant."""
        return (
            "apiVersion: flaggate/v1\n"
            "kind: FeatureFlag\n"
            "metadata:\n"
            f"  name: {self.name}\n"
            f'  owner: "@acme/{self.team}"\n'
            f"  description: Benchmark flag {self.index} for the plan and validate benchmark\n"
            f"  tags: [bench, {self.team}{EXTRA_TAGS[self.index % len(EXTRA_TAGS)]}]\n"
            "spec:\n"
            f"{self.shape.spec(production_on)}"
        ).encode()


def pick_changed(flags: Sequence[Flag], count: int) -> list[Flag]:
    """Up to ``count`` flags that are off in production, spread evenly over the repository."""
    eligible = [flag for flag in flags if flag.can_turn_on]
    if count >= len(eligible):
        return eligible
    step = len(eligible) / count
    return [eligible[int(i * step)] for i in range(count)]


# --------------------------------------------------------------------------- policies

_FALLBACK_POLICIES: dict[str, str] = {
    "environments.yaml": """\
apiVersion: flaggate/v1
kind: Environments
metadata: {name: environments}
spec:
  environments:
    - name: development
      riskLevel: low
    - name: staging
      riskLevel: medium
    - name: production
      riskLevel: critical
""",
    "approval-policy.yaml": """\
apiVersion: featureflags/v1
kind: ApprovalPolicy
metadata: {name: standard-approval-policy}
spec:
  rules:
    - name: kill-switch-bypass
      conditions:
        - {field: flag.tags, operator: contains, value: kill-switch}
      approval: {required: false}
    - name: production-changes
      conditions:
        - {field: environment, operator: equals, value: production}
      approval:
        required: true
        stages: [technical-review, business-review]
    - name: staging-changes
      conditions:
        - {field: environment, operator: equals, value: staging}
      approval:
        required: true
        minApprovers: 1
        approverRoles: [developer, tech-lead]
    - name: development-auto-approve
      conditions:
        - {field: environment, operator: equals, value: development}
      approval: {required: false}
""",
    "stages.yaml": """\
apiVersion: flaggate/v1
kind: ApprovalStages
metadata: {name: stages}
spec:
  stages:
    - name: technical-review
      order: 1
      requiredApprovers: 1
      approverRoles: [tech-lead]
    - name: business-review
      order: 2
      requiredApprovers: 1
      approverRoles: [product-owner]
""",
    "roles.yaml": """\
apiVersion: flaggate/v1
kind: RoleBindings
metadata: {name: roles}
spec:
  roles:
    developer: {teams: [acme/developers]}
    tech-lead: {teams: [acme/tech-leads]}
    product-owner: {teams: [acme/product]}
    admin: {teams: [acme/admins]}
""",
}


def policy_files(policies_dir: Path) -> tuple[dict[str, bytes], str]:
    """The project's policy files (relative path -> bytes), or a minimal fallback set."""
    found: dict[str, bytes] = {}
    if policies_dir.is_dir():
        for path in sorted(policies_dir.rglob("*")):
            if path.is_file() and path.suffix in (".yaml", ".yml"):
                found[path.relative_to(policies_dir).as_posix()] = path.read_bytes()
    if found:
        return found, f"copied from {policies_dir}"
    fallback = {name: text.encode() for name, text in _FALLBACK_POLICIES.items()}
    return fallback, f"built-in minimal set ({policies_dir} has no YAML files)"


# --------------------------------------------------------------------------- repository


@dataclass(frozen=True)
class BenchRepo:
    """A generated repository and what its branches change."""

    path: Path
    flags: tuple[Flag, ...]
    changed: dict[str, tuple[Flag, ...]]  # branch name -> flags it turns on

    @property
    def size(self) -> int:
        return len(self.flags)


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    """Run git in ``repo`` and return stdout; raise with stderr on failure."""
    done = subprocess.run(["git", *args], cwd=repo, input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout.decode()


def _fast_import_commit(
    branch: str, mark: int, when: int, message: str, files: dict[str, bytes], parent: int | None
) -> Iterator[bytes]:
    """One ``git fast-import`` commit command with inline file contents."""
    msg = message.encode()
    yield f"commit refs/heads/{branch}\nmark :{mark}\n".encode()
    yield f"committer Flaggate Bench <bench@example.com> {when} +0000\n".encode()
    yield b"data %d\n%s\n" % (len(msg), msg)
    if parent is not None:
        yield f"from :{parent}\n".encode()
    for path, content in files.items():
        yield f"M 100644 inline {path}\ndata {len(content)}\n".encode()
        yield content
        yield b"\n"
    yield b"\n"


def generate_repo(root: Path, size: int, policies: dict[str, bytes]) -> BenchRepo:
    """Create the repository with ``main``, ``change-1`` and ``change-500``; check out main."""
    root.mkdir(parents=True)
    _git(root, "init", "--quiet", "--initial-branch=main")
    flags = tuple(Flag(i) for i in range(1, size + 1))
    plain = [flag for flag in flags if flag.shape is SHAPES[0]]  # the brief's example shape
    changed = {
        "change-1": (plain[len(plain) // 2],),
        "change-500": tuple(pick_changed(flags, 500)),
    }
    now = int(time.time())
    main_files = {f"policies/{name}": content for name, content in policies.items()}
    main_files.update({flag.path: flag.render() for flag in flags})

    stream: list[bytes] = []
    stream += _fast_import_commit(
        "main", 1, now - MAIN_DATE_S, f"{size} benchmark flags", main_files, None
    )
    for mark, (branch, turned_on) in enumerate(changed.items(), start=2):
        files = {flag.path: flag.render(production_on=True) for flag in turned_on}
        message = f"Turn on {len(turned_on)} flag(s) in production"
        stream += _fast_import_commit(branch, mark, now, message, files, 1)
    _git(root, "fast-import", "--quiet", stdin=b"".join(stream))
    _git(root, "reset", "--hard", "--quiet", "main")
    return BenchRepo(root, flags, changed)


# --------------------------------------------------------------------------- timing


@dataclass
class Measurement:
    """The timings of one scenario, or why it failed."""

    samples: list[float] = field(default_factory=list)
    error: str | None = None
    note: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def best(self) -> float:
        return min(self.samples)


@dataclass(frozen=True)
class RunResult:
    seconds: float
    returncode: int
    stdout: bytes
    stderr: bytes


def run_once(cmd: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> RunResult:
    """Run ``cmd`` once and time it with ``perf_counter``."""
    start = time.perf_counter()
    try:
        done = subprocess.run(
            list(cmd),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return RunResult(time.perf_counter() - start, -1, b"", b"timed out")
    except OSError as exc:
        return RunResult(time.perf_counter() - start, -1, b"", str(exc).encode())
    return RunResult(time.perf_counter() - start, done.returncode, done.stdout, done.stderr)


def _failure(cmd: Sequence[str], result: RunResult) -> str:
    lines = result.stderr.decode(errors="replace").strip().splitlines()
    shown = "\n    ".join(lines[-12:]) or "(no stderr)"
    return f"`{' '.join(cmd[:4])} ...` exited {result.returncode}:\n    {shown}"


def measure(
    cmds: Sequence[Sequence[str]],
    cwd: Path,
    repeat: int,
    ok_codes: frozenset[int],
    check: Callable[[RunResult], str | None] | None = None,
) -> Measurement:
    """Time ``cmds`` run one after the other (their times summed) ``repeat`` times.

    One untimed warm-up run comes first; it also checks exit codes and, via ``check``, the
    output. A failing run stops the scenario and records the command's stderr.
    """
    result = Measurement()
    for attempt in range(repeat + 1):
        total = 0.0
        for cmd in cmds:
            run = run_once(cmd, cwd)
            if run.returncode not in ok_codes:
                result.error = _failure(cmd, run)
                return result
            if attempt == 0 and check is not None and result.note is None:
                result.note = check(run)
            total += run.seconds
        if attempt > 0:
            result.samples.append(total)
    return result


def plan_check(expected_flags: int) -> Callable[[RunResult], str | None]:
    """A check that the JSON plan parses and lists changes for ``expected_flags`` flags."""

    def check(run: RunResult) -> str | None:
        try:
            plan = json.loads(run.stdout)
        except ValueError:
            return "stdout is not JSON"
        changes = plan.get("changes") if isinstance(plan, dict) else None
        if not isinstance(changes, list):
            return "no `changes` list in the JSON plan"
        flags = {c.get("flag") for c in changes if isinstance(c, dict)}
        if len(flags) != expected_flags:
            return f"plan lists {len(flags)} changed flags, expected {expected_flags}"
        return None

    return check


@dataclass
class Row:
    """One line of the results table."""

    scenario: str
    repo_flags: str
    changed_flags: str
    measurement: Measurement | None = None
    target_s: float | None = None
    ratio: tuple[float, float] | None = None  # (median ratio, best ratio) for speed-up rows
    ratio_target: float | None = None
    skipped: str | None = None

    def met(self) -> bool | None:
        """True/False against the target; None when there is no target or no result."""
        if self.ratio is not None and self.ratio_target is not None:
            return self.ratio[0] >= self.ratio_target
        m = self.measurement
        if self.target_s is None or m is None or m.error or not m.samples:
            return None
        return m.median < self.target_s

    def cells(self) -> list[str]:
        target = "-"
        if self.target_s is not None:
            target = f"< {self.target_s:g} s"
        elif self.ratio_target is not None:
            target = f">= {self.ratio_target:g}x"
        if self.skipped:
            return [self.scenario, self.repo_flags, self.changed_flags, "skipped", "-", target, "-"]
        if self.ratio is not None:
            median, best = (f"{r:.1f}x" for r in self.ratio)
        elif self.measurement is None or self.measurement.error:
            return [self.scenario, self.repo_flags, self.changed_flags, "FAILED", "-", target, "-"]
        else:
            median = f"{self.measurement.median:.3f}"
            best = f"{self.measurement.best:.3f}"
        met = {True: "yes", False: "**NO**", None: "-"}[self.met()]
        return [self.scenario, self.repo_flags, self.changed_flags, median, best, target, met]


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Tools:
    """The executables the benchmark runs."""

    flaggate: str
    python: str
    check_jsonschema: str | None
    schema: Path


def bench_repo(repo: BenchRepo, tools: Tools, repeat: int) -> list[Row]:
    """The plan and validate rows for one repository."""
    fg = tools.flaggate
    rows: list[Row] = []
    size = f"{repo.size:,}"
    for branch in ("change-1", "change-500"):
        n = len(repo.changed[branch])
        cmd = [fg, "plan", "--base", "main", "--head", branch, "--format", "json"]
        m = measure([cmd], repo.path, repeat, FLAGGATE_OK_EXIT, plan_check(n))
        target = TARGET_PLAN_1 if n == 1 else TARGET_PLAN_500
        rows.append(Row(f"plan --head {branch}", size, str(n), m, target))

    flag = repo.changed["change-1"][0]
    work_file = repo.path / flag.path
    work_file.write_bytes(flag.render(production_on=True))
    try:
        cmd = [fg, "plan", "--base", "main", "--format", "json"]
        m = measure([cmd], repo.path, repeat, FLAGGATE_OK_EXIT, plan_check(1))
    finally:
        work_file.write_bytes(flag.render())
    rows.append(Row("plan (working tree edit)", size, "1", m, TARGET_PLAN_1))

    m = measure([[fg, "validate", "."]], repo.path, repeat, frozenset({0}))
    validate_target = TARGET_VALIDATE_LARGE if repo.size >= VALIDATE_TARGET_SIZE else None
    rows.append(Row("validate .", size, "-", m, validate_target))
    return rows


def batched_args(prefix: Sequence[str], args: Sequence[str]) -> list[list[str]]:
    """Split ``prefix + args`` into command lines short enough for ``execve`` (like xargs)."""
    limit = min(os.sysconf("SC_ARG_MAX") // 2, 1 << 20)
    limit -= sum(len(k) + len(v) + 2 for k, v in os.environ.items())
    base = sum(len(p) + 1 for p in prefix)
    batches: list[list[str]] = []
    current: list[str] = []
    length = base
    for arg in args:
        if current and length + len(arg) + 1 > limit:
            batches.append([*prefix, *current])
            current, length = [], base
        current.append(arg)
        length += len(arg) + 1
    if current:
        batches.append([*prefix, *current])
    return batches


def bench_check_jsonschema(repo: BenchRepo, tools: Tools, repeat: int) -> Row:
    """``check-jsonschema`` over every flag file of ``repo`` (batched, times summed)."""
    row = Row("check-jsonschema (all flag files)", f"{repo.size:,}", "-")
    if tools.check_jsonschema is None:
        row.skipped = (
            "check-jsonschema not found or not executable (use --check-jsonschema PATH, "
            "put it on PATH, or "
            "`python3 -m venv /tmp/bench-venv && /tmp/bench-venv/bin/pip install check-jsonschema`)"
        )
        return row
    if not tools.schema.is_file():
        row.skipped = f"schema {tools.schema} does not exist (use --schema PATH)"
        return row
    prefix = [tools.check_jsonschema, "--schemafile", str(tools.schema)]
    cmds = batched_args(prefix, [flag.path for flag in repo.flags])
    row.measurement = measure(cmds, repo.path, repeat, frozenset({0}))
    if len(cmds) > 1:
        row.scenario += f" ({len(cmds)} batches)"
    return row


def speedup_row(validate: Row | None, reference: Row) -> Row:
    """validate vs check-jsonschema on the same repository: how many times faster."""
    row = Row("speed-up validate vs check-jsonschema", reference.repo_flags, "-")
    row.ratio_target = TARGET_SPEEDUP
    a = validate.measurement if validate else None
    b = reference.measurement
    if reference.skipped or a is None or b is None or a.error or b.error:
        row.skipped = "needs both validate and check-jsonschema results"
        return row
    row.ratio = (b.median / a.median, b.best / a.best)
    return row


def bench_import(tools: Tools, repeat: int, cwd: Path) -> Row:
    """Baseline: starting Python and importing the CLI module."""
    cmd = [tools.python, "-c", "import flaggate.cli"]
    return Row(
        "baseline: import flaggate.cli", "-", "-", measure([cmd], cwd, repeat, frozenset({0}))
    )


# --------------------------------------------------------------------------- git processes


def count_git_processes(repo: BenchRepo, tools: Tools, branch: str, work: Path) -> Counter[str]:
    """Git subcommands one ``plan`` run starts, seen by a logging ``git`` first on PATH."""
    real_git = shutil.which("git")
    if real_git is None:
        raise RuntimeError("git not found on PATH")
    bin_dir = work / "git-wrapper"
    bin_dir.mkdir(exist_ok=True)
    log = work / f"git-calls-{repo.size}-{branch}.log"
    log.unlink(missing_ok=True)
    wrapper = bin_dir / "git"
    wrapper.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{log}'\nexec '{real_git}' \"$@\"\n")
    wrapper.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [tools.flaggate, "plan", "--base", "main", "--head", branch, "--format", "json"]
    run = run_once(cmd, repo.path, env)
    if run.returncode not in FLAGGATE_OK_EXIT:
        raise RuntimeError(_failure(cmd, run))
    calls = log.read_text().splitlines() if log.exists() else []
    return Counter(_subcommand(call) for call in calls)


def _subcommand(call: str) -> str:
    """The git subcommand in a logged argument line (skipping ``-c x=y`` and options)."""
    words = call.split()
    i = 0
    while i < len(words):
        if words[i] in ("-c", "-C"):
            i += 2
        elif words[i].startswith("-"):
            i += 1
        else:
            return words[i]
    return "?"


# --------------------------------------------------------------------------- output


HEADER = ["scenario", "repo flags", "changed flags", "median s", "min s", "target", "met?"]


def markdown_table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def print_problems(rows: Sequence[Row]) -> int:
    """Print failures, skips and notes under the table; return the number of failures."""
    failures = 0
    for row in rows:
        where = f"{row.scenario} ({row.repo_flags} flags)"
        m = row.measurement
        if m is not None and m.error:
            failures += 1
            print(f"- FAILED {where}: {m.error}")
        elif row.skipped and row.ratio_target is None:
            print(f"- skipped {where}: {row.skipped}")
        if m is not None and m.note:
            print(f"- note {where}: {m.note}")
    if any(
        r.skipped or (r.measurement and (r.measurement.error or r.measurement.note)) for r in rows
    ):
        print()
    return failures


def _version(cmd: Sequence[str]) -> str:
    run = run_once(cmd, Path.cwd())
    return run.stdout.decode(errors="replace").strip() or "?"


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="200,20000", help="flag counts (default 200,20000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per scenario")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--quick", action="store_true", help="sizes 200,2000 and repeat 2")
    parser.add_argument(
        "--flaggate", help="flaggate executable (default: on PATH, else /tmp/venv/bin/flaggate)"
    )
    parser.add_argument("--check-jsonschema", dest="check_jsonschema", help="executable")
    parser.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA, help="flag JSON Schema")
    parser.add_argument(
        "--policies", type=Path, default=DEFAULT_POLICIES, help="policy files to copy"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.repeat = "200,2000", 2
    try:
        args.size_list = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s})
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers, not {args.sizes!r}")
    if not args.size_list or min(args.size_list) < 1 or args.repeat < 1:
        parser.error("--sizes needs positive integers and --repeat at least 1")
    return args


def find_tools(args: argparse.Namespace) -> Tools:
    """Resolve the executables; exit with a message when flaggate is missing."""
    flaggate = args.flaggate or shutil.which("flaggate")
    if flaggate is None:  # not on PATH: the running venv's, then the project's default venv
        candidates = [Path(sys.executable).parent / "flaggate", DEFAULT_FLAGGATE]
        flaggate = next((str(c) for c in candidates if c.exists()), None)
    if flaggate is None or not Path(flaggate).exists():
        sys.exit(
            f"flaggate executable not found ({args.flaggate or 'not on PATH'}); use --flaggate"
        )
    flaggate = str(Path(flaggate).absolute())
    python = sys.executable
    first = Path(flaggate).read_bytes()[:256].split(b"\n", 1)[0]
    if first.startswith(b"#!") and b"python" in first:
        python = first[2:].decode().strip().split()[0]
    cjs = shutil.which(args.check_jsonschema or "check-jsonschema")
    if cjs is None and args.check_jsonschema is None and BENCH_VENV_CHECK_JSONSCHEMA.exists():
        cjs = str(BENCH_VENV_CHECK_JSONSCHEMA)
    return Tools(flaggate, python, cjs, args.schema)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    tools = find_tools(args)
    policies, policy_source = policy_files(args.policies)
    work = Path(tempfile.mkdtemp(prefix="flaggate-bench-"))
    print(f"# flaggate plan/validate benchmark ({time.strftime('%Y-%m-%d %H:%M')})\n")
    print(f"- flaggate: {tools.flaggate} (python {tools.python})")
    print(f"- check-jsonschema: {tools.check_jsonschema or 'not found'}")
    print(f"- {platform.platform()}, {os.cpu_count()} CPUs, {_version(['git', '--version'])}")
    print(f"- policies: {policy_source}; repeat {args.repeat} (+1 warm-up); work dir {work}\n")
    try:
        return run_benchmarks(args, tools, policies, work)
    finally:
        if args.keep:
            print(f"\nKept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def run_benchmarks(
    args: argparse.Namespace, tools: Tools, policies: dict[str, bytes], work: Path
) -> int:
    """Generate each repository, run every scenario, print the table; return the exit code."""
    rows: list[Row] = [bench_import(tools, args.repeat, work)]
    largest: BenchRepo | None = None
    for size in args.size_list:
        start = time.perf_counter()
        repo = generate_repo(work / f"repo-{size}", size, policies)
        took = time.perf_counter() - start
        avg = sum(len(f.render()) for f in repo.flags[:100]) / min(size, 100)
        print(f"generated {size:,} flags (~{avg:.0f} bytes each) in {took:.1f} s", flush=True)
        rows += bench_repo(repo, tools, args.repeat)
        largest = repo

    assert largest is not None
    validate = next(
        (r for r in rows if r.scenario == "validate ." and r.repo_flags == f"{largest.size:,}"),
        None,
    )
    reference = bench_check_jsonschema(largest, tools, args.repeat)
    rows += [reference, speedup_row(validate, reference)]

    print()
    print(markdown_table(rows))
    print()
    failures = print_problems(rows)
    verdicts = [met for met in (row.met() for row in rows) if met is not None]
    print(f"Targets met: {verdicts.count(True)}/{len(verdicts)}")
    print_git_counts(largest, tools, work)
    return 1 if failures else 0


def print_git_counts(repo: BenchRepo, tools: Tools, work: Path) -> None:
    """How many git processes one plan starts on the largest repository, per branch."""
    print(f"\nGit processes started by one `plan` on the {repo.size:,}-flag repository:")
    totals = []
    for branch in ("change-1", "change-500"):
        try:
            calls = count_git_processes(repo, tools, branch, work)
        except RuntimeError as exc:
            print(f"- {branch}: could not count: {exc}")
            continue
        detail = ", ".join(f"{name} x{n}" for name, n in sorted(calls.items())) or "none seen"
        total = sum(calls.values())
        totals.append(total)
        print(f"- {branch} ({len(repo.changed[branch])} flags): {total} ({detail})")
    if len(totals) == 2:
        same = "same for both: OK" if totals[0] == totals[1] else "DIFFERS with the change size"
        print(f"- {same}")


if __name__ == "__main__":
    sys.exit(main())
