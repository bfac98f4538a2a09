"""Options shared by the commands that run against GitHub (`github`, `sweep`)."""

from __future__ import annotations

import argparse
import os

from flaggate.defaults import POLICIES_DIR


def add_github_options(parser: argparse.ArgumentParser, dry_run_help: str) -> None:
    """``--policies`` and ``--dry-run``, defaulting to the action's inputs."""
    parser.add_argument(
        "--policies",
        default=os.environ.get("INPUT_POLICIES") or POLICIES_DIR,
        help="policy directory (default: policies, or the action's `policies` input)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        default=os.environ.get("INPUT_DRY_RUN", "").lower() == "true",
        help=dry_run_help,
    )
