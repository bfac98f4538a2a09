"""Loading rules of SPEC 2 (flag files) and 3.2 (policy files): every problem with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from flaggate.errors import ConfigError, Problem
from flaggate.model.load import PolicySet, load_flag, load_policies
from tests.gitrepo import EXAMPLE_FLAGS, EXAMPLE_POLICIES, flag_yaml

Expected = list[tuple[int | None, str]]
"""(line, message fragment) per problem, in sorted order."""


def edit(text: str, old: str, new: str) -> str:
    """Replace the one occurrence of ``old`` (a test that edits nothing would prove nothing)."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def assert_problems(problems: list[Problem], path: str, expected: Expected) -> None:
    """``problems`` are exactly ``expected`` (in sorted order), all in ``path``."""
    got = sorted(problems)
    assert [(p.path, p.line) for p in got] == [(path, line) for line, _ in expected], got
    for problem, (_, fragment) in zip(got, expected, strict=True):
        assert fragment in problem.message, (fragment, problem.message)


# --- flag files -----------------------------------------------------------------------------

ENVS = frozenset({"development", "staging", "production"})
PATH = "flags/team/demo.yaml"
VARIANTS = "    on: true\n    off: false\n"
DEV = "    development:\n      enabled: true\n      variant: on\n"


def flag(environments: str = DEV, variants: str = VARIANTS, name: str = "demo") -> str:
    """A flag file from the shared helper. With ``variants`` the layout is:

    1 apiVersion, 2 kind, 3 metadata, 4 name, 5 owner, 6 description, 7 tags, 8 spec,
    9 variants, 10 on, 11 off, 12 environments, 13.. the environment block.
    """
    return flag_yaml(name, environments, variants=variants, tags="[]")


def load(
    text: str, path: str = PATH, envs: frozenset[str] | None = ENVS
) -> tuple[object, list[Problem]]:
    return load_flag(path, text.encode(), envs)


VALID_FLAGS = {
    "examples-shape": flag(),
    "default-variants-enabled-without-variant": flag(
        "    development:\n      enabled: true\n", variants=""
    ),
    "disabled-without-variant": flag(
        "    development:\n      enabled: false\n", variants="    a: 1\n    b: 2\n"
    ),
    "no-environments": flag("    {}\n"),
    "integer-rollout": flag(
        "    staging:\n      enabled: true\n      rollout: {on: 25, off: 75}\n"
    ),
    "decimal-rollout": flag(
        "    staging:\n      enabled: true\n      rollout: {on: 12.5, off: 87.5}\n"
    ),
    "single-variant-rollout": flag("    staging:\n      enabled: true\n      rollout: {on: 100}\n"),
    "rollout-within-tolerance-above": flag(
        "    staging:\n      enabled: true\n      rollout: {on: 50.0009, off: 50}\n"
    ),
    "rollout-within-tolerance-below": flag(
        "    staging:\n      enabled: true\n      rollout: {on: 49.9991, off: 50}\n"
    ),
    "rollout-thirds": flag(
        "    staging:\n      enabled: true\n      rollout: {on: 33.3333, off: 66.6667}\n"
    ),
    "int-and-float-variants-are-one-type": flag(
        "    development:\n      enabled: true\n      variant: low\n",
        variants="    low: 1\n    high: 2.5\n",
    ),
    "object-variants": flag(
        "    development:\n      enabled: true\n      variant: short\n",
        variants="    short: {steps: 3}\n    guided: {steps: 6, extra: [1, 2]}\n",
    ),
    "string-variants": flag(
        "    development:\n      enabled: true\n      variant: 'yes'\n",
        variants="    'yes': classic\n    no: learned\n",
    ),
    "targeting": flag(
        "    development:\n      enabled: true\n      variant: on\n"
        "      targeting: {if: [{in: [{var: email}, [a]]}, 'on', 'off']}\n"
    ),
    "name-with-dots-dashes-underscores": flag(name="demo.v2_x-y"),
}


@pytest.mark.parametrize("text", VALID_FLAGS.values(), ids=VALID_FLAGS.keys())
def test_valid_flags_load(text: str) -> None:
    path = PATH if "name: demo\n" in text else "flags/demo.v2_x-y.yaml"
    loaded, problems = load(text, path)
    assert problems == []
    assert loaded is not None


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_stem_is_the_name_without_either_suffix(suffix: str) -> None:
    assert load(flag(), f"flags/deep/er/demo{suffix}")[1] == []


@pytest.mark.parametrize("path", sorted(EXAMPLE_FLAGS.rglob("*.yaml")), ids=lambda p: p.stem)
def test_example_flags_load(path: Path) -> None:
    rel = path.relative_to(EXAMPLE_FLAGS.parent).as_posix()
    loaded, problems = load_flag(rel, path.read_bytes(), ENVS)
    assert problems == []
    assert getattr(loaded, "key", None) == path.stem


def test_norway_variants_keep_on_and_off_as_names() -> None:
    loaded, problems = load(flag())
    assert problems == []
    spec = loaded.spec  # type: ignore[attr-defined]
    assert spec.variants == {"on": True, "off": False}
    assert spec.environments["development"].variant == "on"


BAD_FLAGS: dict[str, tuple[str, str, frozenset[str] | None, Expected]] = {
    # id: (text, path, declared environments, expected problems)
    "unknown-top-level-key": (flag() + "extra: 1\n", PATH, ENVS, [(16, "extra: unknown key")]),
    "unknown-metadata-key": (
        edit(flag(), "  tags: []\n", "  tags: []\n  color: red\n"),
        PATH,
        ENVS,
        [(8, "metadata.color: unknown key")],
    ),
    "unknown-spec-key": (flag() + "  defaults: {}\n", PATH, ENVS, [(16, "spec.defaults: unknown")]),
    "unknown-environment-state-key": (
        flag(DEV + "      weight: 3\n"),
        PATH,
        ENVS,
        [(16, "spec.environments.development.weight: unknown key")],
    ),
    "missing-kind": (
        edit(flag(), "kind: FeatureFlag\n", ""),
        PATH,
        ENVS,
        [(1, "kind: required key is missing")],
    ),
    "missing-name": (
        edit(flag(), "  name: demo\n", ""),
        PATH,
        ENVS,
        [(3, "metadata.name: required key is missing")],
    ),
    "missing-spec": (
        "apiVersion: flaggate/v1\nkind: FeatureFlag\nmetadata:\n  name: demo\n",
        PATH,
        ENVS,
        [(1, "spec: required key is missing")],
    ),
    "missing-enabled": (
        flag("    development:\n      variant: on\n"),
        PATH,
        ENVS,
        [(13, "spec.environments.development.enabled: required key is missing")],
    ),
    "policy-api-version-is-not-a-flag-api-version": (
        edit(flag(), "flaggate/v1", "featureflags/v1"),
        PATH,
        ENVS,
        [(1, "apiVersion: Input should be 'flaggate/v1' (got 'featureflags/v1')")],
    ),
    "unknown-api-version": (
        edit(flag(), "flaggate/v1", "flaggate/v2"),
        PATH,
        ENVS,
        [(1, "(got 'flaggate/v2')")],
    ),
    "wrong-kind": (
        edit(flag(), "kind: FeatureFlag", "kind: ApprovalPolicy"),
        PATH,
        ENVS,
        [(2, "kind: Input should be 'FeatureFlag' (got 'ApprovalPolicy')")],
    ),
    "name-stem-mismatch": (
        flag(),
        "flags/team/other.yaml",
        ENVS,
        [(4, "metadata.name: 'demo' must equal the file name's stem 'other'")],
    ),
    "name-uppercase": (
        flag(name="Demo"),
        "flags/Demo.yaml",
        ENVS,
        [(4, "metadata.name: String should match pattern")],
    ),
    "name-leading-dash": (
        flag(name="-demo"),
        "flags/-demo.yaml",
        ENVS,
        [(4, "metadata.name: String should match pattern")],
    ),
    "name-with-space": (
        flag(name="'demo flag'"),
        "flags/demo flag.yaml",
        ENVS,
        [(4, "(got 'demo flag')")],
    ),
    "name-129-characters": (
        flag(name="a" * 129),
        "flags/" + "a" * 129 + ".yaml",
        ENVS,
        [(4, "metadata.name: String should match pattern")],
    ),
    "name-not-a-string": (
        flag(name="123"),
        "flags/123.yaml",
        ENVS,
        [(4, "metadata.name: Input should be a valid string (got 123)")],
    ),
    "bad-environment-name": (
        flag("    Prod:\n      enabled: false\n"),
        PATH,
        None,
        [(13, "spec.environments.Prod: String should match pattern")],
    ),
    "unknown-variant": (
        flag("    development:\n      enabled: true\n      variant: maybe\n"),
        PATH,
        ENVS,
        [
            (
                15,
                "spec.environments.development.variant: "
                "unknown variant 'maybe' (variants: on, off)",
            )
        ],
    ),
    "unknown-variant-while-disabled": (
        flag("    development:\n      enabled: false\n      variant: maybe\n"),
        PATH,
        ENVS,
        [(15, "unknown variant 'maybe'")],
    ),
    "unknown-variant-in-rollout": (
        flag(
            "    staging:\n      enabled: true\n      rollout:\n        on: 50\n        maybe: 50\n"
        ),
        PATH,
        ENVS,
        [(17, "spec.environments.staging.rollout.maybe: unknown variant 'maybe'")],
    ),
    "rollout-sums-to-90": (
        flag("    staging:\n      enabled: true\n      rollout: {on: 50, off: 40}\n"),
        PATH,
        ENVS,
        [(15, "spec.environments.staging.rollout: rollout sums to 90, must be 100")],
    ),
    "rollout-just-outside-tolerance": (
        flag("    staging:\n      enabled: true\n      rollout: {on: 50.002, off: 50}\n"),
        PATH,
        ENVS,
        [(15, "rollout sums to 100.002, must be 100")],
    ),
    "rollout-just-below-tolerance": (
        flag("    staging:\n      enabled: true\n      rollout: {on: 49.998, off: 50}\n"),
        PATH,
        ENVS,
        [(15, "rollout sums to 99.998, must be 100")],
    ),
    "rollout-empty": (
        flag("    staging:\n      enabled: true\n      rollout: {}\n"),
        PATH,
        ENVS,
        [(15, "rollout sums to 0, must be 100")],
    ),
    "rollout-percentage-out-of-range": (
        flag(
            "    staging:\n      enabled: true\n      rollout:\n        on: -10\n        off: 110\n"
        ),
        PATH,
        ENVS,
        [
            (16, "rollout.on: Input should be greater than or equal to 0"),
            (17, "rollout.off: Input should be less than or equal to 100"),
        ],
    ),
    "rollout-percentage-as-string": (
        flag("    staging:\n      enabled: true\n      rollout: {on: '50', off: 50}\n"),
        PATH,
        ENVS,
        [(15, "rollout.on: Input should be a valid number (got '50')")],
    ),
    "variant-and-rollout": (
        flag(
            "    staging:\n      enabled: true\n      variant: on\n"
            "      rollout: {on: 50, off: 50}\n"
        ),
        PATH,
        ENVS,
        [(16, "spec.environments.staging.rollout: `variant` and `rollout` are exclusive")],
    ),
    "mixed-variant-types": (
        flag(variants="    on: true\n    off: 'no'\n"),
        PATH,
        ENVS,
        [(9, "spec.variants: variants mix types (boolean, string); use one type")],
    ),
    "mixed-number-and-object-variants": (
        flag(
            "    development:\n      enabled: true\n      variant: a\n",
            variants="    a: 1\n    b: {x: 1}\n",
        ),
        PATH,
        ENVS,
        [(9, "variants mix types (number, object)")],
    ),
    "no-variants": (
        flag("    development:\n      enabled: false\n", variants="    {}\n"),
        PATH,
        ENVS,
        [(9, "spec.variants: a flag needs at least one variant")],
    ),
    "undeclared-environment": (
        flag("    qa:\n      enabled: false\n"),
        PATH,
        ENVS,
        [
            (
                13,
                "spec.environments.qa: environment 'qa' is not declared in Environments "
                "(development, production, staging)",
            )
        ],
    ),
    "no-environment-declared": (
        flag("    development:\n      enabled: false\n"),
        PATH,
        frozenset(),
        [(13, "environment 'development' is not declared in Environments (none)")],
    ),
    "enabled-without-variant-and-no-on-variant": (
        flag("    development:\n      enabled: true\n", variants="    a: 1\n    b: 2\n"),
        PATH,
        ENVS,
        [
            (
                13,
                "spec.environments.development: an enabled environment needs `variant` or "
                "`rollout` (no `on` variant)",
            )
        ],
    ),
    "enabled-yes-is-a-string": (
        flag("    development:\n      enabled: yes\n      variant: on\n"),
        PATH,
        ENVS,
        [
            (
                14,
                "spec.environments.development.enabled: "
                "Input should be a valid boolean (got 'yes')",
            )
        ],
    ),
    "enabled-on-is-a-string": (
        flag("    development:\n      enabled: on\n      variant: on\n"),
        PATH,
        ENVS,
        [(14, "Input should be a valid boolean (got 'on')")],
    ),
    "enabled-quoted-true-is-a-string": (
        flag("    development:\n      enabled: 'true'\n      variant: on\n"),
        PATH,
        ENVS,
        [(14, "Input should be a valid boolean (got 'true')")],
    ),
    "enabled-1-is-a-number": (
        flag("    development:\n      enabled: 1\n      variant: on\n"),
        PATH,
        ENVS,
        [(14, "Input should be a valid boolean (got 1)")],
    ),
    "tags-not-a-list": (
        edit(flag(), "  tags: []\n", "  tags: kill-switch\n"),
        PATH,
        ENVS,
        [(7, "metadata.tags: Input should be a valid tuple (got 'kill-switch')")],
    ),
    "targeting-not-a-mapping": (
        flag(DEV + "      targeting: [1]\n"),
        PATH,
        ENVS,
        [(16, "spec.environments.development.targeting: Input should be a valid dictionary")],
    ),
    "environment-state-null": (
        flag("    development:\n"),
        PATH,
        ENVS,
        [(13, "spec.environments.development: Input should be a valid dictionary")],
    ),
    "two-documents": (
        flag() + "---\n" + flag(),
        PATH,
        ENVS,
        [(1, "a flag file holds one document, found 2")],
    ),
    "empty-file": ("", PATH, ENVS, [(1, "a flag file holds one document, found 0")]),
    "comment-only-file": ("# nothing\n", PATH, ENVS, [(1, "holds one document, found 0")]),
    "list-document": (
        "- a\n- b\n",
        PATH,
        ENVS,
        [(1, "document: Input should be a valid dictionary")],
    ),
    "duplicate-key": (
        flag(DEV + "      enabled: false\n"),
        PATH,
        ENVS,
        [(16, "duplicate key 'enabled'")],
    ),
    "python-tag": (
        flag("    development: !!python/object/apply:os.system ['true']\n"),
        PATH,
        ENVS,
        [(13, "is not allowed")],
    ),
    "yaml-syntax-error": (
        flag("    development: {enabled: true\n    staging: {enabled: false}\n"),
        PATH,
        ENVS,
        [(14, "invalid YAML")],
    ),
    # Several problems in one file are all reported, not only the first.
    "several-structural-problems": (
        "apiVersion: flaggate/v1\n"  # 1
        "kind: Flag\n"  # 2
        "extra: 1\n"  # 3
        "metadata:\n"  # 4
        "  name: Demo\n"  # 5
        "  color: x\n"  # 6
        "spec:\n"  # 7
        "  environments:\n"  # 8
        "    development:\n"  # 9
        "      enabled: yes\n"  # 10
        "      weight: 1\n",  # 11
        PATH,
        ENVS,
        [
            (2, "kind: Input should be 'FeatureFlag'"),
            (3, "extra: unknown key"),
            (5, "metadata.name: String should match pattern"),
            (6, "metadata.color: unknown key"),
            (10, "enabled: Input should be a valid boolean (got 'yes')"),
            (11, "spec.environments.development.weight: unknown key"),
        ],
    ),
    "several-semantic-problems": (
        flag(
            "    development:\n      enabled: true\n      variant: maybe\n"  # 13-15
            "    qa:\n      enabled: true\n      rollout: {on: 10}\n"  # 16-18
            "    staging:\n      enabled: true\n      variant: on\n"  # 19-21
            "      rollout: {on: 100}\n",  # 22
            variants="    on: true\n    off: 0\n",
        ),
        "flags/other.yaml",
        ENVS,
        [
            (4, "'demo' must equal the file name's stem 'other'"),
            (9, "variants mix types (boolean, number)"),
            (15, "unknown variant 'maybe'"),
            (16, "environment 'qa' is not declared"),
            (18, "spec.environments.qa.rollout: rollout sums to 10, must be 100"),
            (22, "`variant` and `rollout` are exclusive"),
        ],
    ),
}


@pytest.mark.parametrize(
    ("text", "path", "envs", "expected"), BAD_FLAGS.values(), ids=BAD_FLAGS.keys()
)
def test_flag_problems(
    text: str, path: str, envs: frozenset[str] | None, expected: Expected
) -> None:
    loaded, problems = load(text, path, envs)
    assert loaded is None
    assert_problems(problems, path, expected)


def test_undeclared_environment_is_not_checked_without_declared_environments() -> None:
    loaded, problems = load(flag("    qa:\n      enabled: false\n"), envs=None)
    assert problems == []
    assert "qa" in loaded.spec.environments  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ["[1, 2]", "null"])
def test_a_variant_of_no_allowed_type_is_one_problem(value: str) -> None:
    """SPEC 5: one line per problem. One bad value must not become one line per union member."""
    text = flag("    development:\n      enabled: false\n", variants=f"    on: {value}\n")
    _, problems = load(text)
    assert len(problems) == 1, [str(p) for p in problems]
    assert (problems[0].line, problems[0].message.split(":")[0]) == (10, "spec.variants.on")


# --- policy files ---------------------------------------------------------------------------

AP, ENV, ROLES, STAGES, SETTINGS = (
    "policies/approval-policy.yaml",
    "policies/environments.yaml",
    "policies/roles.yaml",
    "policies/stages.yaml",
    "policies/settings.yaml",
)

POLICY = """\
apiVersion: featureflags/v1
kind: ApprovalPolicy
metadata: {name: policy}
spec:
  rules:
    - name: kill-switch
      conditions:
        - {field: flag.tags, operator: contains, value: kill-switch}
      approval: {required: false}
    - name: production
      conditions:
        - field: environment
          operator: equals
          value: production
      approval:
        required: true
        minApprovers: 2
        approverRoles: [tech-lead, product-owner]
        stages: [technical-review, business-review]
    - name: staging
      conditions:
        - {field: environment, operator: in, value: [staging]}
      approval: {required: true, approverRoles: [developer]}
"""
# Lines: 6 rule kill-switch, 8 its condition, 10 rule production, 12-14 its condition,
# 17 minApprovers, 18 approverRoles, 19 stages, 20 rule staging, 22 its condition, 23 approval.

STAGES_DOC = """\
apiVersion: featureflags/v1
kind: ApprovalStages
metadata: {name: stages}
spec:
  stages:
    - name: technical-review
      order: 1
      requiredApprovers: 1
      approverRoles: [tech-lead]
      timeoutHours: 24
      onTimeout: escalate
      escalateTo: [admin]
    - name: business-review
      order: 2
      approverRoles: [product-owner]
"""
# Lines: 6 technical-review, 7 order, 9 roles, 12 escalateTo, 13 business-review, 14 order.

ROLES_DOC = """\
apiVersion: flaggate/v1
kind: RoleBindings
metadata: {name: roles}
spec:
  roles:
    developer: {teams: [acme/engineering]}
    tech-lead: {teams: [acme/tech-leads]}
    product-owner: {users: [polly]}
    admin: {teams: [acme/admins]}
"""

ENV_DOC = """\
apiVersion: flaggate/v1
kind: Environments
metadata: {name: environments}
spec:
  environments:
    - name: development
      riskLevel: low
    - name: staging
      riskLevel: medium
    - name: production
      riskLevel: critical
"""
# Lines: 6 development, 8 staging, 10 production, 11 riskLevel critical (edits append below).

SETTINGS_DOC = """\
apiVersion: flaggate/v1
kind: Settings
metadata: {name: settings}
spec:
  statusContext: flags/approval
"""

PROD = "      riskLevel: critical\n"


def policy_files(**edits: tuple[str, str]) -> dict[str, bytes]:
    """The minimal policy set, with ``{key: (old, new)}`` edits; keys are AP, ENV, ..."""
    texts = {AP: POLICY, ENV: ENV_DOC, ROLES: ROLES_DOC, STAGES: STAGES_DOC}
    names = {"ap": AP, "env": ENV, "roles": ROLES, "stages": STAGES}
    for key, (old, new) in edits.items():
        texts[names[key]] = edit(texts[names[key]], old, new)
    return {path: text.encode() for path, text in texts.items()}


def policy_problems(files: dict[str, bytes]) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        load_policies(files)
    return info.value.problems


def test_minimal_policy_set_loads() -> None:
    policies = load_policies(policy_files())
    assert [env.name for env in policies.environments] == ["development", "staging", "production"]
    assert list(policies.stages) == ["technical-review", "business-review"]
    assert set(policies.roles) == {"developer", "tech-lead", "product-owner", "admin"}
    assert policies.policy is not None
    assert [rule.name for rule in policies.policy.spec.rules] == [
        "kill-switch",
        "production",
        "staging",
    ]


def test_example_policies_load() -> None:
    files = {f"policies/{p.name}": p.read_bytes() for p in EXAMPLE_POLICIES.iterdir()}
    policies = load_policies(files)
    assert policies.environment_names == {"development", "staging", "production"}
    assert policies.policy is not None


FREEZE = PROD + "      freeze:\n        - "  # the window is on line 13
METRICS = PROD + "      metrics:\n        - "  # the gate is on line 13

VALID_POLICY_EDITS: dict[str, dict[str, tuple[str, str]]] = {
    "newValue-sub-field": {"ap": ("field: flag.tags", "field: newValue.enabled")},
    "previousValue-deep-sub-field": {"ap": ("field: flag.tags", "field: previousValue.a.b")},
    "flaggate-api-version-for-policy": {"ap": ("featureflags/v1", "flaggate/v1")},
    "featureflags-api-version-for-environments": {"env": ("flaggate/v1", "featureflags/v1")},
    "regex-that-compiles": {
        "ap": ("operator: in, value: [staging]", "operator: regex, value: '^stag(ing)?$'")
    },
    "exists-without-value": {"ap": ("operator: in, value: [staging]", "operator: exists")},
    "promotion-from-a-lower-environment": {
        "env": (PROD, PROD + "      promotion: {from: staging, minSoakHours: 24}\n")
    },
    "absolute-freeze-window": {
        "env": (
            PROD,
            FREEZE + '{name: y, start: "2026-12-20T00:00", end: "2027-01-04T09:00", '
            "timezone: Europe/Berlin}\n",
        )
    },
    "weekly-freeze-window": {
        "env": (PROD, FREEZE + '{name: w, days: [sat, sun], from: "00:00", to: "23:59"}\n')
    },
    "metric-gate-with-min-only": {"env": (PROD, METRICS + "{name: rps, query: up, min: 1}\n")},
    "reject-on-timeout-without-escalation": {
        "stages": (
            "      onTimeout: escalate\n      escalateTo: [admin]\n",
            "      onTimeout: reject\n",
        )
    },
}


@pytest.mark.parametrize("edits", VALID_POLICY_EDITS.values(), ids=VALID_POLICY_EDITS.keys())
def test_valid_policy_variations_load(edits: dict[str, tuple[str, str]]) -> None:
    assert isinstance(load_policies(policy_files(**edits)), PolicySet)


BAD_POLICIES: dict[str, tuple[dict[str, tuple[str, str]], list[tuple[str, int | None, str]]]] = {
    "unknown-operator": (
        {"ap": ("operator: contains", "operator: includes")},
        [(AP, 8, "spec.rules.0.conditions.0.operator: Input should be 'equals', 'notEquals'")],
    ),
    "unknown-condition-field": (
        {"ap": ("field: flag.tags", "field: flag.colour")},
        [(AP, 8, "spec.rules.0.conditions.0.field: unknown field 'flag.colour'")],
    ),
    "empty-value-path": (
        {"ap": ("field: flag.tags", "field: newValue.")},
        [(AP, 8, "unknown field 'newValue.'")],
    ),
    "regex-that-does-not-compile": (
        {"ap": ("operator: in, value: [staging]", "operator: regex, value: '[a-'")},
        [(AP, 22, "spec.rules.2.conditions.0: invalid regex '[a-'")],
    ),
    "in-without-list": (
        {"ap": ("value: [staging]", "value: staging")},
        [(AP, 22, "spec.rules.2.conditions.0: operator 'in' needs a list value")],
    ),
    "greaterThan-with-string": (
        {"ap": ("operator: in, value: [staging]", "operator: greaterThan, value: '5'")},
        [(AP, 22, "operator 'greaterThan' needs a number value")],
    ),
    "contains-without-value": (
        {"ap": ("operator: in, value: [staging]", "operator: contains")},
        [(AP, 22, "operator 'contains' needs a value")],
    ),
    "unknown-stage-in-rule": (
        {"ap": ("[technical-review, business-review]", "[technical-review, legal-review]")},
        [
            (
                AP,
                19,
                "spec.rules.1.approval.stages.1: unknown stage 'legal-review' "
                "(stages: technical-review, business-review)",
            )
        ],
    ),
    "rule-role-without-binding": (
        {"ap": ("[tech-lead, product-owner]", "[tech-lead, ceo]")},
        [
            (
                AP,
                18,
                "spec.rules.1.approval.approverRoles.1: role 'ceo' has no binding in "
                "RoleBindings (admin, developer, product-owner, tech-lead)",
            )
        ],
    ),
    "stage-role-without-binding": (
        {"stages": ("approverRoles: [product-owner]", "approverRoles: [auditor]")},
        [(STAGES, 15, "spec.stages.1.approverRoles.0: role 'auditor' has no binding")],
    ),
    "escalation-role-without-binding": (
        {"stages": ("escalateTo: [admin]", "escalateTo: [cto]")},
        [(STAGES, 12, "spec.stages.0.escalateTo.0: role 'cto' has no binding")],
    ),
    "required-approval-without-roles-or-stages": (
        {"ap": ("{required: true, approverRoles: [developer]}", "{required: true}")},
        [(AP, 23, "a required approval needs `approverRoles` or `stages`")],
    ),
    "min-approvers-unreachable-by-stages": (
        {"ap": ("minApprovers: 2", "minApprovers: 3")},
        [(AP, 17, "3 approvers cannot be reached: its stages require 2 in all")],
    ),
    "duplicate-rule-name": (
        {"ap": ("    - name: staging\n", "    - name: production\n")},
        [(AP, 20, "spec.rules.2.name: duplicate rule 'production'")],
    ),
    "duplicate-stage-name": (
        {"stages": ("name: business-review", "name: technical-review")},
        [
            # the rule's second stage no longer exists, so both are reported
            (AP, 19, "unknown stage 'business-review'"),
            (STAGES, 13, "spec.stages.1.name: duplicate stage 'technical-review'"),
        ],
    ),
    "duplicate-stage-order": (
        {"stages": ("order: 2", "order: 1")},
        [(STAGES, 14, "spec.stages.1.order: order 1 is used by 'technical-review' too")],
    ),
    "escalate-without-escalateTo": (
        {"stages": ("      escalateTo: [admin]\n", "")},
        [(STAGES, 6, "spec.stages.0: onTimeout 'escalate' needs `escalateTo` roles")],
    ),
    "onTimeout-without-timeoutHours": (
        {"stages": ("      timeoutHours: 24\n", "")},
        [(STAGES, 6, "`onTimeout` needs `timeoutHours`")],
    ),
    "stage-without-roles": (
        {"stages": ("      approverRoles: [product-owner]\n", "")},
        [(STAGES, 13, "spec.stages.1.approverRoles: required key is missing")],
    ),
    "duplicate-environment": (
        {"env": ("    - name: staging\n", "    - name: development\n")},
        [(ENV, 8, "spec.environments.1.name: duplicate environment 'development'")],
    ),
    "promotion-from-a-higher-environment": (
        {
            "env": (
                "      riskLevel: medium\n",
                "      riskLevel: medium\n      promotion: {from: production, minSoakHours: 1}\n",
            )
        },
        [
            (
                ENV,
                10,
                "spec.environments.1.promotion.from: 'production' must be a lower "
                "environment (development)",
            )
        ],
    ),
    "promotion-from-itself": (
        {"env": (PROD, PROD + "      promotion: {from: production, minSoakHours: 24}\n")},
        [(ENV, 12, "'production' must be a lower environment (development, staging)")],
    ),
    "promotion-from-an-undeclared-environment": (
        {"env": (PROD, PROD + "      promotion: {from: qa, minSoakHours: 24}\n")},
        [(ENV, 12, "'qa' must be a lower environment")],
    ),
    "promotion-in-the-lowest-environment": (
        {
            "env": (
                "riskLevel: low\n",
                "riskLevel: low\n      promotion: {from: staging, minSoakHours: 1}\n",
            )
        },
        [(ENV, 8, "'staging' must be a lower environment (none is lower)")],
    ),
    "freeze-unknown-timezone": (
        {
            "env": (
                PROD,
                FREEZE + '{name: y, start: "2026-12-20T00:00", end: "2027-01-04T09:00", '
                "timezone: Mars/Olympus}\n",
            )
        },
        [(ENV, 13, "spec.environments.2.freeze.0.timezone: unknown timezone 'Mars/Olympus'")],
    ),
    "freeze-start-after-end": (
        {"env": (PROD, FREEZE + '{name: y, start: "2027-12-20T00:00", end: "2027-01-04T09:00"}\n')},
        [
            (
                ENV,
                13,
                "spec.environments.2.freeze.0: an absolute freeze window needs `start` "
                "before `end`",
            )
        ],
    ),
    "freeze-start-equals-end": (
        {"env": (PROD, FREEZE + '{name: y, start: "2027-01-01T00:00", end: "2027-01-01T00:00"}\n')},
        [(ENV, 13, "needs `start` before `end`")],
    ),
    "freeze-start-without-end": (
        {"env": (PROD, FREEZE + '{name: y, start: "2027-01-01T00:00"}\n')},
        [(ENV, 13, "needs `start` and `end`")],
    ),
    "freeze-mixed-kinds": (
        {
            "env": (
                PROD,
                FREEZE + '{name: y, start: "2026-12-20T00:00", end: "2027-01-04T09:00", '
                "days: [sat]}\n",
            )
        },
        [(ENV, 13, "a freeze window has either `start`/`end` or `days`/`from`/`to`")],
    ),
    "freeze-weekly-without-to": (
        {"env": (PROD, FREEZE + '{name: w, days: [sat], from: "00:00"}\n')},
        [(ENV, 13, "a weekly freeze window needs `days`, `from` and `to`")],
    ),
    "freeze-unknown-day": (
        {"env": (PROD, FREEZE + '{name: w, days: [caturday], from: "00:00", to: "23:59"}\n')},
        [(ENV, 13, "spec.environments.2.freeze.0.days.0: Input should be 'mon'")],
    ),
    "freeze-bad-clock": (
        {"env": (PROD, FREEZE + '{name: w, days: [sat], from: "24:00", to: "23:59"}\n')},
        [(ENV, 13, "spec.environments.2.freeze.0.from: String should match pattern")],
    ),
    "freeze-python-name-of-from-is-an-unknown-key": (
        {"env": (PROD, FREEZE + '{name: w, days: [sat], from_: "00:00", to: "23:59"}\n')},
        [(ENV, 13, "from_: unknown key")],
    ),
    "metric-gate-without-bounds": (
        {"env": (PROD, METRICS + "{name: error-rate, query: up}\n")},
        [(ENV, 13, "spec.environments.2.metrics.0: a metric gate needs `max` or `min`")],
    ),
    "unknown-risk-level": (
        {"env": ("riskLevel: low", "riskLevel: tiny")},
        [
            (
                ENV,
                7,
                "spec.environments.0.riskLevel: Input should be 'low', 'medium', 'high' or "
                "'critical' (got 'tiny')",
            )
        ],
    ),
    "no-environments-listed": (
        {"env": (ENV_DOC[ENV_DOC.index("    - name: development") :], "    []\n")},
        [(ENV, 5, "spec.environments: Tuple should have at least 1 item")],
    ),
    "unknown-top-level-key": (
        {"ap": ("kind: ApprovalPolicy\n", "kind: ApprovalPolicy\nowner: me\n")},
        [(AP, 3, "owner: unknown key")],
    ),
    "unknown-metadata-key": (
        {"ap": ("{name: policy}", "{name: policy, owner: me}")},
        [(AP, 3, "metadata.owner: unknown key")],
    ),
    "unknown-rule-key": (
        {"ap": ("    - name: staging\n", "    - name: staging\n      priority: 1\n")},
        [(AP, 21, "spec.rules.2.priority: unknown key")],
    ),
    "unknown-condition-key": (
        {
            "ap": (
                "          value: production\n",
                "          value: production\n          negate: true\n",
            )
        },
        [(AP, 15, "spec.rules.1.conditions.0.negate: unknown key")],
    ),
    "unknown-role-binding-key": (
        {"roles": ("{users: [polly]}", "{users: [polly], groups: [x]}")},
        [(ROLES, 8, "spec.roles.product-owner.groups: unknown key")],
    ),
    "team-without-org": (
        {"roles": ("[acme/admins]", "[admins]")},
        [(ROLES, 9, "spec.roles.admin.teams.0: String should match pattern")],
    ),
    "missing-rule-approval": (
        {"ap": ("      approval: {required: false}\n", "")},
        [(AP, 6, "spec.rules.0.approval: required key is missing")],
    ),
    "missing-metadata": (
        {"stages": ("metadata: {name: stages}\n", "")},
        [(STAGES, 1, "metadata: required key is missing")],
    ),
    "unknown-api-version": (
        {"roles": ("apiVersion: flaggate/v1", "apiVersion: flaggate/v2")},
        [
            (
                ROLES,
                1,
                "apiVersion: Input should be 'featureflags/v1' or 'flaggate/v1' "
                "(got 'flaggate/v2')",
            )
        ],
    ),
    "unknown-kind": (
        {"roles": ("kind: RoleBindings", "kind: Roles")},
        [
            (
                ROLES,
                2,
                "kind: unknown kind 'Roles' (one of ApprovalPolicy, ApprovalStages, "
                "RoleBindings, Environments, Settings)",
            )
        ],
    ),
    "missing-kind": (
        {"roles": ("kind: RoleBindings\n", "")},
        [(ROLES, 1, "unknown kind None")],
    ),
    "yaml-syntax-error": (
        {"roles": ("{teams: [acme/admins]}", "{teams: [acme/admins}")},
        [(ROLES, 9, "invalid YAML")],
    ),
    "duplicate-key": (
        {"stages": ("      order: 2\n", "      order: 2\n      order: 3\n")},
        [(STAGES, 15, "duplicate key 'order'")],
    ),
    # Several problems across files are all reported, sorted by file and line.
    "structural-problems-in-three-files": (
        {
            "ap": ("operator: contains", "operator: includes"),
            "env": ("riskLevel: low", "riskLevel: tiny"),
            "stages": ("order: 2", "order: second"),
        },
        [
            (AP, 8, "operator: Input should be"),
            (ENV, 7, "riskLevel: Input should be"),
            (STAGES, 14, "spec.stages.1.order: Input should be a valid integer"),
        ],
    ),
    "cross-check-problems-in-three-files": (
        {
            "ap": ("[tech-lead, product-owner]", "[tech-lead, ceo]"),
            "env": (PROD, PROD + "      promotion: {from: production, minSoakHours: 24}\n"),
            "stages": ("order: 2", "order: 1"),
        },
        [
            (AP, 18, "role 'ceo' has no binding"),
            (ENV, 12, "'production' must be a lower environment"),
            (STAGES, 14, "order 1 is used by 'technical-review' too"),
        ],
    ),
}
# Structural problems are reported first; the cross-checks (duplicate rule names, unbound
# roles, unknown stages) only run once every document is well-formed.
BAD_POLICIES["structural-problems-hide-cross-checks"] = (
    {
        "ap": ("    - name: staging\n", "    - name: production\n      priority: 1\n"),
        "roles": ("[acme/admins]", "[admins]"),
    },
    [
        (AP, 21, "spec.rules.2.priority: unknown key"),
        (ROLES, 9, "spec.roles.admin.teams.0: String should match pattern"),
    ],
)
BAD_POLICIES["several-cross-check-problems-in-one-file"] = (
    {
        "ap": ("[tech-lead, product-owner]", "[ceo, cfo]"),
        "stages": ("escalateTo: [admin]", "escalateTo: [cto]"),
    },
    [
        (AP, 18, "spec.rules.1.approval.approverRoles.0: role 'ceo'"),
        (AP, 18, "spec.rules.1.approval.approverRoles.1: role 'cfo'"),
        (STAGES, 12, "role 'cto'"),
    ],
)


@pytest.mark.parametrize(("edits", "expected"), BAD_POLICIES.values(), ids=BAD_POLICIES.keys())
def test_policy_problems(
    edits: dict[str, tuple[str, str]], expected: list[tuple[str, int | None, str]]
) -> None:
    problems = policy_problems(policy_files(**edits))
    assert problems == sorted(problems), "problems must come sorted"
    assert [(p.path, p.line) for p in problems] == [(path, line) for path, line, _ in expected], [
        str(p) for p in problems
    ]
    for problem, (_, _, fragment) in zip(problems, expected, strict=True):
        assert fragment in problem.message, (fragment, problem.message)


EXTRA_DOCS: dict[str, tuple[dict[str, str], list[tuple[str, int | None, str]]]] = {
    "second-policy-in-another-file": (
        {
            "policies/zz-more.yaml": "apiVersion: flaggate/v1\nkind: ApprovalPolicy\n"
            "metadata: {name: x}\nspec: {rules: []}\n"
        },
        [
            (
                "policies/zz-more.yaml",
                2,
                "kind: a second ApprovalPolicy document (first in policies/approval-policy.yaml)",
            )
        ],
    ),
    "second-environments-in-the-same-file": (
        {ENV: ENV_DOC + "---\n" + ENV_DOC},
        [(ENV, 14, "kind: a second Environments document (first in policies/environments.yaml)")],
    ),
    "unknown-kind-in-a-new-file": (
        {"policies/gates.yaml": "apiVersion: flaggate/v1\nkind: Gate\nmetadata: {name: g}\n"},
        [("policies/gates.yaml", 2, "kind: unknown kind 'Gate'")],
    ),
    "a-list-document": (
        {"policies/list.yaml": "# roles\n- a\n- b\n"},
        [("policies/list.yaml", 2, "a policy document must be a mapping")],
    ),
    "ticket-environment-not-declared": (
        {
            SETTINGS: SETTINGS_DOC
            + "  tickets:\n    provider: jira\n    requiredFor: [staging, qa]\n"
        },
        [(SETTINGS, 8, "spec.tickets.requiredFor.1: environment 'qa' is not declared")],
    ),
    "settings-unknown-key": (
        {SETTINGS: SETTINGS_DOC + "  colour: blue\n"},
        [(SETTINGS, 6, "spec.colour: unknown key")],
    ),
    "settings-unknown-ticket-provider": (
        {SETTINGS: SETTINGS_DOC + "  tickets: {provider: gitlab}\n"},
        [(SETTINGS, 6, "spec.tickets.provider: Input should be 'jira' or 'github'")],
    ),
    "notification-without-target": (
        {SETTINGS: SETTINGS_DOC + "  notifications:\n    - {events: [approval.requested]}\n"},
        [(SETTINGS, 7, "a notification needs exactly one of `slack` or `webhook`")],
    ),
    "problems-in-several-files-all-reported": (
        {
            "policies/a.yaml": "apiVersion: flaggate/v1\nkind: Gate\n",
            "policies/b.yaml": "a: [\n",
            SETTINGS: SETTINGS_DOC + "  colour: blue\n",
        },
        [
            ("policies/a.yaml", 2, "unknown kind 'Gate'"),
            ("policies/b.yaml", 1, "invalid YAML"),
            (SETTINGS, 6, "spec.colour: unknown key"),
        ],
    ),
}


@pytest.mark.parametrize(("extra", "expected"), EXTRA_DOCS.values(), ids=EXTRA_DOCS.keys())
def test_policy_document_problems(
    extra: dict[str, str], expected: list[tuple[str, int | None, str]]
) -> None:
    files = policy_files()
    files.update({path: text.encode() for path, text in extra.items()})
    problems = policy_problems(files)
    assert problems == sorted(problems)
    assert [(p.path, p.line) for p in problems] == [(path, line) for path, line, _ in expected], [
        str(p) for p in problems
    ]
    for problem, (_, _, fragment) in zip(problems, expected, strict=True):
        assert fragment in problem.message, (fragment, problem.message)


def test_missing_environments_is_a_problem() -> None:
    files = policy_files()
    del files[ENV]
    assert policy_problems(files) == [Problem("policies/", None, "no Environments document found")]


def test_settings_defaults_when_absent() -> None:
    settings = load_policies(policy_files()).settings
    spec = settings.spec
    assert (spec.statusContext, spec.flagsPath) == ("flaggate", "flags")
    assert spec.emergency.label == "emergency"
    assert spec.emergency.roles == ("incident-commander", "on-call-engineer", "sre")
    assert spec.emergency.severities == ("SEV1", "SEV2")
    assert spec.tickets is None
    assert (spec.audit.branch, spec.audit.path, spec.audit.dir) == ("flaggate-audit", None, "audit")
    assert spec.notifications == ()


def test_settings_fields_not_given_keep_their_defaults() -> None:
    files = policy_files()
    files[SETTINGS] = SETTINGS_DOC.encode()
    spec = load_policies(files).settings.spec
    assert spec.statusContext == "flags/approval"
    assert spec.flagsPath == "flags"
    assert spec.emergency.label == "emergency"
    assert spec.audit.dir == "audit"


@pytest.mark.parametrize("api_version", ["featureflags/v1", "flaggate/v1"])
@pytest.mark.parametrize("path", [AP, ENV, ROLES, STAGES])
def test_both_policy_api_versions_are_accepted(api_version: str, path: str) -> None:
    files = policy_files()
    text = files[path].decode()
    head, rest = text.split("\n", 1)
    assert head.startswith("apiVersion: ")
    files[path] = f"apiVersion: {api_version}\n{rest}".encode()
    assert isinstance(load_policies(files), PolicySet)


def test_multi_document_policy_file() -> None:
    texts = [POLICY, STAGES_DOC, ROLES_DOC, ENV_DOC, SETTINGS_DOC]
    combined = "---\n".join(texts)
    policies = load_policies({"policies/all.yml": combined.encode(), "policies/README.md": b"*"})
    assert policies.policy is not None
    assert list(policies.stages) == ["technical-review", "business-review"]
    assert policies.settings.spec.statusContext == "flags/approval"
    assert policies.environment_names == {"development", "staging", "production"}


def test_problem_lines_in_a_multi_document_file_count_from_the_file_start() -> None:
    combined = ROLES_DOC + "---\n" + edit(ENV_DOC, "riskLevel: low", "riskLevel: tiny")
    problems = policy_problems({"policies/all.yaml": combined.encode()})
    assert [(p.path, p.line) for p in problems] == [("policies/all.yaml", 10 + 7)]


def test_non_yaml_files_and_empty_documents_are_ignored() -> None:
    files = policy_files()
    files["policies/README.md"] = b"kind: Gate\n"
    files["policies/empty.yaml"] = b"---\n# nothing yet\n"
    assert isinstance(load_policies(files), PolicySet)


def test_minimal_set_without_optional_kinds() -> None:
    policies = load_policies({ENV: ENV_DOC.encode()})
    assert policies.policy is None
    assert dict(policies.stages) == {}
    assert dict(policies.roles) == {}
