"""First-match rules: which rule governs a change, and what it requires."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from flaggate.diff import Change
from flaggate.model.policy import Rule
from flaggate.model.policyset import DEFAULT_ROLE, PolicySet
from flaggate.policy.conditions import holds
from flaggate.policy.result import StageRequirement

DEFAULT_RULE = "default"

# Stages a rule declares inline come before named stages, in rule order.
_INLINE_STAGE_GROUP = 0
_NAMED_STAGE_GROUP = 1


def change_facts(
    change: Change, author: str | None, labels: frozenset[str], base_ref: str | None
) -> dict[str, Any]:
    """The fields of SPEC 3.1 for one change, as nested data for dotted lookups."""
    is_flag = change.resource == "flag"
    return {
        "flag": {
            "key": change.flag if is_flag else None,
            "tags": list(change.tags),
            "owner": change.owner,
        },
        "environment": change.environment,
        "change": {
            "type": change.type,
            "types": list(change.types),
            "rolloutDelta": change.rollout_delta,
            "tagsAdded": list(change.tags_added),
            "tagsRemoved": list(change.tags_removed),
            "tagsChanged": sorted({*change.tags_added, *change.tags_removed}),
        },
        "previousValue": change.previous,
        "newValue": change.new,
        "resource": {"type": change.resource},
        "pr": {"author": author, "labels": sorted(labels), "baseRef": base_ref},
    }


def match(rules: Sequence[Rule], facts: dict[str, Any]) -> Rule | None:
    """The first rule all of whose conditions hold."""
    for rule in rules:
        if all(holds(condition, facts) for condition in rule.conditions):
            return rule
    return None


def explain(rule: Rule | None) -> str:
    """Why a rule matched, for people."""
    if rule is None:
        return f"no rule matched: 1 approval from {DEFAULT_ROLE} (fail closed)"
    if not rule.conditions:
        return "rule has no conditions"
    return " and ".join(
        f"{c.field} {c.operator}" + ("" if c.value is None else f" {c.value!r}")
        for c in rule.conditions
    )


def requirements(rule: Rule | None, index: int, policies: PolicySet) -> list[StageRequirement]:
    """The stages a matched rule (or the default, for None) requires."""
    if rule is None:
        return [
            StageRequirement(
                DEFAULT_RULE,
                (_INLINE_STAGE_GROUP, 1 << 30),
                1,
                (DEFAULT_ROLE,),
                (DEFAULT_RULE,),
                source="default",
            )
        ]
    approval = rule.approval
    if not approval.required:
        return []
    if approval.stages:
        return [
            StageRequirement(
                stage.name,
                (_NAMED_STAGE_GROUP, stage.order),
                stage.requiredApprovers,
                stage.approverRoles,
                (rule.name,),
                timeout_hours=stage.timeoutHours,
                on_timeout=stage.onTimeout,
                escalate_to=stage.escalateTo,
            )
            for stage in (policies.stages[name] for name in approval.stages)
        ]
    return [
        StageRequirement(
            rule.name,
            (_INLINE_STAGE_GROUP, index),
            approval.minApprovers,
            approval.approverRoles,
            (rule.name,),
            source="rule",
        )
    ]


def union(requirements: Sequence[StageRequirement]) -> list[StageRequirement]:
    """Merge the requirements of all changes: each stage once, in order."""
    merged: dict[tuple[str, str], StageRequirement] = {}
    for req in requirements:
        key = (req.source, req.name)
        seen = merged.get(key)
        if seen is None:
            merged[key] = req
        else:
            rules = seen.rules + tuple(r for r in req.rules if r not in seen.rules)
            merged[key] = replace(seen, rules=rules)
    return sorted(merged.values(), key=lambda r: (r.order, r.source, r.name))
