"""The safe YAML 1.2 loader: core-schema typing, rejected inputs, limits and line numbers."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from flaggate.yamlio import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    YamlError,
    load_documents,
)


def load_one(text: str | bytes) -> Any:
    documents = load_documents(text)
    assert len(documents) == 1, documents
    return documents[0].data


def value_of(scalar: str) -> Any:
    """The value YAML gives ``scalar`` written as a plain mapping value."""
    return load_one(f"v: {scalar}\n")["v"]


def rejected(text: str | bytes) -> YamlError:
    with pytest.raises(YamlError) as info:
        load_documents(text)
    return info.value


# --- YAML 1.2 core schema -------------------------------------------------------------------


@pytest.mark.parametrize(
    "scalar",
    [
        # YAML 1.1 booleans: the "Norway problem" must not happen.
        "on", "off", "On", "OFF", "yes", "no", "Yes", "NO", "y", "n", "Y", "N",
        # Not a core boolean spelling.
        "TrUe", "fALSE",
        # YAML 1.1 timestamps stay strings.
        "2026-01-01", "2026-12-20T00:00", "2026-01-01T00:00:00Z", "2001-12-14 21:59:43.10 -5",
        # YAML 1.1 sexagesimal, binary, underscores and `=` are not core numbers.
        "12:30", "190:20:30", "0b101", "1_000", "=",
        # Core ints are unsigned in hex/octal form; malformed numbers stay strings.
        "-0x1", "+0o7", "0o8", "0xG", "1e", "1.2.3", "inf", "nan", "-.nan", ".infinity",
        # null only in its four spellings.
        "none", "None", "nil", "NuLL",
    ],
)  # fmt: skip
def test_scalars_that_stay_strings(scalar: str) -> None:
    value = value_of(scalar)
    assert value == scalar
    assert type(value) is str


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        ("true", True), ("True", True), ("TRUE", True),
        ("false", False), ("False", False), ("FALSE", False),
        ("!!bool true", True),
    ],
)  # fmt: skip
def test_booleans(scalar: str, expected: bool) -> None:
    assert value_of(scalar) is expected


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        ("0", 0), ("-0", 0), ("+1", 1), ("42", 42), ("-17", -17),
        ("010", 10),  # YAML 1.1 read this as octal 8
        ("0o17", 15), ("0o0", 0), ("0x1F", 31), ("0xff", 255), ("0xABCDEF", 0xABCDEF),
        ("123456789012345678901234567890", 123456789012345678901234567890),
        ("!!int 7", 7),
    ],
)  # fmt: skip
def test_integers(scalar: str, expected: int) -> None:
    value = value_of(scalar)
    assert value == expected
    assert type(value) is int


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        ("1.5", 1.5), ("-2.5e3", -2500.0), ("1e3", 1000.0), ("1E-2", 0.01), (".5", 0.5),
        ("1.", 1.0), ("+0.25", 0.25), ("0.0", 0.0), ("!!float 1", 1.0),
        (".inf", math.inf), ("+.inf", math.inf), (".Inf", math.inf), (".INF", math.inf),
        ("-.inf", -math.inf), ("-.Inf", -math.inf), ("-.INF", -math.inf),
    ],
)  # fmt: skip
def test_floats(scalar: str, expected: float) -> None:
    value = value_of(scalar)
    assert value == expected
    assert type(value) is float


@pytest.mark.parametrize("scalar", [".nan", ".NaN", ".NAN"])
def test_nan(scalar: str) -> None:
    value = value_of(scalar)
    assert type(value) is float
    assert math.isnan(value)


@pytest.mark.parametrize("scalar", ["~", "null", "Null", "NULL", "", "!!null ''"])
def test_nulls(scalar: str) -> None:
    assert value_of(scalar) is None


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        ("'true'", "true"), ('"on"', "on"), ("'1'", "1"), ("'0x10'", "0x10"), ("'null'", "null"),
        ("!!str 1", "1"), ("!!str true", "true"), ("!!str", ""), ("'it''s'", "it's"),
        ('"tab\\there"', "tab\there"), ("'.inf'", ".inf"),
    ],
)  # fmt: skip
def test_quoted_and_str_tagged_scalars_are_strings(scalar: str, expected: str) -> None:
    assert value_of(scalar) == expected


def test_norway_flag_variants_keep_their_names() -> None:
    data = load_one("variants:\n  on: true\n  off: false\n  yes: 1\n  no: 0\n  NO: country\n")
    assert data == {"variants": {"on": True, "off": False, "yes": 1, "no": 0, "NO": "country"}}
    assert all(type(key) is str for key in data["variants"])


def test_merge_key_is_an_ordinary_string_key() -> None:
    data = load_one("base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n")
    assert data == {"base": {"x": 1}, "derived": {"<<": {"x": 1}, "y": 2}}


def test_yaml_11_directive_does_not_switch_to_yaml_11_typing() -> None:
    assert load_one("%YAML 1.1\n---\na: on\nb: yes\n") == {"a": "on", "b": "yes"}


def test_anchors_and_aliases_within_budget_are_expanded() -> None:
    data = load_one("defaults: &d {enabled: true, variant: on}\ndev: *d\nprod: *d\n")
    assert data["dev"] == data["prod"] == {"enabled": True, "variant": "on"}


def test_utf8_bom_and_non_ascii_text_are_accepted() -> None:
    assert load_one("\ufeffowner: Jörg 🚀\n".encode()) == {"owner": "Jörg 🚀"}


# --- documents ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("# only a comment\n", []),
        ("---\n---\na: 1\n", [(None, 2), ({"a": 1}, 3)]),  # an empty document is null
        ("a: 1\n", [({"a": 1}, 1)]),
        ("a: 1\n---\n- x\n---\nplain\n", [({"a": 1}, 1), (["x"], 3), ("plain", 5)]),
        ("---\na: 1\n---\n\n# c\nb: 2\n", [({"a": 1}, 2), ({"b": 2}, 6)]),
        ("a: 1\n...\n---\nb: 2\n", [({"a": 1}, 1), ({"b": 2}, 4)]),
    ],
)
def test_multiple_documents_with_their_first_line(
    text: str, expected: list[tuple[Any, int]]
) -> None:
    assert [(doc.data, doc.line) for doc in load_documents(text)] == expected


def test_problem_in_a_later_document_has_the_stream_line() -> None:
    error = rejected("a: 1\n---\nb: 2\nb: 3\n")
    assert (error.line, error.message) == (4, "duplicate key 'b'")


# --- rejected input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("a: 1\nb: 2\na: 3\n", 3, "duplicate key 'a'"),
        ("spec:\n  x: 1\n  y:\n    z: 1\n    z: 2\n", 5, "duplicate key 'z'"),
        ("{a: 1, b: 2, a: 3}\n", 1, "duplicate key 'a'"),
        ("a: 1\n'a': 2\n", 2, "duplicate key 'a'"),
        ('a: 1\n"a": 2\n', 2, "duplicate key 'a'"),
        ("0x1: a\n1: b\n", 2, "duplicate key 1"),
        ("- {k: 1}\n- {k: 1, k: 2}\n", 2, "duplicate key 'k'"),
    ],
)
def test_duplicate_keys_are_rejected_at_the_second_key(text: str, line: int, fragment: str) -> None:
    error = rejected(text)
    assert error.line == line
    assert fragment in error.message


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("a: !!python/object/apply:os.system ['echo pwned']\n", 1, "python/object/apply:os.system"),
        ("x: 1\na: !!python/name:os.system\n", 2, "python/name:os.system"),
        ("a: !!python/object/new:builtins.dict {}\n", 1, "python/object/new:builtins.dict"),
        ("!!python/tuple [1, 2]\n", 1, "python/tuple"),
        ("x: 1\na: !foo bar\n", 2, "'!foo'"),
        ("a: !foo [1]\n", 1, "'!foo'"),
        ("a: !foo {b: 1}\n", 1, "'!foo'"),
        ("a: !<tag:example.com,2000:x> 1\n", 1, "tag:example.com,2000:x"),
        ("a: !!timestamp 2020-01-01\n", 1, "timestamp"),
        ("a: !!binary aGk=\n", 1, "binary"),
        ("a:\n  b: !!set {x, y}\n", 2, "set"),
        ("a: !!omap [{x: 1}]\n", 1, "omap"),
        ("a: !!pairs [{x: 1}]\n", 1, "pairs"),
    ],
)
def test_tags_that_construct_objects_are_rejected(text: str, line: int, fragment: str) -> None:
    error = rejected(text)
    assert error.line == line
    assert "is not allowed" in error.message
    assert fragment in error.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a: !!int x\n", "'x' is not a valid int"),
        ("a: !!int 1.5\n", "'1.5' is not a valid int"),
        ("a: !!bool yes\n", "'yes' is not a valid bool"),
        ("a: !!float abc\n", "'abc' is not a valid float"),
        ("a: !!null x\n", "'x' is not a valid null"),
    ],
)
def test_core_tags_with_values_they_cannot_hold(text: str, fragment: str) -> None:
    error = rejected(text)
    assert (error.line, fragment in error.message) == (1, True), error.message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("? [a, b]\n: 1\n", 1),
        ("{a: 1}: 2\n", 1),
        ("ok: 1\n? {a: 1}\n: x\n", 2),
        ("ok: 1\nnested:\n  ? - x\n  : y\n", 3),
    ],
)
def test_non_scalar_keys_are_rejected(text: str, line: int) -> None:
    error = rejected(text)
    assert (error.line, error.message) == (line, "mapping keys must be plain values")


def _alias_bomb(levels: int = 9, width: int = 9) -> str:
    names = [f"l{i}" for i in range(levels)]
    lines = [f"{names[0]}: &{names[0]} [" + ", ".join(['"lol"'] * width) + "]"]
    for previous, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_rejected() -> None:
    error = rejected(_alias_bomb())
    assert f"more than {MAX_NODES} nodes" in error.message
    assert "more than 100000 nodes" in error.message
    assert error.line is not None and 1 <= error.line <= 9


@pytest.mark.parametrize(
    "text",
    ["a: &x [*x]\n", "&x {b: *x}\n", "a: &x\n  b:\n    - *x\n", "- &x [1, [2, *x]]\n"],
)
def test_recursive_aliases_are_rejected(text: str) -> None:
    error = rejected(text)
    assert "nesting deeper than" in error.message or "recursive" in error.message


def test_undefined_alias_is_rejected() -> None:
    error = rejected("a: 1\nb: *nope\n")
    assert (error.line, "undefined alias" in error.message) == (2, True)


def _nested_lists(levels: int) -> str:
    return "[" * levels + "1" + "]" * levels + "\n"


def _nested_maps(levels: int) -> str:
    lines = ["  " * i + f"k{i}:" for i in range(levels)]
    return "\n".join([*lines, "  " * levels + "leaf"]) + "\n"


@pytest.mark.parametrize("make", [_nested_lists, _nested_maps])
def test_nesting_up_to_max_depth_is_accepted(make: Any) -> None:
    assert load_documents(make(MAX_DEPTH))


def test_nesting_deeper_than_max_depth_is_rejected_at_the_deep_node() -> None:
    error = rejected(_nested_maps(MAX_DEPTH + 1))
    assert error.message == f"nesting deeper than {MAX_DEPTH} levels"
    assert error.line == MAX_DEPTH + 2  # the leaf, below the MAX_DEPTH + 1 keys


def test_flow_nesting_deeper_than_max_depth_is_rejected() -> None:
    error = rejected(_nested_lists(MAX_DEPTH + 1))
    assert (error.line, error.message) == (1, f"nesting deeper than {MAX_DEPTH} levels")


def test_node_budget_boundary() -> None:
    # A root sequence of n scalars is 1 + n nodes.
    assert len(load_one("[" + ",".join(["1"] * (MAX_NODES - 1)) + "]")) == MAX_NODES - 1
    error = rejected("[" + ",".join(["1"] * MAX_NODES) + "]")
    assert f"more than {MAX_NODES} nodes" in error.message


def test_file_of_exactly_max_bytes_is_accepted() -> None:
    assert load_documents(b"#" * MAX_FILE_BYTES) == []


def test_file_over_max_bytes_is_rejected_before_parsing() -> None:
    # Invalid YAML: if the parser ran first, the message would be a syntax error.
    error = rejected(b"[" * (MAX_FILE_BYTES + 1))
    assert error.message == (
        f"file is {MAX_FILE_BYTES + 1} bytes, larger than the {MAX_FILE_BYTES} allowed"
    )


def test_text_over_max_bytes_when_encoded_is_rejected() -> None:
    """``str`` input is measured in UTF-8 bytes too (the limit is MAX_FILE_BYTES)."""
    text = "# " + "é" * (MAX_FILE_BYTES // 2)  # ~0.5 Mi characters, > 1 MiB as UTF-8
    assert len(text.encode()) > MAX_FILE_BYTES
    error = rejected(text)
    assert f"larger than the {MAX_FILE_BYTES} allowed" in error.message


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"a: \xff\n", "at byte 3"),
        (b"a: ok\nb: \xc3\x28\n", "at byte 9"),
        (b"\xfe\xff\x00a", "at byte 0"),
    ],
)
def test_invalid_utf8_is_rejected(content: bytes, fragment: str) -> None:
    error = rejected(content)
    assert error.message.startswith("not UTF-8 text")
    assert fragment in error.message


def test_invalid_utf8_is_reported_with_its_line() -> None:
    """SPEC 2: every loading violation carries file AND line; the bad byte is on line 2."""
    error = rejected(b"a: ok\nb: \xc3\x28\n")
    assert error.line == 2


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("a: b: c\n", 1, "mapping values are not allowed"),
        ("a: 1\n\tb: 2\n", 2, "tab"),
        ("a: 1\nb:\n  - x\n - y\n", 4, "did not find expected key"),
        ("a: 1\n}\n", 2, "did not find expected key"),
        ("a: 1\n- b\n", 2, "did not find expected key"),
        ('a: 1\nb: "\\q"\n', 2, "unknown escape character"),
        ("a: 1\n%FOO\n---\n", 2, "unknown directive"),
    ],
)
def test_syntax_errors_carry_the_line(text: str, line: int, fragment: str) -> None:
    error = rejected(text)
    assert error.message.startswith("invalid YAML: ")
    assert fragment in error.message
    assert error.line == line


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: [1, 2\n", 1),  # the flow sequence opened on line 1 is never closed
        ("ok: 1\nkey: 'unterminated\n", 2),  # the quoted scalar starts on line 2
        ("x: 1\nx\n", 2),  # the key without ':' is on line 2
    ],
)
def test_errors_found_at_end_of_stream_point_into_the_file(text: str, line: int) -> None:
    """An error detected at end of input must not name a line past the file's last line."""
    error = rejected(text)
    assert error.message.startswith("invalid YAML: ")
    assert error.line is not None
    assert error.line <= text.count("\n"), f"line {error.line} is past the end of the file"
    assert error.line == line


# --- Document.line_of -----------------------------------------------------------------------

LINES_DOC = """\
apiVersion: flaggate/v1
spec:
  environments:
    prod:
      enabled: true
      rollout:
        on: 50
        off: 50
  list:
    - a
    - name: b
      x: 1
  flow: {p: [10, {q: 2}]}
  "quoted key": 3
  7: seven
"""


@pytest.mark.parametrize(
    ("loc", "line"),
    [
        ((), 1),
        (("apiVersion",), 1),
        (("spec",), 2),
        (("spec", "environments"), 3),
        (("spec", "environments", "prod"), 4),
        (("spec", "environments", "prod", "enabled"), 5),
        (("spec", "environments", "prod", "rollout", "off"), 8),
        (("spec", "list"), 9),
        (("spec", "list", 0), 10),
        (("spec", "list", 1), 11),
        (("spec", "list", 1, "x"), 12),
        (("spec", "flow", "p", 1, "q"), 13),
        (("spec", "quoted key"), 14),
        (("spec", 7), 15),
        # Unknown steps are skipped: the deepest reachable node's line.
        (("spec", "nope"), 2),
        (("spec", "list", 5), 9),
        (("spec", "list", "x"), 9),
        (("spec", "environments", "prod", "missing", "deeper"), 4),
        (("spec", "environments", "prod", "enabled", "below-a-scalar"), 5),
    ],
)
def test_line_of_nested_paths(loc: tuple[str | int, ...], line: int) -> None:
    (document,) = load_documents(LINES_DOC)
    assert document.line_of(loc) == line


def test_line_of_in_a_later_document_counts_from_the_stream_start() -> None:
    first, second = load_documents("a: 1\n---\nspec:\n  items:\n    - x\n    - y\n")
    assert first.line_of(("a",)) == 1
    assert second.line_of(("spec", "items", 1)) == 6
