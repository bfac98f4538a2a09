"""`flaggate import flagd FILE --environment ENV`: flags from a flagd file into flag files.

The repository in the current directory gives the declared environments and the flags folder
(Settings ``flagsPath``, default ``flags/``); it must load (``flaggate validate``). Each flag of
FILE becomes ``<DIR>/<key>.yaml`` (DIR: ``--into``, default the flags folder), or edits the
existing file of that key: only ``spec.environments.<ENV>`` and new variants change, comments
and key order stay (see :mod:`flaggate.serve.flagd_import` for the mapping and
:mod:`flaggate.serve.flag_files` for the writing).

All or nothing: every file is built and loaded back before the first is written; any problem is
printed (``FILE:LINE: flag 'key': ...``) and nothing is written (exit 2). Warnings (what
flaggate cannot carry exactly) are printed to stderr and the import goes on (exit 0). Files are
written atomically.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from flaggate.catalog import Catalog, load_catalog, read_folder, unique_flags
from flaggate.defaults import POLICIES_DIR
from flaggate.errors import Problem, UsageError, printable
from flaggate.serve.files import write_atomically
from flaggate.serve.flag_files import ExistingFile, Plan, plan_import
from flaggate.serve.flagd_import import convert, read_flagd

IMPORTERS = ("flagd",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `flaggate import`."""
    parser.add_argument("format", metavar="FORMAT", help=f"source format ({', '.join(IMPORTERS)})")
    parser.add_argument("file", type=Path, metavar="FILE", help="flagd file (.json or .yaml)")
    parser.add_argument(
        "--environment", required=True, metavar="ENV", help="the environment FILE serves"
    )
    parser.add_argument(
        "--into",
        type=Path,
        metavar="DIR",
        help="folder for new flag files (default: the repository's flags folder)",
    )
    parser.add_argument("--policies", default=POLICIES_DIR, help="policy directory")


def run(args: argparse.Namespace) -> int:
    """Import FILE into one environment; 0 when written, 2 when nothing was."""
    if args.format not in IMPORTERS:
        raise UsageError(f"unknown import format {args.format!r} (known: {', '.join(IMPORTERS)})")
    catalog = load_catalog(Path("."), None, args.policies)
    catalog.require([args.environment])
    declared = catalog.environments()
    source = str(args.file)
    document, problems = read_flagd(args.file, source)
    if document is None:
        return _refuse(problems, source)
    conversion = convert(document, source)
    into = args.into if args.into is not None else Path(catalog.flags_dir)
    existing, problems = existing_files(catalog, into, frozenset(declared))
    if problems:
        return _refuse(problems, str(into))
    plan = plan_import(conversion, args.environment, declared, existing, into, str(into))
    for warning in plan.warnings:
        print(warning, file=sys.stderr)
    if plan.problems:
        return _refuse(plan.problems, source)
    _write(plan)
    counts = {action: 0 for action in ("created", "updated", "unchanged")}
    for planned in plan.files:
        counts[planned.action] += 1
        if planned.action != "unchanged":
            print(printable(f"{planned.action} {planned.display}"))
    print(
        printable(
            f"imported {len(plan.files)} flag(s) from {source} into {args.environment}: "
            + ", ".join(f"{count} {action}" for action, count in counts.items())
        )
    )
    return 0


def _refuse(problems: list[Problem], source: str) -> int:
    for problem in sorted(problems):
        print(problem, file=sys.stderr)
    print(
        printable(f"flaggate: {len(problems)} problem(s) importing {source}: nothing written"),
        file=sys.stderr,
    )
    return 2


def _write(plan: Plan) -> None:
    for planned in plan.files:
        if planned.action == "unchanged":
            continue
        planned.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(planned.path, planned.content, durable=False)


def existing_files(
    catalog: Catalog, into: Path, environments: frozenset[str]
) -> tuple[dict[str, ExistingFile], list[Problem]]:
    """The flag files an import may edit, by key: every flag of the repository when ``into``
    is inside its flags folder (a key is unique there), else the flag files below ``into``."""
    flags_dir = Path(catalog.flags_dir).resolve()
    target = into.resolve()
    if target == flags_dir or flags_dir in target.parents:
        return {
            key: ExistingFile(Path(entry.path), entry.path, entry.flag)
            for key, entry in catalog.flags.items()
        }, []
    if not into.is_dir():
        return {}, []
    # Paths are shown as the user named the folder (`imported/x.yaml`).
    base = os.path.normpath(into)
    files, problems = read_folder(Path(base))
    shown_files = {os.path.normpath(os.path.join(base, p)): c for p, c in files.items()}
    flags, more = unique_flags(shown_files, environments)
    shown = [replace(p, path=os.path.normpath(os.path.join(base, p.path))) for p in problems]
    return {
        key: ExistingFile(Path(entry.path), entry.path, entry.flag) for key, entry in flags.items()
    }, shown + more
