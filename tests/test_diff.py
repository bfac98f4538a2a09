"""The semantic diff (SPEC 3): change types, rollout deltas, ordering, policy files."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from flaggate.diff import (
    ALL_ENVIRONMENTS,
    CHANGE_TYPES,
    Change,
    FlagFile,
    diff_flags,
    diff_policy_files,
    fingerprint,
    normalized_state,
    rollout_delta,
    served,
)
from flaggate.model.flags import FeatureFlag

ENV_ORDER = ("development", "staging", "production")
BOOL = {"on": True, "off": False}
COLORS = {"blue": "#00f", "red": "#f00", "green": "#0f0"}


def make_flag(
    name: str = "checkout",
    environments: dict[str, Any] | None = None,
    variants: dict[str, Any] | None = None,
    *,
    tags: list[str] | None = None,
    owner: str | None = None,
    description: str | None = None,
) -> FeatureFlag:
    metadata: dict[str, Any] = {"name": name}
    if tags is not None:
        metadata["tags"] = tags
    if owner is not None:
        metadata["owner"] = owner
    if description is not None:
        metadata["description"] = description
    spec: dict[str, Any] = {"environments": environments or {}}
    if variants is not None:
        spec["variants"] = variants
    return FeatureFlag.model_validate(
        {"apiVersion": "flaggate/v1", "kind": "FeatureFlag", "metadata": metadata, "spec": spec}
    )


def file_of(flag: FeatureFlag, path: str | None = None) -> FlagFile:
    return FlagFile(path or f"flags/{flag.key}.yaml", flag)


def files(*flags: FeatureFlag | FlagFile) -> dict[str, FlagFile]:
    out = {}
    for item in flags:
        ff = item if isinstance(item, FlagFile) else file_of(item)
        out[ff.flag.key] = ff
    return out


def summary(changes: list[Change]) -> list[tuple[str, str, tuple[str, ...], float]]:
    return [(c.flag, c.environment, c.types, c.rollout_delta) for c in changes]


# --- one environment, every change type -------------------------------------------------

ON = {"enabled": True, "variant": "on"}
OFF = {"enabled": False, "variant": "off"}
TARGETING = {"if": [{"in": [{"var": "email"}, ["a@x.io"]]}, "on", "off"]}

SINGLE_ENV_CASES = [
    # id, base state, head state, base variants, head variants, types, rollout delta
    ("created", None, ON, None, None, ("created",), 100.0),
    ("created-disabled", None, OFF, None, None, ("created",), 100.0),
    ("deleted", ON, None, None, None, ("deleted",), 100.0),
    (
        "deleted-rollout",
        {"enabled": True, "rollout": {"on": 30, "off": 70}},
        None,
        None,
        None,
        ("deleted",),
        70.0,
    ),
    ("toggled-on", {"enabled": False, "variant": "on"}, ON, None, None, ("toggled",), 100.0),
    ("toggled-off", ON, {"enabled": False, "variant": "on"}, None, None, ("toggled",), 100.0),
    # Disabled serves `off`; enabling with `off` serves `off` too: nothing moves.
    (
        "toggled-serving-off",
        OFF,
        {"enabled": True, "variant": "off"},
        None,
        None,
        ("toggled",),
        0.0,
    ),
    (
        "rollout-appears",
        ON,
        {"enabled": True, "rollout": {"on": 50, "off": 50}},
        None,
        None,
        ("rollout",),
        50.0,
    ),
    (
        "rollout-disappears",
        {"enabled": True, "rollout": {"on": 25, "off": 75}},
        {"enabled": True, "variant": "off"},
        None,
        None,
        ("rollout",),
        25.0,
    ),
    (
        "rollout-25-75-to-50-50",
        {"enabled": True, "rollout": {"on": 25, "off": 75}},
        {"enabled": True, "rollout": {"on": 50, "off": 50}},
        None,
        None,
        ("rollout",),
        25.0,
    ),
    (
        "rollout-10-90-to-60-40",
        {"enabled": True, "rollout": {"on": 10, "off": 90}},
        {"enabled": True, "rollout": {"on": 60, "off": 40}},
        None,
        None,
        ("rollout",),
        50.0,
    ),
    (
        "rollout-decimals",
        {"enabled": True, "rollout": {"on": 12.5, "off": 87.5}},
        {"enabled": True, "rollout": {"on": 15, "off": 85}},
        None,
        None,
        ("rollout",),
        2.5,
    ),
    (
        "rollout-while-disabled-serves-off",
        {"enabled": False, "rollout": {"on": 25, "off": 75}},
        {"enabled": False, "rollout": {"on": 50, "off": 50}},
        None,
        None,
        ("rollout",),
        0.0,
    ),
    ("variant", ON, {"enabled": True, "variant": "off"}, None, None, ("variant",), 100.0),
    (
        "variant-from-implicit-on",
        {"enabled": True},
        {"enabled": True, "variant": "off"},
        None,
        None,
        ("variant",),
        100.0,
    ),
    (
        "variant-strings",
        {"enabled": True, "variant": "blue"},
        {"enabled": True, "variant": "red"},
        COLORS,
        COLORS,
        ("variant",),
        100.0,
    ),
    ("targeting-added", ON, {**ON, "targeting": TARGETING}, None, None, ("targeting",), 0.0),
    ("targeting-removed", {**ON, "targeting": TARGETING}, ON, None, None, ("targeting",), 0.0),
    (
        "targeting-edited",
        {**ON, "targeting": TARGETING},
        {**ON, "targeting": {"if": [{"==": [{"var": "tier"}, "gold"]}, "on", "off"]}},
        None,
        None,
        ("targeting",),
        0.0,
    ),
    (
        "variants-used-value",
        {"enabled": True, "variant": "blue"},
        {"enabled": True, "variant": "blue"},
        COLORS,
        {**COLORS, "blue": "#00e"},
        ("variants",),
        0.0,
    ),
    (
        "variants-off-value-while-disabled",
        {"enabled": False},
        {"enabled": False},
        {"on": "new", "off": "old"},
        {"on": "new", "off": "legacy"},
        ("variants",),
        0.0,
    ),
    (
        "variants-used-by-rollout",
        {"enabled": True, "rollout": {"blue": 50, "red": 50}},
        {"enabled": True, "rollout": {"blue": 50, "red": 50}},
        COLORS,
        {**COLORS, "red": "#e00"},
        ("variants",),
        0.0,
    ),
    (
        "variants-used-by-targeting",
        {"enabled": True, "variant": "blue", "targeting": {"if": [True, "green", "blue"]}},
        {"enabled": True, "variant": "blue", "targeting": {"if": [True, "green", "blue"]}},
        COLORS,
        {**COLORS, "green": "#0e0"},
        ("variants",),
        0.0,
    ),
    (
        "toggled-and-rollout",
        {"enabled": False, "rollout": {"on": 25, "off": 75}},
        {"enabled": True, "rollout": {"on": 50, "off": 50}},
        None,
        None,
        ("toggled", "rollout"),
        50.0,
    ),
    (
        "toggled-targeting-variants",
        {"enabled": False, "variant": "blue"},
        {"enabled": True, "variant": "blue", "targeting": {"if": [True, "blue", "red"]}},
        {"blue": "b", "red": "r", "off": "o"},
        {"blue": "B", "red": "r", "off": "o"},
        ("toggled", "targeting", "variants"),
        100.0,
    ),
    (
        "variant-and-targeting",
        ON,
        {"enabled": True, "variant": "off", "targeting": TARGETING},
        None,
        None,
        ("variant", "targeting"),
        100.0,
    ),
    (
        "rollout-and-targeting",
        {"enabled": True, "rollout": {"on": 25, "off": 75}},
        {"enabled": True, "rollout": {"on": 20, "off": 80}, "targeting": TARGETING},
        None,
        None,
        ("rollout", "targeting"),
        5.0,
    ),
    (
        "targeting-and-variants",
        {"enabled": True, "variant": "blue"},
        {"enabled": True, "variant": "blue", "targeting": {"if": [True, "blue", "red"]}},
        COLORS,
        {**COLORS, "blue": "navy"},
        ("targeting", "variants"),
        0.0,
    ),
]


@pytest.mark.parametrize(
    ("base_state", "head_state", "base_variants", "head_variants", "types", "delta"),
    [pytest.param(*case[1:], id=case[0]) for case in SINGLE_ENV_CASES],
)
def test_change_types_and_rollout_delta(
    base_state: dict[str, Any] | None,
    head_state: dict[str, Any] | None,
    base_variants: dict[str, Any] | None,
    head_variants: dict[str, Any] | None,
    types: tuple[str, ...],
    delta: float,
) -> None:
    # The flag exists on both sides (with no environment when the state is None): a created or
    # deleted state is one environment entry appearing or disappearing.
    base_envs = {"production": base_state} if base_state else {}
    head_envs = {"production": head_state} if head_state else {}
    base = make_flag(environments=base_envs, variants=base_variants)
    head = make_flag(environments=head_envs, variants=head_variants)

    changes = diff_flags(files(base), files(head), ENV_ORDER)

    assert summary(changes) == [("checkout", "production", types, delta)]
    change = changes[0]
    assert change.type == types[0]
    assert change.resource == "flag"
    assert change.path == "flags/checkout.yaml"
    assert change.previous == normalized_state(base, "production")
    assert change.new == normalized_state(head, "production")


@pytest.mark.parametrize("types", [case[5] for case in SINGLE_ENV_CASES])
def test_primary_type_is_the_first_in_table_order(types: tuple[str, ...]) -> None:
    positions = [CHANGE_TYPES.index(t) for t in types]
    assert positions == sorted(positions)
    change = Change("flag", "f", "production", types, None, None, 0.0, "p")
    assert change.type == types[0]


def test_change_type_table_order_is_the_spec_order() -> None:
    assert CHANGE_TYPES == (
        "created",
        "deleted",
        "toggled",
        "rollout",
        "variant",
        "targeting",
        "variants",
        "metadata",
    )


# --- equal states, unused variants, implicit `on` ----------------------------------------


@pytest.mark.parametrize(
    ("base", "head"),
    [
        pytest.param(
            make_flag(environments={"production": ON}),
            make_flag(environments={"production": ON}),
            id="identical",
        ),
        pytest.param(
            make_flag(environments={"production": {"enabled": True}}),
            make_flag(environments={"production": ON}),
            id="implicit-on-equals-explicit-on",
        ),
        pytest.param(
            make_flag(environments={"production": ON}),
            make_flag(environments={"production": ON}, variants={"on": True, "off": False}),
            id="default-variants-spelled-out",
        ),
        pytest.param(
            make_flag(
                environments={"production": {"enabled": True, "rollout": {"on": 50, "off": 50}}}
            ),
            make_flag(
                environments={"production": {"enabled": True, "rollout": {"off": 50.0, "on": 50.0}}}
            ),
            id="rollout-key-order-and-int-vs-float",
        ),
        pytest.param(
            make_flag(
                environments={"production": {"enabled": True, "variant": "blue"}}, variants=COLORS
            ),
            make_flag(
                environments={"production": {"enabled": True, "variant": "blue"}},
                variants={**COLORS, "green": "#010"},
            ),
            id="unused-variant-value-changes",
        ),
        pytest.param(
            make_flag(
                environments={"production": {"enabled": True, "variant": "blue"}}, variants=COLORS
            ),
            make_flag(
                environments={"production": {"enabled": True, "variant": "blue"}},
                variants={**COLORS, "purple": "#f0f"},
            ),
            id="unused-variant-added",
        ),
        pytest.param(
            make_flag(
                environments={"production": {"enabled": True, "variant": "blue"}}, variants=COLORS
            ),
            make_flag(
                environments={"production": {"enabled": True, "variant": "blue"}},
                variants={"blue": "#00f", "red": "#f00"},
            ),
            id="unused-variant-removed",
        ),
        pytest.param(
            make_flag(environments={"production": ON}, tags=["b", "a"]),
            make_flag(environments={"production": ON}, tags=["a", "b"]),
            id="tag-order-only",
        ),
    ],
)
def test_no_change(base: FeatureFlag, head: FeatureFlag) -> None:
    assert diff_flags(files(base), files(head), ENV_ORDER) == []


def test_unused_variant_change_only_affects_environments_using_it() -> None:
    envs_base = {
        "staging": {"enabled": True, "variant": "red"},
        "production": {"enabled": True, "variant": "blue"},
    }
    base = make_flag(environments=envs_base, variants=COLORS)
    head = make_flag(environments=envs_base, variants={**COLORS, "red": "#e00"})
    changes = diff_flags(files(base), files(head), ENV_ORDER)
    assert summary(changes) == [("checkout", "staging", ("variants",), 0.0)]
    assert changes[0].previous is not None and changes[0].new is not None
    assert changes[0].previous["variants"] == {"red": "#f00"}
    assert changes[0].new["variants"] == {"red": "#e00"}


@pytest.mark.parametrize(
    ("state", "variants", "expected"),
    [
        pytest.param(
            {"enabled": True},
            None,
            {
                "enabled": True,
                "variant": "on",
                "rollout": None,
                "targeting": None,
                "variants": {"off": False, "on": True},
            },
            id="implicit-on",
        ),
        pytest.param(
            {"enabled": False},
            None,
            {
                "enabled": False,
                "variant": None,
                "rollout": None,
                "targeting": None,
                "variants": {"off": False},
            },
            id="disabled-no-variant",
        ),
        pytest.param(
            {"enabled": True, "rollout": {"red": 30, "blue": 70}},
            COLORS,
            {
                "enabled": True,
                "variant": None,
                "rollout": {"blue": 70.0, "red": 30.0},
                "targeting": None,
                "variants": {"blue": "#00f", "red": "#f00"},
            },
            id="rollout-uses-its-variants",
        ),
        pytest.param(
            {"enabled": True, "variant": "blue", "targeting": {"if": [True, "green", "nope"]}},
            COLORS,
            {
                "enabled": True,
                "variant": "blue",
                "rollout": None,
                "targeting": {"if": [True, "green", "nope"]},
                "variants": {"blue": "#00f", "green": "#0f0"},
            },
            id="targeting-names-variants",
        ),
    ],
)
def test_normalized_state(
    state: dict[str, Any], variants: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    flag = make_flag(environments={"production": state}, variants=variants)
    assert normalized_state(flag, "production") == expected
    assert normalized_state(flag, "staging") is None


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (None, {}),
        (
            {"enabled": False, "variant": "on", "rollout": None, "variants": {"off": 0}},
            {"off": 100.0},
        ),
        ({"enabled": False, "variant": None, "rollout": None, "variants": {"a": 1}}, {}),
        ({"enabled": True, "variant": "on", "rollout": None, "variants": {}}, {"on": 100.0}),
        ({"enabled": True, "variant": None, "rollout": None, "variants": {}}, {}),
        (
            {"enabled": True, "variant": None, "rollout": {"a": 25, "b": 75}, "variants": {}},
            {"a": 25.0, "b": 75.0},
        ),
    ],
)
def test_served(state: dict[str, Any] | None, expected: dict[str, float]) -> None:
    assert served(state) == expected


def test_rollout_delta_between_no_states_is_zero() -> None:
    assert rollout_delta(None, None) == 0.0


def test_enabling_without_off_variant_counts_full_delta() -> None:
    variants = {"a": "x", "b": "y"}
    base = make_flag(environments={"production": {"enabled": False}}, variants=variants)
    head = make_flag(
        environments={"production": {"enabled": True, "variant": "a"}}, variants=variants
    )
    assert summary(diff_flags(files(base), files(head), ENV_ORDER)) == [
        ("checkout", "production", ("toggled", "variant"), 100.0)
    ]


def test_variant_value_type_change_is_a_change() -> None:
    """`true` -> `1` changes what clients receive (a boolean becomes a number).

    Python says True == 1, so a plain dict comparison misses it.
    """
    base = make_flag(environments={"production": ON}, variants={"on": True, "off": False})
    head = make_flag(environments={"production": ON}, variants={"on": 1, "off": 0})
    changes = diff_flags(files(base), files(head), ENV_ORDER)
    assert summary(changes) == [("checkout", "production", ("variants",), 0.0)]


# --- whole flags, metadata, ordering --------------------------------------------------------

THREE_ENVS = {
    "production": {"enabled": False, "variant": "off"},
    "development": ON,
    "staging": {"enabled": True, "rollout": {"on": 25, "off": 75}},
}


def test_whole_flag_created() -> None:
    head = make_flag("new-flag", THREE_ENVS, tags=["growth"], owner="@acme/growth")
    changes = diff_flags({}, files(head), ENV_ORDER)
    assert summary(changes) == [
        ("new-flag", "development", ("created",), 100.0),
        ("new-flag", "staging", ("created",), 75.0),
        ("new-flag", "production", ("created",), 100.0),
    ]
    for change in changes:
        assert change.previous is None
        assert change.new == normalized_state(head, change.environment)
        assert change.tags == ("growth",)
        assert change.owner == "@acme/growth"
        assert change.path == "flags/new-flag.yaml"


def test_whole_flag_deleted() -> None:
    base = make_flag("old-flag", THREE_ENVS, tags=["legacy"], owner="@acme/core")
    changes = diff_flags(files(base), {}, ENV_ORDER)
    assert summary(changes) == [
        ("old-flag", "development", ("deleted",), 100.0),
        ("old-flag", "staging", ("deleted",), 75.0),
        ("old-flag", "production", ("deleted",), 100.0),
    ]
    for change in changes:
        assert change.new is None
        assert change.previous == normalized_state(base, change.environment)
        assert change.tags == ("legacy",)
        assert change.owner == "@acme/core"
        assert change.path == "flags/old-flag.yaml"


def test_rename_is_delete_plus_create() -> None:
    envs = {"development": ON, "production": OFF}
    base = make_flag("old-name", envs)
    head = make_flag("new-name", envs)
    changes = diff_flags(files(base), files(head), ENV_ORDER)
    assert summary(changes) == [
        ("new-name", "development", ("created",), 100.0),
        ("new-name", "production", ("created",), 100.0),
        ("old-name", "development", ("deleted",), 100.0),
        ("old-name", "production", ("deleted",), 100.0),
    ]
    assert [c.path for c in changes] == ["flags/new-name.yaml"] * 2 + ["flags/old-name.yaml"] * 2


def test_moving_a_file_with_the_same_key_is_no_change() -> None:
    flag = make_flag("checkout", THREE_ENVS, tags=["a"])
    base = files(file_of(flag, "flags/checkout.yaml"))
    head = files(file_of(flag, "flags/team/checkout/checkout.yaml"))
    assert diff_flags(base, head, ENV_ORDER) == []


def test_moved_and_changed_file_reports_the_head_path() -> None:
    base = files(file_of(make_flag("checkout", {"production": OFF}), "flags/checkout.yaml"))
    moved = make_flag("checkout", {"production": {"enabled": True, "variant": "off"}})
    head = files(file_of(moved, "flags/team/checkout.yaml"))
    changes = diff_flags(base, head, ENV_ORDER)
    assert [(c.environment, c.types, c.path) for c in changes] == [
        ("production", ("toggled",), "flags/team/checkout.yaml")
    ]


def test_changes_follow_environment_order_then_name_then_metadata() -> None:
    envs_base = {
        "production": OFF,
        "qa": OFF,
        "development": OFF,
        "canary": OFF,
        "staging": OFF,
    }
    envs_head = {name: {"enabled": True, "variant": "off"} for name in envs_base}
    base = make_flag("b-flag", envs_base, owner="x")
    head = make_flag("b-flag", envs_head, owner="y")
    other_base = make_flag("a-flag", {"production": OFF})
    other_head = make_flag("a-flag", {"production": ON})
    changes = diff_flags(files(base, other_base), files(head, other_head), ENV_ORDER)
    assert [(c.flag, c.environment) for c in changes] == [
        ("a-flag", "production"),
        ("b-flag", "development"),
        ("b-flag", "staging"),
        ("b-flag", "production"),
        ("b-flag", "canary"),
        ("b-flag", "qa"),
        ("b-flag", ALL_ENVIRONMENTS),
    ]


def test_without_environment_order_environments_sort_by_name() -> None:
    base = make_flag("f", {"staging": OFF, "development": OFF, "production": OFF})
    head = make_flag("f", {"staging": ON, "development": ON, "production": ON})
    changes = diff_flags(files(base), files(head))
    assert [c.environment for c in changes] == ["development", "production", "staging"]


@pytest.mark.parametrize(
    ("base_meta", "head_meta", "previous", "new"),
    [
        pytest.param(
            {"owner": "@acme/a"},
            {"owner": "@acme/b"},
            {"owner": "@acme/a", "description": None, "tags": []},
            {"owner": "@acme/b", "description": None, "tags": []},
            id="owner",
        ),
        pytest.param(
            {"description": "old"},
            {"description": "new"},
            {"owner": None, "description": "old", "tags": []},
            {"owner": None, "description": "new", "tags": []},
            id="description",
        ),
        pytest.param(
            {"tags": ["b", "a"]},
            {"tags": ["c", "a"]},
            {"owner": None, "description": None, "tags": ["a", "b"]},
            {"owner": None, "description": None, "tags": ["a", "c"]},
            id="tags",
        ),
        pytest.param(
            {"owner": "@o", "description": "d", "tags": ["t"]},
            {},
            {"owner": "@o", "description": "d", "tags": ["t"]},
            {"owner": None, "description": None, "tags": []},
            id="all-removed",
        ),
    ],
)
def test_metadata_only_change(
    base_meta: dict[str, Any],
    head_meta: dict[str, Any],
    previous: dict[str, Any],
    new: dict[str, Any],
) -> None:
    base = make_flag("f", THREE_ENVS, **base_meta)
    head = make_flag("f", THREE_ENVS, **head_meta)
    changes = diff_flags(files(base), files(head), ENV_ORDER)
    assert summary(changes) == [("f", ALL_ENVIRONMENTS, ("metadata",), 0.0)]
    assert changes[0].type == "metadata"
    assert changes[0].previous == previous
    assert changes[0].new == new


def test_metadata_and_state_changes_together() -> None:
    base = make_flag("f", {"production": OFF}, description="a")
    head = make_flag("f", {"production": ON}, description="b")
    assert summary(diff_flags(files(base), files(head), ENV_ORDER)) == [
        ("f", "production", ("toggled", "variant"), 100.0),
        ("f", ALL_ENVIRONMENTS, ("metadata",), 0.0),
    ]


def test_tags_and_owner_come_from_the_base_flag() -> None:
    """A pull request that adds `kill-switch` cannot exempt its own change."""
    base = make_flag("f", {"production": OFF}, tags=["payments"], owner="@acme/payments")
    head = make_flag(
        "f", {"production": ON}, tags=["payments", "kill-switch"], owner="@acme/attacker"
    )
    changes = diff_flags(files(base), files(head), ENV_ORDER)
    assert [(c.environment, c.tags, c.owner) for c in changes] == [
        ("production", ("payments",), "@acme/payments"),
        (ALL_ENVIRONMENTS, ("payments",), "@acme/payments"),
    ]


def test_tags_and_owner_of_a_new_flag_come_from_head() -> None:
    head = make_flag("f", {"production": ON}, tags=["kill-switch"], owner="@acme/sre")
    changes = diff_flags({}, files(head), ENV_ORDER)
    assert [(c.tags, c.owner) for c in changes] == [(("kill-switch",), "@acme/sre")]


def test_change_to_json() -> None:
    base = make_flag("f", {"production": OFF})
    head = make_flag("f", {"production": {"enabled": True, "rollout": {"on": 10, "off": 90}}})
    (change,) = diff_flags(files(base), files(head), ENV_ORDER)
    assert change.to_json() == {
        "resource": "flag",
        "flag": "f",
        "environment": "production",
        "type": "toggled",
        "types": ["toggled", "rollout"],
        "previousValue": {
            "enabled": False,
            "variant": "off",
            "rollout": None,
            "targeting": None,
            "variants": {"off": False},
        },
        "newValue": {
            "enabled": True,
            "variant": None,
            "rollout": {"off": 90.0, "on": 10.0},
            "targeting": None,
            "variants": {"off": False, "on": True},
        },
        "rolloutDelta": 10.0,
        "path": "flags/f.yaml",
    }


# --- policy files ---------------------------------------------------------------------------


def digest(content: bytes) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}


def test_diff_policy_files() -> None:
    base = {
        "policies/roles.yaml": b"roles: 1\n",
        "policies/stages.yaml": b"stages\n",
        "policies/same.yaml": b"same\n",
    }
    head: dict[str, bytes | None] = {
        "policies/stages.yaml": None,
        "policies/roles.yaml": b"roles: 2\n",
        "policies/new.yaml": b"new\n",
        "policies/same.yaml": b"same\n",
        "policies/gone-twice.yaml": None,
    }
    changes = diff_policy_files(base, head)
    assert [(c.flag, c.types, c.previous, c.new) for c in changes] == [
        ("policies/new.yaml", ("created",), None, digest(b"new\n")),
        ("policies/roles.yaml", ("updated",), digest(b"roles: 1\n"), digest(b"roles: 2\n")),
        ("policies/stages.yaml", ("deleted",), digest(b"stages\n"), None),
    ]
    for change in changes:
        assert change.resource == "policy"
        assert change.environment == ALL_ENVIRONMENTS
        assert change.path == change.flag
        assert change.rollout_delta == 0.0
        assert change.tags == ()
        assert change.owner is None


def test_diff_policy_files_without_edits() -> None:
    assert diff_policy_files({"policies/a.yaml": b"a"}, {}) == []


# --- fingerprint ----------------------------------------------------------------------------


def _toggle(path: str = "flags/f.yaml", enabled: bool = True) -> list[Change]:
    base = make_flag("f", {"production": OFF, "staging": OFF})
    head = make_flag("f", {"production": {"enabled": enabled, "variant": "off"}, "staging": ON})
    return diff_flags(files(base), files(file_of(head, path)), ENV_ORDER)


def test_fingerprint_is_equal_for_equal_effects() -> None:
    a, b = _toggle(), _toggle(path="flags/moved/f.yaml")
    assert a[0].path != b[0].path
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) == fingerprint(list(reversed(a)))
    assert len(fingerprint(a)) == 64


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(lambda: _toggle(enabled=False), id="different-new-state"),
        pytest.param(lambda: _toggle()[:1], id="subset"),
        pytest.param(lambda: [], id="empty"),
        pytest.param(
            lambda: [*_toggle(), *diff_policy_files({}, {"policies/x.yaml": b"x"})],
            id="plus-policy-change",
        ),
    ],
)
def test_fingerprint_differs_for_different_effects(other: Any) -> None:
    assert fingerprint(_toggle()) != fingerprint(other())


def test_fingerprint_of_policy_contents() -> None:
    one = diff_policy_files({"policies/a.yaml": b"1"}, {"policies/a.yaml": b"2"})
    same = diff_policy_files({"policies/a.yaml": b"1"}, {"policies/a.yaml": b"2"})
    other = diff_policy_files({"policies/a.yaml": b"1"}, {"policies/a.yaml": b"3"})
    assert fingerprint(one) == fingerprint(same)
    assert fingerprint(one) != fingerprint(other)
    assert fingerprint([]) == hashlib.sha256(b"").hexdigest()
