"""Bad input of every kind gets one clear line naming the file and line: no crash, no hang,
no raw input on the terminal. The CLI runs as a subprocess in a real git repository; a
property-based test drives the loader and the diff with generated mutations."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flaggate.diff import FlagFile, diff_flags
from flaggate.errors import ConfigError, Problem, excerpt, printable
from flaggate.model.load import load_flag, load_policies
from flaggate.yamlio import MAX_FILE_BYTES, MAX_NODES
from tests.gitrepo import EXAMPLE_FLAGS, EXAMPLE_POLICIES, GitRepo, edit, flag_yaml

CHECKOUT = "flags/checkout/checkout-redesign.yaml"
PROBLEM = re.compile(r"^[^:\s]+:\d+: \S")
POLICY_FILES = {f"policies/{p.name}": p.read_bytes() for p in EXAMPLE_POLICIES.glob("*.yaml")}
ENVIRONMENTS = frozenset({"development", "staging", "production"})


def problems_of(result_stderr: str) -> list[str]:
    return [line for line in result_stderr.splitlines() if not line.startswith("flaggate:")]


# --- ReDoS -----------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["^(a|a)+$", "^(a+)+$"])
def test_a_catastrophic_pattern_cannot_hang_the_gate(repo: GitRepo, pattern: str) -> None:
    edit(
        repo,
        "policies/approval-policy.yaml",
        "  rules:\n",
        "  rules:\n"
        "    - name: a-flags\n"
        "      conditions:\n"
        f"        - {{field: flag.key, operator: regex, value: '{pattern}'}}\n"
        "      approval: {required: false}\n",
    )
    repo.commit("a regex rule")
    name = "a" * 40 + "-"
    repo.write(f"flags/{name}.yaml", flag_yaml(name, "    production:\n      enabled: true\n"))
    result = repo.flaggate("plan", "--format", "json")  # the subprocess has a 120 s timeout
    assert result.code == 1, result.stderr
    assert result.json()["changes"][0]["rule"] == "production-changes"


def test_a_pattern_re2_cannot_take_is_a_load_error(repo: GitRepo) -> None:
    edit(
        repo,
        "policies/approval-policy.yaml",
        "operator: contains\n          value: kill-switch",
        "operator: regex\n          value: '(k)\\1'",
    )
    result = repo.flaggate("validate")
    assert result.code == 2
    lines = [p for p in problems_of(result.stderr) if "regex" in p]
    assert len(lines) == 2  # both kill-switch conditions were edited
    line = lines[0]
    assert line.startswith("policies/approval-policy.yaml:17: spec.rules.0.conditions.1: ")
    assert "invalid regex '(k)\\\\1': invalid escape sequence" in line
    assert "RE2" in line


# --- flagsPath ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/abs/path", "/", "../..", "flags/../..", ".", "C:/flags"])
def test_flags_path_must_stay_inside_the_repository(repo: GitRepo, path: str) -> None:
    edit(repo, "policies/settings.yaml", "  flagsPath: flags\n", f"  flagsPath: '{path}'\n")
    repo.commit("flags elsewhere")  # plan reads the policies of the base commit
    for args in (("validate",), ("plan",)):
        result = repo.flaggate(*args)
        assert result.code == 2, result.stdout + result.stderr
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
        assert any(
            line.startswith("policies/settings.yaml:") and "relative path" in line
            for line in result.stderr.splitlines()
        ), result.stderr


# --- freeze windows at the edges ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "zone"),
    [
        ("0001-01-01T00:00", "9999-12-31T23:59", "Etc/GMT-14"),
        ("2026-01-01T00:00", "9999-12-31T23:59", "Etc/GMT+12"),
        ("1969-12-31T00:00", "2026-01-01T00:00", "UTC"),
    ],
)
def test_freeze_windows_out_of_range_are_load_errors(
    repo: GitRepo, start: str, end: str, zone: str
) -> None:
    edit(
        repo,
        "policies/environments.yaml",
        "      riskLevel: critical\n",
        "      riskLevel: critical\n"
        f"      freeze: [{{name: a, start: '{start}', end: '{end}', timezone: {zone}}}]\n",
    )
    repo.commit("a freeze window")
    for args in (("validate",), ("plan",)):
        result = repo.flaggate(*args)
        assert result.code == 2
        assert "OverflowError" not in result.stderr and "Traceback" not in result.stderr
        assert "out of range (years 1970 to 9998)" in result.stderr


# --- file:line for every load problem ---------------------------------------------------------


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\ufffe"])
def test_control_characters_are_located(repo: GitRepo, char: str) -> None:
    text = (repo.root / CHECKOUT).read_text().replace("New single-page", f"New{char}single-page")
    (repo.root / CHECKOUT).write_text(text)
    result = repo.flaggate("validate")
    [line] = problems_of(result.stderr)
    line_no = text[: text.index(char)].count("\n") + 1
    assert line == f"{CHECKOUT}:{line_no}: character U+{ord(char):04X} is not allowed in YAML"


def test_an_oversized_environments_file_is_reported_once(repo: GitRepo) -> None:
    (repo.root / "policies/environments.yaml").write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    result = repo.flaggate("validate")
    lines = problems_of(result.stderr)
    assert lines == [
        f"policies/environments.yaml:1: file is {MAX_FILE_BYTES + 1} bytes, larger than the "
        f"{MAX_FILE_BYTES} allowed"
    ]


# --- no raw input on the terminal ----------------------------------------------------------------


def test_a_key_with_a_newline_cannot_forge_a_line(repo: GitRepo) -> None:
    text = (repo.root / CHECKOUT).read_text()
    (repo.root / CHECKOUT).write_text(
        text.replace("  tags:", '  "x\\nflags/fake.yaml:1: all good": 1\n  tags:')
    )
    result = repo.flaggate("validate")
    lines = problems_of(result.stderr)
    assert not any(line.startswith("flags/fake.yaml") for line in lines)
    [line] = lines
    assert line == f"{CHECKOUT}:7: metadata.x\\nflags/fake.yaml:1: all good: unknown key"


def test_a_key_with_a_bracket_keeps_its_location(repo: GitRepo) -> None:
    text = (repo.root / CHECKOUT).read_text()
    (repo.root / CHECKOUT).write_text(text.replace("  tags:", '  "a[0]": 1\n  tags:'))
    [line] = problems_of(repo.flaggate("validate").stderr)
    assert line == f"{CHECKOUT}:7: metadata.a[0]: unknown key"


def test_a_huge_integer_is_not_echoed_whole(repo: GitRepo) -> None:
    text = (repo.root / CHECKOUT).read_text()
    (repo.root / CHECKOUT).write_text(text.replace("on: true", "on: " + "7" * 900_000))
    result = repo.flaggate("validate")
    [line] = problems_of(result.stderr)
    assert line.startswith(f"{CHECKOUT}:10: '7777")
    assert len(line) < 300
    assert "(900002 characters) is not a valid int" in line


def test_a_huge_flow_list_says_how_many_nodes(repo: GitRepo) -> None:
    items = ",".join(["1"] * 499_000)
    repo.write("flags/big-list.yaml", f"a: [{items}]\n")
    [line] = problems_of(repo.flaggate("validate").stderr)
    nodes = f"more than {MAX_NODES} nodes (aliases count each time they are used)"
    assert line == f"flags/big-list.yaml:1: {nodes}"


def test_printable_and_excerpt() -> None:
    assert printable("a\nb\r\tc\x1b[31m\u2028") == "a\\nb\\r\\tc\\x1b[31m\\u2028"
    assert excerpt("x" * 10) == "'xxxxxxxxxx'"
    long = excerpt("y" * 1000)
    assert len(long) < 130 and long.endswith("(1002 characters)")
    assert str(Problem("a\nb.yaml", 2, "bad\x00")) == "a\\nb.yaml:2: bad\\x00"


# --- validate ------------------------------------------------------------------------------------


def test_roles_nobody_can_hold_are_warned_about(repo: GitRepo) -> None:
    edit(repo, "policies/roles.yaml", "    admin: {teams: [acme/flag-admins]}\n", "    admin: {}\n")
    edit(repo, "policies/roles.yaml", "    sre: {teams: [acme/sre]}\n", "")
    result = repo.flaggate("validate")
    assert result.code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "policies/: warning: role 'admin' (changes no rule matches) is bound to no team and "
        "no user",
        "policies/: warning: role 'sre' (the emergency bypass) has no binding in RoleBindings",
    ]


@pytest.mark.parametrize("jobs", ["0", "-1", "two"])
def test_jobs_below_one_are_refused(repo: GitRepo, jobs: str) -> None:
    result = repo.flaggate("validate", "--jobs", jobs)
    assert result.code == 2
    assert "argument --jobs" in result.stderr


def test_validate_counts_policy_problems_apart(repo: GitRepo) -> None:
    edit(repo, "policies/stages.yaml", "onTimeout: reject", "onTimeout: ignore")
    repo.write("flags/x.yaml", "a: [\n")
    result = repo.flaggate("validate")
    assert result.stderr.splitlines()[-1] == (
        "flaggate: 2 problem(s): 1 in 6 flag file(s), 1 in policies/"
    )


# --- property: the loader and the diff never crash ---------------------------------------

_FLAG = (EXAMPLE_FLAGS / "checkout" / "checkout-redesign.yaml").read_text()
_NOISE = st.sampled_from(
    [
        "\x00",
        "\n",
        ":",
        "[",
        "]",
        "{",
        "&a",
        "*a",
        "!!python/object ",
        "- ",
        "  ",
        "'",
        '"',
        "on",
        "9" * 50,
        "\t",
        "#",
        "---\n",
        "\ufeff",
        "é",
        "null",
        "~",
        "1e999",
        ".nan",
    ]
)


@st.composite
def mutated(draw: st.DrawFn, text: str) -> bytes:
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 12))
        text = text[:at] + draw(_NOISE) + text[at + cut :]
    return text.encode("utf-8", "surrogatepass")


def _located(problems: list[Problem]) -> None:
    for problem in problems:
        assert problem.line is not None or problem.path.endswith("/"), problem
        assert "\n" not in str(problem)


@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(mutated(_FLAG))
def test_flag_mutations_give_located_problems_or_a_flag(content: bytes) -> None:
    flag, problems = load_flag(CHECKOUT, content, ENVIRONMENTS)
    _located(problems)
    if flag is not None:
        base = load_flag(CHECKOUT, _FLAG.encode(), ENVIRONMENTS)[0]
        assert base is not None
        for change in diff_flags({"c": FlagFile(CHECKOUT, base)}, {"c": FlagFile(CHECKOUT, flag)}):
            assert change.environment


@settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.sampled_from(sorted(POLICY_FILES)), st.data())
def test_policy_mutations_load_or_give_located_problems(path: str, data: st.DataObject) -> None:
    files = dict(POLICY_FILES)
    files[path] = data.draw(mutated(files[path].decode()))
    try:
        load_policies(files)
    except ConfigError as exc:
        _located(exc.problems)


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "{a: .nan}"])
def test_non_finite_variant_values_are_load_errors(repo: GitRepo, value: str) -> None:
    edit(repo, CHECKOUT, "    on: true\n", f"    on: {value}\n")
    [line] = problems_of(repo.flaggate("validate").stderr)
    assert line.startswith(f"{CHECKOUT}:9: spec.variants: variant 'on': numbers must be finite")
