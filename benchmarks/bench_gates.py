#!/usr/bin/env python3
"""Benchmark the promotion (soak) gate: the cost of reading a flag's history from git.

Standalone: standard library and subprocesses only. For each history length it generates a
git repository (``git fast-import``) whose flag file ``flags/checkout-redesign.yaml`` has that
many commits on ``main``, and a branch ``promote`` that sets production to the state staging
serves. Two shapes:

- ``settled``: staging reached its state in the first commit, the later commits are edits of
  the description, all older than the soak time: the answer is the newest commit.
- ``busy``: the same, but the last K commits (``--recent``) fall inside the soak window, so
  the walk reads K+1 versions of the file before it knows the answer.

It times ``flaggate plan --base main --head promote --at <fixed time>`` (the installed console
script) and counts the git processes one plan starts (through a logging ``git`` wrapper first
on ``PATH``), then prints a Markdown table.

Run ``python benchmarks/bench_gates.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FLAGGATE = Path("/tmp/venv/bin/flaggate")
AT = "2026-11-28T12:00:00Z"
AT_EPOCH = 1795867200  # 2026-11-28T12:00:00Z
HOUR = 3600

ENVIRONMENTS = """apiVersion: flaggate/v1
kind: Environments
metadata: {name: environments}
spec:
  environments:
    - {name: development, riskLevel: low}
    - {name: staging, riskLevel: medium}
    - name: production
      riskLevel: critical
      promotion: {from: staging, minSoakHours: 24}
"""


def flag(description: str, production: str) -> str:
    """The flag file: staging at on=100%, production as given."""
    return f"""apiVersion: flaggate/v1
kind: FeatureFlag
metadata:
  name: checkout-redesign
  owner: "@acme/checkout"
  description: {description}
  tags: [checkout]
spec:
  environments:
    development: {{enabled: true, variant: "on"}}
    staging: {{enabled: true, variant: "on"}}
    production: {production}
"""


def blob(data: str) -> str:
    raw = data.encode()
    return f"data {len(raw)}\n{data}"


def generate(root: Path, length: int, recent: int, gated: bool = True) -> None:
    """A repository with ``length`` commits of the flag file, ``recent`` of them in the
    last 24 hours before ``AT``."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    policies = PROJECT_ROOT / "policies"
    stream = []
    mark = 0
    old_start = AT_EPOCH - 30 * 24 * HOUR
    for i in range(length):
        mark += 1
        in_window = i >= length - recent
        when = AT_EPOCH - (length - i) * 60 if in_window else old_start + i * 60
        lines = [
            "commit refs/heads/main",
            f"mark :{mark}",
            f"committer bench <bench@example.invalid> {when} +0000",
            blob(f"edit {i}"),
        ]
        if i:
            lines.append(f"from :{mark - 1}")
        if i == 0:
            for path in sorted(policies.glob("*.yaml")):
                text = path.read_text()
                if path.name == "environments.yaml":
                    text = ENVIRONMENTS if gated else ENVIRONMENTS.split("      promotion")[0]
                lines.append(f"M 100644 inline policies/{path.name}")
                lines.append(blob(text))
        lines.append("M 100644 inline flags/checkout-redesign.yaml")
        lines.append(blob(flag(f"edit {i}", '{enabled: false, variant: "off"}')))
        stream.append("\n".join(lines))
    mark += 1
    stream.append(
        "\n".join(
            [
                "commit refs/heads/promote",
                f"mark :{mark}",
                f"committer bench <bench@example.invalid> {AT_EPOCH - 60} +0000",
                blob("promote to production"),
                f"from :{mark - 1}",
                "M 100644 inline flags/checkout-redesign.yaml",
                blob(flag(f"edit {length - 1}", '{enabled: true, variant: "on"}')),
            ]
        )
    )
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=root,
        input=("\n".join(stream) + "\n").encode(),
        check=True,
    )
    subprocess.run(["git", "checkout", "-q", "main"], cwd=root, check=True)


def count_git(flaggate: Path, root: Path, args: list[str]) -> int:
    """Git processes one plan starts, through a logging wrapper first on PATH."""
    real = shutil.which("git")
    assert real is not None
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "log"
        wrapper = Path(tmp) / "git"
        wrapper.write_text(f'#!/bin/sh\necho x >> "{log}"\nexec "{real}" "$@"\n')
        wrapper.chmod(0o755)
        env = {**os.environ, "PATH": f"{tmp}:{os.environ['PATH']}"}
        subprocess.run([str(flaggate), *args], cwd=root, env=env, capture_output=True)
        return len(log.read_text().splitlines()) if log.exists() else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flaggate", type=Path, default=DEFAULT_FLAGGATE)
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 1_000, 10_000])
    parser.add_argument("--recent", type=int, default=500, help="commits in the soak window")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not args.flaggate.exists():
        print(f"no flaggate at {args.flaggate}; pass --flaggate", file=sys.stderr)
        return 2
    plan = ["plan", "--base", "main", "--head", "promote", "--at", AT, "--format", "json"]
    rows = []
    for length in args.lengths:
        shapes = (
            ("no gate (baseline)", 0, False),
            ("settled", 0, True),
            ("busy", min(args.recent, length - 1), True),
        )
        for shape, recent, gated in shapes:
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp) / "repo"
                generate(root, length, recent, gated)
                warm = subprocess.run(
                    [str(args.flaggate), *plan], cwd=root, capture_output=True, text=True
                )
                if gated != ('"kind": "promotion"' in warm.stdout):
                    print(warm.stdout, warm.stderr, file=sys.stderr)
                    return 2
                status = "-"
                if gated:
                    status = "passed" if '"status": "passed"' in warm.stdout else "not passed"
                times = []
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    subprocess.run([str(args.flaggate), *plan], cwd=root, capture_output=True)
                    times.append(time.perf_counter() - start)
                processes = count_git(args.flaggate, root, plan)
                read = recent + 1 if gated else 0
                rows.append((length, shape, read, status, times, processes))
    print(f"flaggate plan with a 24h promotion gate (median/min of {args.repeat})\n")
    print(
        "| commits of the flag file | shape | versions read | soak | median s | min s "
        "| git processes |"
    )
    print("|---|---|---|---|---|---|---|")
    for length, shape, read, status, times, processes in rows:
        print(
            f"| {length:,} | {shape} | {read:,} | {status} | {statistics.median(times):.3f} "
            f"| {min(times):.3f} | {processes} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
