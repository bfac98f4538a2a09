"""The FeatureFlag file kind (SPEC 2)."""

import math
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from flaggate.model.base import Model, Name, NonEmpty, StrList

VariantValue = bool | str | int | float | dict[str, Any]
"""A variant's value: boolean, string, number or JSON object."""

DEFAULT_VARIANTS: dict[str, VariantValue] = {"on": True, "off": False}

ROLLOUT_TOLERANCE = 0.001


class FlagMetadata(Model):
    """Who owns a flag and what it is for; ``name`` is the flag key."""

    name: Name
    owner: str | None = None
    description: str | None = None
    tags: StrList = ()


class EnvironmentState(Model):
    """What a flag serves in one environment."""

    enabled: bool
    variant: NonEmpty | None = None
    rollout: dict[NonEmpty, Annotated[float, Field(ge=0, le=100)]] | None = None
    targeting: dict[str, Any] | None = None


class FlagSpec(Model):
    """Variants and per-environment states."""

    variants: dict[NonEmpty, VariantValue] = Field(default_factory=lambda: dict(DEFAULT_VARIANTS))
    environments: dict[Name, EnvironmentState] = Field(default_factory=dict)

    @field_validator("variants")
    @classmethod
    def _finite(cls, variants: dict[str, VariantValue]) -> dict[str, VariantValue]:
        for name, value in variants.items():
            if not _finite(value):
                raise ValueError(
                    f"variant {name!r}: numbers must be finite (no .nan or .inf): JSON, "
                    "OpenFeature and the audit log cannot carry them"
                )
        return variants


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(item) for item in value.values())
    if isinstance(value, list):
        return all(_finite(item) for item in value)
    return True


class FeatureFlag(Model):
    """One flag file."""

    apiVersion: Literal["flaggate/v1"]
    kind: Literal["FeatureFlag"]
    metadata: FlagMetadata
    spec: FlagSpec

    @property
    def key(self) -> str:
        """The flag key (``metadata.name``)."""
        return self.metadata.name


def semantic_problems(flag: FeatureFlag) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-field rules a schema cannot express, as (location, message) pairs."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    variants = flag.spec.variants
    kinds = {_value_kind(value) for value in variants.values()}
    if len(kinds) > 1:
        problems.append(
            (("spec", "variants"), f"variants mix types ({', '.join(sorted(kinds))}); use one type")
        )
    if not variants:
        problems.append((("spec", "variants"), "a flag needs at least one variant"))
    for env, state in flag.spec.environments.items():
        loc: tuple[str | int, ...] = ("spec", "environments", env)
        if state.variant is not None and state.rollout is not None:
            problems.append(((*loc, "rollout"), "`variant` and `rollout` are exclusive"))
        if state.variant is not None and state.variant not in variants:
            problems.append(
                ((*loc, "variant"), f"unknown variant {state.variant!r} ({_known(variants)})")
            )
        if state.rollout is not None:
            for name in state.rollout:
                if name not in variants:
                    problems.append(
                        ((*loc, "rollout", name), f"unknown variant {name!r} ({_known(variants)})")
                    )
            total = sum(state.rollout.values())
            if abs(total - 100) > ROLLOUT_TOLERANCE:
                problems.append(((*loc, "rollout"), f"rollout sums to {total:g}, must be 100"))
        if (
            state.enabled
            and state.variant is None
            and state.rollout is None
            and "on" not in variants
        ):
            problems.append(
                (loc, "an enabled environment needs `variant` or `rollout` (no `on` variant)")
            )
    return problems


def _value_kind(value: VariantValue) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


def _known(variants: dict[str, VariantValue]) -> str:
    return "variants: " + ", ".join(variants) if variants else "no variants declared"


__all__ = ["DEFAULT_VARIANTS", "EnvironmentState", "FeatureFlag", "FlagMetadata", "NonEmpty"]
