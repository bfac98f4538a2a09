"""The published JSON Schemas, generated from the models so the two cannot drift.

`python -m flaggate.schemas DIR` writes them; `--check` exits 1 when DIR is out of date.
The cross-field rules (rollout sums, known variants, declared environments) are checked by
the loader, which also reports them with lines; the schemas carry the structure, for editors.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from flaggate.model.flags import FeatureFlag
from flaggate.model.policy import (
    CONDITION_FIELDS,
    ApprovalPolicy,
    ApprovalStages,
    Environments,
    RoleBindings,
)
from flaggate.model.settings import Settings

SCHEMA_BASE = "https://flaggate.dev/schemas/"

MODELS: dict[str, type[BaseModel]] = {
    "feature-flag": FeatureFlag,
    "approval-policy": ApprovalPolicy,
    "approval-stages": ApprovalStages,
    "role-bindings": RoleBindings,
    "environments": Environments,
    "settings": Settings,
}

CONDITION_FIELD_PATTERN = (
    "^("
    + "|".join(sorted(f.replace(".", r"\.") for f in CONDITION_FIELDS))
    + r"|(previousValue|newValue)(\.[^.]+)+)$"
)


def generate() -> dict[str, dict[str, Any]]:
    """Every published schema, by file stem."""
    schemas = {}
    for name, model in MODELS.items():
        schema = model.model_json_schema(by_alias=True)
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{SCHEMA_BASE}{name}.schema.json",
            **schema,
        }
        _add_condition_pattern(schema)
        _close_pattern_properties(schema)
        schemas[name] = schema
    return schemas


def render(schema: dict[str, Any]) -> str:
    """A schema as the text committed under ``schemas/``."""
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def _add_condition_pattern(schema: dict[str, Any]) -> None:
    condition = schema.get("$defs", {}).get("Condition")
    if condition is not None:
        condition["properties"]["field"]["pattern"] = CONDITION_FIELD_PATTERN


def _close_pattern_properties(node: Any) -> None:
    """Where keys must match a pattern, other keys are errors (as in the models)."""
    if isinstance(node, dict):
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close_pattern_properties(value)
    elif isinstance(node, list):
        for value in node:
            _close_pattern_properties(value)


def main(argv: list[str] | None = None) -> int:
    """Write the schemas into a directory, or check that it is up to date."""
    parser = argparse.ArgumentParser(prog="python -m flaggate.schemas")
    parser.add_argument("directory", type=Path, nargs="?", default=Path("schemas"))
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    stale = []
    for name, schema in generate().items():
        path = args.directory / f"{name}.schema.json"
        text = render(schema)
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'}: {path}", file=sys.stderr)
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
