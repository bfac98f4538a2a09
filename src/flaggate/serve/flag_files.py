"""Writing imported flags into flag files: new ``<key>.yaml`` files, or edits of the existing
file of a key made with ruamel.yaml's round trip, so its comments, key order and style survive
(only ``spec.environments.<ENV>`` and new variants change).

Nothing here depends on the source format: an importer turns its file into a
:class:`~flaggate.serve.flagd_import.Conversion` and :func:`plan_import` says what to write.
Every file is loaded back with flaggate's own loader (:func:`flaggate.model.load.load_flag`) and
compared with what was meant before anything is written; a variant whose value conflicts with
the existing file's is a problem, never overwritten.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from yaml.nodes import ScalarNode

from flaggate.diff import canonical, same
from flaggate.errors import Problem, excerpt
from flaggate.model.flags import DEFAULT_VARIANTS, EnvironmentState, FeatureFlag
from flaggate.model.load import load_flag
from flaggate.serve.flagd import serving
from flaggate.serve.flagd_import import Conversion, ImportedFlag, about
from flaggate.yamlio import Yaml12Resolver, read_limited, too_large

FLAG_FIELDS = ("enabled", "variant", "rollout", "targeting")
"""The keys of an environment entry, in the order a new entry is written."""

_STR_TAG = "tag:yaml.org,2002:str"


@dataclass(frozen=True)
class ExistingFile:
    """A flag file already there: where it is, how to name it, and what it holds."""

    path: Path
    display: str
    flag: FeatureFlag


@dataclass(frozen=True)
class PlannedFile:
    """A file the import writes (or leaves, when ``action`` is ``unchanged``)."""

    key: str
    path: Path
    display: str
    content: bytes
    action: str
    """``created``, ``updated`` or ``unchanged``."""


@dataclass
class Plan:
    """What importing a conversion into one environment would write."""

    files: list[PlannedFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def plan_import(
    conversion: Conversion,
    environment: str,
    environments: Sequence[str],
    existing: Mapping[str, ExistingFile],
    into: Path,
    into_display: str,
) -> Plan:
    """The files importing ``conversion`` into ``environment`` writes: new ``<key>.yaml`` files
    in ``into`` and edits of the ``existing`` files, each loaded back and checked.
    ``environments`` are the declared ones, lowest risk first."""
    plan = Plan(problems=list(conversion.problems), warnings=list(conversion.warnings))
    source = conversion.source
    if conversion.environment is not None and conversion.environment != environment:
        plan.warnings.append(
            Problem(
                source,
                None,
                f"warning: the file was exported for {conversion.environment!r}, imported into "
                f"{environment!r}",
            )
        )
    declared = frozenset(environments)
    for flag in conversion.flags:
        report = _Report(plan, source, flag.key, flag.line)
        found = existing.get(flag.key)
        if found is None:
            path = into / f"{flag.key}.yaml"
            display = _join(into_display, f"{flag.key}.yaml")
            if path.exists() or path.is_symlink():
                report.problem(f"{display} exists and is not a flag file of this key")
                continue
            content, expected = _new_file(flag, environment)
            action = "created"
        else:
            path, display = found.path, found.display
            edited = _edit_file(found, flag, environment, environments, report)
            if edited is None:
                continue
            content, expected, action = edited
        loaded, errors = load_flag(display, content, declared)
        for error in errors:
            report.problem(str(error))
        if loaded is not None and not _reads_back(loaded, expected):
            report.problem(f"{display} would not read back as imported (please report this)")
        plan.files.append(PlannedFile(flag.key, path, display, content, action))
    imported = set(conversion.keys)
    for key, file in sorted(existing.items()):
        if key not in imported and environment in file.flag.spec.environments:
            plan.warnings.append(
                Problem(
                    source,
                    None,
                    f"warning: flag {key!r} has a {environment!r} entry in {file.display} but is "
                    "not in this file: left as it is",
                )
            )
    return plan


@dataclass(frozen=True)
class _Report:
    """Problems and warnings about one flag of the flagd file."""

    plan: Plan
    source: str
    key: str
    line: int | None

    def problem(self, message: str) -> None:
        self.plan.problems.append(Problem(self.source, self.line, about(self.key, message)))

    def warn(self, message: str) -> None:
        self.plan.warnings.append(
            Problem(self.source, self.line, "warning: " + about(self.key, message))
        )


def _join(folder: str, name: str) -> str:
    return name if folder in ("", ".") else f"{folder.rstrip('/')}/{name}"


def _reads_back(loaded: FeatureFlag, expected: dict[str, Any]) -> bool:
    try:
        meant = FeatureFlag.model_validate(expected)
    except ValidationError:
        return False  # the loader reported why
    return canonical(loaded.model_dump(mode="json")) == canonical(meant.model_dump(mode="json"))


def _new_file(flag: ImportedFlag, environment: str) -> tuple[bytes, dict[str, Any]]:
    metadata: dict[str, Any] = {"name": flag.key}
    if flag.owner is not None:
        metadata["owner"] = flag.owner
    if flag.description is not None:
        metadata["description"] = flag.description
    if flag.tags:
        metadata["tags"] = list(flag.tags)
    expected = {
        "apiVersion": "flaggate/v1",
        "kind": "FeatureFlag",
        "metadata": metadata,
        "spec": {"variants": flag.variants, "environments": {environment: flag.entry}},
    }
    document = _yaml_value(expected)
    if flag.tags:
        document["metadata"]["tags"].fa.set_flow_style()
    document["spec"]["environments"][environment] = _entry_map(flag.entry)
    return _dump(document, (2, 4, 2)), expected


def _edit_file(
    found: ExistingFile,
    flag: ImportedFlag,
    environment: str,
    environments: Sequence[str],
    report: _Report,
) -> tuple[bytes, dict[str, Any], str] | None:
    """The existing file with the environment entry and new variants; None on a problem."""
    try:
        original = read_limited(found.path)
    except OSError as exc:
        report.problem(f"cannot read {found.display}: {exc.strerror}")
        return None
    if isinstance(original, int):
        report.problem(f"{found.display}: {too_large(original)}")
        return None
    old = found.flag
    current = dict(old.spec.variants)
    added = {}
    conflicts = False
    for name, value in flag.variants.items():
        if name not in current:
            added[name] = value
        elif not same(current[name], value):
            conflicts = True
            report.problem(
                f"variant {name!r} is {excerpt(value)} in the flagd file but "
                f"{excerpt(current[name])} in {found.display}: not overwritten"
            )
    if conflicts:
        return None
    _metadata_differences(old, flag, found.display, report)
    entry = _kept_entry(old, environment, flag)
    if entry is not None and not added:
        return original, old.model_dump(mode="json"), "unchanged"
    text = original.decode()
    data = _yaml().load(text)
    spec = data["spec"]
    if added:
        if "variants" not in spec:
            spec.insert(0, "variants", _yaml_value(dict(DEFAULT_VARIANTS)))
        for name, value in added.items():
            spec["variants"][_yaml_key(name)] = _yaml_value(value)
    if not isinstance(spec.get("environments"), dict):
        spec["environments"] = CommentedMap()
    expected = old.model_dump(mode="json")
    expected["spec"]["variants"].update(added)
    if entry is None:
        _set_entry(spec["environments"], environment, flag.entry, environments)
        expected["spec"]["environments"][environment] = flag.entry
    content = _dump(data, _guess_indent(text))
    action = "unchanged" if content == original else "updated"
    return content, expected, action


def _kept_entry(old: FeatureFlag, environment: str, flag: ImportedFlag) -> EnvironmentState | None:
    """The file's entry for ``environment`` when it already serves what the flagd flag
    serves (then it stays as written: ``enabled: false`` and ``enabled: true, variant: off``
    both serve ``off``, for example)."""
    current = old.spec.environments.get(environment)
    if current is None:
        return None
    try:
        imported = EnvironmentState.model_validate(flag.entry)
    except ValidationError:
        return None  # the loader will say why
    has_off = "off" in old.spec.variants
    return current if serving(current, has_off) == serving(imported, has_off) else None


def _metadata_differences(
    old: FeatureFlag, flag: ImportedFlag, display: str, report: _Report
) -> None:
    meta = old.metadata
    pairs = (
        ("owner", flag.owner, meta.owner),
        ("description", flag.description, meta.description),
        ("tags", ",".join(sorted(flag.tags)) or None, ",".join(sorted(meta.tags)) or None),
    )
    for name, theirs, ours in pairs:
        if theirs is not None and theirs != ours:
            report.warn(
                f"metadata {name} {theirs!r} differs from {display}'s {ours!r}: kept the file's"
            )


def _set_entry(
    environments: CommentedMap, environment: str, entry: Mapping[str, Any], order: Sequence[str]
) -> None:
    """Set one environment's entry, editing an existing one key by key (so unchanged keys keep
    their comments), or adding it after the entries of lower environments (``order``)."""
    current = environments.get(environment)
    if isinstance(current, dict):
        for name in FLAG_FIELDS:
            if name in entry:
                if name in current and _same(current[name], entry[name]):
                    continue
                if name == "rollout" and _same_keys(current.get(name), entry[name]):
                    for variant, percent in entry[name].items():
                        current[name][variant] = percent  # keeps the file's order and style
                    continue
                current[name] = _entry_map(entry)[name]
            elif name in current:
                del current[name]
        return
    rank = {name: i for i, name in enumerate(order)}
    position = 0
    for i, name in enumerate(environments):
        if rank.get(str(name), len(rank)) < rank.get(environment, len(rank)):
            position = i + 1
    environments.insert(position, _yaml_key(environment), _entry_map(entry))


def _same_keys(a: Any, b: Mapping[str, Any]) -> bool:
    return isinstance(a, dict) and set(a) == set(b)


def _same(a: Any, b: Any) -> bool:
    try:
        return same(a, b)
    except (TypeError, ValueError):
        return False


def _entry_map(entry: Mapping[str, Any]) -> CommentedMap:
    result = CommentedMap()
    for name in FLAG_FIELDS:
        if name in entry:
            value = _yaml_value(entry[name])
            if name == "rollout":
                value.fa.set_flow_style()
            result[name] = value
    return result


# --------------------------------------------------------------------------- YAML


_RESOLVER = Yaml12Resolver()


def _reads_as_string(text: str) -> bool:
    """Whether flaggate's loader reads ``text`` written plain as a string."""
    return _RESOLVER.resolve(ScalarNode, text, (True, False)) == _STR_TAG


def _yaml_key(key: Any) -> Any:
    if isinstance(key, str) and not _reads_as_string(key):
        return DoubleQuotedScalarString(key)
    return key


def _yaml_value(value: Any) -> Any:
    """``value`` as ruamel data; a string flaggate would read as another type when written
    plain (``"1e5"``, ``"true"``, ``"0x1F"``) is double-quoted."""
    if isinstance(value, dict):
        result = CommentedMap()
        for key, item in value.items():
            result[_yaml_key(key)] = _yaml_value(item)
        return result
    if isinstance(value, list):
        return CommentedSeq(_yaml_value(item) for item in value)
    if isinstance(value, str) and not _reads_as_string(value):
        return DoubleQuotedScalarString(value)
    return value


def _represent_none(representer: RoundTripRepresenter, data: None) -> Any:
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _yaml() -> YAML:
    yaml = YAML()  # round trip: comments, key order and quoting survive
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line
    yaml.brace_single_entry_mapping_in_flow_sequence = True  # keep [{var: x}], not [var: x]
    yaml.representer.add_representer(type(None), _represent_none)
    return yaml


def _dump(data: Any, indent: tuple[int, int, int]) -> bytes:
    yaml = _yaml()
    mapping, sequence, offset = indent
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue().encode()


def _guess_indent(text: str) -> tuple[int, int, int]:
    """The (mapping, sequence, offset) indentation a file uses: ruamel writes the whole file
    with one setting, so it is taken from the file's first nested mapping and first block
    sequence (defaults: 2, 4, 2, the style of flaggate's examples)."""
    mapping: int | None = None
    sequence: tuple[int, int] | None = None
    parent: int | None = None  # the indent of the last line ending in `key:`
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        column = len(line) - len(line.lstrip(" "))
        if parent is not None and column > parent:
            if stripped.startswith("- ") and sequence is None:
                content = column + 2 + len(stripped[2:]) - len(stripped[2:].lstrip(" "))
                sequence = (content - parent, column - parent)
            elif not stripped.startswith("-") and mapping is None:
                mapping = column - parent
        parent = column if stripped.endswith(":") and not stripped.startswith("- ") else None
        if mapping is not None and sequence is not None:
            break
    seq, offset = sequence if sequence is not None else ((mapping or 2) + 2, mapping or 2)
    return mapping or 2, seq, offset
