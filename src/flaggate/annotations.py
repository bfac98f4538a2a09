"""GitHub Actions workflow commands: problems shown as annotations on a pull request's lines.

A line such as ``::error file=flags/a.yaml,line=12,col=7,title=flaggate::unknown key`` in a
step's output becomes an annotation on that line of the file, in the pull request's "Files
changed" tab and in the run's summary. The escaping follows GitHub's toolkit
(``@actions/core``, ``command.ts``): in the message ``%``, CR and LF are percent-encoded; in
property values ``:`` and ``,`` as well.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Literal

from flaggate.errors import Problem, printable

TITLE = "flaggate"

Level = Literal["error", "warning", "notice"]


def in_github_actions(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process runs as a GitHub Actions step (``GITHUB_ACTIONS=true``)."""
    return (os.environ if environ is None else environ).get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF percent-encoded; any other character
    that is not printable (an escape sequence, a bidirectional override) escaped as
    :func:`flaggate.errors.printable` does, so input can drive neither the log nor a terminal."""
    visible = "".join(char if char in "\r\n" else printable(char) for char in text)
    return visible.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as :func:`escape_data`, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(
    level: Level,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    column: int | None = None,
) -> str:
    """One workflow command line, e.g. ``::error file=a.yaml,line=3,title=flaggate::bad``.

    ``line`` is given only with ``file`` and ``column`` only with ``line``, as GitHub
    reads them."""
    properties: list[tuple[str, str]] = []
    if file is not None:
        properties.append(("file", file))
        if line is not None:
            properties.append(("line", str(line)))
            if column is not None:
                properties.append(("col", str(column)))
    properties.append(("title", TITLE))
    joined = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    return f"::{level} {joined}::{escape_data(message)}"


def problem_command(problem: Problem, prefix: str = "", level: Level = "error") -> str:
    """The annotation of one problem; ``prefix`` is prepended to its path (the folder of the
    repository the path is relative to, as seen from the workspace).

    A path naming a folder (``policies/``) annotates no file: GitHub shows such an annotation
    in the run's summary only."""
    path = prefix + problem.path
    if path.endswith("/"):
        return command(level, f"{path}: {problem.text}")
    return command(level, problem.text, file=path, line=problem.line, column=problem.column)


def problem_commands(problems: Iterable[Problem], prefix: str = "") -> list[str]:
    """One ``::error`` line per problem."""
    return [problem_command(problem, prefix) for problem in problems]
