#!/usr/bin/env python3
"""Regenerate scripts/action-lock.txt, what the GitHub Action installs (scripts/install-action.sh).

Run it after changing `project.dependencies` in pyproject.toml (tests/test_action_files.py fails
until the lock matches them again), or to take newer versions:

    python scripts/update-action-lock.py               # uv from PATH, latest uv wheels
    python scripts/update-action-lock.py --uv-version 0.13.9 --uv /path/to/uv

It writes two things into the one file:

- the pinned uv wheels the install script downloads when the runner has no uv: one
  `# uv-wheel <uname -s>-<uname -m> <version> <sha256> <url>` line per platform, read from
  PyPI's simple index (PEP 691 JSON);
- flaggate's runtime dependencies and their dependencies, pinned with every file's sha256:
  `uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes` (one lock
  for every platform and Python >= 3.11 the action runs on; markers say what applies where).

Standard library only; needs the network (PyPI) and uv.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
LOCK = PROJECT / "scripts" / "action-lock.txt"
INDEX = "https://pypi.org/simple/uv/"
# `uname -s`-`uname -m` of the runners -> the wheel's platform tag (a regular expression).
PLATFORMS = {
    "Linux-x86_64": r"manylinux_2_17_x86_64\b",
    "Linux-aarch64": r"manylinux_2_17_aarch64\b",
    "Darwin-x86_64": r"macosx_\d+_\d+_x86_64\b",
    "Darwin-arm64": r"macosx_\d+_\d+_arm64\b",
}
HEADER = """\
# What the flaggate GitHub Action installs (scripts/install-action.sh). Generated: do not edit.
# Regenerate after changing project.dependencies in pyproject.toml:
#    python scripts/update-action-lock.py
#
# uv, when the runner has none: its wheel for this platform (`uname -s`-`uname -m`), downloaded
# and checked against the sha256 before anything in it runs.
"""


def release(version: str) -> tuple[int, ...]:
    """The numeric release of a final version (`0.13.9` -> (0, 13, 9)); () for pre-releases."""
    return tuple(map(int, version.split("."))) if re.fullmatch(r"\d+(\.\d+)*", version) else ()


def uv_wheels(version: str | None) -> tuple[str, list[str]]:
    """The pinned version and one `# uv-wheel` line per platform."""
    request = urllib.request.Request(
        INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        index = json.load(response)
    if version is None:
        version = max((v for v in index["versions"] if release(v)), key=release)
    wheel_names = rf"uv-{re.escape(version)}-py3-none-.*\.whl"
    files = [f for f in index["files"] if re.fullmatch(wheel_names, f["filename"])]
    lines = []
    for platform, tag in PLATFORMS.items():
        found = [f for f in files if re.search(tag, f["filename"])]
        if len(found) != 1:
            names = [f["filename"] for f in found]
            sys.exit(f"uv {version}: expected one wheel for {platform}, found {names}")
        [wheel] = found
        lines.append(f"# uv-wheel {platform} {version} {wheel['hashes']['sha256']} {wheel['url']}")
    return version, lines


def compile_dependencies(uv: str) -> str:
    done = subprocess.run(
        [
            uv, "pip", "compile", "pyproject.toml", "--universal", "--python-version", "3.11",
            "--generate-hashes", "--no-header", "--quiet",
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"uv pip compile failed:\n{done.stderr}")
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uv", default=shutil.which("uv"), help="uv binary (default: on PATH)")
    parser.add_argument("--uv-version", help="uv version to pin (default: the latest release)")
    args = parser.parse_args()
    if not args.uv:
        parser.error("uv is not on PATH: pass --uv (e.g. pip install uv)")
    version, wheels = uv_wheels(args.uv_version)
    dependencies = compile_dependencies(args.uv)
    LOCK.write_text(
        f"{HEADER}{chr(10).join(wheels)}\n#\n"
        "# flaggate's dependencies, installed with `uv pip install --require-hashes --no-deps`:\n"
        f"{dependencies}"
    )
    pins = len(re.findall(r"^[\w.-]+==", dependencies, re.M))
    print(f"wrote {LOCK.relative_to(PROJECT)}: uv {version}, {pins} pinned distributions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
