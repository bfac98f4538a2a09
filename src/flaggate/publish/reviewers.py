"""Review requests: the active stage's teams and users, each asked once."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from flaggate.model.policy import RoleBinding
from flaggate.policy.result import Evaluation


@dataclass(frozen=True)
class ReviewRequest:
    """Teams (slugs in the repository's organisation) and users to ask for a review."""

    teams: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    """Teams of another organisation, which GitHub cannot ask on this repository."""

    def __bool__(self) -> bool:
        return bool(self.teams or self.users)

    @property
    def keys(self) -> tuple[str, ...]:
        """How these requests are remembered between runs (``org/slug`` and ``@user``)."""
        return self.teams + tuple(f"@{u}" for u in self.users)


def to_request(
    evaluation: Evaluation,
    roles: Mapping[str, RoleBinding],
    org: str,
    author: str | None,
    already: Collection[str],
) -> ReviewRequest:
    """Who to ask now: the active stage's audience minus those asked before and the author.

    ``already`` holds ``org/slug`` and ``@user`` keys of requests made earlier (remembered in
    the sticky comment, or pending on the pull request).
    """
    active = evaluation.active_stage
    if active is None or not active.missing:
        return ReviewRequest()
    teams: dict[str, None] = {}
    users: dict[str, None] = {}
    skipped: dict[str, None] = {}
    for role in active.stage.roles:
        binding = roles.get(role)
        if binding is None:
            continue
        for team in binding.teams:
            team_org, _slug = team.split("/", 1)
            if team_org.lower() != org.lower():
                skipped[team] = None
            elif team not in already:
                teams[team] = None
        for user in binding.users:
            if user != author and f"@{user}" not in already:
                users[user] = None
    return ReviewRequest(tuple(teams), tuple(users), tuple(skipped))
