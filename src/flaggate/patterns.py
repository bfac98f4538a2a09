"""Regular expressions of the ``regex`` operator, matched in linear time.

The pattern comes from the base policies but the text it is matched against (a flag key, a
variant) comes from the pull request: a backtracking engine would let a pull request hang
the gate on a pattern like ``^(a|a)+$``. RE2 guarantees time linear in the input; patterns
it cannot take (backreferences, look-around) are load errors.
"""

from __future__ import annotations

from functools import cache
from typing import Protocol

import re2


class Pattern(Protocol):
    """The part of a compiled pattern the operator uses."""

    def search(self, text: str) -> object | None: ...


_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print its own parse errors to stderr


class PatternError(ValueError):
    """A pattern RE2 cannot compile; the message says why."""


@cache
def compiled(pattern: str) -> Pattern:
    """``pattern`` compiled by RE2; raise :class:`PatternError` when it cannot be."""
    try:
        result: Pattern = re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        raise PatternError(text) from None
    return result
