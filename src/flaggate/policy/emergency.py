"""The emergency bypass (SPEC 7): who may skip approval, for which incident, and why not.

The pull request's body must carry ``Incident: <ID>``, ``Severity: <SEV>`` and
``Justification: <text>`` lines in its visible text; the person who added the emergency label
(read from the issue events, not the author) must hold one of the bypass roles, and the
severity must be one the settings allow. The bypass covers what that person saw: the change
set and the incident fields when the label was added. Anything missing or changed since makes
the bypass invalid, with the reason.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from flaggate.model.settings import Emergency
from flaggate.pull.context import PullRequest

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

_FIELD = re.compile(
    r"^[ \t]*(incident|severity|justification)[ \t]*:[ \t]*(.*?)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)


@cache
def _markdown() -> MarkdownIt:
    """The CommonMark parser, built when a description is first read (it costs more to
    import than most evaluations take)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


_HIDDEN_INLINE = {"html_inline", "image"}


def visible_text(body: str) -> str:
    """The text GitHub shows of a Markdown ``body``, one line per rendered line, without what
    a reader does not see as the author's statement: HTML (comments included), fenced and
    indented code, block quotes and struck-through text."""
    lines: list[str] = []
    quoted = 0
    for token in _markdown().parse(body or ""):
        if token.type == "blockquote_open":
            quoted += 1
        elif token.type == "blockquote_close":
            quoted -= 1
        elif token.type == "inline" and quoted == 0:
            lines.append("".join(_inline_text(token.children or [])))
    return "\n".join(lines)


def _inline_text(children: list[Token]) -> Iterator[str]:
    struck = 0
    for child in children:
        if child.type == "s_open":
            struck += 1
        elif child.type == "s_close":
            struck -= 1
        elif struck or child.type in _HIDDEN_INLINE:
            continue
        elif child.type in ("softbreak", "hardbreak"):
            yield "\n"
        elif child.type in ("text", "code_inline"):
            yield child.content


@dataclass(frozen=True)
class IncidentNote:
    """What the pull request's body says about the incident."""

    incident: str | None
    severity: str | None
    justification: str | None

    @classmethod
    def parse(cls, body: str) -> IncidentNote:
        """The first ``Incident:``, ``Severity:`` and ``Justification:`` lines of the visible
        text of ``body`` (see :func:`visible_text`)."""
        found: dict[str, str] = {}
        for match in _FIELD.finditer(visible_text(body)):
            key, value = match.group(1).lower(), match.group(2).strip()
            if value and key not in found:
                found[key] = value
        severity = found.get("severity")
        return cls(
            found.get("incident"),
            severity.upper() if severity else None,
            found.get("justification"),
        )


def incident_digest(note: IncidentNote) -> str:
    """A digest of the incident fields: a bypass covers them as they were when granted."""
    fields = [note.incident, note.severity, note.justification]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Bypass:
    """An emergency-label bypass attempt and whether it holds."""

    valid: bool
    label: str
    actor: str | None
    """Who added the label (None when the events do not say)."""
    role: str | None
    """The bypass role the actor holds."""
    note: IncidentNote
    reason: str
    """Why it is invalid, or a one-line summary when valid."""


def judge_bypass(pr: PullRequest, settings: Emergency) -> Bypass | None:
    """None without the label; otherwise the bypass with its validity and reason."""
    label = settings.label
    if label not in pr.labels():
        return None
    note = IncidentNote.parse(pr.body())
    actor = pr.label_actor(label)
    role = None
    if actor is not None:
        role = next((r for r in settings.roles if pr.holds_role(actor, r)), None)
    problems = []
    if actor is None:
        problems.append(f"cannot tell who added the {label!r} label")
    elif role is None:
        problems.append(
            f"@{actor}, who added the {label!r} label, holds none of {', '.join(settings.roles)}"
        )
    if note.incident is None:
        problems.append("no `Incident: <ID>` line in the description")
    if note.severity is None:
        problems.append("no `Severity: <level>` line in the description")
    elif note.severity not in settings.severities:
        problems.append(
            f"severity {note.severity} does not allow a bypass "
            f"(only {', '.join(settings.severities)})"
        )
    if note.justification is None:
        problems.append("no `Justification: <why>` line in the description")
    if problems:
        return Bypass(
            False, label, actor, role, note, "emergency bypass refused: " + "; ".join(problems)
        )
    assert actor is not None
    stale = pr.bypass_problem(label, actor, incident_digest(note))
    if stale is not None:
        return Bypass(False, label, actor, role, note, stale)
    return Bypass(
        True,
        label,
        actor,
        role,
        note,
        f"emergency bypass by @{actor} for {note.incident} ({note.severity})",
    )
