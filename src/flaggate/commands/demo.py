"""`flaggate demo`: build a throwaway repository from the bundled example and plan a change.

The change is made with ruamel.yaml, which keeps the file's comments and layout, as a person
editing the file would.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ruamel.yaml import YAML

from flaggate.commands import plan
from flaggate.errors import UsageError

DEMO_FLAG = "checkout-redesign"
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "flaggate demo",
    "GIT_AUTHOR_EMAIL": "demo@example.invalid",
    "GIT_COMMITTER_NAME": "flaggate demo",
    "GIT_COMMITTER_EMAIL": "demo@example.invalid",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `flaggate demo`."""
    parser.add_argument(
        "--source",
        type=Path,
        default=Path("."),
        help="directory holding the example flags/ and policies/ (default: .)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the throwaway repository")


def run(args: argparse.Namespace) -> int:
    """Plan the example change without and with the approvals it needs."""
    source: Path = args.source
    flag_file = next((source / "flags").rglob(f"{DEMO_FLAG}.yaml"), None)
    if not (source / "policies").is_dir() or flag_file is None:
        raise UsageError(
            f"no example in {source}: expected policies/ and flags/**/{DEMO_FLAG}.yaml"
        )
    workdir = Path(tempfile.mkdtemp(prefix="flaggate-demo-"))
    try:
        shutil.copytree(source / "flags", workdir / "flags")
        shutil.copytree(source / "policies", workdir / "policies")
        _git(workdir, "init", "-q", "-b", "main")
        _git(workdir, "add", "-A")
        _git(workdir, "commit", "-q", "-m", "Example flags and policies")
        _git(workdir, "checkout", "-q", "-b", f"enable-{DEMO_FLAG}")
        changed = workdir / flag_file.relative_to(source)
        _turn_on_in_production(changed)
        _git(workdir, "commit", "-q", "-am", f"Turn on {DEMO_FLAG} in production")
        print(f"$ flaggate plan --base main --head enable-{DEMO_FLAG}   # in {workdir}\n")
        common = ["-C", str(workdir), "--base", "main", "--head", f"enable-{DEMO_FLAG}"]
        pending = _plan(common)
        approvals = ["--approve", "alice:tech-lead", "--approve", "bob:product-owner"]
        print(f"\n$ flaggate plan ... {' '.join(approvals)}\n")
        approved = _plan(common + approvals)
        print(f"\nexit codes: {pending} without approvals (pending), {approved} with them")
        return 0 if (pending, approved) == (1, 0) else 2
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _plan(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="flaggate plan")
    plan.add_arguments(parser)
    return plan.run(parser.parse_args(argv))


def _turn_on_in_production(path: Path) -> None:
    yaml = YAML()  # round-trip mode: comments and key order survive
    yaml.preserve_quotes = True
    data = yaml.load(path)
    production = data["spec"]["environments"]["production"]
    production["enabled"] = True
    production["variant"] = "on"
    with path.open("w") as stream:
        yaml.dump(data, stream)


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, env={**os.environ, **_GIT_ENV})
