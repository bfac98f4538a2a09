"""The semantic diff (SPEC 3): per (flag, environment) normalized states and change types."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from flaggate.model.flags import FeatureFlag, FlagMetadata, VariantValue

CHANGE_TYPES = (
    "created",
    "deleted",
    "toggled",
    "rollout",
    "variant",
    "targeting",
    "variants",
    "metadata",
)
"""Flag change types, in the order that picks a change's primary ``type``."""

POLICY_CHANGE_TYPES = ("created", "deleted", "updated")

ALL_ENVIRONMENTS = "*"

State = dict[str, Any]


@dataclass(frozen=True)
class FlagFile:
    """A loaded flag and the file it came from."""

    path: str
    flag: FeatureFlag


@dataclass(frozen=True)
class Change:
    """One (flag, environment) whose normalized state differs, or one policy file edit."""

    resource: Literal["flag", "policy", "repository"]
    flag: str
    environment: str
    types: tuple[str, ...]
    previous: State | None
    new: State | None
    rollout_delta: float
    path: str
    tags: tuple[str, ...] = ()
    owner: str | None = None
    tags_added: tuple[str, ...] = ()
    """Tags the flag carries after the change but not before (all of them for a new flag)."""
    tags_removed: tuple[str, ...] = ()
    """Tags the flag carried before the change but not after (all of them when deleted)."""

    @property
    def type(self) -> str:
        """The primary change type: the first that applies, in table order."""
        return self.types[0]

    def to_json(self) -> dict[str, Any]:
        """The change as plain JSON data (SPEC 5 field names)."""
        return {
            "resource": self.resource,
            "flag": self.flag,
            "environment": self.environment,
            "type": self.type,
            "types": list(self.types),
            "previousValue": self.previous,
            "newValue": self.new,
            "rolloutDelta": self.rollout_delta,
            "path": self.path,
        }


def fingerprint(changes: Iterable[Change]) -> str:
    """A digest of what the changes do (not where they came from): equal iff same effect."""
    lines = sorted(
        canonical([c.resource, c.flag, c.environment, c.previous, c.new]) for c in changes
    )
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def normalized_state(flag: FeatureFlag, environment: str) -> State | None:
    """What ``flag`` serves in ``environment``, in a form where equal means same behaviour."""
    state = flag.spec.environments.get(environment)
    if state is None:
        return None
    variants = flag.spec.variants
    variant = state.variant
    if variant is None and state.rollout is None and state.enabled and "on" in variants:
        variant = "on"
    used = _used_variants(variant, state.rollout, state.targeting, variants)
    return {
        "enabled": state.enabled,
        "variant": variant,
        "rollout": dict(sorted(state.rollout.items())) if state.rollout is not None else None,
        "targeting": state.targeting,
        "variants": {name: variants[name] for name in sorted(used)},
    }


def served(state: State | None) -> dict[str, float]:
    """Percent of traffic each variant gets (an off environment serves its ``off`` variant)."""
    if state is None:
        return {}
    if not state["enabled"]:
        return {"off": 100.0} if "off" in state["variants"] else {}
    if state["rollout"] is not None:
        return {k: float(v) for k, v in state["rollout"].items()}
    return {state["variant"]: 100.0} if state["variant"] is not None else {}


def rollout_delta(previous: State | None, new: State | None) -> float:
    """Largest absolute change of any variant's served percentage (0-100)."""
    before, after = served(previous), served(new)
    return max(
        (abs(before.get(k, 0.0) - after.get(k, 0.0)) for k in before.keys() | after.keys()),
        default=0.0,
    )


def describe_state(state: State | None) -> str:
    """A short, human description of a normalized state."""
    if state is None:
        return "—"
    if "sha256" in state:
        digest = state["sha256"]
        return f"sha256 {digest[:12]}" if digest else f"{state['bytes']} bytes (over the limit)"
    if "owner" in state:
        tags = ", ".join(state["tags"]) or "no tags"
        return f"owner {state['owner'] or '—'}; {tags}"
    if not state["enabled"]:
        text = "off"
    elif state["rollout"] is not None:
        text = " / ".join(f"{name} {pct:g}%" for name, pct in state["rollout"].items())
    else:
        variant = state["variant"]
        value = state["variants"].get(variant)
        text = f"{variant} ({json.dumps(value)})" if variant is not None else "on"
    if state["targeting"]:
        text += " + targeting"
    return text


def same(a: Any, b: Any) -> bool:
    """Equal as JSON: unlike Python's ``==``, ``true`` differs from ``1``."""
    return canonical(a) == canonical(b)


def canonical(value: Any) -> str:
    """Canonical JSON text of a value (sorted keys, no spaces)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def change_types(previous: State | None, new: State | None) -> tuple[str, ...]:
    """Every change type that applies between two states (empty when they are equal)."""
    if same(previous, new):
        return ()
    if previous is None:
        return ("created",)
    if new is None:
        return ("deleted",)
    types = []
    if previous["enabled"] != new["enabled"]:
        types.append("toggled")
    if (previous["rollout"] is not None or new["rollout"] is not None) and previous[
        "rollout"
    ] != new["rollout"]:
        types.append("rollout")
    if (
        previous["rollout"] is None
        and new["rollout"] is None
        and previous["variant"] != new["variant"]
    ):
        types.append("variant")
    if not same(previous["targeting"], new["targeting"]):
        types.append("targeting")
    old_values, new_values = previous["variants"], new["variants"]
    if any(not same(old_values[k], new_values[k]) for k in old_values.keys() & new_values.keys()):
        types.append("variants")
    if not types:
        # Only the set of variants in use changed (e.g. an `off` variant was declared).
        types.append("variants")
    return tuple(types)


def flag_change(
    key: str,
    environment: str,
    types: tuple[str, ...],
    before: State | None,
    after: State | None,
    path: str,
    metadata: FlagMetadata,
    tags_added: tuple[str, ...] = (),
    tags_removed: tuple[str, ...] = (),
) -> Change:
    """The change of flag ``key`` in ``environment`` from ``before`` to ``after`` (its
    rollout delta derived), carrying the tags and owner of ``metadata``."""
    return Change(
        "flag",
        key,
        environment,
        types,
        before,
        after,
        rollout_delta(before, after),
        path,
        metadata.tags,
        metadata.owner,
        tags_added,
        tags_removed,
    )


def diff_flags(
    base: Mapping[str, FlagFile],
    head: Mapping[str, FlagFile],
    environment_order: Sequence[str] = (),
) -> list[Change]:
    """Every change between two sets of flags keyed by flag key."""
    rank = {name: i for i, name in enumerate(environment_order)}
    changes: list[Change] = []
    for key in sorted(base.keys() | head.keys()):
        old, new = base.get(key), head.get(key)
        # Tags and owner come from the base when the flag exists there: a pull request cannot
        # exempt its own change by retagging the flag (e.g. adding `kill-switch`).
        source = old or new
        assert source is not None
        meta = source.flag.metadata
        before_tags = set(old.flag.metadata.tags) if old else set()
        after_tags = set(new.flag.metadata.tags) if new else set()
        tag_edits = {
            "tags_added": tuple(sorted(after_tags - before_tags)),
            "tags_removed": tuple(sorted(before_tags - after_tags)),
        }
        path = (new or old).path  # type: ignore[union-attr]
        envs = set(old.flag.spec.environments if old else ()) | set(
            new.flag.spec.environments if new else ()
        )
        for env in sorted(envs, key=lambda e: (rank.get(e, len(rank)), e)):
            before = normalized_state(old.flag, env) if old else None
            after = normalized_state(new.flag, env) if new else None
            types = change_types(before, after)
            if types:
                changes.append(flag_change(key, env, types, before, after, path, meta, **tag_edits))
        if old and new:
            before_meta, after_meta = _metadata(old.flag), _metadata(new.flag)
            if not same(before_meta, after_meta):
                changes.append(
                    Change(
                        "flag",
                        key,
                        ALL_ENVIRONMENTS,
                        ("metadata",),
                        before_meta,
                        after_meta,
                        0.0,
                        path,
                        meta.tags,
                        meta.owner,
                        **tag_edits,
                    )
                )
    return changes


def diff_policy_files(
    base: Mapping[str, bytes | int],
    head: Mapping[str, bytes | int | None],
    resource: Literal["policy", "repository"] = "policy",
) -> list[Change]:
    """A ``policy`` change per edited file below ``policies/`` (``head``: changed paths only),
    or a ``repository`` change per edited ``.gitattributes`` file.

    A file over the size limit stands as its size (an int) and always counts as changed.
    """
    changes = []
    for path in sorted(head):
        old, new = base.get(path), head[path]
        if old == new and not isinstance(new, int):
            continue
        kind = "created" if old is None else "deleted" if new is None else "updated"
        changes.append(
            Change(resource, path, ALL_ENVIRONMENTS, (kind,), _digest(old), _digest(new), 0.0, path)
        )
    return changes


def _digest(content: bytes | int | None) -> State | None:
    if content is None:
        return None
    if isinstance(content, int):
        return {"sha256": None, "bytes": content}
    return {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}


def _metadata(flag: FeatureFlag) -> State:
    meta = flag.metadata
    return {"owner": meta.owner, "description": meta.description, "tags": sorted(meta.tags)}


def _used_variants(
    variant: str | None,
    rollout: Mapping[str, float] | None,
    targeting: Any,
    variants: Mapping[str, VariantValue],
) -> set[str]:
    used = {"off"} & variants.keys()
    if variant is not None:
        used.add(variant)
    if rollout is not None:
        used.update(rollout)
    results = targeting_results(targeting)
    if results is None:
        # Targeting can compute a variant name: any variant may be served.
        return set(variants)
    used.update(s for s in _strings(targeting) if s in variants)
    return used


_LITERAL_BRANCHES = frozenset({"if", "?:"})
_ANY_ARGUMENT = frozenset({"and", "or"})


def targeting_results(rule: Any) -> set[str] | None:
    """The variant names a flagd/JSONLogic targeting rule can return, or None when it can
    return a name computed at evaluation time (``var``, ``cat``, ``substr``, ...).

    Conservative: ``if`` returns one of its branches, ``fractional`` one of its bucket
    names, ``and``/``or`` one of their arguments; every other operator is dynamic.
    """
    if rule is None or isinstance(rule, bool | int | float) or rule == {}:
        return set()
    if isinstance(rule, str):
        return {rule}
    if isinstance(rule, list):
        return _union(targeting_results(item) for item in rule)
    if not isinstance(rule, dict) or len(rule) != 1:
        return None
    ((operator, args),) = rule.items()
    args = args if isinstance(args, list) else [args]
    if operator in _LITERAL_BRANCHES:
        branches = [args[i] for i in range(1, len(args), 2)]
        if len(args) % 2 == 1:
            branches.append(args[-1])
        return _union(targeting_results(branch) for branch in branches)
    if operator in _ANY_ARGUMENT:
        return _union(targeting_results(arg) for arg in args)
    if operator == "fractional":
        buckets = [arg for arg in args if isinstance(arg, list)]
        return _union(targeting_results(bucket[0]) if bucket else set() for bucket in buckets)
    return None


def _union(parts: Iterable[set[str] | None]) -> set[str] | None:
    found: set[str] = set()
    for part in parts:
        if part is None:
            return None
        found |= part
    return found


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
