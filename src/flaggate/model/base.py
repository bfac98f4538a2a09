"""Shared model configuration: frozen, strict, unknown keys rejected."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,127}$"

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
"""A flag, stage, role or environment name."""

NonEmpty = Annotated[str, StringConstraints(min_length=1)]

StrList = Annotated[tuple[NonEmpty, ...], Field(strict=False)]
"""A YAML list of strings (lists become tuples so models stay immutable)."""


class Model(BaseModel):
    """Base of all file models: immutable, no type coercion, no unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DocumentMetadata(Model):
    """``metadata`` of a policy document."""

    name: NonEmpty
    description: str | None = None
