"""Helpers of the flagd export/import tests: flagd's own JSON Schemas (validated locally, no
network), a real OpenFeature client over a flagd file (the flagd provider in in-process file
mode), and generated flag repositories whose expected values are known."""

from __future__ import annotations

import functools
import json
import random
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import ResolverType
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagEvaluationDetails, Reason
from openfeature.provider.no_op_provider import NoOpProvider
from referencing import Registry
from referencing.jsonschema import DRAFT7

DATA = Path(__file__).resolve().parent / "data" / "flagd"
SCHEMAS = DATA / "schema"
SCHEMA_BASE = "https://flagd.dev/schema/v0/"
ENVIRONMENTS = ("development", "staging", "production")

# --------------------------------------------------------------------------- schemas


@functools.cache
def _registry() -> Registry[Any]:
    """flagd's schemas, under their ``$id`` and the relative names they use for each other.

    ``flags.json`` and ``flagd.json`` put ``$id`` beside a root ``$ref``, which draft-07 ignores,
    so ``./targeting.json`` would not resolve against the ``$id``: each schema is registered under
    its bare and ``./`` names too."""
    resources = []
    for name in ("flags.json", "targeting.json", "flagd.json"):
        resource = DRAFT7.create_resource(json.loads((SCHEMAS / name).read_text()))
        resources += [(uri, resource) for uri in (SCHEMA_BASE + name, name, f"./{name}")]
    return Registry().with_resources(resources)  # type: ignore[no-any-return]


@functools.cache
def _validator(name: str) -> Draft7Validator:
    return Draft7Validator({"$ref": SCHEMA_BASE + name}, registry=_registry())


def schema_errors(document: Mapping[str, Any]) -> list[str]:
    """Why ``document`` does not validate against the flagd schema its ``$schema`` names
    (``flags.json`` unless it names ``flagd.json``); empty when it does."""
    named = str(document.get("$schema", "flags.json"))
    validator = _validator("flagd.json" if named.endswith("flagd.json") else "flags.json")
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


# --------------------------------------------------------------------------- the client


@contextmanager
def openfeature_clients(paths: list[Path]) -> Iterator[dict[Path, OpenFeatureClient]]:
    """An OpenFeature client per flagd file, each with its own provider: flagd in in-process
    file mode over that file.

    ``set_provider_and_wait`` returns once the provider has loaded its file (it raises when the
    file does not load). On exit each domain is given back to a no-op provider, which makes the
    SDK shut the flagd provider down, and the file-watcher threads (which poll every
    ``deadline_ms``) must end within a bound. Other domains' providers are left alone, so these
    contexts may nest (``api.clear_providers`` would end them all)."""
    before = set(threading.enumerate())
    clients = {}
    domains = []
    try:
        for path in paths:
            provider = FlagdProvider(
                resolver_type=ResolverType.FILE, offline_flag_source_path=str(path), deadline_ms=50
            )
            domain = f"flaggate-test:{path}"
            domains.append(domain)
            api.set_provider_and_wait(provider, domain)
            clients[path] = api.get_client(domain)
        yield clients
    finally:
        for domain in domains:
            api.set_provider_and_wait(NoOpProvider(), domain)
        for thread in set(threading.enumerate()) - before:
            thread.join(timeout=5)
            assert not thread.is_alive(), f"{thread.name} still running after shutdown"


CODE_DEFAULTS: dict[str, Any] = {
    "boolean": False,
    "string": "<code default>",
    "integer": -987654321,
    "float": -9876.54321,
    "object": {"code": "default"},
}
"""The default value the application passes, per flag type (one no variant has, where the type
allows)."""


def evaluate(
    client: OpenFeatureClient, key: str, kind: str, context: EvaluationContext
) -> FlagEvaluationDetails[Any]:
    """Resolve ``key`` with the client method of the flag's type."""
    default = CODE_DEFAULTS[kind]
    if kind == "boolean":
        return client.get_boolean_details(key, default, context)
    if kind == "string":
        return client.get_string_details(key, default, context)
    if kind == "integer":
        return client.get_integer_details(key, default, context)
    if kind == "float":
        return client.get_float_details(key, default, context)
    return client.get_object_details(key, default, context)


def kind_of(variants: Mapping[str, Any]) -> str:
    """The flag's type, as it picks the client method: boolean, string, integer (numbers that
    are all whole), float (any fraction) or object."""
    values = list(variants.values())
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, str) for v in values):
        return "string"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "float"
    return "object"


# --------------------------------------------------------------------------- expectations


@dataclass(frozen=True)
class Expected:
    """What a client should get: one variant, one of several (a rollout), the application's
    code default (``variants`` empty) or, when ``missing``, a flag-not-found error."""

    variants: frozenset[str] = frozenset()
    missing: bool = False


def expected(
    flag: Mapping[str, Any], environment: str, targeted: str | None, keyed: bool
) -> Expected:
    """What flaggate says ``environment`` serves to one evaluation: ``flag`` is the flag file's
    data, ``targeted`` the variant its targeting returns for the evaluation's context (None:
    no variant) and ``keyed`` whether the evaluation has a targeting key."""
    variants = flag["spec"].get("variants", {"on": True, "off": False})
    state = flag["spec"]["environments"].get(environment)
    if state is None:
        return Expected(missing=True)
    if not state["enabled"]:
        return Expected(frozenset({"off"} & variants.keys()))
    if targeted is not None and state.get("targeting"):
        return Expected(frozenset({targeted}))
    rollout = state.get("rollout")
    if rollout is not None:
        if not keyed:  # cannot be bucketed: the largest share (documented)
            return Expected(frozenset({min(rollout, key=lambda n: (-rollout[n], n))}))
        return Expected(frozenset(name for name, pct in rollout.items() if pct > 0))
    return Expected(frozenset({state.get("variant") or "on"}))


def check(
    details: FlagEvaluationDetails[Any],
    want: Expected,
    variants: Mapping[str, Any],
    kind: str,
) -> str | None:
    """Why ``details`` is not what ``want`` says (value, type and variant); None when it is."""
    default = CODE_DEFAULTS[kind]
    if want.missing:
        ok = details.error_code == ErrorCode.FLAG_NOT_FOUND and details.value == default
        return None if ok else f"expected flag not found, got {details}"
    if not want.variants:
        ok = details.variant is None and details.value == default and details.error_code is None
        ok = ok and details.reason == Reason.DISABLED
        return None if ok else f"expected the code default, got {details}"
    if details.error_code is not None or details.variant not in want.variants:
        return f"expected one of {sorted(want.variants)}, got {details}"
    value = variants[details.variant]
    if kind == "float":
        value = float(value)
    if details.value != value or type(details.value) is not type(value):
        return f"variant {details.variant!r} should be {value!r}, got {details.value!r}"
    return None


# --------------------------------------------------------------------------- generated flags

TARGETING_RULES: tuple[tuple[Any, dict[str, Any], dict[str, Any]], ...] = (
    # (condition, a context where it holds, a context where it does not)
    ({"==": [{"var": "plan"}, "gold"]}, {"plan": "gold"}, {"plan": "free"}),
    ({"in": [{"var": "country"}, ["de", "fr", "it"]]}, {"country": "fr"}, {"country": "us"}),
    ({"in": ["@acme.example", {"var": "email"}]}, {"email": "a@acme.example"}, {"email": "b@x.io"}),
    ({"starts_with": [{"var": "email"}, "admin@"]}, {"email": "admin@x.io"}, {"email": "bob@x.io"}),
    ({"ends_with": [{"var": "email"}, "@beta.example"]}, {"email": "c@beta.example"}, {}),
    ({"sem_ver": [{"var": "version"}, ">=", "2.1.0"]}, {"version": "2.3.0"}, {"version": "1.9.9"}),
    ({"sem_ver": [{"var": "version"}, "^", "3.0.0"]}, {"version": "3.4.1"}, {"version": "4.0.0"}),
    (
        {"and": [{"==": [{"var": "beta"}, True]}, {">": [{"var": "age"}, 30]}]},
        {"beta": True, "age": 41},
        {"beta": True, "age": 20},
    ),
)


@dataclass
class Case:
    """One evaluation of a generated flag: its context and the variant targeting returns."""

    attributes: dict[str, Any]
    targeted: str | None
    key: str | None = "user-42"


@dataclass
class GeneratedFlag:
    """A generated flag file and, per environment, the evaluations to check."""

    data: dict[str, Any]
    cases: dict[str, list[Case]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return str(self.data["metadata"]["name"])

    def text(self) -> str:
        """The flag file (JSON is YAML 1.2)."""
        return json.dumps(self.data, indent=2) + "\n"


def _values(rng: random.Random, kind: str, count: int) -> list[Any]:
    if kind == "boolean":
        return [True, False][:count]
    if kind == "string":
        return [f"value-{i}-{rng.randrange(1000)}" for i in range(count)]
    if kind == "integer":
        return rng.sample(range(-500, 5000), count)
    if kind == "float":
        return [round(rng.uniform(-10, 10), 3) + 0.5 for _ in range(count)]
    return [{"size": i, "label": f"L{i}", "nested": {"on": i % 2 == 0}} for i in range(count)]


def _percentages(rng: random.Random, names: list[str]) -> dict[str, float]:
    """Decimal percentages (thousandths) adding up to exactly 100."""
    cuts = sorted(rng.sample(range(1, 100_000), len(names) - 1))
    bounds = [0, *cuts, 100_000]
    return {name: (bounds[i + 1] - bounds[i]) / 1000 for i, name in enumerate(names)}


def generate_flags(seed: int, count: int) -> list[GeneratedFlag]:
    """``count`` random flags: boolean, string, number and object variants, with and without
    an ``off`` variant, enabled and disabled, variants, decimal rollouts and targeting."""
    rng = random.Random(seed)
    flags = []
    for index in range(count):
        kind = ("boolean", "string", "integer", "float", "object")[index % 5]
        with_off = rng.random() < 0.5
        if kind == "boolean":
            names = ["on", "off"] if with_off else ["enabled", "disabled"]
        else:
            names = [f"v{i}" for i in range(rng.randint(2, 4))]
            if with_off:
                names[-1] = "off"
            if rng.random() < 0.3:
                names[0] = "on"
        variants = dict(zip(names, _values(rng, kind, len(names)), strict=True))
        data: dict[str, Any] = {
            "apiVersion": "flaggate/v1",
            "kind": "FeatureFlag",
            "metadata": {
                "name": f"gen-{index:03d}-{kind}",
                "owner": f"@acme/team-{index % 4}",
                "description": f"Generated {kind} flag {index}",
                "tags": sorted(rng.sample(["a", "b", "experiment", "ui", "kill-switch"], 2)),
            },
            "spec": {"variants": variants, "environments": {}},
        }
        flag = GeneratedFlag(data)
        for environment in ENVIRONMENTS:
            state, cases = _environment(rng, names)
            if state is not None:
                data["spec"]["environments"][environment] = state
                flag.cases[environment] = cases
            else:
                flag.cases[environment] = [Case({}, None)]
        flags.append(flag)
    return flags


def _environment(rng: random.Random, names: list[str]) -> tuple[dict[str, Any] | None, list[Case]]:
    shape = rng.choice(
        ["absent", "disabled", "variant", "implicit", "rollout", "targeted", "targeted-rollout"]
    )
    if shape == "absent":
        return None, []
    if shape == "disabled":
        state: dict[str, Any] = {"enabled": False}
        if rng.random() < 0.5:
            state["variant"] = rng.choice(names)
        return state, [Case({}, None)]
    if shape == "implicit" and "on" in names:
        return {"enabled": True}, [Case({}, None)]
    if shape in ("variant", "implicit"):
        return {"enabled": True, "variant": rng.choice(names)}, [Case({}, None)]
    if shape == "rollout":
        rollout = _percentages(rng, rng.sample(names, rng.randint(1, len(names))))
        return {"enabled": True, "rollout": rollout}, [Case({}, None), Case({}, None, None)]
    condition, holds, fails = rng.choice(TARGETING_RULES)
    then = rng.choice(names)
    otherwise = rng.choice([None, rng.choice(names)])
    state = {"enabled": True, "targeting": {"if": [condition, then, otherwise]}}
    if shape == "targeted":
        state["variant"] = rng.choice(names)
    else:
        state["rollout"] = _percentages(rng, names)
    cases = [Case(holds, then), Case(fails, otherwise), Case(fails, otherwise, None)]
    return state, cases
