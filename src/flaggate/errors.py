"""User-facing errors: each one becomes one line of output and an exit code at the top."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EXCERPT_LIMIT = 100
"""Characters of an input value a message quotes at most."""


def printable(text: str) -> str:
    """``text`` with every character that is not printable (control characters, line
    separators, bidirectional overrides...) escaped as ``repr`` escapes it (``\\n``,
    ``\\x1b``, ``\\u202e``): quoted input can neither forge a line nor drive a terminal."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def excerpt(value: Any, limit: int = EXCERPT_LIMIT) -> str:
    """``repr`` of an input value for a message, cut to ``limit`` characters."""
    text = printable(repr(value))
    if len(text) <= limit:
        return text
    return f"{text[: limit - 3]}... ({len(text)} characters)"


@dataclass(frozen=True)
class Problem:
    """One validation problem, located in a file (and a line, and a column, where known).

    ``column`` (1-based) is carried for machine output (``validate --format json``, GitHub
    annotations); the text form stays ``path:line: message``, the form scripts, editors'
    problem matchers and pre-commit users read. ``hint`` is advice (``did you mean
    'enabled'?``) shown after the message.

    Problems sort by file, then line (one without a line first), then column, then message.
    """

    path: str
    line: int | None
    message: str
    column: int | None = None
    hint: str | None = None

    def __lt__(self, other: Problem) -> bool:
        return self._key() < other._key()

    def _key(self) -> tuple[str, int, int, str, str]:
        return (self.path, self.line or 0, self.column or 0, self.message, self.hint or "")

    @property
    def text(self) -> str:
        """The message with its hint, without the location."""
        return f"{self.message}; {self.hint}" if self.hint else self.message

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return printable(f"{where}: {self.text}")


class FlaggateError(Exception):
    """Base of every error shown to a user as one line (with an optional hint)."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return printable(f"{self.message} ({self.hint})" if self.hint else self.message)


class GitError(FlaggateError):
    """A git command failed or a ref does not exist."""


class ConfigError(FlaggateError):
    """Files or policies do not load; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in flag or policy files")
        self.problems = problems


class UsageError(FlaggateError):
    """The command line is wrong."""
