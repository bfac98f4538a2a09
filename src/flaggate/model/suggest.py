"""Did-you-mean: the closest known name to a misspelt one.

It lives with the models because the loader (the lowest layer that reports problems) uses it;
the commands use it for names given on the command line.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel

CUTOFF = 0.6
"""Similarity (difflib's ratio) a known name needs to be suggested."""


def closest(word: str, known: Iterable[str]) -> str | None:
    """The known name closest to ``word``: a close spelling, else the only known name that
    starts with it (``prod`` for ``production``); None when nothing is close or ``word`` is
    itself known."""
    names = sorted(set(known))
    if word in names:
        return None
    import difflib  # a misspelling is rare: a run without one does not import it

    match = difflib.get_close_matches(word, names, n=1, cutoff=CUTOFF)
    if match:
        return match[0]
    lowered = word.lower()
    starting = [name for name in names if lowered and name.lower().startswith(lowered)]
    if len(starting) == 1:
        return starting[0]
    folded = [name for name in names if name.lower() == lowered]
    return folded[0] if len(folded) == 1 else None


def did_you_mean(word: str, known: Iterable[str]) -> str | None:
    """``did you mean 'enabled'?`` for the closest known name, or None."""
    match = closest(word, known)
    return None if match is None else f"did you mean {match!r}?"


def field_names(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The keys a document validated by ``model`` may hold at ``loc`` (a path of keys and
    indexes, as in pydantic's errors): the fields, by the name a file spells them, of the
    model found there; empty when ``loc`` leads to no model."""
    found: list[Any] = [model]
    for step in loc:
        found = [child for parent in found for child in _children(parent, step)]
    names: list[str] = []
    for candidate in (arm for annotation in found for arm in _arms(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            for name, info in candidate.model_fields.items():
                names.append(info.alias or name)
    return names


def _children(annotation: Any, step: str | int) -> list[Any]:
    """What a value of type ``annotation`` holds at key or index ``step``."""
    results: list[Any] = []
    for arm in _arms(annotation):
        origin = typing.get_origin(arm)
        args = typing.get_args(arm)
        if isinstance(arm, type) and issubclass(arm, BaseModel):
            for name, info in arm.model_fields.items():
                if step in (name, info.alias):
                    results.append(info.annotation)
        elif origin is dict and len(args) == 2:
            results.append(args[1])
        elif origin in (list, tuple) and isinstance(step, int) and args:
            results.append(args[0])
    return results


def _arms(annotation: Any) -> list[Any]:
    """``annotation`` without ``Annotated`` wrappers, split into the arms of a union."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [arm for part in typing.get_args(annotation) for arm in _arms(part)]
    return [annotation]
