"""`flaggate github`: the action's entry point.

Reads the Actions environment and event, evaluates the pull request with reviews and team
membership from GitHub, then writes the commit status, the sticky comment, review requests,
the job summary and the step outputs. On any doubt it fails closed: the status is never
``success`` without a full evaluation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

from github import GithubException
from github.IssueComment import IssueComment
from github.PaginatedList import PaginatedList
from github.PullRequest import PullRequest as GithubPull
from github.Repository import Repository

from flaggate import render
from flaggate.commands.options import add_github_options
from flaggate.commands.ticketing import ticket_lookup, ticket_passed, update_ticket
from flaggate.diff import fingerprint
from flaggate.errors import ConfigError, FlaggateError, GitError
from flaggate.gates.runner import HeadChecks, gate_context, run_gates
from flaggate.gates.ticket import TicketLookup
from flaggate.git import Git
from flaggate.github.api import RetryPolicy, connect, explain, request_json
from flaggate.github.checks import combined_statuses, commit_checks
from flaggate.github.event import (
    REVIEW_EVENTS,
    ActionsEnvironment,
    CommitEvent,
    IssueClosedEvent,
    PushEvent,
    SweepEvent,
    read_event,
)
from flaggate.incident.actions import compliance_alert, record_review
from flaggate.integrations.ticket_updates import PullInfo, evaluation_updates
from flaggate.model.load import PolicySet
from flaggate.model.policy import RoleBinding
from flaggate.model.settings import Settings
from flaggate.policy.evaluate import evaluate
from flaggate.policy.result import Decision, Evaluation
from flaggate.publish import comment as sticky
from flaggate.publish.announce import PullLink, deliver, evaluation_events
from flaggate.publish.notices import notices
from flaggate.publish.reviewers import ReviewRequest, to_request
from flaggate.publish.status import description as status_description
from flaggate.publish.status import shorten, status_state
from flaggate.publish.summary import append_summary, write_outputs
from flaggate.pull.github import GitHubPullRequest
from flaggate.source import compare


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
        from flaggate.commands.sweep import sweep

        return int(sweep(args, env, repository(env)))
    if isinstance(event, PushEvent):
        from flaggate.commands.merged import after_push

        return int(after_push(args, env, repository(env), event.before, event.after))
    if isinstance(event, IssueClosedEvent):
        print("flaggate: " + record_review(repository(env), dict(event.payload), args.dry_run))
        return 0
    if isinstance(event, CommitEvent):
        repo = repository(env)
        return _evaluate_commit(args, env, repo, event)
    if event.closed and not event.merged:
        print(f"flaggate: pull request #{event.number} was closed without merging; nothing to do")
        return 0
    repo = repository(env)
    try:
        pull = repo.get_pull(event.number)
        merged, state = pull.merged, pull.state
    except GithubException as exc:
        raise explain(
            exc, f"reading pull request #{event.number}", "'Pull requests: read'"
        ) from None
    if merged or event.closed:
        from flaggate.commands.merged import after_merge

        return after_merge(args, env, repo, pull, review=event.name in REVIEW_EVENTS)
    if state != "open":
        print(f"flaggate: pull request #{event.number} is closed; nothing to evaluate")
        return 0
    return evaluate_and_publish(args, env, repo, pull)


def repository(env: ActionsEnvironment) -> Repository:
    """The repository of the run, through a client with retries and the run's credentials."""
    gh = connect(
        env.api_url,
        os.environ.get("GITHUB_TOKEN") or os.environ.get("INPUT_TOKEN"),
        os.environ.get("FLAGGATE_APP_ID"),
        os.environ.get("FLAGGATE_APP_PRIVATE_KEY"),
        env.repository,
        RetryPolicy.from_env(),
    )
    return gh.get_repo(env.repository, lazy=True)


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
    return max(evaluate_and_publish(args, env, repo, pull, event.check) for pull in pulls)


def evaluate_and_publish(
    args: argparse.Namespace,
    env: ActionsEnvironment,
    repo: Repository,
    pull: GithubPull,
    trigger_check: str | None = None,
    *,
    sweeping: bool = False,
) -> int:
    """Evaluate one pull request and publish the result (status first); 0 when published,
    2 for invalid files or an error."""
    git = Git(env.workspace)
    base_sha, head_sha = pull.base.sha, pull.head.sha
    policies: PolicySet | None = None
    ticket: TicketLookup | None = None
    try:
        ensure_commits(git, [base_sha, head_sha])
        comparison = compare(git, base_sha, head_sha, args.policies)
        policies = comparison.policies
        if trigger_check is not None and not _is_required(trigger_check, policies):
            print(
                f"flaggate: #{pull.number}: {trigger_check!r} is not a required check; "
                "nothing to re-evaluate"
            )
            return 0
        if comparison.problems:
            evaluation = _invalid([str(p) for p in comparison.problems])
        else:
            facts = GitHubPullRequest(
                pull,
                policies.roles,
                fingerprint(comparison.changes),
                lambda sha: fingerprint_at(git, base_sha, sha, args.policies, policies),
            )
            committed = datetime.fromtimestamp(git.commit_time(head_sha), UTC)
            facts.clock_start = committed
            head = HeadChecks(head_sha, committed, lambda: commit_checks(repo, head_sha))
            ticket = ticket_lookup(policies.settings.spec.tickets, repo, pull)
            context = gate_context(git, comparison, checks=head, online=True, ticket=ticket)
            gates = run_gates(comparison.changes, policies, context)
            evaluation = evaluate(comparison.changes, policies, facts, gates, context.now)
    except ConfigError as exc:
        if _unknown_trigger(trigger_check, policies, pull.number, exc):
            return 2
        evaluation = _invalid([str(p) for p in exc.problems])
    except FlaggateError as exc:
        if _unknown_trigger(trigger_check, policies, pull.number, exc):
            return 2
        return _fail(args, env, repo, head_sha, policies, exc)
    except Exception as exc:  # anything unforeseen while reading GitHub: never success
        error = explain(exc, "evaluating")
        if _unknown_trigger(trigger_check, policies, pull.number, error):
            return 2
        return _fail(args, env, repo, head_sha, policies, error)
    settings = policies.settings if policies else Settings()
    roles = policies.roles if policies else {}
    return _publish(args, env, repo, pull, evaluation, settings, roles, sweeping, ticket)


def _publish(
    args: argparse.Namespace,
    env: ActionsEnvironment,
    repo: Repository,
    pull: GithubPull,
    evaluation: Evaluation,
    settings: Settings,
    bindings: Mapping[str, RoleBinding],
    sweeping: bool = False,
    ticket: TicketLookup | None = None,
) -> int:
    context = settings.spec.statusContext
    state = status_state(evaluation)
    text = status_description(evaluation, bindings)
    footer = f"policies from {pull.base.ref}@{pull.base.sha[:7]} · head {pull.head.sha[:7]}" + (
        f" · [workflow run]({env.run_url})" if env.run_url else ""
    )
    plan = render.dumps(render.to_json(evaluation, {"pullRequest": pull.number}))
    print(f"flaggate: {evaluation.decision.value}: {evaluation.summary}")
    org = env.repository.split("/", 1)[0]
    author = pull.user.login if pull.user else None
    unchanged = sweeping and _current_status(repo, pull.head.sha, context) == (state, text)
    if not args.dry_run and not unchanged:
        # The status first: it is what branch protection reads; the rest follows from it.
        _write_status(repo, pull.head.sha, state, text, context, env.run_url)
    comment_readable = True
    existing = None
    try:
        existing = _find_comment(pull)
    except FlaggateError as exc:
        comment_readable = False
        print(f"flaggate: warning: {exc}; the comment is not updated", file=sys.stderr)
    remembered = sticky.CommentState.parse(existing.body if existing else None)
    already = set(remembered.requested)
    already.update(f"{org}/{team.slug}" for team in pull.requested_teams)
    already.update(f"@{user.login}" for user in pull.requested_reviewers)
    request = to_request(evaluation, bindings, org, author, already)
    asked = request.keys if request and not args.dry_run and _request_reviews(pull, request) else ()
    requested = tuple(dict.fromkeys(remembered.requested + asked))
    given = _give_notices(args, env, pull, evaluation, settings, bindings, remembered.notices)
    tickets = settings.spec.tickets
    if ticket is not None and tickets is not None and ticket_passed(evaluation):
        about = PullInfo(env.repository, pull.number, pull.html_url, author)
        updates = evaluation_updates(evaluation, tickets, about)
        given += tuple(
            update_ticket(ticket, updates, remembered.notices, env.step_summary, args.dry_run)
        )
    kept = sticky.CommentState(requested, tuple(dict.fromkeys(remembered.notices + given)))
    body = sticky.render(evaluation, bindings, kept, footer)
    summary = body.replace(sticky.MARKER, "")
    if args.dry_run:
        print(
            f"dry run: would set status {context}={state} ({text!r}), "
            f"request {list(request.keys) or 'nobody'}"
        )
        print(summary)
    else:
        if comment_readable:
            _upsert_comment(pull, existing, body)
        for team in request.skipped:
            print(
                f"flaggate: warning: cannot request a review from {team}: "
                f"not in the {org} organisation",
                file=sys.stderr,
            )
    append_summary(env.step_summary, summary)
    write_outputs(env.output, {"decision": evaluation.decision.value, "plan": plan})
    return 2 if evaluation.decision is Decision.INVALID else 0


def _give_notices(
    args: argparse.Namespace,
    env: ActionsEnvironment,
    pull: GithubPull,
    evaluation: Evaluation,
    settings: Settings,
    bindings: Mapping[str, RoleBinding],
    already: tuple[str, ...],
) -> tuple[str, ...]:
    """Post each one-time notice and send each notification not given before; the keys of
    those given now."""
    given: list[str] = []
    targets = settings.spec.notifications
    link = PullLink(
        env.repository,
        pull.number,
        pull.html_url,
        pull.title or "",
        pull.user.login if pull.user else None,
    )
    for event in evaluation_events(evaluation, bindings, link):
        key = f"notify:{event.type}:{event.key}"
        if key in already or not any(target.wants(event.type) for target in targets):
            continue
        if deliver(event, targets, env.step_summary, args.dry_run):
            given.append(key)
    for notice in notices(evaluation, bindings):
        if notice.key in already:
            continue
        if args.dry_run:
            print(
                f"dry run: would {'alert' if notice.kind == 'alert' else 'comment'}: {notice.text}"
            )
            continue
        if notice.kind == "alert":
            compliance_alert(f"#{pull.number}: {notice.text}", env.step_summary)
        else:
            try:
                pull.create_issue_comment(notice.text)
            except GithubException as exc:
                print(f"flaggate: warning: {explain(exc, 'commenting')}", file=sys.stderr)
                continue
        given.append(notice.key)
    return tuple(given)


def _fail(
    args: argparse.Namespace,
    env: ActionsEnvironment,
    repo: Repository,
    head_sha: str,
    policies: PolicySet | None,
    error: FlaggateError,
) -> int:
    """Fail closed: report an ``error`` status with the reason, when it can still be written."""
    print(f"flaggate: error: {error}", file=sys.stderr)
    context = policies.settings.spec.statusContext if policies else Settings().spec.statusContext
    if not args.dry_run:
        try:
            _write_status(
                repo,
                head_sha,
                "error",
                shorten(f"flaggate could not evaluate: {error.message}"),
                context,
                env.run_url,
            )
        except FlaggateError as again:
            print(f"flaggate: error: {again}", file=sys.stderr)
    append_summary(env.step_summary, f"## ⚠️ flaggate could not evaluate\n\n{error}\n")
    write_outputs(env.output, {"decision": "error", "plan": json.dumps({"error": str(error)})})
    return 2


def _invalid(errors: list[str]) -> Evaluation:
    for error in errors:
        print(error, file=sys.stderr)
    return Evaluation.invalid(errors)


def _unknown_trigger(
    check: str | None, policies: PolicySet | None, number: int, error: Exception
) -> bool:
    """Whether a check event failed before its check was known to be required.

    Nothing is published then: the pull request's own events have reported the problem,
    and a status written here would raise another status event, and another.
    """
    if check is None or policies is not None:
        return False
    print(
        f"flaggate: #{number}: not re-evaluated for {check!r}, which cannot be matched to "
        f"the policies: {error}",
        file=sys.stderr,
    )
    return True


def _is_required(check: str, policies: PolicySet) -> bool:
    return any(check in env.requiredChecks for env in policies.environments)


def ensure_commits(git: Git, shas: list[str]) -> None:
    """Fetch commits the checkout lacks (a shallow or single-ref checkout); raise GitError."""
    missing = [sha for sha in shas if not _has_commit(git, sha)]
    if missing:
        try:
            git.run(["fetch", "--no-tags", "--quiet", "origin", *missing])
        except GitError:
            raise GitError(
                f"commit(s) {', '.join(s[:12] for s in missing)} not in the checkout",
                "use actions/checkout with fetch-depth: 0",
            ) from None


def _has_commit(git: Git, sha: str) -> bool:
    try:
        git.run(["cat-file", "-e", f"{sha}^{{commit}}"])
        return True
    except GitError:
        return False


def fingerprint_at(
    git: Git, base_sha: str, sha: str, policies_dir: str, policies: PolicySet
) -> str | None:
    """The change-set fingerprint at a reviewed commit; None when it cannot be read."""
    try:
        ensure_commits(git, [sha])
        return fingerprint(compare(git, base_sha, sha, policies_dir, policies).changes)
    except (GitError, ConfigError):
        return None


def _current_status(repo: Repository, sha: str, context: str) -> tuple[str, str] | None:
    """The state and description of ``context`` on ``sha`` (a sweep rewrites only changes:
    GitHub keeps at most 1,000 statuses per commit and context)."""
    try:
        statuses = combined_statuses(repo, sha)
    except FlaggateError:  # unreadable: write it again rather than guess
        return None
    for status in statuses:
        if status.get("context") == context:
            return str(status.get("state")), str(status.get("description") or "")
    return None


def _write_status(
    repo: Repository, sha: str, state: str, text: str, context: str, target_url: str | None
) -> None:
    body = {"state": state, "description": text, "context": context}
    if target_url:
        body["target_url"] = target_url
    try:
        request_json(repo.requester, "POST", f"{repo.url}/statuses/{sha}", body)
    except GithubException as exc:
        raise explain(exc, "writing the commit status", "'Commit statuses: write'") from None
    except Exception as exc:  # connection errors after retries
        raise explain(exc, "writing the commit status") from None


def _find_comment(pull: GithubPull) -> IssueComment | None:
    try:
        for item in pull.get_issue_comments():
            if sticky.MARKER in (item.body or "") and item.user and item.user.type == "Bot":
                return item
    except Exception as exc:
        raise explain(exc, "reading pull request comments", "'Pull requests: read'") from None
    return None


def _upsert_comment(pull: GithubPull, existing: IssueComment | None, body: str) -> None:
    try:
        if existing is None:
            pull.create_issue_comment(body)
        elif existing.body != body:
            existing.edit(body)
    except GithubException as exc:
        print(
            f"flaggate: warning: {explain(exc, 'writing the pull request comment')}",
            file=sys.stderr,
        )


def _request_reviews(pull: GithubPull, request: ReviewRequest) -> bool:
    """Ask for reviews; a failure is reported and retried on the next run."""
    try:
        pull.create_review_request(
            reviewers=list(request.users),
            team_reviewers=[team.split("/", 1)[1] for team in request.teams],
        )
        return True
    except Exception as exc:  # a follow-up write: reported, not fatal
        print(f"flaggate: warning: {explain(exc, 'requesting reviews')}", file=sys.stderr)
        return False
