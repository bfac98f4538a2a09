#!/usr/bin/env python3
"""How fast flaggate starts, side by side with the interpreter it runs on.

Standalone (standard library plus subprocesses). In a throwaway repository holding the
bundled `flags/` and `policies/` with one flag turned on in production (uncommitted), it times
whole processes, each a median of ``--repeat`` runs after one warm-up, the commands taking
turns so that a busy machine slows them alike:

* ``python -c pass`` and ``flaggate validate --help``: target ``1.3 x pass + 20 ms``;
* ``python -c "import pydantic, yaml"`` and ``flaggate plan`` (offline, one flag):
  target ``1.6 x`` the import;
* for scale, what importing pydantic's ``BaseModel`` and ``Field`` adds to that import: the
  least any process defining a pydantic model pays.

The processes may write bytecode caches (``PYTHONDONTWRITEBYTECODE`` is dropped), as an
installed package has them: otherwise every module edited since its cache was written would
be compiled again in each timed run.

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


MODELS = "import pydantic, yaml; from pydantic import BaseModel, Field"


def median_seconds(commands: list[list[str]], cwd: Path, repeat: int) -> list[float]:
    """Each command's median wall time over ``repeat`` rounds, one run of each per round."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times: list[list[float]] = [[] for _ in commands]
    for round_ in range(repeat + 1):  # round 0 is the warm-up
        for command, taken in zip(commands, times, strict=True):
            start = time.perf_counter()
            subprocess.run(command, cwd=cwd, capture_output=True, check=False, env=env)
            if round_:
                taken.append(time.perf_counter() - start)
    return [statistics.median(taken) for taken in times]


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
        passing, helping, parsers, planning, models = median_seconds(
            [
                [python, "-c", "pass"],
                [flaggate, "validate", "--help"],
                [python, "-c", "import pydantic, yaml"],
                [flaggate, "plan"],
                [python, "-c", MODELS],
            ],
            repo,
            args.repeat,
        )
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
    print(
        f"| `python -c '{MODELS}'` | {models:.3f} | `python -c 'import pydantic, yaml'` "
        f"| {parsers:.3f} | {models / parsers:.2f}x | - | - |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
