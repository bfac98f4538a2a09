"""The one safe YAML loader: YAML 1.2 core schema, limits, duplicate keys, line numbers.

PyYAML's C parser (libyaml) composes the node graph; this module builds plain Python data
from it itself, so that:

* only the YAML 1.2 core schema applies (``on``/``off``/``yes``/``no`` stay strings, only
  ``true``/``false`` are booleans, no timestamps, no merge keys);
* no tag constructs an object (``!!python/...`` and custom tags are rejected);
* duplicate keys are an error instead of a silent overwrite;
* aliases are expanded under a node budget, so an alias bomb stops early with bounded memory;
* the composed nodes stay available to map an error's path back to a line.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

from flaggate.errors import excerpt

MAX_FILE_BYTES = 1024 * 1024
"""Files larger than this are rejected before parsing."""

MAX_NODES = 100_000
"""Nodes one file may expand to, aliases counted every time they are used."""

MAX_DEPTH = 64
"""Nesting depth one file may reach."""

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


_PLAIN_TYPES = (
    (_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")),
    (_NULL, re.compile(r"^(?:~|null|Null|NULL|)$")),
    (_INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")),
    (
        _FLOAT,
        re.compile(
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
    ),
)
_PLAIN_CACHE: dict[str, str] = {}
_PLAIN_CACHE_SIZE = 4096


class Yaml12Resolver(BaseResolver):
    """Implicit typing of plain scalars by the YAML 1.2 core schema (not YAML 1.1).

    The parser asks for a tag for every node; answering from a small cache of plain values
    (keys and common values repeat across flag files) keeps loading fast.
    """

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            if not implicit[0]:
                return _STR
            tag = _PLAIN_CACHE.get(value)
            if tag is None:
                tag = next((t for t, pattern in _PLAIN_TYPES if pattern.match(value)), _STR)
                if len(_PLAIN_CACHE) >= _PLAIN_CACHE_SIZE:
                    _PLAIN_CACHE.clear()
                _PLAIN_CACHE[value] = tag
            return tag
        return _SEQ if kind is SequenceNode else _MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        """Path resolvers are not used."""

    def ascend_resolver(self) -> None:
        """Path resolvers are not used."""


if yaml.__with_libyaml__:
    from yaml.cyaml import CParser as _CParser  # type: ignore[attr-defined]

    class _Composer(_CParser, Yaml12Resolver):
        def __init__(self, text: str) -> None:
            _CParser.__init__(self, text)
            Yaml12Resolver.__init__(self)

else:  # pragma: no cover - only where libyaml is missing

    class _Composer(  # type: ignore[no-redef]
        yaml.reader.Reader,
        yaml.scanner.Scanner,
        yaml.parser.Parser,
        yaml.composer.Composer,
        Yaml12Resolver,
    ):
        def __init__(self, text: str) -> None:
            yaml.reader.Reader.__init__(self, text)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            Yaml12Resolver.__init__(self)


_NOT_YAML_CHARACTER = re.compile(
    "[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
"""A character YAML does not allow in a stream (YAML 1.2, 5.1: c-printable)."""


def too_large(size: int) -> str:
    """The message for a file over :data:`MAX_FILE_BYTES`."""
    return f"file is {size} bytes, larger than the {MAX_FILE_BYTES} allowed"


def read_limited(path: Path | str) -> bytes | int:
    """A file's bytes, or only its size (an int) when it is over :data:`MAX_FILE_BYTES`.

    Raises OSError (FileNotFoundError for a missing file) like :meth:`Path.read_bytes`.
    """
    with open(path, "rb") as stream:  # one open, then the size of what was opened
        size = os.fstat(stream.fileno()).st_size
        if size > MAX_FILE_BYTES:
            return size
        # A size hint sized to the file: read(MAX_FILE_BYTES) would allocate that much.
        data = stream.read(size + 1)
        while len(data) <= MAX_FILE_BYTES and (more := stream.read(1 << 16)):
            data += more  # the file grew since fstat
        return len(data) if len(data) > MAX_FILE_BYTES else data


class YamlError(Exception):
    """A file that is not acceptable YAML; ``line`` is 1-based where known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True)
class Document:
    """One YAML document: its data and its composed node tree (for line lookups)."""

    data: Any
    root: Node
    line: int

    def line_of(self, loc: Sequence[str | int]) -> int:
        """The line of the deepest node reachable along ``loc`` (a path of keys/indexes)."""
        return line_of(self.root, loc)


def load_documents(text: str | bytes) -> list[Document]:
    """Parse every document of a YAML stream safely; raise :class:`YamlError` on any problem."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise YamlError(too_large(size), 1)
    if isinstance(text, bytes):
        raw = text
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad_line = raw.count(b"\n", 0, exc.start) + 1
            message = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
            raise YamlError(message, bad_line) from None
    bad = _NOT_YAML_CHARACTER.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise YamlError(f"character U+{ord(bad.group()):04X} is not allowed in YAML", line)
    composer = _Composer(text)
    documents: list[Document] = []
    try:
        while composer.check_node():
            root = composer.get_node()
            if root is None:  # pragma: no cover - check_node said there was one
                break
            builder = _Builder()
            documents.append(Document(builder.build(root, 0), root, _line(root)))
    except yaml.MarkedYAMLError as exc:
        raise YamlError(
            f"invalid YAML: {exc.problem or exc.context}", _error_line(exc, text)
        ) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {exc}", 1) from None
    finally:
        composer.dispose()
    return documents


def _error_line(exc: yaml.MarkedYAMLError, text: str) -> int | None:
    """The line to blame: where libyaml noticed the problem, unless that is past the end of
    the text (an unclosed bracket or quote), then where the unfinished construct began."""
    last_line = max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
    for mark in (exc.problem_mark, exc.context_mark):
        if mark is not None and mark.line + 1 <= last_line:
            return int(mark.line) + 1
    return last_line


def line_of(root: Node, loc: Sequence[str | int]) -> int:
    """Follow ``loc`` through mappings and sequences; unknown steps are skipped."""
    node = root
    line = _line(root)
    for step in loc:
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if isinstance(key, ScalarNode) and key.value == str(step):
                    line = _line(key)
                    node = value
                    break
        elif (
            isinstance(node, SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value)
        ):
            node = node.value[step]
            line = _line(node)
    return line


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _Builder:
    """Turns a node graph into dicts, lists and scalars under the node and depth budgets."""

    def __init__(self) -> None:
        self.nodes = 0

    def build(self, node: Node, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YamlError(
                f"more than {MAX_NODES} nodes (aliases count each time they are used)",
                _line(node),
            )
        if depth > MAX_DEPTH:
            raise YamlError(f"nesting deeper than {MAX_DEPTH} levels", _line(node))
        kind = node.__class__
        if kind is ScalarNode:
            return node.value if node.tag == _STR else _scalar(node)  # type: ignore[arg-type]
        if kind is SequenceNode:
            if node.tag != _SEQ:
                raise YamlError(f"tag {node.tag!r} is not allowed", _line(node))
            return [self.build(item, depth + 1) for item in node.value]
        if kind is MappingNode:
            if node.tag != _MAP:
                raise YamlError(f"tag {node.tag!r} is not allowed", _line(node))
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.__class__ is not ScalarNode:
                    raise YamlError("mapping keys must be plain values", _line(key_node))
                key = key_node.value if key_node.tag == _STR else _scalar(key_node)
                if key in result:
                    raise YamlError(f"duplicate key {excerpt(key)}", _line(key_node))
                result[key] = self.build(value_node, depth + 1)
            return result
        raise YamlError(f"unsupported node {kind.__name__}", _line(node))  # pragma: no cover


def _scalar(node: ScalarNode) -> Any:
    tag, value = node.tag, node.value
    try:
        if tag == _STR:
            return value
        if tag == _NULL:
            if value not in ("~", "null", "Null", "NULL", ""):
                raise ValueError(value)
            return None
        if tag == _BOOL:
            if value in ("true", "True", "TRUE"):
                return True
            if value in ("false", "False", "FALSE"):
                return False
            raise ValueError(value)
        if tag == _INT:
            if value.startswith("0o"):
                return int(value[2:], 8)
            if value.startswith("0x"):
                return int(value[2:], 16)
            return int(value, 10)
        if tag == _FLOAT:
            lowered = value.lower()
            if lowered.lstrip("+-") == ".inf":
                return -math.inf if lowered.startswith("-") else math.inf
            if lowered == ".nan":
                return math.nan
            return float(value)
    except ValueError:
        kind = tag.rsplit(":", 1)[-1]
        raise YamlError(f"{excerpt(value)} is not a valid {kind}", _line(node)) from None
    raise YamlError(f"tag {tag!r} is not allowed", _line(node))
