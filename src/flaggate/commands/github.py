"""`flaggate github`: the action's entry point.

Reads the Actions environment and event and hands it to what handles it: a pull request or
review event is evaluated and published (:mod:`flaggate.github.gate`), a check event
re-evaluates the pull requests whose head it reported on, a push re-judges the pull requests
that target the pushed branch (and audits direct pushes to the default branch), a merge group
is judged as it would land, a schedule runs the sweep, a merged pull request is audited.
"""

from __future__ import annotations

import argparse

from github import GithubException
from github.PaginatedList import PaginatedList
from github.PullRequest import PullRequest as GithubPull
from github.Repository import Repository

from flaggate.commands.merged import after_merge, after_push
from flaggate.commands.options import add_github_options
from flaggate.commands.sweep import sweep
from flaggate.github.api import REQUEST_ERRORS, explain
from flaggate.github.event import (
    REVIEW_EVENTS,
    ActionsEnvironment,
    CommitEvent,
    IssueClosedEvent,
    MergeGroupEvent,
    PushEvent,
    SweepEvent,
    read_event,
)
from flaggate.github.gate import (
    PullTarget,
    evaluate_and_publish,
    fail_unread,
    reevaluate_targets,
    repository,
)
from flaggate.github.queue import evaluate_merge_group
from flaggate.incident.actions import record_review
from flaggate.pull.ledger import Observation


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `flaggate github` (the rest comes from the Actions environment)."""
    add_github_options(parser, "evaluate and print, write nothing to GitHub")


def run(args: argparse.Namespace) -> int:
    """Evaluate the event's pull request and publish the result; 0 when published."""
    env = ActionsEnvironment.from_env()
    event = read_event(env)
    if event is None:
        print(f"flaggate: nothing to do for {env.event_name} events")
        return 0
    if isinstance(event, SweepEvent):
        return int(sweep(args, env, repository(env)))
    if isinstance(event, PushEvent):
        return _after_push(args, env, repository(env), event)
    if isinstance(event, MergeGroupEvent):
        return evaluate_merge_group(args, env, repository(env), event)
    if isinstance(event, IssueClosedEvent):
        print("flaggate: " + record_review(repository(env), dict(event.payload), args.dry_run))
        return 0
    if isinstance(event, CommitEvent):
        return _evaluate_commit(args, env, repository(env), event)
    if event.closed and not event.merged:
        print(f"flaggate: pull request #{event.number} was closed without merging; nothing to do")
        return 0
    repo = repository(env)
    review = event.name in REVIEW_EVENTS
    target = PullTarget.from_payload(event.payload)
    if event.closed or target is None:
        try:  # the repository is lazy, so is the pull request: reading a field fetches it
            pull = repo.get_pull(event.number)
            merged, state = pull.merged, pull.state
        except REQUEST_ERRORS as exc:
            error = explain(exc, f"reading pull request #{event.number}", "'Pull requests: read'")
            if event.closed:  # a merge to audit: no status to fail
                raise error from None
            return fail_unread(args, env, repo, event.payload, error)
        if merged or event.closed:
            return after_merge(args, env, repo, pull, review=review)
        if state != "open":
            print(f"flaggate: pull request #{event.number} is closed; nothing to evaluate")
            return 0
        target = PullTarget.of(pull)

    def merged_since() -> int:
        """A review of a merged pull request: the retroactive approval."""
        return after_merge(args, env, repo, repo.get_pull(event.number), review=review)

    observation = Observation.of(event.name, event.payload)
    return evaluate_and_publish(
        args, env, repo, target, observation=observation, if_merged=merged_since
    )


def _after_push(
    args: argparse.Namespace, env: ActionsEnvironment, repo: Repository, event: PushEvent
) -> int:
    """Audit a direct push to the default branch, then judge again every open pull request
    that targets the pushed branch: what they would land has changed."""
    code = 0
    if event.default and set(event.before) != {"0"}:
        code = after_push(args, env, repo, event.branch, event.before, event.after)
    return max(code, reevaluate_targets(args, env, repo, event.branch))


def _evaluate_commit(
    args: argparse.Namespace, env: ActionsEnvironment, repo: Repository, event: CommitEvent
) -> int:
    """Re-evaluate the open pull requests whose head is the commit a check reported on."""
    listing = PaginatedList(
        GithubPull, repo.requester, f"{repo.url}/commits/{event.sha}/pulls", None
    )
    try:
        pulls = [p for p in listing if p.state == "open" and p.head.sha == event.sha]
    except GithubException as exc:
        raise explain(
            exc, f"listing pull requests of {event.sha[:7]}", "'Pull requests: read'"
        ) from None
    except Exception as exc:
        raise explain(exc, f"listing pull requests of {event.sha[:7]}") from None
    if not pulls:
        print(f"flaggate: {event.sha[:7]} is the head of no open pull request; nothing to do")
        return 0
    return max(
        evaluate_and_publish(args, env, repo, PullTarget.of(pull), event.check) for pull in pulls
    )
