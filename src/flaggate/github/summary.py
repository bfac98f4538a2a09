"""The job summary and step outputs (``GITHUB_STEP_SUMMARY``, ``GITHUB_OUTPUT``)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path


def append_summary(path: Path | None, markdown: str) -> None:
    """Add Markdown to the job summary page (a no-op outside Actions)."""
    if path is None:
        return
    with path.open("a", encoding="utf-8") as stream:
        stream.write(markdown.rstrip() + "\n")


def write_outputs(path: Path | None, outputs: Mapping[str, str]) -> None:
    """Set step outputs; multi-line values use a random heredoc delimiter, as GitHub documents."""
    if path is None:
        return
    with path.open("a", encoding="utf-8") as stream:
        for name, value in outputs.items():
            delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
            stream.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
