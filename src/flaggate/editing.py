"""Editing flag files as a person would: only the lines that change are rewritten.

ruamel.yaml's round-trip mode reads the file (comments, key order, quoting and flow or block
style kept) and writes the edited document. Its output is then used only for the keys the edit
touches: every other line is taken from the original text byte for byte, because a re-emitted
document can differ in lines nobody edited (spacing before comments, indentation, the style of
a one-pair flow mapping inside a flow sequence).

Strings the edit writes are quoted when any YAML reader could take them for something else:
``on``/``off``/``yes``/``no`` are strings under YAML 1.2 (flaggate's loader) but booleans
under YAML 1.1 (PyYAML's ``safe_load``, yamllint's ``truthy``), so ``variant: "on"``.

The result must re-read, under flaggate's own loader, to exactly the state asked for;
otherwise :class:`EditError` is raised and nothing is written.
"""

from __future__ import annotations

import copy
import io
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RuamelError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from yaml.nodes import ScalarNode

from flaggate.diff import canonical
from flaggate.errors import FlaggateError
from flaggate.yamlio import Yaml12Resolver, YamlError, load_documents

_STR = "tag:yaml.org,2002:str"

WIDTH = 4096
"""Line width for ruamel.yaml: long lines are never folded."""


class EditError(FlaggateError):
    """An edit that cannot be made (the file is left as it was)."""


@dataclass(frozen=True)
class EnvironmentEdit:
    """What to change in one environment of a flag; None leaves a key as it is.

    ``variant`` and ``rollout`` replace each other (they are exclusive); ``targeting`` replaces
    the rules, ``remove_targeting`` deletes them."""

    enabled: bool | None = None
    variant: str | None = None
    rollout: Mapping[str, float] | None = None
    targeting: Mapping[str, Any] | None = None
    remove_targeting: bool = False

    def touched(self) -> set[str]:
        """The keys of the environment's mapping the edit writes or deletes."""
        keys = set()
        if self.enabled is not None:
            keys.add("enabled")
        if self.variant is not None or self.rollout is not None:
            keys |= {"variant", "rollout"}
        if self.targeting is not None or self.remove_targeting:
            keys.add("targeting")
        return keys

    def apply(self, state: dict[str, Any], wrap: Callable[[Any], Any] = lambda v: v) -> None:
        """Make the edit on an environment's mapping (a plain dict or ruamel's CommentedMap,
        where a replaced key keeps its position); ``wrap`` prepares written values."""
        if self.enabled is not None:
            _put(state, "enabled", self.enabled, "enabled")
        if self.variant is not None:
            _put(state, "variant", wrap(self.variant), "rollout")
        if self.rollout is not None:
            rollout = {name: _number(pct) for name, pct in self.rollout.items()}
            _put(state, "rollout", wrap(rollout), "variant")
        if self.targeting is not None:
            _put(state, "targeting", wrap(dict(self.targeting)), "targeting")
        elif self.remove_targeting:
            state.pop("targeting", None)


def _put(state: dict[str, Any], key: str, value: Any, replaces: str) -> None:
    """Set ``key``; it takes the place of ``replaces`` (removed) when that is there."""
    if replaces != key and replaces in state:
        if isinstance(state, CommentedMap) and key not in state:
            position = list(state).index(replaces)
            del state[replaces]
            state.insert(position, key, value)
            return
        del state[replaces]
    if isinstance(state, CommentedMap) and key in state:
        state[key] = value  # in place: the key keeps its comment
        return
    state[key] = value


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def needs_quotes(text: str) -> bool:
    """Whether a plain (unquoted) ``text`` would be read as something other than a string by
    YAML 1.1 (PyYAML, yamllint: ``on``, ``no``, ``y``, ``1_000``, ``2026-01-01``) or by
    YAML 1.2 (flaggate: ``true``, ``null``, ``0x10``)."""
    implicit = (True, False)
    yaml11 = yaml.resolver.Resolver().resolve(ScalarNode, text, implicit)  # type: ignore[no-untyped-call]
    yaml12 = Yaml12Resolver().resolve(ScalarNode, text, implicit)
    return yaml11 != _STR or yaml12 != _STR


def safe_scalars(value: Any, flow: bool = False) -> Any:
    """``value`` as ruamel.yaml should write it: strings that need it double-quoted (keys too;
    an owner like ``@acme/team`` as well), mappings and lists as ruamel's types, in flow style
    with ``flow``."""
    if isinstance(value, str):
        if needs_quotes(value) or value.startswith("@"):
            return DoubleQuotedScalarString(value)
        return value
    if isinstance(value, Mapping):
        mapping = CommentedMap((safe_scalars(k), safe_scalars(v, flow)) for k, v in value.items())
        if flow:
            mapping.fa.set_flow_style()
        return mapping
    if isinstance(value, list | tuple):
        sequence = CommentedSeq(safe_scalars(item, flow) for item in value)
        if flow:
            sequence.fa.set_flow_style()
        return sequence
    return value


# --- reading and writing with ruamel.yaml ------------------------------------------------------


def _yaml(mapping_indent: int = 2) -> YAML:
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = WIDTH
    rt.indent(mapping=mapping_indent, sequence=mapping_indent + 2, offset=mapping_indent)
    return rt


def _load(text: str, path: str) -> CommentedMap:
    try:
        data = _yaml().load(text)
    except RuamelError as exc:
        raise EditError(f"{path}: cannot be edited: {exc}") from None
    if not isinstance(data, CommentedMap):
        raise EditError(f"{path}: a flag file must be a mapping")
    return data


def _dump(data: CommentedMap, mapping_indent: int) -> str:
    out = io.StringIO()
    _yaml(mapping_indent).dump(data, out)
    return out.getvalue()


def dump_new(data: Mapping[str, Any], header: Iterable[str] = ()) -> str:
    """A new file: ``data`` (prepared with :func:`safe_scalars`) after ``header`` comment
    lines."""
    comments = "".join(f"# {line}\n" for line in header)
    out = io.StringIO()
    _yaml().dump(data, out)
    return comments + out.getvalue()


# --- editing one environment -------------------------------------------------------------------


ENVIRONMENTS_PATH = ("spec", "environments")


def edit_environment(text: str, path: str, environment: str, edit: EnvironmentEdit) -> str:
    """The text of a flag file with ``edit`` made to ``environment`` (created when missing).

    Lines outside the keys the edit touches are kept byte for byte. Raises
    :class:`EditError` when the result would not re-read as exactly the edited data."""
    crlf = "\r\n" in text
    if crlf:
        text = text.replace("\r\n", "\n")
    original = _load(text, path)
    spec = original.get("spec")
    if not isinstance(spec, CommentedMap):
        raise EditError(f"{path}: `spec` must be a mapping")
    environments = spec.get("environments")
    if environments is None:
        environments = spec["environments"] = CommentedMap()
    if not isinstance(environments, CommentedMap):
        raise EditError(f"{path}: `spec.environments` must be a mapping")
    state = environments.get(environment)
    if state is None:
        state = environments[safe_scalars(environment)] = CommentedMap()
    if not isinstance(state, CommentedMap):
        raise EditError(f"{path}: `spec.environments.{environment}` must be a mapping")
    if edit.targeting is not None and state.fa.flow_style():
        state.fa.set_block_style()  # rules read better, and diff better, one a line
    flow_rollout = _rollout_style(state)
    edit.apply(state, lambda value: safe_scalars(value, flow=_flow(value, flow_rollout)))
    emitted = _dump(original, _mapping_indent(text, path))
    edited = _splice(text, emitted, path, (*ENVIRONMENTS_PATH, environment), edit.touched())
    _check(text, edited, path, environment, edit)
    return edited.replace("\n", "\r\n") if crlf else edited


def _rollout_style(state: CommentedMap) -> bool:
    """Whether a written rollout should be a flow mapping: as the one it replaces, else
    yes (``rollout: {"on": 25, "off": 75}``, as the README writes it)."""
    rollout = state.get("rollout")
    return rollout.fa.flow_style() if isinstance(rollout, CommentedMap) else True


def _flow(value: Any, flow_rollout: bool) -> bool:
    """Rollouts as decided by :func:`_rollout_style`; targeting rules in block style (a
    reviewer's diff then shows one rule a line)."""
    return flow_rollout and isinstance(value, Mapping) and _is_rollout(value)


def _is_rollout(value: Mapping[str, Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in value.values())


def _mapping_indent(text: str, path: str) -> int:
    """The file's block-mapping indentation: how far ``spec``'s keys are indented."""
    data = _load(text, path)
    spec = data.get("spec")
    if isinstance(spec, CommentedMap) and spec and not spec.fa.flow_style():
        column = spec.lc.key(next(iter(spec)))[1]
        if isinstance(column, int) and column > 0:
            return column
    return 2


def _check(before: str, after: str, path: str, environment: str, edit: EnvironmentEdit) -> None:
    """The edited text must read, under flaggate's YAML 1.2 loader, as the original data with
    exactly the edit made."""
    try:
        [old] = load_documents(before)
        [new] = load_documents(after)
    except (YamlError, ValueError) as exc:
        raise EditError(f"{path}: the edited file would not read back: {exc}") from None
    expected = copy.deepcopy(old.data)
    environments = expected["spec"].setdefault("environments", {})
    state = environments.setdefault(environment, {})
    edit.apply(state)
    if canonical(expected) != canonical(new.data):
        raise EditError(
            f"{path}: the edited file would not read back as the requested state; "
            "nothing was written (please report this with the file)"
        )


# --- keeping untouched lines -------------------------------------------------------------------


@dataclass(frozen=True)
class _Side:
    """One text (original or emitted) and its parsed mapping."""

    lines: list[str]
    data: CommentedMap


def _splice(
    original_text: str, emitted_text: str, path: str, target: tuple[str, ...], touched: set[str]
) -> str:
    """The original lines, except the keys on ``target`` (a path of keys) that the edit
    touched (or that are new), which come from the emitted text."""
    old = _Side(original_text.splitlines(keepends=True), _load(original_text, path))
    new = _Side(emitted_text.splitlines(keepends=True), _load(emitted_text, path))
    if not old.data or not new.data:
        return emitted_text
    old_start, new_start = _first_line(old.data), _first_line(new.data)
    head = old.lines[:old_start]
    body = _mapping(
        old,
        old.data,
        old_start,
        len(old.lines),
        new,
        new.data,
        new_start,
        len(new.lines),
        target,
        touched,
    )
    lines = head + body
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return "".join(lines)


def _first_line(mapping: CommentedMap) -> int:
    return int(mapping.lc.key(next(iter(mapping)))[0])


def _key_ranges(mapping: CommentedMap, end: int) -> dict[Any, tuple[int, int]]:
    """Each key's lines in a block mapping: from its own line to the next key's (the last
    key's run to ``end``, where the enclosing range ends)."""
    starts = [(key, int(mapping.lc.key(key)[0])) for key in mapping]
    ranges = {}
    for i, (key, start) in enumerate(starts):
        stop = starts[i + 1][1] if i + 1 < len(starts) else end
        ranges[key] = (start, stop)
    return ranges


def _mapping(
    old: _Side,
    old_map: CommentedMap,
    old_start: int,
    old_end: int,
    new: _Side,
    new_map: CommentedMap,
    new_start: int,
    new_end: int,
    target: tuple[str, ...],
    touched: set[str],
) -> list[str]:
    """The lines of one block mapping: original lines for every key not on ``target``, the
    mapping on ``target`` rebuilt the same way one level down, touched and new keys emitted."""
    old_ranges = _key_ranges(old_map, old_end)
    new_ranges = _key_ranges(new_map, new_end)
    lines: list[str] = []
    old_column = _column(old_map)
    for key, (start, stop) in new_ranges.items():
        emitted = _shifted(new.lines[start:stop], old_column - _column(new_map))
        if key not in old_ranges:
            lines += emitted
            continue
        old_lines = old.lines[slice(*old_ranges[key])]
        if target and key == target[0]:
            old_child, new_child = old_map[key], new_map[key]
            if _is_block(old_child, old_ranges[key][0]) and _is_block(new_child, start):
                child_old_start = _first_line(old_child)
                child_new_start = _first_line(new_child)
                lines += old.lines[old_ranges[key][0] : child_old_start]
                lines += _mapping(
                    old,
                    old_child,
                    child_old_start,
                    old_ranges[key][1],
                    new,
                    new_child,
                    child_new_start,
                    stop,
                    target[1:],
                    touched,
                )
            else:
                lines += _own(emitted) + _trailer(old_lines)
        elif not target and key in touched:
            lines += _own(emitted) + _trailer(old_lines)
        else:
            lines += old_lines
    if not target:  # deleted keys leave their trailing comments behind
        for key in old_ranges.keys() - new_ranges.keys():
            if key in touched:
                lines += _trailer(old.lines[slice(*old_ranges[key])])
    return lines


def _is_block(value: Any, key_line: int) -> bool:
    """A non-empty block mapping whose keys start below its own key's line."""
    return (
        isinstance(value, CommentedMap)
        and bool(value)
        and not value.fa.flow_style()
        and _first_line(value) > key_line
    )


def _column(mapping: CommentedMap) -> int:
    return int(mapping.lc.key(next(iter(mapping)))[1]) if mapping else 0


def _shifted(lines: list[str], by: int) -> list[str]:
    """``lines`` indented ``by`` more columns (fewer when negative), to sit among the
    original lines where the file's indentation differs from what ruamel.yaml writes."""
    if by == 0:
        return lines
    if by > 0:
        return [(" " * by + line) if line.strip() else line for line in lines]
    return [line[min(-by, len(line) - len(line.lstrip(" "))) :] for line in lines]


def _is_filler(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _trailer(lines: list[str]) -> list[str]:
    """The blank and comment-only lines ending a key's range (they describe what follows)."""
    end = len(lines)
    while end > 1 and _is_filler(lines[end - 1]):
        end -= 1
    return lines[end:]


def _own(lines: list[str]) -> list[str]:
    """A key's lines without its trailer."""
    return lines[: len(lines) - len(_trailer(lines))]


# --- writing ------------------------------------------------------------------------------------


def write_atomically(path: Path, text: str) -> None:
    """Replace (or create) ``path`` with ``text`` in one step: a temporary file beside it,
    flushed to disk, renamed over it. An existing file keeps its permissions; a new one gets
    the usual ones (0666 less the umask)."""
    data = text.encode("utf-8")
    mode = path.stat().st_mode & 0o7777 if path.exists() else None
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
