"""Loading files into models, collecting every problem with its file and line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any

from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from flaggate.errors import ConfigError, Problem, excerpt
from flaggate.model.flags import FeatureFlag, semantic_problems
from flaggate.model.policy import (
    ApprovalPolicy,
    ApprovalStages,
    Environments,
    RoleBindings,
)
from flaggate.model.policyset import DEFAULT_ROLE, PolicySet
from flaggate.model.settings import Settings
from flaggate.model.suggest import did_you_mean, field_names
from flaggate.yamlio import Document, YamlError, load_documents

POLICY_KINDS: dict[str, type[BaseModel]] = {
    "ApprovalPolicy": ApprovalPolicy,
    "ApprovalStages": ApprovalStages,
    "RoleBindings": RoleBindings,
    "Environments": Environments,
    "Settings": Settings,
}

YAML_SUFFIXES = (".yaml", ".yml")

POLICY_API_VERSIONS = frozenset({"featureflags/v1", "flaggate/v1"})
"""The ``apiVersion`` values of policy documents."""

Loc = tuple[str | int, ...]


def is_yaml(path: str) -> bool:
    """Whether ``path`` names a YAML file flaggate reads."""
    return path.endswith(YAML_SUFFIXES)


def parse(path: str, content: bytes) -> tuple[list[Document], list[Problem]]:
    """Parse a file safely; a YAML problem becomes one located :class:`Problem`."""
    try:
        return load_documents(content), []
    except YamlError as exc:
        return [], [Problem(path, exc.line, exc.message)]


def validation_problems(
    path: str, doc: Document, exc: ValidationError, model: type[BaseModel] | None = None
) -> list[Problem]:
    """Turn pydantic's errors into one located, readable problem each.

    A value that fits none of a union's types yields one error per type from pydantic; they
    become a single problem naming every accepted type. With ``model`` (the model ``doc``
    was validated with), an unknown key gets the closest known key as a hint.
    """
    grouped: dict[Loc, list[Any]] = {}
    for error in exc.errors(include_url=False):
        loc = _data_path(doc.data, tuple(p for p in error["loc"] if isinstance(p, str | int)))
        grouped.setdefault(loc, []).append(error)
    problems = []
    for loc, errors in grouped.items():
        line, column = position(doc, loc)
        if len(errors) > 1 and all(e["type"] in _TYPE_NAMES for e in errors):
            names = [_TYPE_NAMES[e["type"]] for e in errors]
            accepted = ", ".join(dict.fromkeys(names))
            where = ".".join(str(p) for p in loc)
            message = f"{where}: must be one of: {accepted} (got {_short(errors[0].get('input'))})"
            problems.append(Problem(path, line, message, column))
        else:
            problems += [
                Problem(path, line, _describe(loc, e), column, _hint(model, loc, e)) for e in errors
            ]
    return problems


def _hint(model: type[BaseModel] | None, loc: Loc, error: Any) -> str | None:
    """For an unknown key, the known key it is closest to."""
    if model is None or error["type"] != "extra_forbidden" or not loc:
        return None
    known = field_names(model, loc[:-1])
    return did_you_mean(str(loc[-1]), known) if known else None


def position(doc: Document, loc: Loc) -> tuple[int, int]:
    """The line and column (both 1-based) of the node :meth:`Document.line_of` blames for
    ``loc``: a mapping key where one matches, else the closest node reached."""
    node: Node = doc.root
    at = node
    for step in loc:
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if isinstance(key, ScalarNode) and key.value == str(step):
                    at, node = key, value
                    break
        elif (
            isinstance(node, SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value)
        ):
            node = at = node.value[step]
    return int(at.start_mark.line) + 1, int(at.start_mark.column) + 1


def _data_path(data: Any, loc: Loc) -> Loc:
    """The steps of pydantic's ``loc`` that are keys or indexes in ``data``; the others are
    pydantic's union and validator markers (``function-after[...]``, ``bool``), skipped
    unless the data has such a key (a user's key may contain ``[``)."""
    path: list[str | int] = []
    node = data
    for step in loc:
        child = _child(node, step)
        if child is not _ABSENT:
            node = child
            path.append(step)
        elif not (isinstance(step, str) and ("[" in step or step in _TYPE_TAGS)):
            path.append(step)  # a key pydantic names that the data lacks
            node = None
    return tuple(path)


_ABSENT = object()


def _child(node: Any, step: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(step, _ABSENT)
    if isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
        return node[step]
    return _ABSENT


_TYPE_TAGS = frozenset({"bool", "str", "int", "float", "dict[str,any]", "list"})
_TYPE_NAMES = {
    "bool_type": "boolean",
    "string_type": "string",
    "int_type": "number",
    "float_type": "number",
    "dict_type": "object",
    "list_type": "list",
    "none_required": "null",
}


def _describe(loc: Loc, error: Any) -> str:
    where = ".".join(str(p) for p in loc) or "document"
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{where}: unknown key"
    if kind == "missing":
        return f"{where}: required key is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind in ("value_error", "assertion_error"):
        return f"{where}: {message}"
    return f"{where}: {message} (got {_short(error.get('input'))})"


def _short(value: Any) -> str:
    return excerpt(value)


def located(path: str, doc: Document, loc: Loc, message: str, hint: str | None = None) -> Problem:
    """A problem at ``loc`` inside ``doc``, prefixed with the dotted location."""
    where = ".".join(str(p) for p in loc)
    line, column = position(doc, loc)
    return Problem(path, line, f"{where}: {message}" if where else message, column, hint)


def load_flag(
    path: str, content: bytes, environments: frozenset[str] | None
) -> tuple[FeatureFlag | None, list[Problem]]:
    """Load one flag file; ``environments`` (when given) are the declared ones."""
    documents, problems = parse(path, content)
    if problems:
        return None, problems
    if len(documents) != 1:
        return None, [Problem(path, 1, f"a flag file holds one document, found {len(documents)}")]
    doc = documents[0]
    try:
        flag = FeatureFlag.model_validate(doc.data)
    except ValidationError as exc:
        return None, validation_problems(path, doc, exc, FeatureFlag)
    problems = [
        located(path, doc, loc, msg, _variant_hint(flag, loc))
        for loc, msg in semantic_problems(flag)
    ]
    stem = PurePosixPath(path).stem
    if flag.metadata.name != stem:
        problems.append(
            located(
                path,
                doc,
                ("metadata", "name"),
                f"{flag.metadata.name!r} must equal the file name's stem {stem!r}",
            )
        )
    if environments is not None:
        for env in flag.spec.environments:
            if env not in environments:
                declared = ", ".join(sorted(environments)) or "none"
                problems.append(
                    located(
                        path,
                        doc,
                        ("spec", "environments", env),
                        f"environment {env!r} is not declared in Environments ({declared})",
                        did_you_mean(env, environments),
                    )
                )
    return (None if problems else flag), problems


def _variant_hint(flag: FeatureFlag, loc: Loc) -> str | None:
    """For a variant a flag's environment names but does not declare, the closest declared."""
    if len(loc) < 4 or loc[:2] != ("spec", "environments"):
        return None
    state = flag.spec.environments.get(str(loc[2]))
    if state is None:
        return None
    if loc[3:] == ("variant",) and state.variant is not None:
        named = state.variant
    elif len(loc) == 5 and loc[3] == "rollout":
        named = str(loc[4])
    else:
        return None
    return did_you_mean(named, flag.spec.variants)


def load_policies(files: Mapping[str, bytes], *, complete: bool = True) -> PolicySet:
    """Load and cross-check every policy file; raise :class:`ConfigError` with all problems.

    ``complete`` False: some policy files could not be read (their problems are reported by
    the caller), so a missing Environments document is not reported again."""
    problems: list[Problem] = []
    found: dict[str, tuple[str, Document, BaseModel]] = {}
    for path in sorted(files):
        if not is_yaml(path):
            continue
        documents, parse_problems = parse(path, files[path])
        problems += parse_problems
        for doc in documents:
            problems += _load_policy_document(path, doc, found)
    if "Environments" not in found and not problems:
        if not complete:  # the caller reports why: nothing to add
            raise ConfigError([])
        problems.append(Problem("policies/", None, "no Environments document found"))
    if problems:
        raise ConfigError(sorted(problems))
    policy_set = _assemble(found, files)
    problems = _cross_check(policy_set, found)
    if problems:
        raise ConfigError(sorted(problems))
    return policy_set


def _load_policy_document(
    path: str, doc: Document, found: dict[str, tuple[str, Document, BaseModel]]
) -> list[Problem]:
    if doc.data is None:
        return []
    if not isinstance(doc.data, dict):
        return [Problem(path, doc.line, "a policy document must be a mapping")]
    kind = doc.data.get("kind")
    model = POLICY_KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        return [
            located(
                path,
                doc,
                ("kind",),
                f"unknown kind {kind!r} (one of {', '.join(POLICY_KINDS)})",
                did_you_mean(kind, POLICY_KINDS) if isinstance(kind, str) else None,
            )
        ]
    if kind in found:
        other = found[kind][0]
        return [located(path, doc, ("kind",), f"a second {kind} document (first in {other})")]
    try:
        found[str(kind)] = (path, doc, model.model_validate(doc.data))
    except ValidationError as exc:
        return validation_problems(path, doc, exc, model)
    return []


def _assemble(
    found: Mapping[str, tuple[str, Document, BaseModel]], files: Mapping[str, bytes]
) -> PolicySet:
    def get(kind: str) -> Any:
        return found[kind][2] if kind in found else None

    stages: ApprovalStages | None = get("ApprovalStages")
    roles: RoleBindings | None = get("RoleBindings")
    environments: Environments = get("Environments")
    settings: Settings | None = get("Settings")
    return PolicySet(
        policy=get("ApprovalPolicy"),
        stages={s.name: s for s in stages.spec.stages} if stages else {},
        roles=dict(roles.spec.roles) if roles else {},
        environments=environments.spec.environments,
        settings=settings or Settings.model_construct(),  # the defaults: nothing to validate
        files=dict(files),
    )


def _cross_check(
    policies: PolicySet, found: Mapping[str, tuple[str, Document, BaseModel]]
) -> list[Problem]:
    problems: list[Problem] = []

    def at(kind: str, loc: Loc, message: str, hint: str | None = None) -> None:
        path, doc, _ = found[kind]
        problems.append(located(path, doc, loc, message, hint))

    roles = set(policies.roles)
    if "ApprovalStages" in found:
        stages_doc: ApprovalStages = found["ApprovalStages"][2]  # type: ignore[assignment]
        names: list[str] = []
        orders: dict[int, str] = {}
        for i, stage in enumerate(stages_doc.spec.stages):
            loc: Loc = ("spec", "stages", i)
            if stage.name in names:
                at("ApprovalStages", (*loc, "name"), f"duplicate stage {stage.name!r}")
            names.append(stage.name)
            if stage.order in orders:
                other = orders[stage.order]
                at(
                    "ApprovalStages",
                    (*loc, "order"),
                    f"order {stage.order} is used by {other!r} too",
                )
            orders[stage.order] = stage.name
            for field_name in ("approverRoles", "escalateTo"):
                for j, role in enumerate(getattr(stage, field_name)):
                    if role not in roles:
                        at(
                            "ApprovalStages",
                            (*loc, field_name, j),
                            _unbound(role, roles),
                            did_you_mean(role, roles),
                        )
    if policies.policy is not None:
        seen: set[str] = set()
        for i, rule in enumerate(policies.policy.spec.rules):
            loc = ("spec", "rules", i)
            if rule.name in seen:
                at("ApprovalPolicy", (*loc, "name"), f"duplicate rule {rule.name!r}")
            seen.add(rule.name)
            approval = rule.approval
            for j, stage_name in enumerate(approval.stages):
                if stage_name not in policies.stages:
                    known = ", ".join(policies.stages) or "none declared"
                    at(
                        "ApprovalPolicy",
                        (*loc, "approval", "stages", j),
                        f"unknown stage {stage_name!r} (stages: {known})",
                        did_you_mean(stage_name, policies.stages),
                    )
            for j, role in enumerate(approval.approverRoles):
                if role not in roles:
                    at(
                        "ApprovalPolicy",
                        (*loc, "approval", "approverRoles", j),
                        _unbound(role, roles),
                        did_you_mean(role, roles),
                    )
            if approval.stages and all(s in policies.stages for s in approval.stages):
                total = sum(policies.stages[s].requiredApprovers for s in approval.stages)
                if approval.minApprovers > total:
                    at(
                        "ApprovalPolicy",
                        (*loc, "approval", "minApprovers"),
                        f"{approval.minApprovers} approvers cannot be reached: "
                        f"its stages require {total} in all",
                    )
    if policies.policy is not None and DEFAULT_ROLE not in roles:
        rules = policies.policy.spec.rules
        if not (rules and not rules[-1].conditions):
            at(
                "ApprovalPolicy",
                ("spec", "rules"),
                f"changes no rule matches need role {DEFAULT_ROLE!r}, which has no binding in "
                "RoleBindings (bind it, or end the rules with one that has no conditions)",
            )
    env_names = [env.name for env in policies.environments]
    for i, env in enumerate(policies.environments):
        loc = ("spec", "environments", i)
        if env_names.index(env.name) != i:
            at("Environments", (*loc, "name"), f"duplicate environment {env.name!r}")
        context = policies.settings.spec.statusContext
        if context in env.requiredChecks:
            at(
                "Environments",
                (*loc, "requiredChecks", env.requiredChecks.index(context)),
                f"{context!r} is flaggate's own status context; it cannot be a required check",
            )
        if env.promotion is not None:
            lower = env_names[:i]
            if env.promotion.from_ not in lower:
                at(
                    "Environments",
                    (*loc, "promotion", "from"),
                    f"{env.promotion.from_!r} must be a lower environment "
                    f"({', '.join(lower) or 'none is lower'})",
                )
    tickets = policies.settings.spec.tickets
    if tickets is not None and "Settings" in found:
        for j, env_name in enumerate(tickets.requiredFor):
            if env_name not in env_names:
                at(
                    "Settings",
                    ("spec", "tickets", "requiredFor", j),
                    f"environment {env_name!r} is not declared",
                    did_you_mean(env_name, env_names),
                )
    return problems


def _unbound(role: str, roles: Iterable[str]) -> str:
    return f"role {role!r} has no binding in RoleBindings ({', '.join(sorted(roles)) or 'none'})"
