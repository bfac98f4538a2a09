"""`flaggate validate` as a user runs it: a subprocess over a working tree."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from flaggate.validation import PARALLEL_THRESHOLD, check_flags
from flaggate.yamlio import MAX_FILE_BYTES
from tests.gitrepo import EXAMPLE_FLAGS, CliResult, GitRepo, flag_yaml

PROBLEM_LINE = re.compile(r"^(?P<path>[^:\s]+)(?::(?P<line>\d+))?: (?P<message>.+)$")
SUMMARY = re.compile(
    r"^flaggate: (\d+) problem\(s\): (\d+) in (\d+) flag file\(s\), (\d+) in policies/"
    r"(?:, (\d+) elsewhere)?$"
)
EXAMPLE_COUNT = len(list(EXAMPLE_FLAGS.rglob("*.yaml")))

DEV = "    development:\n      enabled: true\n"
"""An environment block for flag_yaml (default variants): environments is line 9, this 10-11."""


def problem_lines(result: CliResult) -> list[str]:
    """The problem lines of a failed run, checked for the `path[:line]: message` format."""
    assert result.code == 2, (result.code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines, "a failed run must say why"
    summary = SUMMARY.match(lines[-1])
    assert summary is not None, lines[-1]
    problems = lines[:-1]
    assert int(summary.group(1)) == len(problems)
    counted = [int(summary.group(i) or 0) for i in (2, 4, 5)]
    assert sum(counted) == len(problems), lines[-1]
    for line in problems:
        assert PROBLEM_LINE.match(line), f"not `path:line: message`: {line!r}"
    assert problems == sorted(problems, key=_sort_key), "problems must come sorted"
    return problems


def _sort_key(line: str) -> tuple[str, int]:
    match = PROBLEM_LINE.match(line)
    assert match is not None
    return match.group("path"), int(match.group("line") or 0)


def line_containing(path: Path, needle: str) -> int:
    lines = [i for i, text in enumerate(path.read_text().splitlines(), 1) if needle in text]
    assert len(lines) == 1, (needle, lines)
    return lines[0]


def test_clean_example_passes(repo: GitRepo) -> None:
    result = repo.flaggate("validate")
    assert (result.code, result.stderr) == (0, "")
    assert result.stdout == (
        f"ok: {EXAMPLE_COUNT} flag file(s), policies in policies/: no problems\n"
    )


def test_non_yaml_files_below_flags_are_errors(repo: GitRepo) -> None:
    repo.write("flags/README.md", "kind: [not yaml\n")
    repo.write("flags/notes.txt", "\xff")
    result = repo.flaggate("validate")
    assert result.code == 2
    assert problem_lines(result) == [
        "flags/README.md: is not a .yaml or .yml file: only flag files belong below flags/",
        "flags/notes.txt: is not a .yaml or .yml file: only flag files belong below flags/",
    ]


def test_yml_suffix_and_any_depth_are_validated(repo: GitRepo) -> None:
    repo.write("flags/a/b/c/deep.yml", flag_yaml("deep", "    qa:\n      enabled: false\n"))
    assert problem_lines(repo.flaggate("validate")) == [
        "flags/a/b/c/deep.yml:10: spec.environments.qa: environment 'qa' is not declared in "
        "Environments (development, production, staging)"
    ]


BROKEN: dict[str, tuple[dict[str, str | bytes], list[str]]] = {
    "enabled-yes": (
        {"flags/new/demo.yaml": flag_yaml("demo", "    development:\n      enabled: yes\n")},
        [
            "flags/new/demo.yaml:11: spec.environments.development.enabled: Input should be a "
            "valid boolean (got 'yes')"
        ],
    ),
    "stem-mismatch": (
        {"flags/new/other.yaml": flag_yaml("demo", DEV)},
        ["flags/new/other.yaml:4: metadata.name: 'demo' must equal the file name's stem 'other'"],
    ),
    "unknown-variant-and-bad-rollout": (
        {
            "flags/new/demo.yaml": flag_yaml(
                "demo",
                "    development:\n      enabled: true\n      variant: maybe\n"
                "    staging:\n      enabled: true\n      rollout: {on: 60, off: 60}\n",
            )
        },
        [
            "flags/new/demo.yaml:12: spec.environments.development.variant: unknown variant "
            "'maybe' (variants: on, off)",
            "flags/new/demo.yaml:15: spec.environments.staging.rollout: rollout sums to 120, "
            "must be 100",
        ],
    ),
    "duplicate-key": (
        {"flags/new/demo.yaml": flag_yaml("demo", DEV + "      enabled: false\n")},
        ["flags/new/demo.yaml:12: duplicate key 'enabled'"],
    ),
    "syntax-error": (
        {"flags/new/demo.yaml": "apiVersion: flaggate/v1\nkind: FeatureFlag\nmetadata: {name: x\n"},
        ["flags/new/demo.yaml:3: invalid YAML: did not find expected ',' or '}'"],
    ),
    "python-tag": (
        {
            "flags/new/demo.yaml": flag_yaml(
                "demo", "    development: !!python/object/apply:os.system ['true']\n"
            )
        },
        [
            "flags/new/demo.yaml:10: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not "
            "allowed"
        ],
    ),
    "duplicate-name-in-two-subdirectories": (
        {
            "flags/a/dup.yaml": flag_yaml("dup", DEV),
            "flags/b/dup.yaml": flag_yaml("dup", DEV),
        },
        ["flags/b/dup.yaml: flag 'dup' is also defined in flags/a/dup.yaml"],
    ),
    "duplicate-name-of-an-example-flag": (
        {"flags/zz/checkout-redesign.yml": flag_yaml("checkout-redesign", DEV)},
        [
            "flags/zz/checkout-redesign.yml: flag 'checkout-redesign' is also defined in "
            "flags/checkout/checkout-redesign.yaml"
        ],
    ),
    "oversize-flag-file": (
        {"flags/big.yaml": b"#" * (MAX_FILE_BYTES + 1)},
        [
            f"flags/big.yaml:1: file is {MAX_FILE_BYTES + 1} bytes, larger than the "
            f"{MAX_FILE_BYTES} allowed"
        ],
    ),
    "oversize-policy-file": (
        {"policies/huge.yaml": b"#" * (MAX_FILE_BYTES + 10)},
        [
            f"policies/huge.yaml:1: file is {MAX_FILE_BYTES + 10} bytes, larger than the "
            f"{MAX_FILE_BYTES} allowed"
        ],
    ),
    "policy-unknown-kind": (
        {"policies/extra.yaml": "apiVersion: flaggate/v1\nkind: Gate\nmetadata: {name: g}\n"},
        [
            "policies/extra.yaml:2: kind: unknown kind 'Gate' (one of ApprovalPolicy, "
            "ApprovalStages, RoleBindings, Environments, Settings)"
        ],
    ),
}


@pytest.mark.parametrize(("files", "expected"), BROKEN.values(), ids=BROKEN.keys())
def test_broken_files_are_reported(
    make_repo: Callable[..., GitRepo], files: dict[str, str | bytes], expected: list[str]
) -> None:
    repo = make_repo()
    for path, content in files.items():
        target = repo.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    assert problem_lines(repo.flaggate("validate")) == expected


def test_invalid_utf8_is_reported(repo: GitRepo) -> None:
    (repo.root / "flags/demo.yaml").write_bytes(b"apiVersion: flaggate/v1\nkind: \xff\n")
    # The line (2) is pinned in test_yamlio; here only the report itself.
    (line,) = problem_lines(repo.flaggate("validate"))
    assert re.fullmatch(
        r"flags/demo\.yaml(:2)?: not UTF-8 text \(invalid start byte at byte 30\)", line
    ), line


def test_every_problem_of_every_file_is_listed_and_counted(repo: GitRepo) -> None:
    repo.write(
        "flags/one/enabled.yaml", flag_yaml("enabled", "    development:\n      enabled: yes\n")
    )
    repo.write("flags/one/stem.yaml", flag_yaml("demo", DEV))
    repo.write(
        "flags/two/multi.yaml",
        flag_yaml(
            "multi",
            "    development:\n      enabled: true\n      variant: maybe\n"
            "    staging:\n      enabled: true\n      rollout: {on: 60, off: 60}\n"
            "    qa:\n      enabled: false\n",
        ),
    )
    repo.write("flags/two/syntax.yaml", "a: b: c\n")
    (repo.root / "flags/three/big.yaml").parent.mkdir()
    (repo.root / "flags/three/big.yaml").write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    repo.write("flags/a/dup.yaml", flag_yaml("dup", DEV))
    repo.write("flags/b/dup.yaml", flag_yaml("dup", DEV))
    result = repo.flaggate("validate")
    assert problem_lines(result) == [
        "flags/b/dup.yaml: flag 'dup' is also defined in flags/a/dup.yaml",
        "flags/one/enabled.yaml:11: spec.environments.development.enabled: Input should be a "
        "valid boolean (got 'yes')",
        "flags/one/stem.yaml:4: metadata.name: 'demo' must equal the file name's stem 'stem'",
        f"flags/three/big.yaml:1: file is {MAX_FILE_BYTES + 1} bytes, larger than the "
        f"{MAX_FILE_BYTES} allowed",
        "flags/two/multi.yaml:12: spec.environments.development.variant: unknown variant "
        "'maybe' (variants: on, off)",
        "flags/two/multi.yaml:15: spec.environments.staging.rollout: rollout sums to 120, "
        "must be 100",
        "flags/two/multi.yaml:16: spec.environments.qa: environment 'qa' is not declared in "
        "Environments (development, production, staging)",
        "flags/two/syntax.yaml:1: invalid YAML: mapping values are not allowed in this context",
    ]
    assert result.stderr.splitlines()[-1] == (
        f"flaggate: 8 problem(s): 8 in {EXAMPLE_COUNT + 7} flag file(s), 0 in policies/"
    )


def test_policy_problems_are_reported_alongside_flag_problems(repo: GitRepo) -> None:
    policy = repo.root / "policies/approval-policy.yaml"
    policy.write_text(policy.read_text().replace("operator: contains", "operator: includes", 1))
    stages = repo.root / "policies/stages.yaml"
    stages.write_text(stages.read_text().replace("onTimeout: reject", "onTimeout: ignore", 1))
    repo.write("flags/new/demo.yaml", flag_yaml("demo", "    development:\n      enabled: 1\n"))
    repo.write("flags/new/other.yaml", flag_yaml("demo", DEV))
    assert problem_lines(repo.flaggate("validate")) == [
        "flags/new/demo.yaml:11: spec.environments.development.enabled: Input should be a "
        "valid boolean (got 1)",
        "flags/new/other.yaml:4: metadata.name: 'demo' must equal the file name's stem 'other'",
        f"policies/approval-policy.yaml:{line_containing(policy, 'operator: includes')}: "
        "spec.rules.0.conditions.1.operator: Input should be 'equals', 'notEquals', 'in', "
        "'notIn', 'contains', 'notContains', 'greaterThan', 'lessThan', 'regex' or 'exists' "
        "(got 'includes')",
        f"policies/stages.yaml:{line_containing(stages, 'onTimeout: ignore')}: "
        "spec.stages.2.onTimeout: Input should be 'escalate', 'reject' or 'auto-approve' "
        "(got 'ignore')",
    ]


def test_missing_policies_directory(repo: GitRepo) -> None:
    shutil.rmtree(repo.root / "policies")
    assert problem_lines(repo.flaggate("validate")) == ["policies/: no policy files found"]


def test_missing_environments_document(repo: GitRepo) -> None:
    repo.remove("policies/environments.yaml")
    assert problem_lines(repo.flaggate("validate")) == ["policies/: no Environments document found"]


def test_path_argument_validates_another_tree(make_repo: Callable[..., GitRepo]) -> None:
    here, there = make_repo(), make_repo()
    there.write("flags/x/bad.yaml", flag_yaml("bad", "    qa:\n      enabled: false\n"))
    lines = problem_lines(here.flaggate("validate", str(there.root)))
    assert lines == [
        "flags/x/bad.yaml:10: spec.environments.qa: environment 'qa' is not declared in "
        "Environments (development, production, staging)"
    ]


def test_flags_path_from_settings_is_used(repo: GitRepo) -> None:
    settings = repo.root / "policies/settings.yaml"
    settings.write_text(settings.read_text().replace("flagsPath: flags", "flagsPath: toggles"))
    repo.write("toggles/t/demo.yaml", flag_yaml("demo", "    qa:\n      enabled: false\n"))
    repo.git("mv", "flags", "old-flags")
    for path in (repo.root / "old-flags").rglob("*.yaml"):
        path.rename(path.with_suffix(".yaml.txt"))  # no FeatureFlag outside toggles/
    result = repo.flaggate("validate")
    assert problem_lines(result) == [
        "toggles/t/demo.yaml:10: spec.environments.qa: environment 'qa' is not declared in "
        "Environments (development, production, staging)"
    ]
    assert "in 1 flag file(s)" in result.stderr


# --- many files: the parallel path gives the same answer -----------------------------------

MANY = PARALLEL_THRESHOLD + 1


@pytest.fixture(scope="module")
def big_repo(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    """More than PARALLEL_THRESHOLD flag files, 3 broken ones and 1 duplicate among them."""
    repo = GitRepo(tmp_path_factory.mktemp("big") / "repo")
    repo.copy_example(flags=False)
    flags = repo.root / "flags"
    for i in range(MANY):
        directory = flags / f"g{i % 16:02d}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"f{i:05d}.yaml").write_text(flag_yaml(f"f{i:05d}", DEV))
    (flags / "g03/f00003.yaml").write_text(flag_yaml("f00003", "    qa:\n      enabled: true\n"))
    (flags / "g05/f01029.yaml").write_text(flag_yaml("wrong", DEV))
    (flags / "g13/f01997.yaml").write_text("a: [\n")
    (flags / "zz").mkdir()
    (flags / "zz/f00100.yaml").write_text(flag_yaml("f00100", DEV))
    return repo


BIG_PROBLEMS = [
    "flags/g03/f00003.yaml:10: spec.environments.qa: environment 'qa' is not declared in "
    "Environments (development, production, staging)",
    "flags/g05/f01029.yaml:4: metadata.name: 'wrong' must equal the file name's stem 'f01029'",
    "flags/g13/f01997.yaml:1: invalid YAML: did not find expected node content",
    "flags/zz/f00100.yaml: flag 'f00100' is also defined in flags/g04/f00100.yaml",
]


def test_parallel_run_reports_the_same_problems_as_a_serial_run(big_repo: GitRepo) -> None:
    serial = big_repo.flaggate("validate", "--jobs", "1")
    parallel = big_repo.flaggate("validate", "--jobs", "2")
    assert problem_lines(serial) == BIG_PROBLEMS
    assert problem_lines(parallel) == BIG_PROBLEMS
    assert parallel.stderr == serial.stderr
    assert serial.stderr.splitlines()[-1] == (
        f"flaggate: 4 problem(s): 4 in {MANY + 1} flag file(s), 0 in policies/"
    )


def test_check_flags_chunks_agree_with_one_process(big_repo: GitRepo) -> None:
    root = big_repo.root
    files = sorted((root / "flags").rglob("*.yaml"))
    assert len(files) >= PARALLEL_THRESHOLD  # so that jobs=2 takes the worker-pool path
    envs = frozenset({"development", "staging", "production"})
    serial_problems, serial_names = check_flags(root, files, envs, jobs=1)
    parallel_problems, parallel_names = check_flags(root, files, envs, jobs=2)
    assert sorted(parallel_problems) == sorted(serial_problems)
    assert len(serial_problems) == 3
    assert sorted(parallel_names) == sorted(serial_names)
    assert len(serial_names) == MANY + 1 - 3
