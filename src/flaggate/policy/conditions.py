"""Condition operators over the fields of SPEC 3.1."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flaggate.model.policy import Condition

_MISSING = object()


def read_field(facts: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` in ``facts``; ``_MISSING`` where a step is absent."""
    value: Any = facts
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


def holds(condition: Condition, facts: Mapping[str, Any]) -> bool:
    """Whether ``condition`` holds for a change described by ``facts``."""
    actual = read_field(facts, condition.field)
    return _OPERATORS[condition.operator](actual, condition.value)


def _same(a: Any, b: Any) -> bool:
    """Deep equality in which, unlike Python's, ``true`` never equals ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        return (
            isinstance(a, Mapping)
            and isinstance(b, Mapping)
            and a.keys() == b.keys()
            and all(_same(a[k], b[k]) for k in a)
        )
    if isinstance(a, list | tuple) or isinstance(b, list | tuple):
        return (
            isinstance(a, list | tuple)
            and isinstance(b, list | tuple)
            and len(a) == len(b)
            and all(_same(x, y) for x, y in zip(a, b, strict=True))
        )
    return bool(a == b)


def _equals(actual: Any, expected: Any) -> bool:
    if actual is _MISSING:
        return expected is None
    return _same(actual, expected)


def _in(actual: Any, expected: Any) -> bool:
    return actual is not _MISSING and any(_same(actual, item) for item in expected)


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list | tuple | frozenset | set):
        return any(_same(item, expected) for item in actual)
    if isinstance(actual, str) and isinstance(expected, str):
        return expected in actual
    if isinstance(actual, Mapping):
        return isinstance(expected, str) and expected in actual
    return False


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _greater(actual: Any, expected: Any) -> bool:
    a, b = _number(actual), _number(expected)
    return a is not None and b is not None and a > b


def _less(actual: Any, expected: Any) -> bool:
    a, b = _number(actual), _number(expected)
    return a is not None and b is not None and a < b


def _regex(actual: Any, expected: Any) -> bool:
    from flaggate.patterns import compiled  # RE2 is loaded by policies that use `regex` only

    pattern = compiled(expected)
    if isinstance(actual, str):
        return pattern.search(actual) is not None
    if isinstance(actual, list | tuple):
        return any(isinstance(item, str) and pattern.search(item) for item in actual)
    return False


def _exists(actual: Any, expected: Any) -> bool:
    present = actual is not _MISSING and actual is not None
    return present if expected in (None, True) else not present


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": _equals,
    "notEquals": lambda a, e: not _equals(a, e),
    "in": _in,
    "notIn": lambda a, e: not _in(a, e),
    "contains": _contains,
    "notContains": lambda a, e: not _contains(a, e),
    "greaterThan": _greater,
    "lessThan": _less,
    "regex": _regex,
    "exists": _exists,
}
