"""`flaggate import flagd FILE --environment ENV`: flagd's own samples, inlining, rollouts,
merging into commented files, conflicts, limits, and the round trip with `export`."""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from flaggate.catalog import load_catalog
from flaggate.diff import normalized_state, served
from flaggate.serve.flag_files import plan_import
from flaggate.serve.flagd_import import Conversion, convert, read_flagd
from flaggate.yamlio import MAX_FILE_BYTES
from tests.flagd_support import DATA, ENVIRONMENTS
from tests.gitrepo import GitRepo

SAMPLES = sorted(
    [
        *(DATA / "samples").iterdir(),
        *(DATA / "schema-examples").iterdir(),
        *(DATA / "schema-tests" / "flags" / "positive").iterdir(),
    ]
)
CHECKOUT = "flags/checkout/checkout-redesign.yaml"


def _flag_keys(path: Path) -> list[str]:
    """The flag keys of a flagd file, read independently of flaggate's reader."""
    data = (
        yaml.safe_load(path.read_text()) if path.suffix == ".yaml" else json.loads(path.read_text())
    )
    flags = data["flags"]
    return [f["key"] for f in flags] if isinstance(flags, list) else list(flags)


def _convert(path: Path, source: str = "flagd.json") -> Conversion:
    document, problems = read_flagd(path, source)
    assert problems == []
    assert document is not None
    return convert(document, source)


def _named(problems: list[Any]) -> set[str]:
    return {m for p in problems for m in re.findall(r"flag '([^']+)'", p.message)}


def _kebab(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", key).lower()


def _renamed(path: Path, target: Path) -> Path:
    """A JSON copy of a flagd file with its camelCase keys made flaggate names."""
    data = (
        yaml.safe_load(path.read_text()) if path.suffix == ".yaml" else json.loads(path.read_text())
    )
    if isinstance(data["flags"], list):
        data["flags"] = [dict(f, key=_kebab(f["key"])) for f in data["flags"]]
    else:
        data["flags"] = {_kebab(k): v for k, v in data["flags"].items()}
    target.write_text(json.dumps(data, indent=2))
    return target


def _import(repo: GitRepo, source: Path, env: str = "production", *more: str) -> Any:
    return repo.flaggate("import", "flagd", str(source), "--environment", env, *more)


# --------------------------------------------------------------------------- flagd's own files


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_flag_of_flagds_files_is_imported_or_reported(path: Path) -> None:
    keys = _flag_keys(path)
    conversion = _convert(path)
    assert conversion.keys == keys
    imported = {flag.key for flag in conversion.flags}
    reported = _named(conversion.problems)
    assert imported | reported == set(keys)
    assert len(imported) + len(conversion.reported()) == len(keys)
    assert conversion.reported() == reported
    for key in reported:  # the only reason in flagd's files: camelCase keys
        assert key != _kebab(key)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_flagds_files_with_flaggate_keys_import_whole(path: Path, tmp_path: Path) -> None:
    """Every construct of flagd's files converts, and every file that would be written loads
    with flaggate's own loader."""
    conversion = _convert(_renamed(path, tmp_path / "renamed.json"))
    assert conversion.problems == []
    plan = plan_import(conversion, "production", ENVIRONMENTS, {}, tmp_path / "flags", "flags")
    assert plan.problems == []
    assert len(plan.files) == len(_flag_keys(path))
    assert {f.action for f in plan.files} == {"created"}


def test_camel_case_keys_are_reported_and_nothing_is_written(
    make_repo: Any,
) -> None:
    repo: GitRepo = make_repo(flags=False)
    sample = DATA / "samples" / "example_flags.flagd.yaml"  # YAML, as flagd also reads
    result = _import(repo, sample)
    assert result.code == 2
    lines = result.stderr.splitlines()
    problems = [line for line in lines if "is not a flaggate flag name" in line]
    assert len(problems) == len(_flag_keys(sample)) == 9
    assert problems[0].startswith(f"{sample}:3: flag 'myBoolFlag': is not a flaggate flag name")
    assert lines[-1] == f"flaggate: 9 problem(s) importing {sample}: nothing written"
    assert result.stdout == ""
    assert not (repo.root / "flags").exists()


def test_the_cheat_sheet_imports_with_warnings(make_repo: Any) -> None:
    repo: GitRepo = make_repo(flags=False)
    sample = DATA / "samples" / "cheat-sheet-flags.json"
    result = _import(repo, sample)
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        f"imported 9 flag(s) from {sample} into production: 9 created, 0 updated, 0 unchanged"
    )
    warnings = result.stderr.splitlines()
    assert all(": warning: " in line for line in warnings)
    assert any("flag-set metadata 'flagSetId' ('app-flags')" in line for line in warnings)
    code_default = [line for line in warnings if "application's default" in line]
    assert _named_lines(code_default) == {"code-default-flag", "code-default-flag-omitted"}
    flags = load_catalog(repo.root).flags
    assert len(flags) == 9
    state = flags["code-default-flag"].flag.spec.environments["production"]
    assert (state.enabled, state.variant) == (False, None)
    tier = flags["user-tier-flag"].flag.spec.environments["production"]
    assert (tier.enabled, tier.variant) == (True, "basic")
    assert tier.targeting is not None and "if" in tier.targeting


def _named_lines(lines: list[str]) -> set[str]:
    return {m for line in lines for m in re.findall(r"flag '([^']+)'", line)}


# --------------------------------------------------------------------------- the mapping


def test_evaluators_are_inlined_and_fractional_becomes_a_rollout(tmp_path: Path) -> None:
    conversion = _convert(_renamed(DATA / "samples" / "example_flags.flagd.json", tmp_path / "x"))
    entries = {flag.key: flag.entry for flag in conversion.flags}
    assert entries["fib-algo"] == {
        "enabled": True,
        "variant": "recursive",
        "targeting": {"if": [{"in": ["@faas.com", {"var": ["email"]}]}, "binet", None]},
    }
    header = entries["header-color"]["targeting"]
    assert header["if"][0] == {"in": ["@faas.com", {"var": ["email"]}]}
    assert "$ref" not in json.dumps(entries)
    full = {f.key: f.entry for f in _convert(DATA / "schema-examples" / "full.json").flags}
    assert full["shorthand-fractional-flag"] == {
        "enabled": True,
        "rollout": {"clubs": 25, "diamonds": 25, "hearts": 25, "spades": 25},
    }
    # a bucketing expression is logic of its own: the fractional stays targeting
    assert "targeting" in full["fractional-flag"] and "rollout" not in full["fractional-flag"]
    assert full["test-cat"] == {
        "enabled": True,
        "variant": "none",
        "targeting": {"cat": ["1", "@"]},
    }


def _flagd(tmp_path: Path, flags: dict[str, Any], **top: Any) -> Path:
    path = tmp_path / "crafted.flagd.json"
    path.write_text(json.dumps({"flags": flags, **top}, indent=2))
    return path


def test_states_defaults_metadata_and_weights(tmp_path: Path) -> None:
    onoff = {"on": True, "off": False}
    source = _flagd(
        tmp_path,
        {
            "off-by-state": {"state": "DISABLED", "variants": onoff, "defaultVariant": "on"},
            "no-off": {"state": "DISABLED", "variants": {"a": "A", "b": "B"}},
            "code-default": {"state": "ENABLED", "variants": {"a": 1, "b": 2}},
            "split": {
                "state": "ENABLED",
                "variants": {"a": "A", "b": "B", "c": "C"},
                "defaultVariant": "a",
                "targeting": {"fractional": [["a", 1], ["b", 1], ["c"]]},
                "metadata": {
                    "owner": "@acme/x",
                    "description": "Split",
                    "tags": "x, y,,x",
                    "version": 3,
                },
            },
            "exact": {
                "state": "ENABLED",
                "variants": onoff,
                "defaultVariant": "off",
                "targeting": {"fractional": [["off", 90000], ["on", 10000]]},
            },
        },
    )
    conversion = _convert(source, "crafted.json")
    flags = {flag.key: flag for flag in conversion.flags}
    assert flags["off-by-state"].entry == {"enabled": False, "variant": "on"}
    assert flags["no-off"].entry == {"enabled": False}
    assert flags["code-default"].entry == {"enabled": False}
    split = flags["split"]
    assert split.entry == {
        "enabled": True,
        "rollout": {"a": 33.333333, "b": 33.333333, "c": 33.333333},
    }
    assert (split.owner, split.description, split.tags) == ("@acme/x", "Split", ("x", "y"))
    assert flags["exact"].entry == {"enabled": True, "rollout": {"off": 90, "on": 10}}
    warned = {
        (m.group(1), m.group(2)) for w in conversion.warnings if (m := _WARN.match(w.message))
    }
    assert ("off-by-state", "state DISABLED") in {(k, t[:14]) for k, t in warned}
    assert "exact" not in {k for k, _ in warned}  # flaggate's own export shape: nothing lost
    assert any("metadata 'version' (3)" in w.message for w in conversion.warnings)
    assert any(k == "split" and "another variant" in t for k, t in warned)


_WARN = re.compile(r"warning: flag '([^']+)': (.*)")


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        (
            {"state": "ENABLED", "variants": {"a": 1}, "targeting": {"if": [{"$ref": "nope"}]}},
            "$ref 'nope' names no evaluator ($evaluators: loop)",
        ),
        (
            {"state": "ENABLED", "variants": {"a": 1}, "targeting": {"$ref": "loop"}},
            "$ref 'loop' refers to itself",
        ),
        (
            {"state": "ON", "variants": {"a": 1}, "defaultVariant": "a"},
            "state must be ENABLED or DISABLED (got 'ON')",
        ),
        (
            {"state": "ENABLED", "variants": {"a": "A"}, "targeting": {"if": [True, "a"]}},
            "targeting with no defaultVariant",
        ),
        (
            {"state": "ENABLED", "variants": {"a": [1, 2]}, "defaultVariant": "a"},
            "spec.variants.a: must be one of",
        ),
        (
            {"state": "ENABLED", "variants": {"a": 1, "b": "x"}, "defaultVariant": "a"},
            "variants mix types",
        ),
        (
            {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "zzz"},
            "unknown variant 'zzz'",
        ),
    ],
)
def test_what_cannot_be_imported_stops_the_import(
    make_repo: Any, tmp_path: Path, flag: dict[str, Any], message: str
) -> None:
    repo: GitRepo = make_repo(flags=False)
    good = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "on"}
    source = _flagd(
        tmp_path, {"good": good, "bad": flag}, **{"$evaluators": {"loop": {"$ref": "loop"}}}
    )
    result = _import(repo, source)
    assert result.code == 2, result.stdout
    problems = result.stderr.splitlines()[:-1]
    assert len(problems) == 1
    line = source.read_text().splitlines().index('    "bad": {') + 1
    assert problems[0].startswith(f"{source}:{line}: flag 'bad': ")
    assert message in problems[0]
    assert not (repo.root / "flags").exists()  # not even the good flag


def test_reading_limits(make_repo: Any, tmp_path: Path) -> None:
    repo: GitRepo = make_repo(flags=False)
    duplicate = tmp_path / "dup.json"
    duplicate.write_text('{"flags": {\n"a": {},\n"a": {}\n}}\n')
    result = _import(repo, duplicate)
    assert (result.code, result.stderr.splitlines()[0]) == (2, f"{duplicate}:3: duplicate key 'a'")
    large = tmp_path / "large.json"
    large.write_text(" " * (MAX_FILE_BYTES + 1))
    result = _import(repo, large)
    assert result.code == 2
    assert "larger than the 1048576 allowed" in result.stderr
    missing = _import(repo, tmp_path / "nope.json")
    assert missing.code == 2 and "cannot read" in missing.stderr
    for text, message in (
        ('{"flags": {},\n}', ":2: invalid JSON: Expecting property name enclosed in double quotes"),
        ('{"flags": {"a": {"variants": {"x": NaN}}}}', ": invalid JSON: NaN is not a JSON number"),
    ):
        lenient = tmp_path / "lenient.json"
        lenient.write_text(text)
        result = _import(repo, lenient)
        assert (result.code, result.stderr.splitlines()[0]) == (2, f"{lenient}{message}")


def test_json_escapes_beyond_the_basic_plane(make_repo: Any, tmp_path: Path) -> None:
    """json.dumps writes an emoji as two escaped surrogates, which YAML spells otherwise."""
    repo: GitRepo = make_repo(flags=False)
    variants = {"happy": "\U0001f600 yes", "literal": "\\ud83d\\ude00"}
    source = _flagd(
        tmp_path, {"mood": {"state": "ENABLED", "variants": variants, "defaultVariant": "happy"}}
    )
    assert "\\ud83d\\ude00 yes" in source.read_text()
    result = _import(repo, source)
    assert result.code == 0, result.stderr
    flag = load_catalog(repo.root).flags["mood"].flag
    assert flag.spec.variants == variants


def test_usage_errors(make_repo: Any) -> None:
    repo: GitRepo = make_repo(flags=False)
    sample = DATA / "samples" / "cheat-sheet-flags.json"
    unknown = _import(repo, sample, "qa")
    assert (unknown.code, unknown.stderr) == (
        2,
        "flaggate: error: unknown environment 'qa' (declared: development, staging, production)\n",
    )
    fmt = repo.flaggate("import", "unleash", str(sample), "--environment", "production")
    assert (fmt.code, fmt.stderr) == (
        2,
        "flaggate: error: unknown import format 'unleash' (known: flagd)\n",
    )


# --------------------------------------------------------------------------- merging


def _changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_merging_keeps_comments_and_key_order(repo: GitRepo, tmp_path: Path) -> None:
    before = {p: (repo.root / p).read_text() for p in _flag_files(repo)}
    exported = repo.flaggate("export", "--environment", "production")
    document = json.loads(exported.stdout)
    flags = document["flags"]
    flags["checkout-redesign"] = dict(flags["checkout-redesign"], defaultVariant="on")
    flags["search-ranking"]["variants"]["ml-v3"] = "learned-ranker-v3"
    flags["search-ranking"]["targeting"] = {"fractional": [["classic", 50000], ["ml-v3", 50000]]}
    flags["new-flag"] = {
        "state": "ENABLED",
        "variants": {"x": "X", "y": "Y"},
        "defaultVariant": "y",
    }
    source = tmp_path / "production.flagd.json"
    source.write_text(json.dumps(document))
    result = _import(repo, source)
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"updated {CHECKOUT}",
        "updated flags/growth/search-ranking.yaml",
        "created flags/new-flag.yaml",
        f"imported 6 flag(s) from {source} into production: 1 created, 2 updated, 3 unchanged",
    ]
    after = {p: (repo.root / p).read_text() for p in before}
    assert _changed_lines(before[CHECKOUT], after[CHECKOUT]) == [
        "-      enabled: false",
        "-      variant: off",
        "+      enabled: true",
        "+      variant: on",
    ]
    assert "# a quarter of staging traffic" in after[CHECKOUT]
    ranking = "flags/growth/search-ranking.yaml"
    assert _changed_lines(before[ranking], after[ranking]) == [
        "+    ml-v3: learned-ranker-v3",
        "-      rollout: {classic: 90, ml-v2: 10}",
        "+      rollout: {classic: 50, ml-v3: 50}",
    ]
    unchanged = [p for p in before if p not in (CHECKOUT, ranking)]
    assert all(after[p] == before[p] for p in unchanged)
    assert (repo.root / "flags/new-flag.yaml").read_text() == (
        "apiVersion: flaggate/v1\n"
        "kind: FeatureFlag\n"
        "metadata:\n"
        "  name: new-flag\n"
        "spec:\n"
        "  variants:\n"
        "    x: X\n"
        "    y: Y\n"
        "  environments:\n"
        "    production:\n"
        "      enabled: true\n"
        "      variant: y\n"
    )
    again = _import(repo, source)
    assert again.stdout.splitlines() == [
        f"imported 6 flag(s) from {source} into production: 0 created, 0 updated, 6 unchanged"
    ]
    assert load_catalog(repo.root).flags["checkout-redesign"].flag.spec.environments[
        "production"
    ].variant == ("on")


def test_a_new_environment_entry_goes_in_declared_order(make_repo: Any, tmp_path: Path) -> None:
    repo: GitRepo = make_repo(flags=False)
    onoff = {"on": True, "off": False}
    for env, variant in (("production", "off"), ("development", "on"), ("staging", "on")):
        source = _flagd(
            tmp_path, {"f": {"state": "ENABLED", "variants": onoff, "defaultVariant": variant}}
        )
        assert _import(repo, source, env).code == 0
    text = (repo.root / "flags/f.yaml").read_text()
    assert text.index("development:") < text.index("staging:") < text.index("production:")
    assert "variants:\n    on: true\n    off: false\n" in text


def test_conflicting_variant_values_are_reported_not_overwritten(
    repo: GitRepo, tmp_path: Path
) -> None:
    before = (repo.root / CHECKOUT).read_text()
    source = _flagd(
        tmp_path,
        {
            "checkout-redesign": {
                "state": "ENABLED",
                "variants": {"on": "yes", "off": False},
                "defaultVariant": "on",
            }
        },
    )
    result = _import(repo, source)
    assert result.code == 2
    assert [line for line in result.stderr.splitlines() if ": warning: " not in line] == [
        f"{source}:3: flag 'checkout-redesign': variant 'on' is 'yes' in the flagd file but True "
        f"in {CHECKOUT}: not overwritten",
        f"flaggate: 1 problem(s) importing {source}: nothing written",
    ]
    assert (repo.root / CHECKOUT).read_text() == before


def test_metadata_of_an_existing_flag_is_kept(repo: GitRepo, tmp_path: Path) -> None:
    source = _flagd(
        tmp_path,
        {
            "api-rate-limit": {
                "state": "ENABLED",
                "variants": {"default": 600, "strict": 120},
                "defaultVariant": "strict",
                "metadata": {"owner": "@acme/other", "tags": "platform"},
            }
        },
    )
    result = _import(repo, source)
    assert result.code == 0, result.stderr
    assert (
        f"{source}:3: warning: flag 'api-rate-limit': metadata owner '@acme/other' differs from "
        "flags/platform/api-rate-limit.yaml's '@acme/platform': kept the file's"
    ) in result.stderr.splitlines()
    # the example's other flags have a production entry but are not in the file: said, kept
    assert "flag 'search-ranking' has a 'production' entry" in result.stderr
    flag = load_catalog(repo.root).flags["api-rate-limit"].flag
    assert flag.metadata.owner == "@acme/platform"
    assert flag.spec.environments["production"].variant == "strict"


def test_into_a_folder_outside_the_flags_folder(repo: GitRepo, tmp_path: Path) -> None:
    source = _flagd(tmp_path, {"checkout-redesign": {"state": "DISABLED", "variants": {"a": 1}}})
    result = _import(repo, source, "production", "--into", "imported")
    assert result.code == 0, result.stderr
    assert (repo.root / "imported/checkout-redesign.yaml").is_file()
    again = _import(repo, source, "staging", "--into", "imported")
    assert again.code == 0, again.stderr
    assert again.stdout.startswith("updated imported/checkout-redesign.yaml\n")


def test_a_linked_file_in_a_folder_outside_the_flags_folder_is_reported(
    repo: GitRepo, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text("kind: FeatureFlag\n")
    (repo.root / "imported").mkdir()
    os.symlink(elsewhere, repo.root / "imported" / "linked.yaml")
    source = _flagd(tmp_path, {"checkout-redesign": {"state": "DISABLED", "variants": {"a": 1}}})
    result = _import(repo, source, "production", "--into", "imported")
    assert result.code == 2
    assert "imported/linked.yaml: is a symlink (mode 120000)" in result.stderr
    assert not (repo.root / "imported" / "checkout-redesign.yaml").exists()


# --------------------------------------------------------------------------- round trip


def _flag_files(repo: GitRepo) -> list[str]:
    return sorted(
        p.relative_to(repo.root).as_posix() for p in (repo.root / "flags").rglob("*.yaml")
    )


def test_import_of_the_export_serves_the_same(repo: GitRepo, make_repo: Any) -> None:
    exported = repo.flaggate("export", "--out", "out")
    assert exported.code == 0, exported.stderr
    fresh: GitRepo = make_repo(flags=False)
    for env in ENVIRONMENTS:
        result = _import(fresh, repo.root / "out" / f"{env}.flagd.json", env)
        assert result.code == 0, result.stderr
        assert result.stderr == ""  # flaggate's own export carries everything
    original, imported = load_catalog(repo.root), load_catalog(fresh.root)
    assert set(original.flags) == set(imported.flags)
    for key, entry in original.flags.items():
        again = imported.flags[key].flag
        assert again.metadata.model_dump(exclude={"tags"}) == entry.flag.metadata.model_dump(
            exclude={"tags"}
        )
        assert sorted(again.metadata.tags) == sorted(entry.flag.metadata.tags)
        for env in ENVIRONMENTS:
            before = normalized_state(entry.flag, env)
            after = normalized_state(again, env)
            assert served(after) == served(before), (key, env)
            if before is not None and after is not None:
                assert after["targeting"] == before["targeting"]
    elsewhere = _import(fresh, repo.root / "out" / "production.flagd.json", "staging")
    assert elsewhere.code == 0
    assert elsewhere.stderr.splitlines()[0].endswith(
        "production.flagd.json: warning: the file was exported for 'production', imported into "
        "'staging'"
    )
    for env in ENVIRONMENTS:  # back as it was
        assert _import(fresh, repo.root / "out" / f"{env}.flagd.json", env).code == 0
    result = fresh.flaggate("export", "--out", "out")
    assert result.code == 0, result.stderr
    for env in ENVIRONMENTS:
        name = f"{env}.flagd.json"
        assert (fresh.root / "out" / name).read_bytes() == (repo.root / "out" / name).read_bytes()
