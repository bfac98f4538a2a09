#!/usr/bin/env python3
"""How fast flaggate starts, side by side with the interpreter it runs on.

Standalone (standard library plus subprocesses). In a throwaway repository holding the
bundled `flags/` and `policies/` with one flag turned on in production (uncommitted), it times
whole processes, each a median of ``--repeat`` runs after one warm-up:

* ``python -c pass`` and ``flaggate validate --help``: target ``1.3 x pass + 20 ms``;
* ``python -c "import pydantic, yaml"`` and ``flaggate plan`` (offline, one flag):
  target ``1.6 x`` the import.

    .venv/bin/python benchmarks/bench_startup.py [--repeat 15]
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

PROJECT = Path(__file__).resolve().parents[1]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}
FLAG = Path("flags/checkout/checkout-redesign.yaml")
OFF = "production:\n      enabled: false\n      variant: off"
ON = "production:\n      enabled: true\n      variant: on"


def median_seconds(command: list[str], cwd: Path, repeat: int) -> float:
    subprocess.run(command, cwd=cwd, capture_output=True, check=False)  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def repository(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    shutil.copytree(PROJECT / "flags", repo / "flags")
    shutil.copytree(PROJECT / "policies", repo / "policies")
    env = {**os.environ, **GIT_ENV}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "flags"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env=env)
    flag = repo / FLAG
    flag.write_text(flag.read_text().replace(OFF, ON))
    return repo


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--flaggate", default=str(Path(sys.executable).with_name("flaggate")))
    args = parser.parse_args()
    python, flaggate = sys.executable, args.flaggate
    with tempfile.TemporaryDirectory(prefix="flaggate-bench-startup-") as temp:
        repo = repository(Path(temp))
        passing = median_seconds([python, "-c", "pass"], repo, args.repeat)
        helping = median_seconds([flaggate, "validate", "--help"], repo, args.repeat)
        parsers = median_seconds([python, "-c", "import pydantic, yaml"], repo, args.repeat)
        planning = median_seconds([flaggate, "plan"], repo, args.repeat)
    help_target = 1.3 * passing + 0.020
    print("| run | median s | reference | reference s | ratio | target | met |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| `flaggate validate --help` | {helping:.3f} | `python -c pass` | {passing:.3f} "
        f"| {helping / passing:.2f}x | <= {help_target:.3f} s | "
        f"{'yes' if helping <= help_target else 'no'} |"
    )
    print(
        f"| `flaggate plan` (offline, one flag) | {planning:.3f} | "
        f"`python -c 'import pydantic, yaml'` | {parsers:.3f} | {planning / parsers:.2f}x "
        f"| <= 1.6x | {'yes' if planning <= 1.6 * parsers else 'no'} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
