"""`flaggate validate`: every problem in the flag and policy files of a working tree.

Its options are all this module holds: `flaggate validate --help` must not pay for loading
the models and the YAML stack, which :mod:`flaggate.validation` imports when it runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from flaggate.defaults import POLICIES_DIR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `flaggate validate`."""
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="a repository root, or files in repositories (as pre-commit passes them): the "
        "repository of each file (its nearest ancestor with .git, else the current directory) "
        "is validated whole, once (default: .)",
    )
    parser.add_argument("--policies", default=POLICIES_DIR, help="policy directory")
    parser.add_argument(
        "--jobs", type=_positive, default=None, help="worker processes (default: one per core)"
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="text: `path:line: message` lines on stderr; github: the same, plus workflow "
        "commands on stdout that GitHub shows as annotations on the files' lines; json: a list "
        "of {file, line, column, message, hint, severity} on stdout "
        "(schemas/validate-output.schema.json). Default: github when GITHUB_ACTIONS=true, "
        "else text",
    )


FORMATS = ("text", "github", "json")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1")
    return value


def run(args: argparse.Namespace) -> int:
    """Validate the repository of each argument (see :func:`flaggate.validation.run`)."""
    from flaggate import validation

    return validation.run(args)
