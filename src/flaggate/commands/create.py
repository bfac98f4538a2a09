"""`flaggate create FLAG --owner ...`: a new flag file, off in every declared environment.

The file is validated with flaggate's own loader before it is written (atomically), carries
the ``$schema`` modeline editors read, and quotes every string a YAML 1.1 reader would take
for something else (``"on": true``).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from flaggate.commands.listing import repository_root
from flaggate.commands.set_flag import Workspace, add_write_options, save
from flaggate.editing import dump_new, safe_scalars
from flaggate.errors import UsageError
from flaggate.model.base import NAME_PATTERN
from flaggate.model.flags import DEFAULT_VARIANTS, VariantValue

SCHEMA_BASE = "https://raw.githubusercontent.com/flaggate/flaggate/v1/schemas/"
"""Where the JSON Schemas are published (their ``$id``s; flaggate.schemas.SCHEMA_BASE)."""

SCHEMA_URL = f"{SCHEMA_BASE}feature-flag.schema.json"

MODELINE = f"yaml-language-server: $schema={SCHEMA_URL}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `flaggate create`."""
    parser.add_argument("flag", metavar="FLAG", help="the new flag's key: [a-z0-9][a-z0-9._-]*")
    parser.add_argument("--owner", required=True, help="who owns it, e.g. @acme/checkout")
    parser.add_argument("--description", help="what it is for")
    parser.add_argument(
        "--tag", action="append", default=[], help="a tag (repeatable), e.g. kill-switch"
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        metavar="NAME=VALUE",
        help="its variants (default: on=true off=false); a VALUE that reads as JSON is that "
        '(true, 600, {"steps": 3}), anything else a string; several per argument with commas',
    )
    parser.add_argument(
        "--dir",
        default="",
        metavar="SUBDIR",
        help="a folder below the flags folder for the file (default: the flags folder itself)",
    )
    add_write_options(parser)


def run(args: argparse.Namespace) -> int:
    """Write the new flag (and commit it with ``--branch``); 2 when refused."""
    workspace = Workspace.open(repository_root(args.repo), args.policies)
    key = args.flag
    if not re.fullmatch(NAME_PATTERN.strip("^$"), key):
        raise UsageError(f"flag name {key!r} must match {NAME_PATTERN}")
    existing = workspace.flag_files().get(key)
    if existing:
        raise UsageError(f"flag {key!r} already exists: {', '.join(existing)}")
    path = PurePosixPath(workspace.flags_dir, _subdir(args.dir), f"{key}.yaml").as_posix()
    if (workspace.root / path).exists():
        raise UsageError(f"{path} already exists")
    variants = parse_variants(args.variants or [])
    text = flag_text(key, args.owner, args.description, args.tag, variants, workspace.environments)
    flag = workspace.check(path, text)
    return save(workspace, path, None, flag, None, text, args.branch, f"{key}: new flag")


def _subdir(text: str) -> str:
    """A relative folder without ``.``/``..`` parts (may be empty)."""
    folder = PurePosixPath(text.strip("/")) if text.strip("/") else PurePosixPath()
    if text.startswith("/") or any(part in (".", "..") for part in PurePosixPath(text).parts):
        raise UsageError(f"--dir {text!r}: a folder below the flags folder, without . or ..")
    return folder.as_posix() if folder.parts else ""


def parse_variants(items: Sequence[str]) -> dict[str, VariantValue]:
    """``NAME=VALUE`` items (commas outside brackets and quotes separate several in one
    argument) as variants; none given: ``on: true, off: false``."""
    variants: dict[str, VariantValue] = {}
    for item in (part for argument in items for part in _split(argument)):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--variants {item!r}: expected NAME=VALUE (e.g. on=true)")
        if name in variants:
            raise UsageError(f"--variants: variant {name!r} is named twice")
        variants[name] = _value(value.strip())
    return variants or dict(DEFAULT_VARIANTS)


def _split(argument: str) -> list[str]:
    """``a=1,b={"x": 1, "y": 2}`` into its items: commas inside brackets or quotes stay."""
    parts, depth, quote, current = [], 0, "", ""
    for char in argument:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    return [p for p in (*parts, current) if p.strip()]


def _value(text: str) -> VariantValue:
    """JSON when ``text`` reads as a boolean, number, string or object; else the text."""
    try:
        value: Any = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, bool | int | float | str | dict):
        return value
    raise UsageError(f"--variants: {text!r}: a variant is a boolean, string, number or object")


def flag_text(
    key: str,
    owner: str,
    description: str | None,
    tags: Sequence[str],
    variants: dict[str, VariantValue],
    environments: Sequence[str],
) -> str:
    """The new file: modeline, metadata, variants, every environment disabled."""
    metadata: dict[str, Any] = {"name": key, "owner": owner}
    if description:
        metadata["description"] = description
    data = safe_scalars(
        {
            "apiVersion": "flaggate/v1",
            "kind": "FeatureFlag",
            "metadata": metadata,
            "spec": {
                "variants": variants,
                "environments": {env: {"enabled": False} for env in environments},
            },
        }
    )
    data["metadata"]["tags"] = safe_scalars(list(dict.fromkeys(tags)), flow=True)
    for name, value in variants.items():
        if isinstance(value, dict):
            data["spec"]["variants"][safe_scalars(name)] = safe_scalars(value, flow=True)
    return dump_new(data, [MODELINE])
