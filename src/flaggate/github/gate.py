"""Evaluating one pull request on GitHub and publishing the result.

Reads the pull request's facts from GitHub, judges what merging it would land through the
one pipeline, then writes the commit status, the sticky comment, review requests, the job
summary and the step outputs. On any doubt it fails closed: the status is never ``success``
without a full evaluation.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from github import GithubException
from github.IssueComment import IssueComment
from github.PullRequest import PullRequest as GithubPull
from github.Repository import Repository

from flaggate import clock, render
from flaggate.annotations import in_github_actions, problem_commands
from flaggate.diff import fingerprint
from flaggate.errors import ConfigError, FlaggateError, Problem
from flaggate.gates.runner import HeadChecks
from flaggate.gates.ticket import TicketLookup
from flaggate.git import Git
from flaggate.github.api import REQUEST_ERRORS, RetryPolicy, connect, explain, request_json
from flaggate.github.checks import combined_statuses, commit_checks
from flaggate.github.event import ActionsEnvironment
from flaggate.github.evidence import Thread, gather, sealed_state
from flaggate.github.summary import append_summary, write_outputs
from flaggate.github.ticketing import ticket_lookup, ticket_passed, update_ticket
from flaggate.incident.actions import compliance_alert
from flaggate.integrations.ticket_updates import PullInfo, evaluation_updates
from flaggate.model.policy import RoleBinding
from flaggate.model.policyset import PolicySet
from flaggate.model.settings import Settings
from flaggate.pipeline import base_at, base_tip, compare, ensure_commits, fingerprint_at, judge
from flaggate.policy.result import Decision, Evaluation
from flaggate.publish import comment as sticky
from flaggate.publish.announce import PullLink, deliver, evaluation_events
from flaggate.publish.notices import notices
from flaggate.publish.reviewers import ReviewRequest, to_request
from flaggate.publish.status import description as status_description
from flaggate.publish.status import shorten, status_state
from flaggate.pull.github import Evidence, GitHubPullRequest
from flaggate.pull.ledger import Ledger, Observation
from flaggate.source import Comparison, read_policies


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


MAX_REEVALUATED = 50
"""Open pull requests judged again after one push to their base branch (the sweep and each
pull request's own events catch up with the rest)."""


def reevaluate_targets(
    args: argparse.Namespace, env: ActionsEnvironment, repo: Repository, branch: str
) -> int:
    """Judge again the open pull requests that target ``branch``, which just moved: what
    merging them would land has changed. Statuses are rewritten only when they change."""
    try:
        pulls: list[GithubPull] = list(
            repo.get_pulls(state="open", base=branch)[: MAX_REEVALUATED + 1]
        )
    except REQUEST_ERRORS as exc:
        raise explain(
            exc, f"listing the pull requests into {branch}", "'Pull requests: read'"
        ) from None
    if len(pulls) > MAX_REEVALUATED:
        print(
            f"flaggate: more than {MAX_REEVALUATED} open pull requests target {branch}; "
            f"judging the newest {MAX_REEVALUATED} (the sweep reaches the rest)"
        )
        pulls = pulls[:MAX_REEVALUATED]
    if not pulls:
        print(f"flaggate: no open pull request targets {branch}; nothing to re-judge")
        return 0
    code = 0
    for pull in pulls:
        print(f"flaggate: {branch} moved: re-judging #{pull.number}")
        code = max(code, evaluate_and_publish(args, env, repo, pull, sweeping=True))
    return code


def evaluate_and_publish(
    args: argparse.Namespace,
    env: ActionsEnvironment,
    repo: Repository,
    pull: GithubPull,
    trigger_check: str | None = None,
    *,
    sweeping: bool = False,
    observation: Observation | None = None,
) -> int:
    """Evaluate one pull request and publish the result (status first); 0 when published,
    2 for invalid files or an error.

    ``sweeping``: a re-evaluation nobody asked for (the sweep, a moved base branch): the
    status is rewritten only when it changes. ``observation``: what the run's own pull
    request event vouches for (its sender, the head it announces), kept in the ledger.
    """
    git = Git(env.workspace)
    head_sha = pull.head.sha
    policies: PolicySet | None = None
    ticket: TicketLookup | None = None
    thread: Thread | None = None
    facts: GitHubPullRequest | None = None
    try:
        thread = gather(pull, observation)
        ensure_commits(git, [pull.base.sha, head_sha])
        base_sha = base_tip(git, pull.base.ref, pull.base.sha)
        comparison = compare(git, base_sha, head_sha, args.policies)
        policies = comparison.policies
        if trigger_check is not None and not _is_required(trigger_check, policies):
            print(
                f"flaggate: #{pull.number}: {trigger_check!r} is not a required check; "
                "nothing to re-evaluate"
            )
            return 0
        facts = pull_facts(git, pull, comparison, args.policies, thread.evidence)
        evaluation, ticket = _judge_pull(git, repo, pull, comparison, facts)
        if evaluation.decision is Decision.INVALID:
            _print_errors(evaluation, comparison.problems)
    except ConfigError as exc:
        if _unknown_trigger(trigger_check, policies, pull.number, exc):
            return 2
        evaluation = Evaluation.invalid([str(p) for p in exc.problems])
        _print_errors(evaluation, exc.problems)
    except FlaggateError as exc:
        if _unknown_trigger(trigger_check, policies, pull.number, exc):
            return 2
        return _fail(args, env, repo, head_sha, policies, exc)
    except Exception as exc:  # anything unforeseen while reading GitHub: never success
        error = explain(exc, "evaluating")
        if _unknown_trigger(trigger_check, policies, pull.number, error):
            return 2
        return _fail(args, env, repo, head_sha, policies, error)
    assert thread is not None
    if facts is None:  # the files did not load: still keep what this run's event saw
        facts = GitHubPullRequest(
            pull, {}, "", lambda _sha, _at: None, thread.evidence, clock.now()
        )
    settings = policies.settings if policies else Settings()
    roles = policies.roles if policies else {}
    return _publish(
        args, env, repo, pull, evaluation, settings, roles, sweeping, ticket, thread, facts
    )


def pull_facts(
    git: Git,
    pull: GithubPull,
    comparison: Comparison,
    policies_dir: str,
    evidence: Evidence | None = None,
) -> GitHubPullRequest:
    """The pull request's facts from GitHub, with reviews judged current by what they saw
    landing: the merge of the reviewed commit into the base branch as it was then.
    ``evidence`` is gathered here when not given."""
    policies = comparison.policies
    head_fingerprint = fingerprint(comparison.changes)
    base_sha = comparison.base_sha

    def reviewed(sha: str, at: datetime | None) -> str | None:
        # A review older than the whole base branch saw it as it is now.
        base_then = base_at(git, base_sha, at) or base_sha
        if base_then == base_sha and sha == comparison.head_sha:
            return head_fingerprint
        return fingerprint_at(git, base_then, sha, policies_dir, policies)

    if evidence is None:
        evidence = gather(pull).evidence
    return GitHubPullRequest(
        pull, policies.roles, head_fingerprint, reviewed, evidence, clock.now()
    )


def _judge_pull(
    git: Git,
    repo: Repository,
    pull: GithubPull,
    comparison: Comparison,
    facts: GitHubPullRequest,
) -> tuple[Evaluation, TicketLookup | None]:
    head_sha = pull.head.sha
    ticket = None
    if not comparison.problems and not comparison.conflicts:
        ticket = ticket_lookup(comparison.policies.settings.spec.tickets, repo, pull)
    head = HeadChecks(head_sha, facts.head_seen_at, lambda: commit_checks(repo, head_sha))
    evaluation = judge(
        git, comparison, facts, now=facts.now, checks=head, online=True, ticket=ticket
    )
    return evaluation, ticket


def _print_errors(evaluation: Evaluation, problems: Sequence[Problem]) -> None:
    """The problems of an ``invalid`` evaluation, one line each on stderr; in GitHub Actions
    also as workflow commands on stdout, which annotate the files' lines."""
    for error in evaluation.errors:
        print(error, file=sys.stderr)
    if in_github_actions():
        for line in problem_commands(sorted(problems)):
            print(line)


def _publish(
    args: argparse.Namespace,
    env: ActionsEnvironment,
    repo: Repository,
    pull: GithubPull,
    evaluation: Evaluation,
    settings: Settings,
    bindings: Mapping[str, RoleBinding],
    sweeping: bool,
    ticket: TicketLookup | None,
    thread: Thread,
    facts: GitHubPullRequest,
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
    unchanged = sweeping and current_status(repo, pull.head.sha, context) == (state, text)
    if not args.dry_run and not unchanged:
        # The status first: it is what branch protection reads; the rest follows from it.
        write_status(repo, pull.head.sha, state, text, context, env.run_url)
    existing = thread.sticky
    remembered = thread.state
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
    ledger = facts.ledger_out()
    body = sticky.render(evaluation, bindings, sealed_state(kept, ledger, pull), footer)
    if existing is not None and existing.body != body and not args.dry_run:
        # About to write: keep what a run that wrote meanwhile kept, too.
        latest = _latest_ledger(existing, ledger)
        if latest != ledger:
            body = sticky.render(evaluation, bindings, sealed_state(kept, latest, pull), footer)
    summary = body.replace(sticky.MARKER, "")
    if args.dry_run:
        print(
            f"dry run: would set status {context}={state} ({text!r}), "
            f"request {list(request.keys) or 'nobody'}"
        )
        print(summary)
    else:
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
            except REQUEST_ERRORS as exc:
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
            write_status(
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


def fail_unread(
    args: argparse.Namespace,
    env: ActionsEnvironment,
    repo: Repository,
    payload: Mapping[str, Any],
    error: FlaggateError,
) -> int:
    """Fail closed when the pull request itself cannot be read from GitHub: the ``error``
    status goes on the head the event announces (``pull_request.head.sha``), in the status
    context of the base's policies when the checkout has them (the default one otherwise)."""
    pull = payload.get("pull_request")
    pull = pull if isinstance(pull, Mapping) else {}
    head = _sha(pull.get("head"))
    if head is None:  # nowhere to write a status
        raise error
    return _fail(args, env, repo, head, _base_policies(env, args, pull.get("base")), error)


def _sha(ref: object) -> str | None:
    sha = ref.get("sha") if isinstance(ref, Mapping) else None
    return sha if isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", sha) else None


def _base_policies(
    env: ActionsEnvironment, args: argparse.Namespace, base: object
) -> PolicySet | None:
    """The policies at the event's base commit, when the checkout has it (nothing is fetched:
    this is for a status while GitHub is failing); None when they cannot be read."""
    sha = _sha(base)
    if sha is None:
        return None
    try:
        return read_policies(Git(env.workspace), sha, args.policies)
    except (FlaggateError, OSError):
        return None


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


def current_status(repo: Repository, sha: str, context: str) -> tuple[str, str] | None:
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


def write_status(
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


def _latest_ledger(existing: IssueComment | None, ledger: Ledger) -> Ledger:
    """``ledger`` with what a run that wrote the comment meanwhile kept (read again just
    before writing, so two runs at once lose no pusher)."""
    if existing is None:
        return ledger
    try:
        existing.update()
    except Exception:  # unreadable now: write what this run knows
        return ledger
    data = sticky.CommentState.parse(existing.body).ledger
    try:
        return ledger.merged(Ledger.from_json(data)) if data is not None else ledger
    except (ValueError, TypeError):
        return ledger


def _upsert_comment(pull: GithubPull, existing: IssueComment | None, body: str) -> None:
    try:
        if existing is None:
            pull.create_issue_comment(body)
        elif existing.body != body:
            existing.edit(body)
    except REQUEST_ERRORS as exc:
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
