"""After a pull request merged: the post-incident follow-up of an emergency bypass, and the
retroactive approval when reviewers approve the merged pull request later."""

from __future__ import annotations

import argparse
from datetime import datetime

from github import GithubException
from github.PullRequest import PullRequest as GithubPull
from github.Repository import Repository

from flaggate.diff import fingerprint
from flaggate.git import Git
from flaggate.github.api import explain
from flaggate.github.event import ActionsEnvironment
from flaggate.incident.actions import compliance_alert, open_follow_up, record_retroactive
from flaggate.incident.followup import linked_issue
from flaggate.policy.emergency import judge_bypass
from flaggate.policy.evaluate import evaluate
from flaggate.pull.context import Review
from flaggate.pull.github import GitHubPullRequest
from flaggate.source import compare


def after_merge(
    args: argparse.Namespace,
    env: ActionsEnvironment,
    repo: Repository,
    pull: GithubPull,
    review: bool,
) -> int:
    """On merge: open the follow-up of a valid bypass. On a later review: record the
    retroactive approval once the required stages are satisfied."""
    from flaggate.commands.github import ensure_commits, fingerprint_at

    git = Git(env.workspace)
    base_sha, head_sha = pull.base.sha, pull.head.sha
    ensure_commits(git, [base_sha, head_sha])
    comparison = compare(git, base_sha, head_sha, args.policies)
    policies = comparison.policies
    facts = GitHubPullRequest(
        pull,
        policies.roles,
        fingerprint(comparison.changes),
        lambda sha: fingerprint_at(git, base_sha, sha, args.policies, policies),
    )
    try:
        comments = [c.body or "" for c in pull.get_issue_comments()]
    except GithubException as exc:
        raise explain(exc, "reading pull request comments", "'Pull requests: read'") from None
    issue = linked_issue(comments)
    number = pull.number
    if review:
        if issue is None:
            print(f"flaggate: #{number} is merged and had no emergency bypass; nothing to record")
            return 0
        bypasser = facts.label_actor(policies.settings.spec.emergency.label)
        counted = _WithoutReviewer(facts, bypasser)
        evaluation = evaluate(comparison.changes, policies, counted)
        print(f"flaggate: #{number}: " + record_retroactive(repo, issue, evaluation, args.dry_run))
        return 0
    bypass = judge_bypass(facts, policies.settings.spec.emergency)
    if bypass is None or not bypass.valid:
        print(f"flaggate: #{number} merged without an emergency bypass; nothing to follow up")
        return 0
    if issue is not None:
        print(f"flaggate: #{number}: the post-incident review is already tracked in #{issue}")
        return 0
    flags = sorted({c.flag for c in comparison.changes if c.resource == "flag"})
    retroactive = evaluate(comparison.changes, policies, _WithoutReviewer(facts, bypass.actor))
    opened, done = open_follow_up(repo, pull, bypass, flags, bool(retroactive.stages), args.dry_run)
    print(f"flaggate: #{number}: {done}")
    compliance_alert(f"#{number} merged under {bypass.reason}; {done}", env.step_summary)
    if opened is not None and retroactive.stages:
        # Approvals given before the merge count as well.
        print(f"flaggate: #{number}: " + record_retroactive(repo, opened, retroactive, False))
    return 0


class _WithoutReviewer:
    """The pull request's facts without the emergency label and without one person's reviews:
    the retroactive approval is judged as a normal approval, and whoever bypassed approval
    cannot also give it."""

    def __init__(self, facts: GitHubPullRequest, login: str | None) -> None:
        self._facts = facts
        self._login = login

    def author(self) -> str | None:
        return self._facts.author()

    def labels(self) -> frozenset[str]:
        return frozenset()

    def base_ref(self) -> str | None:
        return self._facts.base_ref()

    def reviews(self) -> list[Review]:
        return [r for r in self._facts.reviews() if r.login != self._login]

    def pushers(self) -> frozenset[str]:
        return self._facts.pushers()

    def holds_role(self, login: str, role: str) -> bool:
        return self._facts.holds_role(login, role)

    def review_is_current(self, review: Review) -> bool:
        return self._facts.review_is_current(review)

    def body(self) -> str:
        return self._facts.body()

    def label_actor(self, label: str) -> str | None:
        return self._facts.label_actor(label)

    def opened_at(self) -> datetime | None:
        return None
