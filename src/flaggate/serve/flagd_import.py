"""Importing a flagd flag-definition file into flaggate flag files, one environment at a time.

The flagd file (JSON, or YAML as flagd also accepts) is read with flaggate's own safe loader and
limits (:func:`flaggate.yamlio.load_documents`: 1 MiB, node and depth budgets, no duplicate
keys, a line for every problem); a ``.json`` file must first parse as strict JSON, since YAML
would also take what flagd cannot read (trailing commas, comments, ``NaN``).

Each flag becomes (or updates) ``<key>.yaml``: the variants, and the entry of the one
environment imported. Nothing is dropped silently; each flag is imported, or reported:

* a **problem** stops the whole import (nothing is written): a key that is not a flaggate flag
  name, a variant whose value conflicts with the existing file's, targeting with no
  ``defaultVariant`` and no ``off`` variant, a ``$ref`` to no evaluator, and anything flaggate's
  loader rejects in the file that would be written (every written file is loaded back with
  :func:`flaggate.model.load.load_flag` and compared with what was meant before anything is
  written);
* a **warning** is printed and the flag imported: what flaggate cannot carry exactly (metadata
  without a place in a flag file, the code default where the flag has an ``off`` variant,
  a rollout whose keyless default or bucket order differs from flaggate's export).

How flagd maps to flaggate (the inverse of :mod:`flaggate.serve.flagd`):

* ``state: ENABLED`` with ``defaultVariant: V`` -> ``enabled: true, variant: V``;
* ``targeting`` that is only ``{"fractional": [[A, wA], [B, wB]]}`` (no bucketing expression)
  -> ``rollout`` (the weights as percentages of their sum);
* any other targeting -> ``targeting``, after inlining every ``{"$ref": name}`` from
  ``$evaluators``; ``defaultVariant`` is the variant;
* ``state: DISABLED``, or no ``defaultVariant`` and no targeting -> ``enabled: false`` (exact
  without an ``off`` variant; with one, flaggate serves ``off`` where flagd serves the code
  default: a warning);
* flag ``metadata``: ``owner``, ``description`` and ``tags`` (comma-separated) fill the flag's
  metadata for a new file; other keys, and the flag-set metadata, are warnings.

Writing the flags (new files, and edits of existing ones that keep their comments) is
:mod:`flaggate.serve.flag_files`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flaggate.errors import Problem, excerpt
from flaggate.model.base import NAME_PATTERN
from flaggate.serve.flagd import WEIGHT_TOTAL, largest_share, rollout_weights
from flaggate.yamlio import (
    MAX_NODES,
    Document,
    YamlError,
    load_documents,
    read_limited,
    too_large,
)

OWN_SET_METADATA = frozenset({"environment", "sourceCommit"})
"""Flag-set metadata flaggate's export writes (not reported when importing it back)."""

_KNOWN_FLAG_KEYS = frozenset(
    {"key", "state", "variants", "defaultVariant", "targeting", "metadata"}
)
_KNOWN_TOP_KEYS = frozenset({"$schema", "flags", "$evaluators", "metadata"})
_NAME = re.compile(NAME_PATTERN)


@dataclass(frozen=True)
class ImportedFlag:
    """One flagd flag as flaggate data: its variants and the imported environment's entry."""

    key: str
    line: int | None
    """The flag's line in the flagd file."""
    variants: dict[str, Any]
    entry: dict[str, Any]
    owner: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()


@dataclass
class Conversion:
    """What a flagd file holds: the flags that convert, and every problem and warning."""

    source: str
    keys: list[str] = field(default_factory=list)
    """Every flag key in the file, in file order."""
    flags: list[ImportedFlag] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    environment: str | None = None
    """The ``environment`` of the flag-set metadata (flaggate's own exports carry it)."""

    def problem(self, line: int | None, key: str | None, message: str) -> None:
        """Record a problem (of flag ``key``, where there is one)."""
        self.problems.append(Problem(self.source, line, about(key, message)))

    def warn(self, line: int | None, key: str | None, message: str) -> None:
        """Record a warning (of flag ``key``, where there is one)."""
        self.warnings.append(Problem(self.source, line, "warning: " + about(key, message)))

    def reported(self) -> set[str]:
        """The keys of the flags that did not convert."""
        converted = {flag.key for flag in self.flags}
        return {key for key in self.keys if key not in converted}


def about(key: str | None, message: str) -> str:
    """``message`` about flag ``key`` (or about the file, when there is no key)."""
    return f"flag {key!r}: {message}" if key is not None else message


# --------------------------------------------------------------------------- reading


def read_flagd(path: Path, source: str) -> tuple[Document | None, list[Problem]]:
    """The one document of a flagd file, read with flaggate's limits; or the problems."""
    try:
        content = read_limited(path)
    except OSError as exc:
        return None, [Problem(source, None, f"cannot read: {exc.strerror}")]
    if isinstance(content, int):
        return None, [Problem(source, 1, too_large(content))]
    if path.suffix.lower() == ".json":
        problem = _json_problem(content, source)
        if problem is not None:
            return None, [problem]
        content = _yaml_escapes(content)
    try:
        documents = load_documents(content)
    except YamlError as exc:
        return None, [Problem(source, exc.line, exc.message)]
    if len(documents) != 1:
        return None, [
            Problem(source, 1, f"a flagd file holds one document, found {len(documents)}")
        ]
    if not isinstance(documents[0].data, dict):
        return None, [Problem(source, documents[0].line, "a flagd file must be an object")]
    return documents[0], []


def _json_problem(content: bytes, source: str) -> Problem | None:
    """Why a ``.json`` file is not JSON (YAML, which reads the file next, would also take
    trailing commas, comments or ``NaN`` as a string); None when it is, or when it is not
    UTF-8 (the YAML loader says so, with the line)."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        return Problem(source, exc.lineno, f"invalid JSON: {exc.msg}")
    except ValueError as exc:
        return Problem(source, None, f"invalid JSON: {exc}")
    except RecursionError:
        return Problem(source, None, "invalid JSON: nested too deeply")
    return None


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


_SURROGATE_PAIR = re.compile(
    r"(?<!\\)((?:\\\\)*)\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE
)


def _yaml_escapes(content: bytes) -> bytes:
    """JSON writes a character beyond U+FFFF as two escaped surrogates (``\\ud83d\\ude00``);
    YAML spells it ``\\U0001f600`` and rejects the pair."""

    def joined(match: re.Match[str]) -> str:
        high, low = int(match[2], 16), int(match[3], 16)
        code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        return f"{match[1]}\\U{code:08x}"

    text = content.decode("utf-8")
    return _SURROGATE_PAIR.sub(joined, text).encode() if "\\u" in text else content


def convert(document: Document, source: str) -> Conversion:
    """Every flag of a flagd document as flaggate data, with problems and warnings."""
    data: dict[str, Any] = document.data
    result = Conversion(source)
    for key in sorted(set(data) - _KNOWN_TOP_KEYS, key=str):
        line = document.line_of((key,))
        result.warn(line, None, f"top-level key {excerpt(key)} is not imported")
    _set_metadata(document, result)
    evaluators = data.get("$evaluators", {})
    if not isinstance(evaluators, dict):
        result.problem(document.line_of(("$evaluators",)), None, "$evaluators must be an object")
        evaluators = {}
    for key, flag, loc in _flags(document, result):
        result.keys.append(key)
        converted = _Flag(result, key, document.line_of(loc), evaluators).convert(flag)
        if converted is not None:
            result.flags.append(converted)
    return result


def _set_metadata(document: Document, result: Conversion) -> None:
    metadata = document.data.get("metadata")
    if metadata is None:
        return
    line = document.line_of(("metadata",))
    if not isinstance(metadata, dict):
        result.warn(line, None, "flag-set metadata is not an object: not imported")
        return
    environment = metadata.get("environment")
    if isinstance(environment, str):
        result.environment = environment
    for key, value in metadata.items():
        if key not in OWN_SET_METADATA:
            result.warn(
                document.line_of(("metadata", key)),
                None,
                f"flag-set metadata {excerpt(key)} ({excerpt(value)}) has no place in flaggate: "
                "not imported",
            )


def _flags(document: Document, result: Conversion) -> Iterable[tuple[str, Any, tuple[Any, ...]]]:
    """(key, flag, location) of every flag, from the map form or flagd's array form."""
    flags = document.data.get("flags")
    if isinstance(flags, dict):
        for key, flag in flags.items():
            yield str(key), flag, ("flags", key)
    elif isinstance(flags, list):
        seen: set[str] = set()
        for index, flag in enumerate(flags):
            loc = ("flags", index)
            key = flag.get("key") if isinstance(flag, dict) else None
            if not isinstance(key, str) or not key:
                result.problem(document.line_of(loc), None, f"flags[{index}] has no `key`")
                continue
            if key in seen:
                result.problem(document.line_of(loc), key, "defined twice")
                continue
            seen.add(key)
            yield key, flag, loc
    else:
        result.problem(document.line_of(("flags",)), None, "`flags` must be an object or a list")


# --------------------------------------------------------------------------- converting


@dataclass
class _Flag:
    """Converts one flag, reporting into ``result``."""

    result: Conversion
    key: str
    line: int | None
    evaluators: Mapping[str, Any]
    problems: int = 0

    def problem(self, message: str) -> None:
        self.problems += 1
        self.result.problem(self.line, self.key, message)

    def warn(self, message: str) -> None:
        self.result.warn(self.line, self.key, message)

    def convert(self, flag: Any) -> ImportedFlag | None:
        if not isinstance(flag, dict):
            self.problem("must be an object")
            return None
        if not _NAME.fullmatch(self.key):
            self.problem(
                "is not a flaggate flag name (lower-case letters, digits, '.', '_' and '-', "
                "starting with a letter or digit, at most 128 characters)"
            )
        for unknown in sorted(set(flag) - _KNOWN_FLAG_KEYS, key=str):
            self.warn(f"{excerpt(unknown)} is not imported")
        state = flag.get("state")
        if state not in ("ENABLED", "DISABLED"):
            self.problem(f"state must be ENABLED or DISABLED (got {excerpt(state)})")
        variants = flag.get("variants")
        if not isinstance(variants, dict) or not variants:
            self.problem("needs at least one variant")
            variants = {}
        default = self._default(flag.get("defaultVariant"))
        targeting = self._targeting(flag.get("targeting"))
        owner, description, tags = self._metadata(flag.get("metadata"))
        entry = self._entry(state == "ENABLED", variants, default, targeting)
        if self.problems:
            return None
        return ImportedFlag(self.key, self.line, dict(variants), entry, owner, description, tags)

    def _default(self, default: Any) -> str | None:
        if default is None or default == "":
            return None
        if isinstance(default, bool):  # flagd reads a boolean default as its name
            return "true" if default else "false"
        if not isinstance(default, str):
            self.problem(f"defaultVariant must be a variant name (got {excerpt(default)})")
            return None
        return default

    def _targeting(self, targeting: Any) -> dict[str, Any] | None:
        if targeting is None or targeting == {}:
            return None
        if not isinstance(targeting, dict):
            self.problem(f"targeting must be an object (got {excerpt(targeting)})")
            return None
        try:
            inlined = _Inliner(self.evaluators).inline(targeting, ())
        except _InlineError as exc:
            self.problem(str(exc))
            return None
        assert isinstance(inlined, dict)
        return inlined

    def _metadata(self, metadata: Any) -> tuple[str | None, str | None, tuple[str, ...]]:
        owner: str | None = None
        description: str | None = None
        tags: tuple[str, ...] = ()
        if metadata is None:
            return owner, description, tags
        if not isinstance(metadata, dict):
            self.warn("metadata is not an object: not imported")
            return owner, description, tags
        for key, value in metadata.items():
            if key == "owner" and isinstance(value, str) and value:
                owner = value
            elif key == "description" and isinstance(value, str):
                description = value
            elif key == "tags" and isinstance(value, str):
                tags = tuple(dict.fromkeys(t.strip() for t in value.split(",") if t.strip()))
            else:
                self.warn(
                    f"metadata {excerpt(key)} ({excerpt(value)}) has no place in a flaggate "
                    "flag: not imported"
                )
        return owner, description, tags

    def _entry(
        self,
        enabled: bool,
        variants: Mapping[str, Any],
        default: str | None,
        targeting: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """The environment entry serving what the flagd flag serves."""
        off = f"variant 'off' ({excerpt(variants.get('off'))})"
        rollout = _rollout(targeting, variants) if targeting is not None else None
        shape: dict[str, Any] = {}
        if rollout is not None:
            percentages, exact = rollout
            shape["rollout"] = percentages
            keyless = largest_share(percentages)
            if enabled and default != keyless:
                was = f"defaultVariant {default!r}" if default else "the application's default"
                self.warn(
                    f"a request without a targeting key gets {keyless!r} (the rollout's "
                    f"largest share) where flagd serves {was}"
                )
            if enabled and not exact:
                self.warn(
                    "the fractional buckets are not in flaggate's order (variants sorted by "
                    f"name, weights out of {WEIGHT_TOTAL}): the shares are kept, but some "
                    "targeting keys will get another variant"
                )
        elif targeting is not None:
            shape["targeting"] = targeting
            if default is not None:
                shape["variant"] = default
            elif not enabled:
                pass  # served only once enabled, and then it needs a variant (flaggate says so)
            elif "off" in variants:
                shape["variant"] = "off"
                self.warn(
                    "when the targeting returns no variant, flagd serves the application's "
                    f"default (no defaultVariant); flaggate serves {off}"
                )
            else:
                self.problem(
                    "targeting with no defaultVariant: flaggate needs a variant to serve when "
                    "the targeting returns none (set defaultVariant)"
                )
        elif default is not None:
            shape["variant"] = default
        if not enabled:
            if "off" in variants:
                self.warn(
                    "state DISABLED: flagd serves the application's default; flaggate's "
                    f"`enabled: false` serves {off}"
                )
            return {"enabled": False, **shape}
        if not shape:
            if "off" in variants:
                self.warn(
                    "no defaultVariant: flagd serves the application's default; imported as "
                    f"`enabled: false`, which serves {off}"
                )
            return {"enabled": False}
        return {"enabled": True, **shape}


def _rollout(
    targeting: Mapping[str, Any], variants: Mapping[str, Any]
) -> tuple[dict[str, float | int], bool] | None:
    """The rollout a ``fractional``-only targeting is, and whether flaggate's export buckets
    targeting keys exactly as it does; None when it is anything more."""
    if set(targeting) != {"fractional"}:
        return None
    buckets = targeting["fractional"]
    if not isinstance(buckets, list) or not buckets:
        return None
    weights: dict[str, int] = {}
    order: list[str] = []
    for bucket in buckets:
        if not isinstance(bucket, list) or not 1 <= len(bucket) <= 2:
            return None  # a bucketing expression, or a computed bucket: stays targeting
        name = bucket[0]
        weight = bucket[1] if len(bucket) == 2 else 1
        if not isinstance(name, str) or name not in variants:
            return None
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            return None
        weights[name] = weights.get(name, 0) + weight
        order.append(name)
    total = sum(weights.values())
    if total <= 0:
        return None
    percentages = {name: _percent(weight, total) for name, weight in weights.items()}
    scaled = [(name, weights[name] * WEIGHT_TOTAL / total) for name in sorted(weights)]
    exact = order == sorted(weights) and rollout_weights(percentages) == scaled
    return percentages, exact


def _percent(weight: int, total: int) -> float | int:
    value = round(weight * 100 / total, 6)
    return int(value) if value.is_integer() else value


class _InlineError(Exception):
    pass


@dataclass
class _Inliner:
    """Replaces every ``{"$ref": name}`` by the ``$evaluators`` rule, under a node budget
    (rules referring to rules could otherwise grow exponentially)."""

    evaluators: Mapping[str, Any]
    nodes: int = 0

    def inline(self, rule: Any, stack: tuple[str, ...]) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _InlineError(f"targeting expands to more than {MAX_NODES} nodes")
        if isinstance(rule, dict):
            ref = rule.get("$ref")
            if len(rule) == 1 and isinstance(ref, str):
                if ref in stack:
                    raise _InlineError(f"$ref {ref!r} refers to itself")
                if ref not in self.evaluators:
                    known = ", ".join(sorted(map(str, self.evaluators))) or "none"
                    raise _InlineError(f"$ref {ref!r} names no evaluator ($evaluators: {known})")
                return self.inline(self.evaluators[ref], (*stack, ref))
            return {key: self.inline(value, stack) for key, value in rule.items()}
        if isinstance(rule, list):
            return [self.inline(item, stack) for item in rule]
        return rule
