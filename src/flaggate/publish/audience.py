"""Who can act on a stage: the GitHub teams and users bound to its roles."""

from __future__ import annotations

from collections.abc import Mapping

from flaggate.model.policy import RoleBinding
from flaggate.policy.result import StageResult


def audience(stage: StageResult, roles: Mapping[str, RoleBinding]) -> list[str]:
    """``@org/team`` and ``@user`` mentions for a stage's roles, in role order, once each."""
    seen: dict[str, None] = {}
    for role in stage.stage.roles:
        binding = roles.get(role)
        if binding is None:
            continue
        for team in binding.teams:
            seen[f"@{team}"] = None
        for user in binding.users:
            seen[f"@{user}"] = None
    return list(seen)
