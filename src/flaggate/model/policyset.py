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
