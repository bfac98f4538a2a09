"""Merge queues: judge a merge group as it would land.

GitHub builds a merge group as commits on top of the base branch, one run of first-parent
commits per queued pull request, each ending at the tip of a
``gh-readonly-queue/<base>/pr-<number>-<sha>`` branch (the group's own ``head_ref`` for the
last one). Each run is judged on its own: the changes from the commit before it to its last
commit, with the reviews of the pull request that brought it and the policies of the base
branch. The status goes on the group's head commit; it is ``success`` only when every pull
request in the group is.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

from github.Repository import Repository

from flaggate import clock
from flaggate.errors import ConfigError, FlaggateError, GitError
from flaggate.gates.runner import HeadChecks
from flaggate.gates.ticket import PullText
from flaggate.git import Git
from flaggate.github.api import explain
from flaggate.github.checks import commit_checks
from flaggate.github.event import ActionsEnvironment, MergeGroupEvent
from flaggate.github.gate import pull_facts, teams_of, write_status
from flaggate.github.snapshot import read_pull
from flaggate.github.summary import append_summary, write_outputs
from flaggate.github.ticketing import ticket_lookup
from flaggate.model.policyset import PolicySet
from flaggate.model.settings import Settings
from flaggate.pipeline import compare, ensure_commits, judge
from flaggate.policy.result import Decision, Evaluation
from flaggate.publish.status import shorten, status_state
from flaggate.source import read_policies

_QUEUE_BRANCH = re.compile(r"(?:^|/)pr-(\d+)-[0-9a-f]{40}$")

_WORST_FIRST = (
    Decision.INVALID,
    Decision.FAILED,
    Decision.REJECTED,
    Decision.PENDING,
    Decision.APPROVED,
    Decision.BYPASSED,
    Decision.NO_CHANGES,
)


@dataclass(frozen=True)
class QueueEntry:
    """The commits one pull request adds to a merge group: ``parent`` to ``commit``."""

    number: int
    parent: str
    commit: str


def evaluate_merge_group(
    args: argparse.Namespace, env: ActionsEnvironment, repo: Repository, group: MergeGroupEvent
) -> int:
    """Judge every pull request of the group and set the status on its head commit."""
    git = Git(env.workspace)
    policies: PolicySet | None = None
    results: list[tuple[int, Evaluation]] = []
    try:
        ensure_commits(git, [group.base_sha, group.head_sha])
        policies = read_policies(git, group.base_sha, args.policies)
        for entry in queue_entries(git, group):
            results.append(
                (
                    entry.number,
                    _judge_entry(git, repo, env.repository, group, entry, policies, args),
                )
            )
    except ConfigError as exc:
        results = [(0, Evaluation.invalid([str(p) for p in exc.problems]))]
    except FlaggateError as exc:
        return _error(args, env, repo, group, policies, exc)
    except Exception as exc:  # anything unforeseen: never success
        return _error(args, env, repo, group, policies, explain(exc, "evaluating"))
    decision = next(d for d in _WORST_FIRST if any(e.decision is d for _, e in results))
    parts = [f"#{n}: {e.decision.value}" if n else e.summary for n, e in results]
    text = shorten(f"merge group of {len(results)}: " + "; ".join(parts))
    worst = next(e for _, e in results if e.decision is decision)
    state = status_state(worst)
    context = (policies.settings if policies else Settings()).spec.statusContext
    print(f"flaggate: merge group {group.head_sha[:7]}: {decision.value}: {text}")
    for number, evaluation in results:
        for error in evaluation.errors:
            print(f"flaggate: #{number}: {error}", file=sys.stderr)
    if args.dry_run:
        print(f"dry run: would set status {context}={state} ({text!r}) on {group.head_sha[:7]}")
    else:
        write_status(repo, group.head_sha, state, text, context, env.run_url)
    append_summary(env.step_summary, f"## flaggate: merge group {group.head_sha[:7]}\n\n{text}\n")
    write_outputs(env.output, {"decision": decision.value, "plan": text})
    return 2 if decision is Decision.INVALID else 0


def queue_entries(git: Git, group: MergeGroupEvent) -> list[QueueEntry]:
    """The group's commits split by pull request, in queue order; raise GitError when a
    commit cannot be traced to a queued pull request."""
    out = git.run(
        ["rev-list", "--first-parent", "--reverse", f"{group.base_sha}..{group.head_sha}"]
    )
    commits = out.decode().split()
    if not commits:
        raise GitError(f"merge group {group.head_sha[:7]} adds no commit to {group.base_ref}")
    ends = _queue_branches(git, group.base_ref)
    own = _QUEUE_BRANCH.search(group.head_ref)
    if own is None:
        raise GitError(f"merge group branch {group.head_ref!r} names no pull request")
    ends[group.head_sha] = int(own.group(1))
    entries = []
    parent = group.base_sha
    for commit in commits:
        if commit in ends:
            entries.append(QueueEntry(ends[commit], parent, commit))
            parent = commit
    return entries


def _queue_branches(git: Git, base: str) -> dict[str, int]:
    """The tips of the queue's branches for ``base``, fetched when the checkout has a remote."""
    prefix = f"gh-readonly-queue/{base}/"
    if "origin" in git.run(["remote"]).decode().split():
        git.run(
            [
                "fetch",
                "--no-tags",
                "--quiet",
                "origin",
                f"+refs/heads/{prefix}*:refs/remotes/origin/{prefix}*",
            ]
        )
    out = git.run(
        [
            "for-each-ref",
            "--format=%(objectname) %(refname)",
            f"refs/remotes/origin/{prefix}",
            f"refs/heads/{prefix}",
        ]
    ).decode()
    ends: dict[str, int] = {}
    for line in out.splitlines():
        sha, _, ref = line.partition(" ")
        found = _QUEUE_BRANCH.search(ref)
        if found is not None:
            ends[sha] = int(found.group(1))
    return ends


def _judge_entry(
    git: Git,
    repo: Repository,
    repository: str,
    group: MergeGroupEvent,
    entry: QueueEntry,
    policies: PolicySet,
    args: argparse.Namespace,
) -> Evaluation:
    pull = read_pull(repo.requester, repository, entry.number, entry.commit, teams_of(policies))
    comparison = compare(git, entry.parent, entry.commit, args.policies, policies)
    facts = pull_facts(git, pull, comparison, args.policies, repo=repo)
    # GitHub made the merge group's commit: its date is GitHub's, not an author's.
    committed = datetime.fromtimestamp(git.commit_time(group.head_sha), UTC)
    head = HeadChecks(group.head_sha, committed, lambda: commit_checks(repo, group.head_sha))
    text = PullText(pull.title, pull.head_ref, pull.body)
    ticket = ticket_lookup(policies.settings.spec.tickets, repo, text)
    return judge(git, comparison, facts, now=clock.now(), checks=head, online=True, ticket=ticket)


def _error(
    args: argparse.Namespace,
    env: ActionsEnvironment,
    repo: Repository,
    group: MergeGroupEvent,
    policies: PolicySet | None,
    error: FlaggateError,
) -> int:
    print(f"flaggate: error: {error}", file=sys.stderr)
    context = (policies.settings if policies else Settings()).spec.statusContext
    if not args.dry_run:
        text = shorten(f"flaggate could not evaluate the merge group: {error.message}")
        write_status(repo, group.head_sha, "error", text, context, env.run_url)
    append_summary(env.step_summary, f"## ⚠️ flaggate could not evaluate\n\n{error}\n")
    write_outputs(env.output, {"decision": "error", "plan": str(error)})
    return 2
