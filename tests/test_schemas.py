"""The published JSON Schemas: in sync with the models, valid, and agreeing with the models."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from flaggate.diff import CHANGE_TYPES, POLICY_CHANGE_TYPES
from flaggate.policy.result import Decision, GateStatus, StageStatus
from flaggate.schemas import MODELS, OUTPUTS, generate, render
from flaggate.yamlio import load_documents
from tests.gitrepo import EXAMPLE_FLAGS, EXAMPLE_POLICIES, PROJECT

SCHEMAS_DIR = PROJECT / "schemas"
GENERATED = generate()


# --- the committed files are what the models generate ---------------------------------------


HAND_WRITTEN = ("audit-record.schema.json",)
"""Schemas of outputs (not of files people write), kept by hand and tested where used."""


def test_every_model_has_a_committed_schema_and_nothing_else_is_committed() -> None:
    committed = sorted(p.name for p in SCHEMAS_DIR.glob("*.schema.json"))
    generated = [f"{name}.schema.json" for name in (*MODELS, *OUTPUTS)]
    assert committed == sorted([*generated, *HAND_WRITTEN])
    assert sorted(GENERATED) == sorted([*MODELS, *OUTPUTS])


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_committed_schema_is_in_sync_with_the_model(name: str) -> None:
    committed = (SCHEMAS_DIR / f"{name}.schema.json").read_text()
    assert committed == render(GENERATED[name]), (
        f"schemas/{name}.schema.json is stale: run `python -m flaggate.schemas schemas`"
    )


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    schema = GENERATED[name]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == (
        f"https://raw.githubusercontent.com/flaggate/flaggate/v1/schemas/{name}.schema.json"
    )


def _run_schemas(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flaggate.schemas", *args],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_check_command_passes_on_the_committed_schemas() -> None:
    done = _run_schemas("--check", "schemas")
    assert (done.returncode, done.stderr) == (0, "")


def test_check_command_fails_on_a_stale_schema_and_writing_fixes_it(tmp_path: Path) -> None:
    target = tmp_path / "schemas"
    shutil.copytree(SCHEMAS_DIR, target)
    (target / "settings.schema.json").write_text("{}\n")
    (target / "role-bindings.schema.json").unlink()
    (target / "plan-output.schema.json").write_text("{}\n")
    stale = _run_schemas("--check", str(target))
    assert stale.returncode == 1
    assert sorted(stale.stderr.splitlines()) == [
        f"stale: {target / 'plan-output.schema.json'}",
        f"stale: {target / 'role-bindings.schema.json'}",
        f"stale: {target / 'settings.schema.json'}",
    ]
    assert not (target / "role-bindings.schema.json").exists(), "--check must not write"
    wrote = _run_schemas(str(target))
    assert wrote.returncode == 0
    assert _run_schemas("--check", str(target)).returncode == 0
    assert (target / "settings.schema.json").read_text() == render(GENERATED["settings"])
    assert (target / "plan-output.schema.json").read_text() == render(GENERATED["plan-output"])


# --- the plan output's schema names what the code can print ----------------------------------


def _plan_output_enum(*path: str) -> list[str]:
    node = GENERATED["plan-output"]
    for key in path:
        node = node[key]
    return node["enum"]  # type: ignore[no-any-return]


def test_plan_output_enums_match_the_code() -> None:
    assert _plan_output_enum("properties", "decision") == [*(d.value for d in Decision), "error"]
    assert sorted(_plan_output_enum("$defs", "Change", "properties", "type")) == sorted(
        {*CHANGE_TYPES, *POLICY_CHANGE_TYPES}
    )
    stage_status = _plan_output_enum("$defs", "Stage", "properties", "status")
    assert stage_status == [s.value for s in StageStatus]
    assert _plan_output_enum("$defs", "Gate", "properties", "status") == [
        s.value for s in GateStatus
    ]


def test_plan_output_top_level_keys_are_all_required_and_closed() -> None:
    schema = GENERATED["plan-output"]
    assert schema["required"] == list(schema["properties"])
    assert schema["additionalProperties"] is False
    assert schema["properties"]["version"]["const"] == 1


# --- differential: jsonschema and the pydantic models agree on STRUCTURE ---------------------
#
# The schemas carry the structure only. These rules are checked by the models' validators or
# by the loader and are deliberately NOT part of the corpus below, because a schema cannot
# express them: rollout sums, unknown variants (in `variant` or `rollout`), undeclared
# environments, name/stem mismatch, mixed variant types, `variant` + `rollout` together, an
# enabled environment without a variant, operator/value fit (`in` needs a list, `regex` must
# compile, ...), stage escalation and timeouts, freeze window kinds and timezones, metric gate
# bounds, required approval without roles, notification targets. Values JSON cannot carry
# (NaN, non-string mapping keys) are left out too.

KIND_TO_SCHEMA = {
    "FeatureFlag": "feature-flag",
    "ApprovalPolicy": "approval-policy",
    "ApprovalStages": "approval-stages",
    "RoleBindings": "role-bindings",
    "Environments": "environments",
    "Settings": "settings",
}


def _example_documents() -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {}
    for path in [*sorted(EXAMPLE_FLAGS.rglob("*.yaml")), *sorted(EXAMPLE_POLICIES.glob("*.yaml"))]:
        for document in load_documents(path.read_bytes()):
            docs[f"{path.parent.name}/{path.name}"] = document.data
    return docs


EXAMPLES = _example_documents()


def _example(name: str) -> dict[str, Any]:
    return copy.deepcopy(EXAMPLES[name])


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return doc


def _drop(doc: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    node = doc
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]
    return doc


FLAG = "checkout/checkout-redesign.yaml"
POLICY = "policies/approval-policy.yaml"
STAGES = "policies/stages.yaml"
ROLES = "policies/roles.yaml"
ENVS = "policies/environments.yaml"
SETTINGS = "policies/settings.yaml"
COND = ("spec", "rules", 0, "conditions", 0)
STAGE = ("spec", "stages", 0)
PROD = ("spec", "environments", 2)

Mutation = Callable[[], dict[str, Any]]

ACCEPTED: dict[str, tuple[str, Mutation]] = {
    **{name: (name, lambda name=name: _example(name)) for name in EXAMPLES if "/" in name},
    "flag-without-variants": ("FeatureFlag", lambda: _drop(_example(FLAG), ("spec", "variants"))),
    "flag-null-owner": ("FeatureFlag", lambda: _set(_example(FLAG), ("metadata", "owner"), None)),
    "flag-int-rollout": (
        "FeatureFlag",
        lambda: _set(_example(FLAG), ("spec", "environments", "staging", "rollout"), {"on": 100}),
    ),
    "flag-object-variants": (
        "FeatureFlag",
        lambda: _set(_example(FLAG), ("spec", "variants"), {"a": {"x": [1]}, "b": {}}),
    ),
    "condition-newValue-path": (
        "ApprovalPolicy",
        lambda: _set(_example(POLICY), (*COND, "field"), "newValue.rollout.on"),
    ),
    "condition-previousValue": (
        "ApprovalPolicy",
        lambda: _set(_example(POLICY), (*COND, "field"), "previousValue"),
    ),
    "empty-settings": ("Settings", lambda: {}),
    "settings-with-tickets": (
        "Settings",
        lambda: _set(_example(SETTINGS), ("spec", "tickets"), {"provider": "github"}),
    ),
    "environment-with-gates": (
        "Environments",
        lambda: _set(
            _example(ENVS),
            PROD,
            {
                "name": "production",
                "riskLevel": "critical",
                "promotion": {"from": "staging", "minSoakHours": 24},
                "freeze": [{"name": "w", "days": ["sat"], "from": "00:00", "to": "23:59"}],
                "metrics": [{"name": "errors", "query": "up", "max": 0.01}],
            },
        ),
    ),
}

REJECTED: dict[str, tuple[str, Mutation]] = {
    # FeatureFlag
    "flag-unknown-top-key": ("FeatureFlag", lambda: _set(_example(FLAG), ("extra",), 1)),
    "flag-unknown-metadata-key": (
        "FeatureFlag",
        lambda: _set(_example(FLAG), ("metadata", "color"), "red"),
    ),
    "flag-unknown-state-key": (
        "FeatureFlag",
        lambda: _set(_example(FLAG), ("spec", "environments", "staging", "weight"), 1),
    ),
    "flag-missing-spec": ("FeatureFlag", lambda: _drop(_example(FLAG), ("spec",))),
    "flag-missing-enabled": (
        "FeatureFlag",
        lambda: _drop(_example(FLAG), ("spec", "environments", "staging", "enabled")),
    ),
    "flag-wrong-api-version": (
        "FeatureFlag",
        lambda: _set(_example(FLAG), ("apiVersion",), "featureflags/v1"),
    ),
    "flag-wrong-kind": ("FeatureFlag", lambda: _set(_example(FLAG), ("kind",), "Flag")),
    "flag-bad-name": ("FeatureFlag", lambda: _set(_example(FLAG), ("metadata", "name"), "Bad")),
    "flag-name-too-long": (
        "FeatureFlag",
        lambda: _set(_example(FLAG), ("metadata", "name"), "a" * 129),
    ),
    "flag-name-number": ("FeatureFlag", lambda: _set(_example(FLAG), ("metadata", "name"), 7)),
    "flag-bad-environment-name": (
        "FeatureFlag",
        lambda: _set(_example(FLAG), ("spec", "environments", "Prod"), {"enabled": False}),
    ),
    "flag-enabled-string": (
        "FeatureFlag",
        lambda: _set(_example(FLAG), ("spec", "environments", "staging", "enabled"), "yes"),
    ),
    "flag-enabled-number": (
        "FeatureFlag",
        lambda: _set(_example(FLAG), ("spec", "environments", "staging", "enabled"), 1),
    ),
    "flag-rollout-string": (
        "FeatureFlag",
        lambda: _set(_example(FLAG), ("spec", "environments", "staging", "rollout", "on"), "25"),
    ),
    "flag-rollout-bool": (
        "FeatureFlag",
        lambda: _set(_example(FLAG), ("spec", "environments", "staging", "rollout", "on"), True),
    ),
    "flag-rollout-over-100": (
        "FeatureFlag",
        lambda: _set(_example(FLAG), ("spec", "environments", "staging", "rollout", "on"), 101),
    ),
    "flag-rollout-negative": (
        "FeatureFlag",
        lambda: _set(_example(FLAG), ("spec", "environments", "staging", "rollout", "on"), -1),
    ),
    "flag-variant-list-value": (
        "FeatureFlag",
        lambda: _set(_example(FLAG), ("spec", "variants", "on"), [1]),
    ),
    "flag-variant-null-value": (
        "FeatureFlag",
        lambda: _set(_example(FLAG), ("spec", "variants", "on"), None),
    ),
    "flag-empty-variant-name": (
        "FeatureFlag",
        lambda: _set(_example(FLAG), ("spec", "variants", ""), True),
    ),
    "flag-tags-string": ("FeatureFlag", lambda: _set(_example(FLAG), ("metadata", "tags"), "x")),
    "flag-empty-tag": ("FeatureFlag", lambda: _set(_example(FLAG), ("metadata", "tags"), [""])),
    "flag-targeting-list": (
        "FeatureFlag",
        lambda: _set(_example(FLAG), ("spec", "environments", "staging", "targeting"), []),
    ),
    "flag-environments-list": (
        "FeatureFlag",
        lambda: _set(_example(FLAG), ("spec", "environments"), []),
    ),
    # ApprovalPolicy
    "policy-bad-operator": (
        "ApprovalPolicy",
        lambda: _set(_example(POLICY), (*COND, "operator"), "like"),
    ),
    "policy-bad-field": (
        "ApprovalPolicy",
        lambda: _set(_example(POLICY), (*COND, "field"), "flag.color"),
    ),
    "policy-empty-value-path": (
        "ApprovalPolicy",
        lambda: _set(_example(POLICY), (*COND, "field"), "newValue."),
    ),
    "policy-field-prefix-only": (
        "ApprovalPolicy",
        lambda: _set(_example(POLICY), (*COND, "field"), "newValueX"),
    ),
    "policy-unknown-condition-key": (
        "ApprovalPolicy",
        lambda: _set(_example(POLICY), (*COND, "negate"), True),
    ),
    "policy-bad-rule-name": (
        "ApprovalPolicy",
        lambda: _set(_example(POLICY), ("spec", "rules", 0, "name"), "Kill Switch"),
    ),
    "policy-required-string": (
        "ApprovalPolicy",
        lambda: _set(_example(POLICY), ("spec", "rules", 0, "approval", "required"), "false"),
    ),
    "policy-negative-min-approvers": (
        "ApprovalPolicy",
        lambda: _set(_example(POLICY), ("spec", "rules", 1, "approval", "minApprovers"), -1),
    ),
    "policy-missing-rules": ("ApprovalPolicy", lambda: _drop(_example(POLICY), ("spec", "rules"))),
    "policy-unknown-api-version": (
        "ApprovalPolicy",
        lambda: _set(_example(POLICY), ("apiVersion",), "flaggate/v2"),
    ),
    "policy-empty-metadata-name": (
        "ApprovalPolicy",
        lambda: _set(_example(POLICY), ("metadata", "name"), ""),
    ),
    # ApprovalStages
    "stages-order-string": (
        "ApprovalStages",
        lambda: _set(_example(STAGES), (*STAGE, "order"), "first"),
    ),
    "stages-order-bool": (
        "ApprovalStages",
        lambda: _set(_example(STAGES), (*STAGE, "order"), True),
    ),
    "stages-order-fraction": (
        "ApprovalStages",
        lambda: _set(_example(STAGES), (*STAGE, "order"), 1.5),
    ),
    "stages-zero-approvers": (
        "ApprovalStages",
        lambda: _set(_example(STAGES), (*STAGE, "requiredApprovers"), 0),
    ),
    "stages-zero-timeout": (
        "ApprovalStages",
        lambda: _set(_example(STAGES), (*STAGE, "timeoutHours"), 0),
    ),
    "stages-no-roles": (
        "ApprovalStages",
        lambda: _set(_example(STAGES), (*STAGE, "approverRoles"), []),
    ),
    "stages-bad-on-timeout": (
        "ApprovalStages",
        lambda: _set(_example(STAGES), (*STAGE, "onTimeout"), "ignore"),
    ),
    # RoleBindings
    "roles-team-without-org": (
        "RoleBindings",
        lambda: _set(_example(ROLES), ("spec", "roles", "x"), {"teams": ["admins"]}),
    ),
    "roles-unknown-key": (
        "RoleBindings",
        lambda: _set(_example(ROLES), ("spec", "roles", "x"), {"groups": ["a"]}),
    ),
    "roles-empty-role-name": (
        "RoleBindings",
        lambda: _set(_example(ROLES), ("spec", "roles", ""), {}),
    ),
    # Environments
    "envs-empty": ("Environments", lambda: _set(_example(ENVS), ("spec", "environments"), [])),
    "envs-bad-risk": (
        "Environments",
        lambda: _set(_example(ENVS), (*PROD, "riskLevel"), "extreme"),
    ),
    "envs-bad-name": ("Environments", lambda: _set(_example(ENVS), (*PROD, "name"), "Prod")),
    "envs-negative-soak": (
        "Environments",
        lambda: _set(_example(ENVS), (*PROD, "promotion"), {"from": "staging", "minSoakHours": -1}),
    ),
    "envs-promotion-python-name": (
        "Environments",
        lambda: _set(_example(ENVS), (*PROD, "promotion"), {"from_": "staging", "minSoakHours": 1}),
    ),
    "envs-freeze-python-name": (
        "Environments",
        lambda: _set(
            _example(ENVS),
            (*PROD, "freeze"),
            [{"name": "w", "days": ["sat"], "from_": "00:00", "to": "23:59"}],
        ),
    ),
    "envs-freeze-bad-day": (
        "Environments",
        lambda: _set(
            _example(ENVS),
            (*PROD, "freeze"),
            [{"name": "w", "days": ["caturday"], "from": "00:00", "to": "23:59"}],
        ),
    ),
    "envs-freeze-bad-clock": (
        "Environments",
        lambda: _set(
            _example(ENVS),
            (*PROD, "freeze"),
            [{"name": "w", "days": ["sat"], "from": "24:00", "to": "23:59"}],
        ),
    ),
    "envs-metric-max-string": (
        "Environments",
        lambda: _set(
            _example(ENVS), (*PROD, "metrics"), [{"name": "e", "query": "up", "max": "0.1"}]
        ),
    ),
    # Settings
    "settings-unknown-key": ("Settings", lambda: {"spec": {"colour": "blue"}}),
    "settings-wrong-kind": ("Settings", lambda: {"kind": "Config"}),
    "settings-bad-provider": ("Settings", lambda: {"spec": {"tickets": {"provider": "gitlab"}}}),
    "settings-empty-label": ("Settings", lambda: {"spec": {"emergency": {"label": ""}}}),
    "settings-notification-without-events": (
        "Settings",
        lambda: {"spec": {"notifications": [{"events": [], "slack": {"webhookEnv": "X"}}]}},
    ),
}


def _schema_accepts(kind: str, document: Any) -> bool:
    validator = jsonschema.Draft202012Validator(GENERATED[KIND_TO_SCHEMA[kind]])
    return next(iter(validator.iter_errors(document)), None) is None


def _model_accepts(kind: str, document: Any) -> bool:
    try:
        MODELS[KIND_TO_SCHEMA[kind]].model_validate(document)
    except ValidationError:
        return False
    return True


def _kind_of(name_or_kind: str) -> str:
    return EXAMPLES[name_or_kind]["kind"] if "/" in name_or_kind else name_or_kind


def test_the_corpus_covers_every_kind_both_ways() -> None:
    kinds = set(KIND_TO_SCHEMA)
    assert {_kind_of(kind) for kind, _ in ACCEPTED.values()} == kinds
    assert {kind for kind, _ in REJECTED.values()} == kinds
    assert len([name for name in ACCEPTED if "/" in name]) == len(
        list(EXAMPLE_FLAGS.rglob("*.yaml"))
    ) + len(list(EXAMPLE_POLICIES.glob("*.yaml")))


@pytest.mark.parametrize(("kind", "make"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_schema_and_model_both_accept(kind: str, make: Mutation) -> None:
    document, kind = make(), _kind_of(kind)
    assert (_schema_accepts(kind, document), _model_accepts(kind, document)) == (True, True)


@pytest.mark.parametrize(("kind", "make"), REJECTED.values(), ids=REJECTED.keys())
def test_schema_and_model_both_reject(kind: str, make: Mutation) -> None:
    document = make()
    assert (_schema_accepts(kind, document), _model_accepts(kind, document)) == (False, False)


@pytest.mark.parametrize(
    ("kind", "example", "path"),
    [
        ("ApprovalStages", STAGES, (*STAGE, "order")),
        ("ApprovalStages", STAGES, (*STAGE, "requiredApprovers")),
        ("ApprovalPolicy", POLICY, ("spec", "rules", 1, "approval", "minApprovers")),
    ],
    ids=["order", "requiredApprovers", "minApprovers"],
)
def test_integral_float_for_an_integer_field(
    kind: str, example: str, path: tuple[Any, ...]
) -> None:
    """JSON Schema's `integer` accepts 2.0 (YAML `order: 2.0`); schema and model must agree."""
    document = _set(_example(example), path, 2.0)
    assert _schema_accepts(kind, document) == _model_accepts(kind, document)
