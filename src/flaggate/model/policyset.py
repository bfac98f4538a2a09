"""The policies of a commit, assembled: what evaluation reads (no loading here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from flaggate.model.policy import ApprovalPolicy, Environment, RoleBinding, Stage
from flaggate.model.settings import Settings

DEFAULT_ROLE = "admin"
"""The role a change that no rule matches needs (fail closed)."""


@dataclass(frozen=True)
class PolicySet:
    """Everything under ``policies/`` at the base commit, validated and cross-checked."""

    policy: ApprovalPolicy | None
    stages: Mapping[str, Stage]
    roles: Mapping[str, RoleBinding]
    environments: tuple[Environment, ...]
    settings: Settings
    files: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def environment_names(self) -> frozenset[str]:
        """Names of the declared environments."""
        return frozenset(env.name for env in self.environments)

    def environment(self, name: str) -> Environment | None:
        """The declared environment called ``name``."""
        return next((env for env in self.environments if env.name == name), None)

    def role_warnings(self) -> list[str]:
        """Roles the policies rely on that nobody can hold: not bound in RoleBindings, or
        bound to no team and no user. Not errors (the policies load), but every change
        needing such a role waits forever, and a bypass by it is impossible."""
        needed: dict[str, str] = {}
        rules = self.policy.spec.rules if self.policy is not None else ()
        for rule in rules:
            for role in rule.approval.approverRoles:
                needed.setdefault(role, f"rule {rule.name!r}")
        for stage in self.stages.values():
            for role in (*stage.approverRoles, *stage.escalateTo):
                needed.setdefault(role, f"stage {stage.name!r}")
        if not (rules and not rules[-1].conditions):
            needed.setdefault(DEFAULT_ROLE, "changes no rule matches")
        for role in self.settings.spec.emergency.roles:
            needed.setdefault(role, "the emergency bypass")
        warnings = []
        for role, user in needed.items():
            binding = self.roles.get(role)
            if binding is None:
                warnings.append(f"role {role!r} ({user}) has no binding in RoleBindings")
            elif not binding.teams and not binding.users:
                warnings.append(f"role {role!r} ({user}) is bound to no team and no user")
        return warnings
