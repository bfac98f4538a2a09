"""What a real OpenFeature client gets from an exported flagd file is what flaggate says the
environment serves: the OpenFeature Python SDK with the flagd provider in in-process file mode,
over the bundled example and over generated repositories (no mocks)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext

from flaggate.catalog import load_catalog
from tests.flagd_support import (
    DATA,
    ENVIRONMENTS,
    Case,
    check,
    evaluate,
    expected,
    generate_flags,
    kind_of,
    openfeature_clients,
    schema_errors,
)
from tests.gitrepo import GitRepo

KEYS = 10_000
"""Distinct targeting keys per rollout share check."""
TOLERANCE = 2.0
"""Percentage points a variant's measured share may differ from its rollout percentage."""


@dataclass
class Exported:
    """A repository exported to flagd files, with a client per file."""

    flags: dict[str, dict[str, Any]]
    """Flag key -> the flag as flaggate loaded it (JSON data)."""
    files: dict[str, Path]
    clients: dict[str, OpenFeatureClient]


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    """The bundled example, exported with `flaggate export`."""
    repo = GitRepo(tmp_path_factory.mktemp("example") / "repo")
    repo.copy_example()
    repo.commit("example")
    yield from _exported(repo)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    """50 generated flags (seeded), exported with `flaggate export`."""
    repo = GitRepo(tmp_path_factory.mktemp("generated") / "repo")
    repo.copy_example(flags=False)
    for flag in GENERATED:
        repo.write(f"flags/generated/{flag.key}.yaml", flag.text())
    repo.commit("generated flags")
    yield from _exported(repo)


GENERATED = generate_flags(seed=20261206, count=50)


def _exported(repo: GitRepo) -> Iterator[Exported]:
    out = repo.root / "out"
    result = repo.flaggate("export", "--out", str(out))
    assert result.code == 0, result.stderr
    catalog = load_catalog(repo.root)
    flags = {key: entry.flag.model_dump(mode="json") for key, entry in catalog.flags.items()}
    files = {env: out / f"{env}.flagd.json" for env in ENVIRONMENTS}
    with openfeature_clients(list(files.values())) as clients:
        yield Exported(flags, files, {env: clients[path] for env, path in files.items()})


def _context(case: Case) -> EvaluationContext:
    return EvaluationContext(case.key, case.attributes)


def _failures(exported: Exported, cases: dict[tuple[str, str], list[Case]]) -> list[str]:
    failures = []
    for (key, environment), flag_cases in sorted(cases.items()):
        flag = exported.flags[key]
        variants = flag["spec"]["variants"]
        kind = kind_of(variants)
        for case in flag_cases:
            details = evaluate(exported.clients[environment], key, kind, _context(case))
            want = expected(flag, environment, case.targeted, case.key is not None)
            problem = check(details, want, variants, kind)
            if problem:
                failures.append(f"{key} in {environment} with {case}: {problem}")
    return failures


EXAMPLE_CASES: dict[tuple[str, str], list[Case]] = {
    ("onboarding-flow", "staging"): [
        Case({"email": "ann@acme.example"}, "guided"),
        Case({"email": "bob@elsewhere.example"}, "short"),
        Case({}, "short", None),
    ],
}


def test_the_client_gets_what_the_example_serves(example: Exported) -> None:
    cases = {
        (key, env): EXAMPLE_CASES.get((key, env), [Case({}, None), Case({}, None, None)])
        for key in example.flags
        for env in ENVIRONMENTS
    }
    assert _failures(example, cases) == []


def test_the_client_gets_what_generated_flags_serve(generated: Exported) -> None:
    cases = {(flag.key, env): flag.cases[env] for flag in GENERATED for env in ENVIRONMENTS}
    assert _failures(generated, cases) == []
    shapes = Counter(
        ("enabled" if s["enabled"] else "disabled")
        + ("+rollout" if s.get("rollout") else "")
        + ("+targeting" if s.get("targeting") else "")
        for flag in GENERATED
        for s in flag.data["spec"]["environments"].values()
    )
    # every shape the mapping distinguishes is exercised
    assert {"disabled", "enabled", "enabled+rollout", "enabled+targeting"} <= set(shapes)
    assert shapes["enabled+rollout+targeting"] > 0
    kinds = Counter(kind_of(f.data["spec"]["variants"]) for f in GENERATED)
    assert set(kinds) == {"boolean", "string", "integer", "float", "object"}
    absent = sum(
        env not in f.data["spec"]["environments"] for f in GENERATED for env in ENVIRONMENTS
    )
    assert absent > 0


def test_every_generated_file_validates_against_flagds_schema(generated: Exported) -> None:
    for environment, path in generated.files.items():
        document = json.loads(path.read_bytes())
        assert schema_errors(document) == [], environment
        assert set(document["flags"]) == {
            key
            for key, flag in generated.flags.items()
            if environment in flag["spec"]["environments"]
        }


def _rollouts(exported: Exported) -> list[tuple[str, str, dict[str, float], dict[str, Any]]]:
    found = []
    for key, flag in exported.flags.items():
        for environment, state in flag["spec"]["environments"].items():
            if state["enabled"] and state["rollout"]:
                found.append((key, environment, state["rollout"], state))
    return found


def _shares(
    client: OpenFeatureClient, key: str, kind: str, attributes: dict[str, Any]
) -> Counter[Any]:
    counts: Counter[Any] = Counter()
    for i in range(KEYS):
        details = evaluate(client, key, kind, EvaluationContext(f"user-{i:05d}", attributes))
        assert details.error_code is None, details
        counts[details.variant] += 1
    return counts


def _assert_shares(counts: Counter[Any], rollout: dict[str, float]) -> None:
    for name, percent in rollout.items():
        measured = 100 * counts[name] / KEYS
        assert abs(measured - percent) <= TOLERANCE, (name, measured, percent, counts)
    assert set(counts) <= {name for name, percent in rollout.items() if percent > 0}


def test_rollout_shares_of_the_example(example: Exported) -> None:
    rollouts = _rollouts(example)
    assert len(rollouts) == 3  # checkout-redesign staging, search-ranking staging + production
    for key, environment, rollout, _ in rollouts:
        kind = kind_of(example.flags[key]["spec"]["variants"])
        _assert_shares(_shares(example.clients[environment], key, kind, {}), rollout)


def test_decimal_rollout_shares_of_generated_flags(generated: Exported) -> None:
    """Three-way decimal rollouts, one of them behind targeting that does not match."""
    plain = [r for r in _rollouts(generated) if len(r[2]) >= 3 and not r[3]["targeting"]]
    targeted = [r for r in _rollouts(generated) if len(r[2]) >= 3 and r[3]["targeting"]]
    flag_by_key = {flag.key: flag for flag in GENERATED}
    chosen = [(*plain[0][:3], {}), (*plain[1][:3], {})]
    for key, environment, rollout, _ in targeted:
        misses = [c for c in flag_by_key[key].cases[environment] if c.targeted is None]
        if misses:
            chosen.append((key, environment, rollout, misses[0].attributes))
            break
    assert len(chosen) == 3
    for key, environment, rollout, attributes in chosen:
        assert any(percent != int(percent) for percent in rollout.values())
        kind = kind_of(generated.flags[key]["spec"]["variants"])
        _assert_shares(_shares(generated.clients[environment], key, kind, attributes), rollout)


# --------------------------------------------------------------------------- import


def _kebab(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", key).lower()


SAMPLE_CONTEXTS = [
    {"tier": "enterprise"},
    {"tier": "premium"},
    {"tier": "basic"},
    {"email": "ann@example.com"},
    {"email": "ann@faas.com"},
    {"email": "ann@openfeature.dev"},
    {"email": "bob@elsewhere.org"},
    {"color": "yellow"},
    {"color": "green"},
    {"region": "usa"},
    {"region": "de"},
    {"region": "mars"},
]


@pytest.mark.parametrize(
    ("sample", "warned", "differs"),
    [
        (
            "cheat-sheet-flags.json",
            {"code-default-flag", "code-default-flag-omitted"},
            {"code-default-flag", "code-default-flag-omitted"},
        ),
        ("example_flags.flagd.json", {"my-bool-flag"}, set()),  # metadata `version`
    ],
)
def test_imported_samples_serve_what_flagd_served(
    tmp_path: Path, sample: str, warned: set[str], differs: set[str]
) -> None:
    """flagd's own samples (keys made flaggate names where they are camelCase) imported into a
    repository and exported again: the client gets the same variant and value from both files
    in every context tried, except for the flags whose difference the import warned about (the
    code default where the flag has an `off` variant)."""
    original = json.loads((DATA / "samples" / sample).read_text())
    renamed = dict(original, flags={_kebab(k): v for k, v in original["flags"].items()})
    source = tmp_path / "source.flagd.json"
    source.write_text(json.dumps(renamed))
    repo = GitRepo(tmp_path / "repo")
    repo.copy_example(flags=False)
    imported = repo.flaggate("import", "flagd", str(source), "--environment", "production")
    assert imported.code == 0, imported.stderr
    assert {m for m in re.findall(r"flag '([^']+)'", imported.stderr)} == warned
    exported = repo.flaggate("export", "--environment", "production", "--out", "out")
    assert exported.code == 0, exported.stderr
    again = repo.root / "out" / "production.flagd.json"
    with openfeature_clients([source, again]) as clients:
        for key, flag in renamed["flags"].items():
            if key in differs:
                continue
            kind = kind_of(flag["variants"])
            for i, attributes in enumerate(SAMPLE_CONTEXTS):
                context = EvaluationContext(f"key-{i}", attributes)
                before = evaluate(clients[source], key, kind, context)
                after = evaluate(clients[again], key, kind, context)
                assert (after.value, after.variant) == (before.value, before.variant), (key, i)
