"""`flaggate list`: every flag and what it serves in each environment, one line per flag."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flaggate.catalog import Catalog, load_catalog
from flaggate.defaults import POLICIES_DIR
from flaggate.diff import FlagFile, normalized_state, served
from flaggate.errors import GitError, UsageError, printable
from flaggate.git import Git
from flaggate.model.suggest import did_you_mean

LIST_OUTPUT_VERSION = 1
"""``version`` of the ``flaggate list --format json`` document; raised when a key is removed
or changes meaning, not when one is added."""

ABSENT = "—"
"""A table cell for an environment the flag does not exist in."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `flaggate list`."""
    parser.add_argument(
        "--environment",
        action="append",
        default=[],
        metavar="ENV",
        help="show only this environment (repeatable; default: every declared one)",
    )
    parser.add_argument(
        "--tag", action="append", default=[], help="only flags carrying this tag (repeatable: all)"
    )
    parser.add_argument("--owner", help="only flags of this owner (`@acme/team`; @ optional)")
    parser.add_argument(
        "--format", choices=("table", "json"), default="table", help="table (default) or json"
    )
    add_source_options(parser)


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """``--ref``, ``-C`` and ``--policies``: where flags and policies are read."""
    parser.add_argument(
        "--ref", help="read flags and policies at this commit (default: the working tree)"
    )
    parser.add_argument(
        "-C", "--repo", type=Path, default=Path("."), help="repository path (default: .)"
    )
    parser.add_argument("--policies", default=POLICIES_DIR, help="policy directory")


def repository_root(path: Path) -> Path:
    """The top folder of the git repository holding ``path``; ``path`` itself outside git."""
    if not path.is_dir():
        raise UsageError(f"{path}: no such directory")
    try:
        return Git.discover(path).root
    except GitError:
        return path


def run(args: argparse.Namespace) -> int:
    """Print the matching flags; 0 (also when none match)."""
    catalog = load_catalog(repository_root(args.repo), args.ref, args.policies)
    environments = chosen_environments(catalog, args.environment)
    entries = [e for e in catalog.flags.values() if _matches(e, args.tag, args.owner)]
    if args.format == "json":
        print(json.dumps(list_json(catalog, entries, environments), indent=2, ensure_ascii=False))
        return 0
    if not entries:
        print("no flags match", file=sys.stderr)
        return 0
    rows = [["FLAG", *(env.upper() for env in environments), "OWNER", "TAGS"]]
    for entry in entries:
        meta = entry.flag.metadata
        cells = [serving(entry, env) for env in environments]
        rows.append([entry.flag.key, *cells, meta.owner or ABSENT, ", ".join(meta.tags)])
    for line in aligned(rows):
        print(line)
    return 0


def chosen_environments(catalog: Catalog, wanted: Sequence[str]) -> list[str]:
    """The environments asked for, in declared order (all when none asked); an undeclared
    one is a usage error with the closest declared name."""
    declared = catalog.environments()
    for name in wanted:
        if name not in declared:
            raise UsageError(
                f"environment {name!r} is not declared ({', '.join(declared)})",
                did_you_mean(name, declared),
            )
    return [env for env in declared if not wanted or env in wanted]


def _matches(entry: FlagFile, tags: Sequence[str], owner: str | None) -> bool:
    meta = entry.flag.metadata
    if any(tag not in meta.tags for tag in tags):
        return False
    return owner is None or _owner_key(meta.owner or "") == _owner_key(owner)


def _owner_key(owner: str) -> str:
    return owner.strip().lstrip("@").lower()


def serving(entry: FlagFile, environment: str) -> str:
    """What a flag serves in one environment, for a table cell: ``disabled``, a variant's
    name, or a rollout (``on 25% / off 75%``); ``+ targeting`` when rules apply first."""
    state = normalized_state(entry.flag, environment)
    if state is None:
        return ABSENT
    if not state["enabled"]:
        text = "disabled"
    elif state["rollout"] is not None:
        text = rollout_text(state["rollout"], list(entry.flag.spec.variants))
    else:
        text = state["variant"] or ABSENT
    return text + (" + targeting" if state["targeting"] else "")


def rollout_text(rollout: Mapping[str, float], declared: Sequence[str]) -> str:
    """``on 25% / off 75%``, variants in the order the flag declares them."""
    rank = {name: i for i, name in enumerate(declared)}
    names = sorted(rollout, key=lambda name: (rank.get(name, len(rank)), name))
    return " / ".join(f"{name} {rollout[name]:g}%" for name in names)


def list_json(
    catalog: Catalog, entries: Sequence[FlagFile], environments: Sequence[str]
) -> dict[str, Any]:
    """The ``flaggate list --format json`` document."""
    return {
        "version": LIST_OUTPUT_VERSION,
        "revision": catalog.revision,
        "environments": list(environments),
        "flags": [
            {
                "key": entry.flag.key,
                "path": entry.path,
                "owner": entry.flag.metadata.owner,
                "description": entry.flag.metadata.description,
                "tags": list(entry.flag.metadata.tags),
                "environments": {env: _state_json(entry, env) for env in environments},
            }
            for entry in entries
        ],
    }


def _state_json(entry: FlagFile, environment: str) -> dict[str, Any] | None:
    state = normalized_state(entry.flag, environment)
    if state is None:
        return None
    return {
        "enabled": state["enabled"],
        "variant": state["variant"],
        "rollout": state["rollout"],
        "targeting": state["targeting"],
        "served": served(state),
    }


def aligned(rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    """Rows as lines of left-aligned columns two spaces apart, without trailing spaces;
    characters that could drive a terminal are escaped (cells quote file contents)."""
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
