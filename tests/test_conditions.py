"""Condition operators over the fields of SPEC 3.1."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from flaggate.diff import Change
from flaggate.model.policy import Condition
from flaggate.policy.conditions import holds, read_field
from flaggate.policy.rules import change_facts

PREVIOUS = {
    "enabled": False,
    "variant": None,
    "rollout": {"off": 75.0, "on": 25.0},
    "targeting": None,
    "variants": {"off": False, "on": True},
}
NEW = {
    "enabled": True,
    "variant": None,
    "rollout": {"off": 50.0, "on": 50.0},
    "targeting": {"if": [{"in": [{"var": "email"}, ["a@x.io"]]}, "on", "off"]},
    "variants": {"off": False, "on": True},
}

FLAG_CHANGE = Change(
    "flag",
    "checkout-redesign",
    "production",
    ("toggled", "rollout", "targeting"),
    PREVIOUS,
    NEW,
    50.0,
    "flags/checkout/checkout-redesign.yaml",
    ("checkout", "experiment"),
    "@acme/checkout",
)
FACTS = change_facts(FLAG_CHANGE, "alice", frozenset({"urgent", "release"}), "main")

CREATED_FACTS = change_facts(
    Change("flag", "new-flag", "staging", ("created",), None, NEW, 50.0, "flags/new-flag.yaml"),
    None,
    frozenset(),
    None,
)
POLICY_FACTS = change_facts(
    Change(
        "policy",
        "policies/roles.yaml",
        "*",
        ("updated",),
        {"sha256": "aa", "bytes": 10},
        {"sha256": "bb", "bytes": 12},
        0.0,
        "policies/roles.yaml",
    ),
    "bob",
    frozenset({"policy"}),
    "release/1.x",
)


def cond(field: str, operator: str, value: Any = None) -> Condition:
    data: dict[str, Any] = {"field": field, "operator": operator}
    if value is not None:
        data["value"] = value
    return Condition.model_validate(data)


def test_change_facts_shape() -> None:
    assert FACTS == {
        "flag": {
            "key": "checkout-redesign",
            "tags": ["checkout", "experiment"],
            "owner": "@acme/checkout",
        },
        "environment": "production",
        "change": {
            "type": "toggled",
            "types": ["toggled", "rollout", "targeting"],
            "rolloutDelta": 50.0,
            "tagsAdded": [],
            "tagsRemoved": [],
            "tagsChanged": [],
        },
        "previousValue": PREVIOUS,
        "newValue": NEW,
        "resource": {"type": "flag"},
        "pr": {"author": "alice", "labels": ["release", "urgent"], "baseRef": "main"},
    }
    assert POLICY_FACTS["flag"] == {"key": None, "tags": [], "owner": None}
    assert POLICY_FACTS["resource"] == {"type": "policy"}
    assert POLICY_FACTS["environment"] == "*"


# (field, operator, value, expected) over FACTS
FLAG_CASES = [
    # equals / notEquals on strings
    ("flag.key", "equals", "checkout-redesign", True),
    ("flag.key", "equals", "checkout", False),
    ("flag.key", "notEquals", "checkout", True),
    ("flag.key", "notEquals", "checkout-redesign", False),
    ("environment", "equals", "production", True),
    ("environment", "equals", "Production", False),
    ("environment", "notEquals", "staging", True),
    ("flag.owner", "equals", "@acme/checkout", True),
    ("change.type", "equals", "toggled", True),
    ("change.type", "equals", "rollout", False),
    ("resource.type", "equals", "flag", True),
    ("resource.type", "equals", "policy", False),
    ("pr.author", "equals", "alice", True),
    ("pr.author", "equals", "Alice", False),
    ("pr.baseRef", "equals", "main", True),
    ("pr.baseRef", "notEquals", "main", False),
    # equals on lists and numbers
    ("flag.tags", "equals", ["checkout", "experiment"], True),
    ("flag.tags", "equals", ["experiment", "checkout"], False),
    ("change.rolloutDelta", "equals", 50, True),
    ("change.rolloutDelta", "equals", 50.0, True),
    ("change.rolloutDelta", "equals", "50", False),
    ("change.rolloutDelta", "notEquals", 49.9, True),
    # booleans: True is not 1, False is not 0
    ("newValue.enabled", "equals", True, True),
    ("newValue.enabled", "equals", 1, False),
    ("newValue.enabled", "notEquals", 1, True),
    ("newValue.enabled", "equals", "true", False),
    ("previousValue.enabled", "equals", False, True),
    ("previousValue.enabled", "equals", 0, False),
    ("previousValue.enabled", "notEquals", False, False),
    # in / notIn
    ("environment", "in", ["staging", "production"], True),
    ("environment", "in", ["development", "staging"], False),
    ("environment", "in", [], False),
    ("environment", "notIn", ["development", "staging"], True),
    ("environment", "notIn", ["production"], False),
    ("environment", "notIn", [], True),
    ("change.rolloutDelta", "in", [25, 50], True),
    ("change.rolloutDelta", "in", [25, "50"], False),
    ("newValue.enabled", "in", [1, "true"], False),
    ("newValue.enabled", "in", [True], True),
    ("previousValue.enabled", "notIn", [0], True),
    ("pr.author", "in", ["alice", "bob"], True),
    ("flag.tags", "in", [["checkout", "experiment"]], True),
    # contains / notContains on lists
    ("flag.tags", "contains", "checkout", True),
    ("flag.tags", "contains", "check", False),
    ("flag.tags", "contains", "kill-switch", False),
    ("flag.tags", "notContains", "kill-switch", True),
    ("flag.tags", "notContains", "experiment", False),
    ("change.types", "contains", "rollout", True),
    ("change.types", "contains", "variant", False),
    ("change.types", "notContains", "variant", True),
    ("pr.labels", "contains", "urgent", True),
    ("pr.labels", "contains", "urg", False),
    ("pr.labels", "notContains", "emergency", True),
    # contains / notContains on strings (substring)
    ("flag.key", "contains", "redesign", True),
    ("flag.key", "contains", "Redesign", False),
    ("flag.key", "notContains", "redesign", False),
    ("flag.owner", "contains", "@acme/", True),
    ("environment", "contains", "prod", True),
    # contains on a non-container or with a non-string in a string
    ("change.rolloutDelta", "contains", 5, False),
    ("change.rolloutDelta", "notContains", 5, True),
    ("flag.key", "contains", 1, False),
    ("newValue.enabled", "contains", True, False),
    # contains on an object: its keys
    ("newValue.rollout", "contains", "on", True),
    ("newValue.rollout", "contains", "beta", False),
    ("newValue.variants", "notContains", "beta", True),
    # greaterThan / lessThan
    ("change.rolloutDelta", "greaterThan", 49.99, True),
    ("change.rolloutDelta", "greaterThan", 50, False),
    ("change.rolloutDelta", "lessThan", 50.01, True),
    ("change.rolloutDelta", "lessThan", 50, False),
    ("change.rolloutDelta", "greaterThan", -1, True),
    ("newValue.rollout.on", "greaterThan", 25, True),
    ("previousValue.rollout.on", "lessThan", 25.5, True),
    ("previousValue.rollout.off", "greaterThan", 75, False),
    # ... with non-numbers: always false
    ("flag.key", "greaterThan", 0, False),
    ("flag.key", "lessThan", 0, False),
    ("newValue.enabled", "greaterThan", 0, False),
    ("previousValue.enabled", "lessThan", 1, False),
    ("flag.tags", "greaterThan", 0, False),
    ("newValue.variant", "lessThan", 1, False),
    ("newValue.missing", "greaterThan", 0, False),
    # regex (search, anchors allowed)
    ("flag.key", "regex", "^checkout-", True),
    ("flag.key", "regex", "redesign$", True),
    ("flag.key", "regex", "^redesign", False),
    ("flag.owner", "regex", "^@acme/(checkout|payments)$", True),
    ("pr.baseRef", "regex", "^release/", False),
    # ... on list fields: any element
    ("flag.tags", "regex", "^exp", True),
    ("flag.tags", "regex", "^kill", False),
    ("change.types", "regex", "^(rollout|variant)$", True),
    ("pr.labels", "regex", "^urg", True),
    # ... on non-strings: false
    ("change.rolloutDelta", "regex", "50", False),
    ("newValue.enabled", "regex", "True", False),
    ("newValue.rollout", "regex", "on", False),
    ("newValue.missing", "regex", ".*", False),
    # dotted paths into newValue / previousValue
    ("newValue.rollout.on", "equals", 50, True),
    ("newValue.rollout.on", "equals", 25, False),
    ("previousValue.rollout.on", "equals", 25, True),
    ("newValue.variants.on", "equals", True, True),
    ("newValue.targeting.if", "exists", None, True),
    ("newValue.variant", "equals", None, True),
    ("newValue.rollout", "equals", {"on": 50, "off": 50}, True),
    # missing paths
    ("newValue.rollout.beta", "equals", None, True),
    ("newValue.rollout.beta", "equals", 0, False),
    ("newValue.rollout.beta", "notEquals", 0, True),
    ("newValue.rollout.beta", "notEquals", None, False),
    ("newValue.rollout.beta", "in", [None, 0], False),
    ("newValue.rollout.beta", "notIn", [0], True),
    ("newValue.rollout.beta", "contains", "x", False),
    ("newValue.rollout.beta", "notContains", "x", True),
    ("newValue.rollout.on.deeper", "exists", None, False),
    ("newValue.enabled.deeper", "equals", True, False),
    ("previousValue.targeting.if", "exists", None, False),
    # exists true / false
    ("newValue.targeting", "exists", None, True),
    ("newValue.targeting", "exists", True, True),
    ("newValue.targeting", "exists", False, False),
    ("previousValue.targeting", "exists", None, False),
    ("previousValue.targeting", "exists", False, True),
    ("newValue.variant", "exists", True, False),
    ("newValue.nothing", "exists", True, False),
    ("newValue.nothing", "exists", False, True),
    ("previousValue.enabled", "exists", True, True),
    ("pr.author", "exists", True, True),
    ("newValue", "exists", True, True),
]


@pytest.mark.parametrize(
    ("field", "operator", "value", "expected"),
    [pytest.param(*case, id=f"{case[0]}-{case[1]}-{case[2]!r}") for case in FLAG_CASES],
)
def test_operator_on_flag_change(field: str, operator: str, value: Any, expected: bool) -> None:
    assert holds(cond(field, operator, value), FACTS) is expected


CREATED_AND_POLICY_CASES = [
    (CREATED_FACTS, "previousValue", "exists", None, False),
    (CREATED_FACTS, "previousValue", "exists", False, True),
    (CREATED_FACTS, "previousValue", "equals", None, True),
    (CREATED_FACTS, "previousValue.enabled", "equals", False, False),
    (CREATED_FACTS, "previousValue.enabled", "notEquals", True, True),
    (CREATED_FACTS, "previousValue.enabled", "exists", None, False),
    (CREATED_FACTS, "newValue.enabled", "equals", True, True),
    (CREATED_FACTS, "pr.author", "exists", None, False),
    (CREATED_FACTS, "pr.author", "equals", None, True),
    (CREATED_FACTS, "pr.author", "in", ["alice"], False),
    (CREATED_FACTS, "pr.author", "regex", ".*", False),
    (CREATED_FACTS, "pr.labels", "contains", "urgent", False),
    (CREATED_FACTS, "pr.labels", "equals", [], True),
    (CREATED_FACTS, "pr.baseRef", "exists", False, True),
    (CREATED_FACTS, "flag.tags", "contains", "kill-switch", False),
    (CREATED_FACTS, "flag.owner", "exists", None, False),
    (CREATED_FACTS, "change.type", "equals", "created", True),
    (POLICY_FACTS, "resource.type", "equals", "policy", True),
    (POLICY_FACTS, "flag.key", "exists", None, False),
    (POLICY_FACTS, "flag.key", "equals", None, True),
    (POLICY_FACTS, "environment", "equals", "*", True),
    (POLICY_FACTS, "environment", "in", ["production"], False),
    (POLICY_FACTS, "change.type", "equals", "updated", True),
    (POLICY_FACTS, "newValue.bytes", "greaterThan", 11, True),
    (POLICY_FACTS, "pr.baseRef", "regex", "^release/", True),
    (POLICY_FACTS, "pr.labels", "contains", "policy", True),
    (POLICY_FACTS, "pr.author", "notIn", ["alice"], True),
]


@pytest.mark.parametrize(
    ("facts", "field", "operator", "value", "expected"),
    [
        pytest.param(*case, id=f"{i}-{case[1]}-{case[2]}")
        for i, case in enumerate(CREATED_AND_POLICY_CASES)
    ],
)
def test_operator_on_created_flag_and_policy_change(
    facts: dict[str, Any], field: str, operator: str, value: Any, expected: bool
) -> None:
    assert holds(cond(field, operator, value), facts) is expected


# Generic value semantics, on hand-made facts (every value type at newValue.<name>).
VALUES = {
    "newValue": {
        "t": True,
        "f": False,
        "one": 1,
        "zero": 0,
        "half": 0.5,
        "s": "Hello world",
        "empty": "",
        "none": None,
        "ints": [1, 2, 3],
        "bools": [True],
        "strs": ["alpha", "beta"],
        "mixed": [1, "one", None],
        "obj": {"k": "v"},
    }
}

VALUE_CASES = [
    ("t", "equals", 1, False),
    ("one", "equals", True, False),
    ("zero", "equals", False, False),
    ("f", "equals", 0, False),
    ("one", "equals", 1.0, True),
    ("half", "equals", 0.5, True),
    ("t", "in", [1, 2], False),
    ("one", "in", [True], False),
    ("one", "in", [True, 1], True),
    ("bools", "contains", 1, False),
    ("bools", "contains", True, True),
    ("ints", "contains", True, False),
    ("ints", "contains", 2, True),
    ("ints", "contains", 2.0, True),
    ("ints", "notContains", 4, True),
    ("mixed", "contains", "one", True),
    ("strs", "contains", "alp", False),
    ("s", "contains", "o w", True),
    ("s", "contains", "", True),
    ("empty", "contains", "x", False),
    ("obj", "contains", "k", True),
    ("obj", "contains", "v", False),
    ("one", "greaterThan", 0, True),
    ("one", "greaterThan", 1, False),
    ("half", "lessThan", 1, True),
    ("zero", "lessThan", 0.5, True),
    ("t", "greaterThan", 0, False),
    ("f", "lessThan", 1, False),
    ("s", "greaterThan", 0, False),
    ("ints", "greaterThan", 0, False),
    ("none", "lessThan", 1, False),
    ("obj", "greaterThan", 0, False),
    ("s", "regex", "^Hello", True),
    ("s", "regex", "^hello", False),
    ("s", "regex", "(?i)^hello", True),
    ("strs", "regex", "^bet", True),
    ("strs", "regex", "^gam", False),
    ("mixed", "regex", "^one$", True),
    ("ints", "regex", "1", False),
    ("obj", "regex", "k", False),
    ("one", "regex", "1", False),
    ("none", "exists", None, False),
    ("none", "exists", False, True),
    ("none", "equals", None, True),
    ("f", "exists", None, True),
    ("zero", "exists", True, True),
    ("empty", "exists", True, True),
    ("obj.k", "equals", "v", True),
    ("obj.k.deeper", "exists", True, False),
    ("ints.0", "exists", True, False),
]


@pytest.mark.parametrize(
    ("name", "operator", "value", "expected"),
    [pytest.param(*case, id=f"{case[0]}-{case[1]}-{case[2]!r}") for case in VALUE_CASES],
)
def test_value_semantics(name: str, operator: str, value: Any, expected: bool) -> None:
    assert holds(cond(f"newValue.{name}", operator, value), VALUES) is expected


@pytest.mark.parametrize(
    ("name", "operator", "value"),
    [
        pytest.param("obj", "contains", ["k"], id="object-contains-list"),
        pytest.param("obj", "contains", {"k": "v"}, id="object-contains-object"),
        pytest.param("obj", "notContains", ["k"], id="object-notContains-list"),
    ],
)
def test_contains_on_an_object_with_an_unhashable_value_is_false_not_a_crash(
    name: str, operator: str, value: Any
) -> None:
    expected = operator == "notContains"
    assert holds(cond(f"newValue.{name}", operator, value), VALUES) is expected


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        pytest.param("newValue.variants", {"on": 1, "off": 0}, False, id="nested-bool-vs-int"),
        pytest.param("newValue.variants", {"on": True, "off": False}, True, id="nested-bools"),
        pytest.param("newValue.rollout", {"on": 50, "off": 50.0}, True, id="nested-numbers"),
    ],
)
def test_equals_on_objects_keeps_booleans_apart_from_numbers(
    field: str, value: Any, expected: bool
) -> None:
    assert holds(cond(field, "equals", value), FACTS) is expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("environment", "production"),
        ("flag.tags", ["checkout", "experiment"]),
        ("newValue.rollout.on", 50.0),
        ("newValue.variant", None),
        ("pr.labels", ["release", "urgent"]),
    ],
)
def test_read_field(path: str, expected: Any) -> None:
    assert read_field(FACTS, path) == expected


def test_read_field_missing_is_distinct_from_null() -> None:
    missing = read_field(FACTS, "newValue.nothing")
    assert missing is read_field(FACTS, "flag.key.deeper")
    assert missing is not None
    assert read_field(FACTS, "newValue.variant") is None


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            {"field": "flag.name", "operator": "equals", "value": "x"}, id="unknown-field"
        ),
        pytest.param({"field": "newValue.", "operator": "exists"}, id="empty-sub-path"),
        pytest.param({"field": "newValue..x", "operator": "exists"}, id="empty-step"),
        pytest.param(
            {"field": "environment", "operator": "matches", "value": "x"}, id="unknown-op"
        ),
        pytest.param({"field": "environment", "operator": "in", "value": "prod"}, id="in-scalar"),
        pytest.param(
            {"field": "environment", "operator": "notIn", "value": "x"}, id="notIn-scalar"
        ),
        pytest.param(
            {"field": "change.rolloutDelta", "operator": "greaterThan", "value": "5"},
            id="greaterThan-string",
        ),
        pytest.param(
            {"field": "change.rolloutDelta", "operator": "lessThan", "value": True},
            id="lessThan-bool",
        ),
        pytest.param({"field": "flag.key", "operator": "regex", "value": "("}, id="bad-regex"),
        pytest.param({"field": "flag.key", "operator": "regex", "value": 1}, id="regex-int"),
        pytest.param({"field": "flag.key", "operator": "exists", "value": "yes"}, id="exists-str"),
        pytest.param({"field": "flag.key", "operator": "exists", "value": 1}, id="exists-int"),
        pytest.param({"field": "flag.tags", "operator": "contains"}, id="contains-no-value"),
        pytest.param({"field": "flag.key", "operator": "in"}, id="in-no-value"),
        pytest.param({"field": "flag.key", "operator": "regex"}, id="regex-no-value"),
    ],
)
def test_invalid_conditions_are_rejected_at_load(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Condition.model_validate(data)
