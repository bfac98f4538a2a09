"""The published JSON Schemas, generated from the models so the two cannot drift.

`python -m flaggate.schemas DIR` writes them; `--check` exits 1 when DIR is out of date.
The cross-field rules (rollout sums, known variants, declared environments) are checked by
the loader, which also reports them with lines; the schemas carry the structure, for editors.

Besides the files people write (:data:`MODELS`), the document `flaggate plan --format json`
prints is described here (:data:`OUTPUTS`), by models that exist only for its schema: the
document itself is built by :func:`flaggate.render.plan_json`, and tests validate real
outputs against the schema.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints

from flaggate.model.flags import FeatureFlag
from flaggate.model.policy import (
    CONDITION_FIELDS,
    ApprovalPolicy,
    ApprovalStages,
    Environments,
    RoleBindings,
)
from flaggate.model.settings import Settings

SCHEMA_BASE = "https://raw.githubusercontent.com/flaggate/flaggate/v1/schemas/"

MODELS: dict[str, type[BaseModel]] = {
    "feature-flag": FeatureFlag,
    "approval-policy": ApprovalPolicy,
    "approval-stages": ApprovalStages,
    "role-bindings": RoleBindings,
    "environments": Environments,
    "settings": Settings,
}


# --- the output of `flaggate plan --format json` ---------------------------------------------


ObjectId = Annotated[str, StringConstraints(pattern="^[0-9a-f]{40}([0-9a-f]{24})?$")]
"""A git object id (SHA-1, or SHA-256 in a SHA-256 repository)."""

ChangeType = Literal[
    "created", "deleted", "updated", "toggled", "rollout", "variant", "targeting", "variants",
    "metadata",
]  # fmt: skip


class _Output(BaseModel):
    """Base of the output models: every key is always present (null when unknown), no other."""

    model_config = ConfigDict(
        extra="forbid", field_title_generator=lambda name, field: field.alias or name
    )


class FlagState(_Output):
    """What a flag serves in one environment, normalized (`resource: flag`)."""

    enabled: bool
    variant: str | None = Field(
        description="The variant named (`on` for an enabled environment naming neither a "
        "variant nor a rollout); null when none is."
    )
    rollout: dict[str, float] | None = Field(description="Percentage served per variant.")
    targeting: dict[str, Any] | None = Field(description="flagd/JSONLogic targeting rules.")
    variants: dict[str, Any] = Field(
        description="The values of the variants this environment can serve, by name."
    )


class MetadataState(_Output):
    """A flag's metadata (`type: metadata` changes, environment `*`)."""

    owner: str | None
    description: str | None
    tags: list[str]


class FileState(_Output):
    """A policy file or `.gitattributes` (`resource: policy` or `repository`)."""

    sha256: str | None = Field(description="SHA-256 of the file; null when over the size limit.")
    bytes: int = Field(ge=0, description="Size of the file in bytes.")


State = FlagState | MetadataState | FileState | None


class Change(_Output):
    """A changed (flag, environment), flag's metadata, policy file or `.gitattributes`."""

    resource: Literal["flag", "policy", "repository"]
    flag: str = Field(description="The flag's key; the file's path for policy and repository.")
    environment: str = Field(description="`*` for metadata, policy and repository changes.")
    type: ChangeType = Field(description="The primary type: the first of `types`.")
    types: list[ChangeType] = Field(description="Every change type that applies.")
    previous_value: State = Field(alias="previousValue", description="Null where it did not exist.")
    new_value: State = Field(alias="newValue", description="Null where it no longer exists.")
    rollout_delta: float = Field(
        alias="rolloutDelta", description="Largest change of a variant's served percentage."
    )
    path: str = Field(description="The file, relative to the repository.")
    rule: str = Field(description="The first policy rule that matched; `default` when none did.")
    requires_approval: bool = Field(alias="requiresApproval")
    stages: list[str] = Field(description="Names of the stages the rule requires.")
    reason: str = Field(description="Why the rule matched.")


class Approval(_Output):
    """An approval counted for a stage, with the role that made it count."""

    login: str
    role: str


class StageTimeout(_Output):
    """The clock of a stage being (or, auto-approved, having been) waited on."""

    active_since: datetime = Field(alias="activeSince")
    deadline: datetime | None = Field(description="Null when the stage has no timeout.")
    expired: bool
    action: Literal["escalate", "reject", "auto-approve"] | None = Field(
        description="What the expiry did; null before it."
    )


class Stage(_Output):
    """One approval stage the changes require, in order."""

    name: str
    required_approvers: int = Field(alias="requiredApprovers", ge=0)
    approver_roles: list[str] = Field(alias="approverRoles")
    status: Literal["approved", "pending", "waiting", "rejected"] = Field(
        description="`pending` is the active stage, the first not approved; `waiting` "
        "comes after it."
    )
    approvals: list[Approval]
    missing: int = Field(ge=0, description="Approvals still needed.")
    rules: list[str] = Field(description="The rules that require this stage.")
    timeout: StageTimeout | None = Field(
        description="Null without a known clock (`flaggate plan` knows no opening time)."
    )


class Gate(_Output):
    """One gate of a changed environment."""

    name: str
    kind: str = Field(description="`checks`, `promotion`, `freeze`, `metric` or `ticket`.")
    environment: str | None
    status: Literal["passed", "pending", "failed", "error"] = Field(
        description="`error`: the service behind the gate could not be asked."
    )
    message: str


class Bypass(_Output):
    """The emergency-label bypass, valid or not."""

    valid: bool
    label: str
    actor: str | None = Field(description="Who added the label.")
    role: str | None = Field(description="The bypass role the actor holds.")
    incident: str | None
    severity: str | None
    justification: str | None
    reason: str = Field(description="Why it is refused, or a summary when valid.")


class IgnoredReview(_Output):
    """A review that does not count, and why."""

    login: str
    reason: str


class PlanOutput(_Output):
    """What `flaggate plan --format json` prints: the same keys whatever the decision."""

    model_config = ConfigDict(title="flaggate plan --format json")

    version: Literal[1] = Field(
        description="Version of this format; raised when a key is removed or changes meaning."
    )
    decision: Literal[
        "no_changes", "approved", "bypassed", "pending", "rejected", "failed", "invalid", "error"
    ] = Field(
        description="`error`: a git error stopped the evaluation (exit code 2); "
        "the others as README's table of decisions and exit codes."
    )
    summary: str = Field(description="One line on the decision (the error's message).")
    base: ObjectId | None = Field(
        description="The base commit; policies come from it. Null when not resolved."
    )
    merge_base: ObjectId | None = Field(
        alias="mergeBase",
        description="Where the head branched from the base (git merge-base); null for the "
        "working tree, without a common ancestor, or when not known.",
    )
    merged_tree: ObjectId | None = Field(
        alias="mergedTree",
        description="The tree merging the head into the base produces, which is judged; null "
        "for the working tree, on a conflict, or when not known.",
    )
    head: ObjectId | None = Field(
        description="The head commit; null for the working tree or when not known."
    )
    notes: list[str] | None = Field(
        description="Remarks on the comparison (e.g. a base version that does not load); "
        "null when nothing was compared."
    )
    changes: list[Change]
    stages: list[Stage] = Field(description="The stages required, in order.")
    gates: list[Gate]
    bypass: Bypass | None = Field(description="Null without the emergency label.")
    ignored_reviews: list[IgnoredReview] = Field(alias="ignoredReviews")
    errors: list[str] = Field(
        description="Problems as `file:line: message` (decision `invalid`), or the error "
        "(decision `error`); they are also printed on standard error."
    )


# --- the output of `flaggate validate --format json` -----------------------------------------


class ValidateFinding(_Output):
    """One problem (`severity: error`) or warning `flaggate validate` found."""

    file: str = Field(
        description="The file (or, ending in `/`, the folder), relative to the repository; "
        "prefixed by the repository's folder when several repositories were validated."
    )
    line: int | None = Field(ge=1, description="1-based; null when not known.")
    column: int | None = Field(ge=1, description="1-based; null when not known.")
    message: str = Field(description="What is wrong, led by the dotted key (`spec.variants`).")
    hint: str | None = Field(description="Advice such as `did you mean 'enabled'?`; or null.")
    severity: Literal["error", "warning"] = Field(
        description="Errors make the exit code 2; warnings (roles nobody can hold) do not."
    )


class ValidateOutput(RootModel[list[ValidateFinding]]):
    """What `flaggate validate --format json` prints: errors (sorted by file, line, column),
    then warnings; an empty list when all is well."""

    model_config = ConfigDict(title="flaggate validate --format json")


OUTPUTS: dict[str, type[BaseModel]] = {
    "plan-output": PlanOutput,
    "validate-output": ValidateOutput,
}
"""Schemas of documents flaggate prints, by file stem."""

CONDITION_FIELD_PATTERN = (
    "^("
    + "|".join(sorted(f.replace(".", r"\.") for f in CONDITION_FIELDS))
    + r"|(previousValue|newValue)(\.[^.]+)+)$"
)


def generate() -> dict[str, dict[str, Any]]:
    """Every published schema, by file stem."""
    schemas = {}
    for name, model in {**MODELS, **OUTPUTS}.items():
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
