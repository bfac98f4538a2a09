#!/usr/bin/env python3
"""Benchmark ``flaggate export --format flagd`` on a generated 20,000-flag repository.

Standalone: standard library and subprocesses only. It generates (``git fast-import``) a
repository with N flags (default 20,000) x development, staging, production under
``flags/team-NN/<name>.yaml`` in five shapes (boolean on/off, string variants with a decimal
rollout, object variants with JSONLogic targeting, a number flag disabled without an ``off``
variant, a rollout combined with targeting) and the project's ``policies/``, on branch
``main``. Then it times the installed console script, each run once untimed (a warm-up that
checks the exit code and the files) and ``--repeat`` times timed:

* ``export --out DIR`` (the working tree, all three environments);
* ``export --ref main --out DIR`` (read from git through one ``cat-file --batch``);
* ``export --environment production`` to stdout;

and prints a Markdown table of median and minimum wall seconds against the 2 s target.

Run ``python benchmarks/export_flagd.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POLICIES = PROJECT_ROOT / "policies"
ENVIRONMENTS = ("development", "staging", "production")
TEAMS = 20
TARGET_S = 2.0
RUN_TIMEOUT_S = 600.0

_BOOL = "    on: true\n    off: false\n"
_STRINGS = '    blue: "blue"\n    green: "green"\n    red: "red"\n'
_OBJECTS = "    short: {steps: 3, skippable: true}\n    guided: {steps: 6, skippable: false}\n"
_NUMBERS = "    low: 10\n    high: 1000\n"
_TARGETING = (
    "      targeting:\n"
    "        if:\n"
    '          - {ends_with: [{var: email}, "@acme.example"]}\n'
    "          - FIRST\n"
    "          - null\n"
)

SHAPES: tuple[tuple[str, tuple[str, str, str]], ...] = (
    (
        _BOOL,
        (
            "      enabled: true\n      variant: on\n",
            "      enabled: true\n      rollout: {on: 25, off: 75}\n",
            "      enabled: false\n      variant: off\n",
        ),
    ),
    (
        _STRINGS,
        (
            "      enabled: true\n      variant: green\n",
            "      enabled: true\n      rollout: {blue: 33.333, green: 33.333, red: 33.334}\n",
            "      enabled: true\n      rollout: {blue: 12.5, green: 87.5}\n",
        ),
    ),
    (
        _OBJECTS,
        (
            "      enabled: true\n      variant: guided\n",
            "      enabled: true\n      variant: short\n" + _TARGETING.replace("FIRST", "guided"),
            "      enabled: true\n      variant: short\n",
        ),
    ),
    (
        _NUMBERS,
        (
            "      enabled: true\n      variant: high\n",
            "      enabled: false\n",
            "      enabled: false\n",
        ),
    ),
    (
        _BOOL,
        (
            "      enabled: true\n      variant: on\n",
            "      enabled: true\n      rollout: {on: 10.5, off: 89.5}\n"
            + _TARGETING.replace("FIRST", "on"),
            "      enabled: true\n      rollout: {on: 1.25, off: 98.75}\n"
            + _TARGETING.replace("FIRST", "on"),
        ),
    ),
)


def flag_file(index: int) -> tuple[str, bytes]:
    """The path and bytes of generated flag ``index``."""
    name = f"flag-{index:05d}"
    team = f"team-{index % TEAMS:02d}"
    variants, states = SHAPES[index % len(SHAPES)]
    environments = "".join(
        f"    {env}:\n{state}" for env, state in zip(ENVIRONMENTS, states, strict=True)
    )
    text = (
        "apiVersion: flaggate/v1\n"
        "kind: FeatureFlag\n"
        "metadata:\n"
        f"  name: {name}\n"
        f'  owner: "@acme/{team}"\n'
        f"  description: Benchmark flag {index} for the flagd export benchmark\n"
        f"  tags: [bench, {team}]\n"
        "spec:\n"
        f"  variants:\n{variants}"
        f"  environments:\n{environments}"
    )
    return f"flags/{team}/{name}.yaml", text.encode()


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=repo, input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout.decode()


def _fast_import(files: dict[str, bytes]) -> Iterator[bytes]:
    message = b"benchmark flags"
    yield b"commit refs/heads/main\nmark :1\n"
    yield f"committer Flaggate Bench <bench@example.com> {int(time.time())} +0000\n".encode()
    yield b"data %d\n%s\n" % (len(message), message)
    for path, content in files.items():
        yield f"M 100644 inline {path}\ndata {len(content)}\n".encode()
        yield content
        yield b"\n"
    yield b"\n"


def generate_repo(root: Path, size: int, policies: Path) -> None:
    """A repository with ``size`` flags and the policies, ``main`` checked out."""
    root.mkdir(parents=True)
    _git(root, "init", "--quiet", "--initial-branch=main")
    files = {
        f"policies/{path.relative_to(policies).as_posix()}": path.read_bytes()
        for path in sorted(policies.rglob("*.yaml"))
    }
    files.update(flag_file(i) for i in range(1, size + 1))
    _git(root, "fast-import", "--quiet", stdin=b"".join(_fast_import(files)))
    _git(root, "reset", "--hard", "--quiet", "main")


@dataclass
class Row:
    scenario: str
    samples: list[float]
    error: str | None = None

    def cells(self, size: int) -> list[str]:
        if self.error or not self.samples:
            return [self.scenario, f"{size:,}", "FAILED", "-", f"<= {TARGET_S:g} s", "-"]
        median = statistics.median(self.samples)
        met = "yes" if median <= TARGET_S else "**NO**"
        best = min(self.samples)
        target = f"<= {TARGET_S:g} s"
        return [self.scenario, f"{size:,}", f"{median:.3f}", f"{best:.3f}", target, met]


def measure(cmd: Sequence[str], cwd: Path, repeat: int, out: Path | None, size: int) -> Row:
    """One untimed warm-up that checks the result, then ``repeat`` timed runs."""
    label = " ".join(cmd[1:])
    row = Row(label.replace(str(out), "DIR") if out is not None else label, [])
    for attempt in range(repeat + 1):
        if out is not None:
            shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        done = subprocess.run(
            list(cmd), cwd=cwd, capture_output=True, timeout=RUN_TIMEOUT_S, check=False
        )
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            row.error = done.stderr.decode(errors="replace").strip()[-2000:]
            return row
        if attempt == 0:
            row.error = _check(done.stdout, out, size)
            if row.error:
                return row
        else:
            row.samples.append(seconds)
    return row


def _check(stdout: bytes, out: Path | None, size: int) -> str | None:
    documents = (
        [json.loads(stdout)]
        if out is None
        else [json.loads((out / f"{env}.flagd.json").read_bytes()) for env in ENVIRONMENTS]
    )
    for document in documents:
        if len(document["flags"]) != size:
            return f"{len(document['flags'])} flags exported, expected {size}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=20_000, help="flags (default 20000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per scenario")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--flaggate", help="flaggate executable (default: beside this Python, else on PATH)"
    )
    parser.add_argument("--policies", type=Path, default=DEFAULT_POLICIES)
    args = parser.parse_args(argv)
    beside = Path(sys.executable).parent / "flaggate"
    flaggate = args.flaggate or (str(beside) if beside.exists() else shutil.which("flaggate"))
    if flaggate is None:
        parser.error("flaggate executable not found; use --flaggate")
    work = Path(tempfile.mkdtemp(prefix="flaggate-export-bench-"))
    try:
        repo = work / "repo"
        started = time.perf_counter()
        generate_repo(repo, args.size, args.policies)
        print(f"generated {args.size:,} flags in {time.perf_counter() - started:.1f} s\n")
        out = work / "out"
        rows = [
            measure([flaggate, "export", "--out", str(out)], repo, args.repeat, out, args.size),
            measure(
                [flaggate, "export", "--ref", "main", "--out", str(out)],
                repo,
                args.repeat,
                out,
                args.size,
            ),
            measure(
                [flaggate, "export", "--environment", "production"],
                repo,
                args.repeat,
                None,
                args.size,
            ),
        ]
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    header = ["scenario", "flags x 3 envs", "median s", "min s", "target", "met?"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row.cells(args.size)) + " |")
    failed = [row for row in rows if row.error]
    for row in failed:
        print(f"- FAILED {row.scenario}: {row.error}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
