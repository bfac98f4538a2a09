"""Shared model configuration: frozen, strict, unknown keys rejected."""

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,127}$"

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
"""A flag, stage, role or environment name."""

NonEmpty = Annotated[str, StringConstraints(min_length=1)]

StrList = Annotated[tuple[NonEmpty, ...], Field(strict=False)]
"""A YAML list of strings (lists become tuples so models stay immutable)."""


def _whole_float_to_int(value: Any) -> Any:
    # JSON Schema's `integer` admits 2.0; accept it too, so editors and flaggate agree.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_float_to_int)]
"""An integer; a whole float such as ``2.0`` is accepted as JSON Schema does."""

NonNegativeWhole = Annotated[int, Field(ge=0), BeforeValidator(_whole_float_to_int)]
PositiveWhole = Annotated[int, Field(ge=1), BeforeValidator(_whole_float_to_int)]


class Model(BaseModel):
    """Base of all file models: immutable, no type coercion, no unknown keys.

    Each model's validator is built when it first validates (``defer_build``), not when its
    class is defined: a command pays only for the documents it reads, and a model used only
    inside another (a flag's environment state, a settings section) is built as part of it."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


class DocumentMetadata(Model):
    """``metadata`` of a policy document."""

    name: NonEmpty
    description: str | None = None
