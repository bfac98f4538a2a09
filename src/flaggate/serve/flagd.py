"""The flagd flag-definition format: one file per environment, read by flagd and by the
OpenFeature flagd providers in in-process / file mode.

Each file holds every flag that has an entry for the environment (a flag without one is not
in the file), with all of its variants, so that the value an OpenFeature client gets is the
value flaggate says the environment serves:

================================================  ==============================================
flaggate (environment entry)                      flagd flag
================================================  ==============================================
``enabled: true, variant: V``                     ``state: ENABLED, defaultVariant: V``
``enabled: true`` (no variant, no rollout)        ``state: ENABLED, defaultVariant: on``
``enabled: true, rollout: {A: a, B: b}``          ``state: ENABLED``, ``targeting: {fractional:
                                                  [[A, wA], [B, wB]]}`` (variants sorted by name,
                                                  integer weights out of 100000),
                                                  ``defaultVariant``: the largest share
``... + targeting: T`` with a variant             ``targeting: T``, ``defaultVariant: V``
``... + targeting: T`` with a rollout             ``targeting: {or: [T, {fractional: ...}]}``
``enabled: false``, flag has an ``off`` variant   ``state: ENABLED, defaultVariant: off``, no
                                                  targeting (flaggate serves ``off``)
``enabled: false``, no ``off`` variant            ``state: DISABLED`` (the application's code
                                                  default: flaggate serves nothing)
no entry for the environment                      not in the file
================================================  ==============================================

Targeting is flagd's own JSONLogic, passed through: when it returns a variant name, that
variant is served; when it returns null, the environment's variant (or rollout) applies. With a
rollout, ``or`` evaluates the targeting first and falls through to the ``fractional`` buckets
when it returns no variant. ``fractional`` without a bucketing expression buckets by the flag
key and the evaluation's targeting key; a request without a targeting key cannot be bucketed
and gets ``defaultVariant``, the rollout's largest share (ties: the first name).

Metadata: each flag carries ``owner``, ``description`` and ``tags`` (sorted, comma-joined;
flagd metadata values are strings, numbers or booleans); the flag set carries ``environment``
and, for a catalog read from a commit, ``sourceCommit`` (the full commit id; omitted for the
working tree).

The bytes are deterministic: keys sorted at every level, one flag per line, UTF-8, a trailing
newline. The same catalog gives the same file; files of two commits with the same
flags differ only in ``sourceCommit``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flaggate.catalog import Catalog
from flaggate.errors import ConfigError, Problem
from flaggate.model.flags import EnvironmentState, FeatureFlag

SCHEMA_URL = "https://flagd.dev/schema/v0/flags.json"
"""The ``$schema`` of every exported file."""

WEIGHT_TOTAL = 100_000
"""What the ``fractional`` weights of a rollout add up to: percentages to three decimals."""

FILE_SUFFIX = ".flagd.json"


@dataclass(frozen=True)
class FlagdExporter:
    """The ``flagd`` export format: ``<environment>.flagd.json``."""

    name: str = "flagd"

    def file_name(self, environment: str) -> str:
        """``<environment>.flagd.json``."""
        return f"{environment}{FILE_SUFFIX}"

    def render(self, catalog: Catalog, environment: str) -> bytes:
        """The flagd file of ``environment``."""
        return dumps(flag_set(catalog, environment), catalog)


def flag_set(catalog: Catalog, environment: str) -> dict[str, Any]:
    """The flagd document of ``environment``: ``$schema``, ``flags`` and ``metadata``."""
    catalog.require([environment])
    flags: dict[str, Any] = {}
    for key, entry in catalog.flags.items():
        definition = flag_definition(entry.flag, environment)
        if definition is not None:
            flags[key] = definition
    metadata: dict[str, str] = {"environment": environment}
    if catalog.revision is not None:
        metadata["sourceCommit"] = catalog.revision
    return {"$schema": SCHEMA_URL, "flags": flags, "metadata": metadata}


def flag_definition(flag: FeatureFlag, environment: str) -> dict[str, Any] | None:
    """The flagd flag serving what ``flag`` serves in ``environment``; None when the flag
    has no entry there."""
    state = flag.spec.environments.get(environment)
    if state is None:
        return None
    variants = flag.spec.variants
    definition: dict[str, Any] = {"variants": dict(variants)}
    metadata = flag_metadata(flag)
    if metadata:
        definition["metadata"] = metadata
    definition.update(serving(state, "off" in variants))
    return definition


def serving(state: EnvironmentState, has_off: bool) -> dict[str, Any]:
    """The flagd ``state``, ``defaultVariant`` and ``targeting`` serving what ``state``
    serves (``has_off``: the flag has an ``off`` variant). Two entries of a flag that give
    equal results serve the same."""
    if not state.enabled:
        # flagd's DISABLED means "the code default"; flaggate's off serves the `off` variant.
        return {"state": "ENABLED", "defaultVariant": "off"} if has_off else {"state": "DISABLED"}
    targeting = state.targeting or None
    if state.rollout is not None:
        weights = rollout_weights(state.rollout)
        buckets: dict[str, Any] = {"fractional": [[name, weight] for name, weight in weights]}
        return {
            "state": "ENABLED",
            "defaultVariant": largest_share(state.rollout),
            "targeting": {"or": [targeting, buckets]} if targeting else buckets,
        }
    served: dict[str, Any] = {"state": "ENABLED", "defaultVariant": state.variant or "on"}
    if targeting:
        served["targeting"] = targeting
    return served


def flag_metadata(flag: FeatureFlag) -> dict[str, str]:
    """``owner``, ``description`` and ``tags`` (sorted, comma-joined), where set."""
    meta = flag.metadata
    found: dict[str, str] = {}
    if meta.owner is not None:
        found["owner"] = meta.owner
    if meta.description is not None:
        found["description"] = meta.description
    if meta.tags:
        found["tags"] = ",".join(sorted(meta.tags))
    return found


def rollout_weights(rollout: Mapping[str, float]) -> list[tuple[str, int]]:
    """Integer weights adding up to exactly :data:`WEIGHT_TOTAL`, in variant-name order.

    Each percentage is scaled (relative to the rollout's own total, which may be off 100 by
    the allowed tolerance) and rounded down; the units left over go to the largest remainders
    (ties: the first name), so no weight is off by more than one unit (0.001 percentage
    points)."""
    names = sorted(rollout)
    total = math.fsum(rollout.values())
    exact = [rollout[name] * WEIGHT_TOTAL / total for name in names]
    weights = [math.floor(value) for value in exact]
    left = WEIGHT_TOTAL - sum(weights)
    by_remainder = sorted(range(len(names)), key=lambda i: (-(exact[i] - weights[i]), i))
    for i in by_remainder[:left]:
        weights[i] += 1
    return list(zip(names, weights, strict=True))


def largest_share(rollout: Mapping[str, float]) -> str:
    """The variant with the largest percentage (ties: the first name)."""
    return min(rollout, key=lambda name: (-rollout[name], name))


def dumps(document: Mapping[str, Any], catalog: Catalog | None = None) -> bytes:
    """Deterministic JSON bytes: keys sorted at every level, one flag per line (a change to a
    flag changes one line of the file), UTF-8, a trailing newline.

    A value JSON cannot carry (a number that is not finite, in targeting) is a
    :class:`ConfigError` naming the flag's file when ``catalog`` is given."""
    # One json.dumps per line runs in the C encoder; `indent` would force the Python one,
    # several times slower at 20,000 flags.
    encode = json.JSONEncoder(
        sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(", ", ": ")
    ).encode
    lines = ["{"]
    try:
        for key in sorted(document):
            value = document[key]
            if key == "flags" and value:
                lines.append(f"  {encode(key)}: {{")
                lines += [f"    {encode(k)}: {encode(value[k])}," for k in sorted(value)]
                lines[-1] = lines[-1][:-1]
                lines.append("  },")
            else:
                lines.append(f"  {encode(key)}: {encode(value)},")
    except (TypeError, ValueError) as exc:
        raise ConfigError(_unwritable(document, catalog, exc)) from None
    lines[-1] = lines[-1][:-1]
    lines.append("}\n")
    return "\n".join(lines).encode()


def _unwritable(
    document: Mapping[str, Any], catalog: Catalog | None, exc: Exception
) -> list[Problem]:
    problems = []
    flags = document.get("flags", {})
    for key, definition in flags.items():
        try:
            json.dumps(definition, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as error:
            entry = catalog.flags.get(key) if catalog is not None else None
            path = entry.path if entry is not None else key
            problems.append(Problem(path, None, f"cannot be written as flagd JSON: {error}"))
    return problems or [Problem("flagd", None, f"cannot be written as JSON: {exc}")]
