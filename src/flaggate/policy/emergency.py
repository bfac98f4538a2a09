"""The emergency bypass (SPEC 7): who may skip approval, for which incident, and why not.

The pull request's body must carry ``Incident: <ID>``, ``Severity: <SEV>`` and
``Justification: <text>`` lines; the person who added the emergency label (read from the
issue events, not the author) must hold one of the bypass roles, and the severity must be one
the settings allow. Anything missing makes the bypass invalid, with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flaggate.model.settings import Emergency
from flaggate.pull.context import PullRequest

_FIELD = re.compile(
    r"^[ \t>*_-]*(incident|severity|justification)[*_]*[ \t]*:[*_]*[ \t]*(.*?)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class IncidentNote:
    """What the pull request's body says about the incident."""

    incident: str | None
    severity: str | None
    justification: str | None

    @classmethod
    def parse(cls, body: str) -> IncidentNote:
        """The first ``Incident:``, ``Severity:`` and ``Justification:`` lines of ``body``."""
        found: dict[str, str] = {}
        for match in _FIELD.finditer(body or ""):
            # `**Severity: SEV1**`: emphasis around the whole line is not part of the value.
            key, value = match.group(1).lower(), match.group(2).strip().rstrip("*_").strip()
            if value and key not in found:
                found[key] = value
        severity = found.get("severity")
        return cls(
            found.get("incident"),
            severity.upper() if severity else None,
            found.get("justification"),
        )


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
    return Bypass(
        True,
        label,
        actor,
        role,
        note,
        f"emergency bypass by @{actor} for {note.incident} ({note.severity})",
    )
