#!/usr/bin/env python3
"""What publishing on merge adds to a merge run: `flaggate.serve.publish.publish` timed
in-process against a bare ``origin`` over a file:// URL (real git, no network).

For each size (default: the bundled example's 5 flags, then 2,000 and 20,000 generated ones;
three environments, publishing flagd) it builds a repository whose settings publish to
``flaggate-dist``, pushes it to a bare origin, clones it, and times after a warm-up:

* ``first``: the first publish (the branch does not exist yet: export, commit, push);
* ``change``: a merge turns one flag on, then publish (export, compare, commit, push);
* ``unchanged``: publish again with nothing changed (export, compare: no commit).

Each row is the median and minimum of ``--repeat`` runs, and the git processes one run
starts. Target: the ``change`` row of the example at most 0.5 s.

    .venv/bin/python benchmarks/bench_publish.py [--sizes example,2000,20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from flaggate.git import Git
from flaggate.model.settings import Publish
from flaggate.serve.publish import publish

PROJECT = Path(__file__).resolve().parents[1]
TARGET_S = 0.5
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}
FLAG = """apiVersion: flaggate/v1
kind: FeatureFlag
metadata: {{name: flag-{n:05d}, owner: "@acme/team-{t:02d}", tags: [bench]}}
spec:
  variants: {{on: true, off: false}}
  environments:
    development: {{enabled: true, variant: on}}
    staging: {{enabled: true, rollout: {{on: 25, off: 75}}}}
    production: {{enabled: false, variant: off}}
"""
PUBLISH = "  publish:\n    branch: flaggate-dist\n    formats: [flagd]\n"


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_ENV},
    )
    return done.stdout.strip()


def build(root: Path, size: str) -> tuple[Path, Path]:
    """A bare origin holding the repository of ``size``, and a clone of it."""
    seed = root / "seed"
    seed.mkdir(parents=True)
    git(seed, "init", "-q", "-b", "main")
    shutil.copytree(PROJECT / "policies", seed / "policies")
    settings = seed / "policies" / "settings.yaml"
    settings.write_text(settings.read_text() + PUBLISH)
    if size == "example":
        shutil.copytree(PROJECT / "flags", seed / "flags")
    else:
        for n in range(int(size)):
            folder = seed / "flags" / f"team-{n % 20:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"flag-{n:05d}.yaml").write_text(FLAG.format(n=n, t=n % 20))
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "flags")
    origin = root / "origin.git"
    git(root, "init", "-q", "--bare", "-b", "main", str(origin))
    git(seed, "push", "-q", origin.as_uri(), "main")
    clone = root / "clone"
    git(root, "clone", "-q", origin.as_uri(), str(clone))
    return origin, clone


def toggle(clone: Path, size: str, on: bool) -> None:
    """Merge a change of one flag's production state into origin's main."""
    if size == "example":
        path = clone / "flags" / "checkout" / "checkout-redesign.yaml"
        old, new = "enabled: false\n      variant: off", "enabled: true\n      variant: on"
    else:
        path = clone / "flags" / "team-00" / "flag-00000.yaml"
        old, new = "{enabled: false, variant: off}", "{enabled: true, variant: on}"
    text = path.read_text()
    path.write_text(text.replace(old, new) if on else text.replace(new, old))
    git(clone, "commit", "-q", "-am", "toggle")
    git(clone, "push", "-q", "origin", "main")


def timed(run: Callable[[Git], object], clone: Path) -> tuple[float, int]:
    repo = Git(clone)
    start = time.perf_counter()
    run(repo)
    return time.perf_counter() - start, repo.processes


def measure(size: str, repeat: int) -> list[tuple[str, str, list[float], int]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="flaggate-bench-publish-") as temp:
        origin, clone = build(Path(temp), size)

        def go(repo: Git) -> object:
            return publish(repo, Publish(), "main")

        firsts, processes = [], 0
        for _ in range(repeat):
            subprocess.run(
                ["git", "branch", "-D", "flaggate-dist"],
                cwd=origin,
                capture_output=True,
                check=False,
            )
            seconds, processes = timed(go, clone)
            firsts.append(seconds)
        rows.append((size, "first", firsts, processes))
        changes, unchanged = [], []
        on = True
        for _ in range(repeat):
            toggle(clone, size, on)
            on = not on
            seconds, changed_processes = timed(go, clone)
            changes.append(seconds)
            seconds, same_processes = timed(go, clone)
            unchanged.append(seconds)
        rows.append((size, "change", changes, changed_processes))
        rows.append((size, "unchanged", unchanged, same_processes))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="example,2000,20000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("| flags | publish | median s | min s | git processes | target |")
    print("|---|---|---|---|---|---|")
    for size in args.sizes.split(","):
        for flags, kind, times, processes in measure(size, args.repeat):
            target = f"≤ {TARGET_S} s" if (flags, kind) == ("example", "change") else "-"
            print(
                f"| {flags} | {kind} | {statistics.median(times):.3f} | {min(times):.3f} "
                f"| {processes} | {target} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
