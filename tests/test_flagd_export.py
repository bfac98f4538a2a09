"""`flaggate export --format flagd`: files, mapping, determinism, `--ref`, failing closed."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flaggate.catalog import load_catalog
from flaggate.errors import UsageError
from flaggate.serve.flagd import SCHEMA_URL, WEIGHT_TOTAL, dumps, rollout_weights
from flaggate.serve.formats import exporter, file_name, render_environment
from tests.flagd_support import DATA, ENVIRONMENTS, schema_errors
from tests.gitrepo import GitRepo, edit, flag_yaml

CHECKOUT = "flags/checkout/checkout-redesign.yaml"


def _export(repo: GitRepo, *args: str) -> dict[str, bytes]:
    result = repo.flaggate("export", "--out", "out", *args)
    assert result.code == 0, result.stderr
    return {path.name: path.read_bytes() for path in sorted((repo.root / "out").iterdir())}


def _flags(content: bytes) -> dict[str, Any]:
    flags: dict[str, Any] = json.loads(content)["flags"]
    return flags


def test_one_schema_valid_file_per_environment(repo: GitRepo) -> None:
    result = repo.flaggate("export", "--out", "out")
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"wrote out/{env}.flagd.json ({env}: 5 flag(s))" for env in ENVIRONMENTS
    ]
    files = sorted(p.name for p in (repo.root / "out").iterdir())
    assert files == sorted(f"{env}.flagd.json" for env in ENVIRONMENTS)  # no temporary files
    for env in ENVIRONMENTS:
        content = (repo.root / "out" / f"{env}.flagd.json").read_bytes()
        document = json.loads(content)
        assert schema_errors(document) == []
        assert document["$schema"] == SCHEMA_URL
        assert document["metadata"] == {"environment": env}  # the working tree: no commit
        assert content.endswith(b"}\n") and not content.endswith(b"\n\n")


def test_the_mapping_of_the_example(repo: GitRepo) -> None:
    files = _export(repo)
    production = _flags(files["production.flagd.json"])
    staging = _flags(files["staging.flagd.json"])
    # disabled with an `off` variant: flaggate serves `off`, so flagd must too (not DISABLED)
    assert production["checkout-redesign"] == {
        "state": "ENABLED",
        "defaultVariant": "off",
        "variants": {"on": True, "off": False},
        "metadata": {
            "owner": "@acme/checkout",
            "description": "New single-page checkout",
            "tags": "checkout,experiment",
        },
    }
    kill_switch = production["payment-provider-kill-switch"]  # default variants on/off
    assert (kill_switch["state"], kill_switch["defaultVariant"]) == ("ENABLED", "off")
    assert kill_switch["metadata"]["tags"] == "kill-switch,payments"
    # a rollout: fractional buckets out of 100000, sorted by name; keyless: the largest share
    assert staging["checkout-redesign"]["targeting"] == {
        "fractional": [["off", 75000], ["on", 25000]]
    }
    assert staging["checkout-redesign"]["defaultVariant"] == "off"
    assert production["search-ranking"]["targeting"] == {
        "fractional": [["classic", 90000], ["ml-v2", 10000]]
    }
    # targeting with a variant: passed through, the variant is the default
    assert staging["onboarding-flow"]["targeting"] == {
        "if": [{"ends_with": [{"var": "email"}, "@acme.example"]}, "guided", "short"]
    }
    assert staging["onboarding-flow"]["defaultVariant"] == "short"
    assert _flags(files["development.flagd.json"])["api-rate-limit"]["variants"] == {
        "default": 600,
        "strict": 120,
    }


def test_absent_disabled_targeted_rollouts_and_types(repo: GitRepo) -> None:
    repo.write(
        "flags/limits.yaml",
        flag_yaml(
            "limits",
            "    development: {enabled: true, variant: high}\n"
            "    production: {enabled: false, variant: high}\n",
            variants="    low: 1.5\n    high: 10\n",
            tags="[]",
        ),
    )
    repo.write(
        "flags/banner.yaml",
        flag_yaml(
            "banner",
            "    staging:\n"
            "      enabled: true\n"
            "      rollout: {blue: 33.333, green: 33.333, red: 33.334}\n"
            "      targeting: {if: [{in: [{var: country}, [de, fr]]}, red, null]}\n",
            variants="    blue: {color: blue}\n    green: {color: green}\n    red: {color: red}\n",
        ),
    )
    files = _export(repo)
    development = _flags(files["development.flagd.json"])
    staging = _flags(files["staging.flagd.json"])
    production = _flags(files["production.flagd.json"])
    assert "limits" not in staging and "banner" not in development  # absent environments
    # disabled without an `off` variant: DISABLED, the application's code default
    assert production["limits"] == {
        "state": "DISABLED",
        "variants": {"low": 1.5, "high": 10},
        "metadata": {"owner": "@acme/team", "description": "A test flag"},
    }
    assert development["limits"]["defaultVariant"] == "high"
    # targeting wins when it returns a variant; the rollout applies otherwise
    assert staging["banner"]["targeting"] == {
        "or": [
            {"if": [{"in": [{"var": "country"}, ["de", "fr"]]}, "red", None]},
            {"fractional": [["blue", 33333], ["green", 33333], ["red", 33334]]},
        ]
    }
    assert staging["banner"]["defaultVariant"] == "red"
    for content in files.values():
        assert schema_errors(json.loads(content)) == []


def test_one_environment_goes_to_stdout(repo: GitRepo) -> None:
    files = _export(repo)
    alone = repo.flaggate("export", "--environment", "staging")
    assert alone.code == 0, alone.stderr
    assert alone.stdout.encode() == files["staging.flagd.json"]
    dash = repo.flaggate("export", "--environment", "staging", "--out", "-")
    assert dash.stdout == alone.stdout
    several = repo.flaggate("export", "--out", "-")
    assert several.code == 2
    assert several.stdout == ""
    assert several.stderr.splitlines() == [
        "flaggate: error: --out - writes one environment, 3 chosen (pick one with "
        "--environment, or write files with --out DIR)"
    ]


def test_several_environments_without_out_write_to_the_current_directory(repo: GitRepo) -> None:
    result = repo.flaggate("export", "--environment", "production", "--environment", "staging")
    assert result.code == 0, result.stderr
    assert (repo.root / "production.flagd.json").is_file()
    assert (repo.root / "staging.flagd.json").is_file()
    assert not (repo.root / "development.flagd.json").exists()


def test_usage_errors_are_one_line(repo: GitRepo) -> None:
    unknown = repo.flaggate("export", "--environment", "prod", "--out", "out")
    assert unknown.code == 2
    assert unknown.stderr.splitlines() == [
        "flaggate: error: unknown environment 'prod' (declared: development, staging, production)"
    ]
    fmt = repo.flaggate("export", "--format", "launchdarkly")
    assert (fmt.code, fmt.stderr) == (
        2,
        "flaggate: error: unknown export format 'launchdarkly' (known: flagd)\n",
    )
    assert not (repo.root / "out").exists()


def test_the_same_flags_give_the_same_bytes(repo: GitRepo) -> None:
    first = _export(repo)
    assert _export(repo) == first
    repo.write("README.md", "unrelated\n")
    edit(repo, CHECKOUT, "# a quarter of staging traffic", "# reworded comment")
    repo.commit("unrelated")
    assert _export(repo) == first
    head, parent = _export(repo, "--ref", "HEAD"), _export(repo, "--ref", "HEAD~1")
    sha = repo.git("rev-parse", "HEAD")
    for name, content in head.items():
        document = json.loads(content)
        assert document["metadata"]["sourceCommit"] == sha
        older = json.loads(parent[name])
        assert older["metadata"]["sourceCommit"] == repo.git("rev-parse", "HEAD~1")
        assert older["flags"] == document["flags"]  # the commit is the only difference
        del document["metadata"]["sourceCommit"]
        assert dumps(document) == first[name]


def test_ref_reads_a_past_commit(repo: GitRepo) -> None:
    edit(
        repo,
        CHECKOUT,
        "production:\n      enabled: false\n      variant: off",
        "production:\n      enabled: true\n      variant: on",
    )
    repo.commit("turn on")
    edit(repo, CHECKOUT, "variant: on\n    staging", "variant: off\n    staging")  # uncommitted
    now = _flags(_export(repo)["production.flagd.json"])["checkout-redesign"]
    before = _flags(_export(repo, "--ref", "HEAD~1")["production.flagd.json"])
    head = _flags(_export(repo, "--ref", "HEAD")["development.flagd.json"])
    assert now["defaultVariant"] == "on"
    assert before["checkout-redesign"]["defaultVariant"] == "off"
    assert head["checkout-redesign"]["defaultVariant"] == "on"  # the edit is not committed
    assert _flags(_export(repo)["development.flagd.json"])["checkout-redesign"][
        "defaultVariant"
    ] == ("off")
    missing = repo.flaggate("export", "--ref", "no-such-ref", "--out", "elsewhere")
    assert missing.code == 2
    assert len(missing.stderr.splitlines()) == 1
    assert not (repo.root / "elsewhere").exists()


@pytest.mark.parametrize("committed", [False, True])
def test_a_file_that_does_not_load_writes_nothing(repo: GitRepo, committed: bool) -> None:
    old = _export(repo)
    edit(repo, CHECKOUT, "enabled: false", 'enabled: "no"')
    args = ["--ref", repo.commit("break it")] if committed else []
    result = repo.flaggate("export", "--out", "out", *args)
    assert result.code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{CHECKOUT}:20: spec.environments.production.enabled:")
    assert lines[1] == "flaggate: 1 problem(s) in flag or policy files"
    assert {p.name: p.read_bytes() for p in (repo.root / "out").iterdir()} == old


def test_targeting_json_cannot_carry_is_an_error(repo: GitRepo) -> None:
    repo.write(
        "flags/odd.yaml",
        flag_yaml(
            "odd",
            "    production:\n      enabled: true\n      targeting: {'<': [{var: x}, .inf]}\n",
        ),
    )
    result = repo.flaggate("export", "--out", "out")
    assert result.code == 2
    assert result.stderr.splitlines()[0].startswith("flags/odd.yaml: cannot be written as flagd")
    assert not (repo.root / "out").exists()


def test_the_exporter_interface(repo: GitRepo) -> None:
    flagd = exporter("flagd")
    assert flagd.name == "flagd"
    assert flagd.file_name("production") == file_name("flagd", "production")
    assert flagd.file_name("production") == "production.flagd.json"
    catalog = load_catalog(repo.root)
    files = _export(repo)
    for env in ENVIRONMENTS:
        assert render_environment(catalog, "flagd", env) == files[f"{env}.flagd.json"]
    with pytest.raises(UsageError, match=r"unknown export format 'yaml' \(known: flagd\)"):
        exporter("yaml")
    with pytest.raises(UsageError, match=r"unknown environment 'qa' \(declared: development"):
        flagd.render(catalog, "qa")


@pytest.mark.parametrize(
    ("rollout", "weights"),
    [
        ({"on": 25, "off": 75}, [("off", 75000), ("on", 25000)]),
        ({"a": 33.333, "b": 33.333, "c": 33.334}, [("a", 33333), ("b", 33333), ("c", 33334)]),
        ({"a": 100 / 3, "b": 100 / 3, "c": 100 / 3}, [("a", 33334), ("b", 33333), ("c", 33333)]),
        ({"x": 0, "y": 100}, [("x", 0), ("y", 100000)]),
        ({"x": 12.3456, "y": 87.6544}, [("x", 12346), ("y", 87654)]),
        ({"only": 100}, [("only", 100000)]),
        ({"a": 50.0004, "b": 50.0004}, [("a", 50000), ("b", 50000)]),  # sum off 100: scaled
    ],
)
def test_rollout_weights(rollout: dict[str, float], weights: list[tuple[str, int]]) -> None:
    assert rollout_weights(rollout) == weights


@given(st.lists(st.integers(0, 100_000), min_size=1, max_size=8))
def test_rollout_weights_sum_exactly_and_stay_within_one_unit(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), WEIGHT_TOTAL]
    thousandths = [b - a for a, b in itertools.pairwise(bounds)]
    rollout = {f"v{i}": t / 1000 for i, t in enumerate(thousandths)}
    weights = dict(rollout_weights(rollout))
    assert sum(weights.values()) == WEIGHT_TOTAL
    assert all(isinstance(w, int) and w >= 0 for w in weights.values())
    assert weights == {f"v{i}": t for i, t in enumerate(thousandths)}  # exact to 0.001


@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=6).filter(any))
def test_rollout_weights_of_any_percentages(parts: list[float]) -> None:
    total = math.fsum(parts)
    rollout = {f"v{i}": 100 * p / total for i, p in enumerate(parts)}
    weights = dict(rollout_weights(rollout))
    assert sum(weights.values()) == WEIGHT_TOTAL
    for name, percent in rollout.items():
        assert abs(weights[name] - percent * 1000) < 1.0001


def test_the_bundled_example_files_are_written_with_commit_metadata(repo: GitRepo) -> None:
    files = _export(repo, "--ref", "main")
    sha = repo.git("rev-parse", "main")
    for name, content in files.items():
        document = json.loads(content)
        assert document["metadata"] == {"environment": name.split(".")[0], "sourceCommit": sha}
        assert schema_errors(document) == []


def test_the_schema_check_accepts_flagds_positive_cases_and_rejects_the_negative() -> None:
    """The schema check is sound both ways on flagd's own cases: the positive tests and the
    samples pass, every negative test fails."""
    tests = DATA / "schema-tests" / "flags"
    passing = [*(tests / "positive").iterdir(), *(DATA / "samples").glob("*.json")]
    negative = sorted((tests / "negative").iterdir())
    assert (len(passing), len(negative)) == (12, 9)
    for path in passing:
        assert schema_errors(json.loads(path.read_text())) == [], path.name
    for path in negative:
        assert schema_errors(json.loads(path.read_text())) != [], path.name
