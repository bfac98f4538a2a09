"""`flaggate plan`: the full evaluation offline, before a pull request exists.

Its options are all this module holds: `flaggate plan --help` must not pay for the models and
the YAML stack, which :mod:`flaggate.planning` imports when it runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from flaggate.defaults import POLICIES_DIR

COLOR_CHOICES = ("auto", "always", "never")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `flaggate plan`."""
    parser.add_argument("--base", default="HEAD", help="base ref; policies come from here")
    parser.add_argument("--head", default=None, help="head ref (default: the working tree)")
    parser.add_argument(
        "--approve",
        action="append",
        default=[],
        metavar="LOGIN:ROLE",
        help="simulate an approval by LOGIN holding ROLE (repeatable; ROLE may be R1,R2)",
    )
    parser.add_argument(
        "--request-changes",
        action="append",
        default=[],
        metavar="LOGIN:ROLE",
        help="simulate a review requesting changes",
    )
    parser.add_argument("--author", default=None, help="pull request author (pr.author)")
    parser.add_argument("--label", action="append", default=[], help="pull request label")
    parser.add_argument(
        "--body",
        type=Path,
        default=None,
        metavar="FILE",
        help="pull request description (- reads it from standard input)",
    )
    parser.add_argument(
        "--title", default="", help="pull request title (where a ticket key is looked for first)"
    )
    parser.add_argument("--branch", default="", help="pull request branch (may name the ticket)")
    parser.add_argument(
        "--labeled-by",
        default=None,
        metavar="LOGIN:ROLE",
        help="who added the emergency label, and the role they hold (simulates a bypass)",
    )
    parser.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="NAME[=STATE]",
        help="simulate a required check on the head (STATE success, failure or pending; "
        "default success)",
    )
    parser.add_argument(
        "--at",
        default=None,
        metavar="TIME",
        help="judge freeze windows and soak times at TIME (ISO 8601 with offset, e.g. "
        "2026-12-21T10:00+01:00; default now)",
    )
    parser.add_argument(
        "--online",
        action="store_true",
        help="also run gates that need the network (metric queries, Jira ticket lookups)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="text (default), json (schemas/plan-output.schema.json) or markdown (the pull "
        "request comment)",
    )
    parser.add_argument(
        "--color",
        choices=COLOR_CHOICES,
        default="auto",
        help="colour text output: auto (default; NO_COLOR, FORCE_COLOR, then a terminal), "
        "always or never",
    )
    parser.add_argument("-C", "--repo", type=Path, default=Path.cwd(), help="repository path")
    parser.add_argument("--policies", default=POLICIES_DIR, help="policy directory")


def run(args: argparse.Namespace) -> int:
    """Evaluate and print (see :func:`flaggate.planning.run`)."""
    from flaggate import planning

    return planning.run(args)
