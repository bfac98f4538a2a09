#!/usr/bin/env python3
"""How many GitHub API requests one `flaggate github` evaluation makes.

It runs `flaggate github` (a fresh process each time) against the project's fake GitHub
(``tests/fakes``: REST and GraphQL over real HTTP, answered from one state) in a repository
holding the bundled example, on the reference pull request: a production change and a policy
edit (3 approval stages), 4 reviews, a label, flaggate's comment already there. It counts the
requests the fake received for:

* a review that completes the last stage (the status and the comment change);
* an event that changes nothing;
* the same with 500 changed flags and with 100 reviews;
* and, beyond the target's scope, with a team of 150 members (more than one page: its
  membership of the reviewers in question is one more query).

The target is at most 4 requests per evaluation, whatever the number of flags, reviews (up to
100) and teams. Run from the repository's root:

    .venv/bin/python benchmarks/bench_github_requests.py
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.github import FakeGitHub, MemberState
from tests.github_env import NAME, OWNER, TEAMS, organisation
from tests.gitrepo import GitRepo
from tests.test_github_action import PullRequest, reference_pull

SHA = re.compile(r"[0-9a-f]{40}")
TARGET = 4
BEFORE = 12
"""Requests of the same review before the one-query read (REST: pull request, comments,
events, reviews, commits, 5 team listings, the provenance query, the status)."""


@dataclass(frozen=True)
class Row:
    """One scenario's count."""

    scenario: str
    requests: int
    detail: str


def _short(found: re.Match[str]) -> str:
    return found.group()[:7]


def _repository(root: Path) -> GitRepo:
    repo = GitRepo(root)
    repo.copy_example()
    repo.commit("example")
    return repo


def _measure(
    root: Path, name: str, flags: int, prepare: Callable[[PullRequest, FakeGitHub], None]
) -> list[Row]:
    teams = {slug: cast(Mapping[str, MemberState], members) for slug, members in TEAMS.items()}
    if name == "team of 150":
        crowd: dict[str, MemberState] = {f"engineer-{i:03}": "active" for i in range(149)}
        teams["tech-leads"] = crowd | {"alice": "active"}
    with organisation(teams) as fake:
        repo = _repository(root / name.replace(" ", "-"))
        pr = reference_pull(repo, fake, flags, last=False)
        prepare(pr, fake)
        if pr.run("pull_request", "opened").code != 0:
            raise SystemExit(f"{name}: the first run failed")
        pr.review("sam")
        rows = []
        for label in ("last stage approved", "nothing changed"):
            fake.reset_calls()
            result = pr.run("pull_request_review", "submitted")
            if result.code != 0:
                raise SystemExit(f"{name}: {result.stderr}")
            calls = fake.calls
            detail = ", ".join(f"{m} {re.sub(SHA, _short, p.split('?')[0])}" for m, p in calls)
            rows.append(Row(f"{name}: {label}", len(calls), detail))
        return rows


def _more_reviews(pr: PullRequest, fake: FakeGitHub) -> None:
    for i in range(96):
        fake.add_user(f"reader-{i}")
        pr.review(f"reader-{i}", "COMMENTED")


def main() -> int:
    """Print the table; exit 1 when a scenario exceeds the target."""
    scenarios: list[tuple[str, int, Callable[[PullRequest, FakeGitHub], None]]] = [
        ("1 flag, 4 reviews", 1, lambda _pr, _fake: None),
        ("500 flags, 4 reviews", 500, lambda _pr, _fake: None),
        ("1 flag, 100 reviews", 1, _more_reviews),
        ("team of 150", 1, lambda _pr, _fake: None),
    ]
    rows: list[Row] = []
    in_scope = {name for name, _flags, _prepare in scenarios[:3]}
    with tempfile.TemporaryDirectory(prefix="flaggate-bench-requests-") as work:
        for name, flags, prepare in scenarios:
            rows += _measure(Path(work), name, flags, prepare)
    print(f"GitHub requests per `flaggate github` evaluation ({OWNER}/{NAME}, fake GitHub)\n")
    print("| scenario | requests | target | before | requests made |")
    print("|---|---|---|---|---|")
    failed = False
    for row in rows:
        scoped = row.scenario.split(":")[0] in in_scope
        verdict = ("met" if row.requests <= TARGET else "NOT met") if scoped else "(not in scope)"
        failed |= scoped and row.requests > TARGET
        print(
            f"| {row.scenario} | {row.requests} | <= {TARGET}: {verdict} | {BEFORE} | "
            f"{row.detail} |"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
