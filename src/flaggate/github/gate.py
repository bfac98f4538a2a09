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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from github import GithubException
from github.PullRequest import PullRequest as GithubPull
from github.Repository import Repository

from flaggate import clock, render
from flaggate.annotations import in_github_actions, problem_commands
from flaggate.diff import fingerprint
from flaggate.errors import ConfigError, FlaggateError, GitError, Problem
from flaggate.gates.runner import HeadChecks
from flaggate.gates.ticket import PullText, TicketLookup
from flaggate.git import Git
from flaggate.github.api import (
    REQUEST_ERRORS,
    RetryPolicy,
    connect,
    explain,
    request_json,
    requests_made,
)
from flaggate.github.checks import combined_statuses, commit_checks
from flaggate.github.event import ActionsEnvironment
from flaggate.github.evidence import Thread, gather, sealed_state
from flaggate.github.provenance import same_login
from flaggate.github.snapshot import PullComment, PullSnapshot, more_members, read_pull
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


@dataclass(frozen=True)
class PullTarget:
    """The pull request to judge, as the event or a listing names it: GitHub is read once,
    after the base policies say which teams matter."""

    number: int
    base_ref: str
    base_sha: str
    head_sha: str

    @classmethod
    def of(cls, pull: GithubPull | PullSnapshot) -> PullTarget:
        """The target of a REST pull request or a snapshot."""
        if isinstance(pull, PullSnapshot):
            return cls(pull.number, pull.base_ref, pull.base_sha, pull.head_sha)
        return cls(pull.number, pull.base.ref, pull.base.sha, pull.head.sha)

    def moved(self, pull: PullSnapshot) -> bool:
        """Whether ``pull`` has another head or base branch than this target (the base
        branch's tip is fetched afresh either way)."""
        return (pull.head_sha, pull.base_ref) != (self.head_sha, self.base_ref)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> PullTarget | None:
        """The target of a pull request event's ``pull_request`` (None when it lacks one)."""
        pull = payload.get("pull_request")
        if not isinstance(pull, Mapping) or not isinstance(pull.get("number"), int):
            return None
        base, head = pull.get("base"), pull.get("head")
        ref = base.get("ref") if isinstance(base, Mapping) else None
        base_sha, head_sha = _sha(base), _sha(head)
        if not isinstance(ref, str) or base_sha is None or head_sha is None:
            return None
        return cls(pull["number"], ref, base_sha, head_sha)


def teams_of(policies: PolicySet | None) -> frozenset[str]:
    """The teams (``org/slug``) the policies' roles name."""
    if policies is None:
        return frozenset()
    return frozenset(team for binding in policies.roles.values() for team in binding.teams)


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
        target = PullTarget.of(pull)
        code = max(code, evaluate_and_publish(args, env, repo, target, sweeping=True))
    return code


def evaluate_and_publish(
    args: argparse.Namespace,
    env: ActionsEnvironment,
    repo: Repository,
    target: PullTarget,
    trigger_check: str | None = None,
    *,
    sweeping: bool = False,
    observation: Observation | None = None,
    if_merged: Callable[[], int] | None = None,
) -> int:
    """Evaluate one pull request and publish the result (status first); 0 when published,
    2 for invalid files or an error.

    GitHub is read once (:func:`~flaggate.github.snapshot.read_pull`), after the base
    policies are known; when the pull request moved since ``target`` was taken, it is judged
    as it is now. ``sweeping``: a re-evaluation nobody asked for (the sweep, a moved base
    branch). ``observation``: what the run's own pull request event vouches for (its sender,
    the head it announces), kept in the ledger. ``if_merged``: what to do when the pull
    request turns out to be merged (nothing by default).
    """
    git = Git(env.workspace)
    head_sha = target.head_sha
    policies: PolicySet | None = None
    ticket: TicketLookup | None = None
    snapshot: PullSnapshot | None = None
    facts: GitHubPullRequest | None = None
    try:
        try:
            comparison = _compare(git, target, args.policies)
        except GitError:  # the event's commits are gone (a force push): read GitHub first
            snapshot = _read(repo, env, target, None)
            if snapshot.state != "OPEN":
                return _not_open(snapshot, if_merged)
            target, head_sha = PullTarget.of(snapshot), snapshot.head_sha
            comparison = _compare(git, target, args.policies)
        policies = comparison.policies
        if trigger_check is not None and not _is_required(trigger_check, policies):
            print(
                f"flaggate: #{target.number}: {trigger_check!r} is not a required check; "
                "nothing to re-evaluate"
            )
            return 0
        if snapshot is None:
            snapshot = _read(repo, env, target, policies)
        if snapshot.state != "OPEN":
            return _not_open(snapshot, if_merged)
        if target.moved(snapshot):  # since the event: judge it as it is now
            target, head_sha = PullTarget.of(snapshot), snapshot.head_sha
            comparison = _compare(git, target, args.policies)
            policies = comparison.policies
        thread = gather(snapshot, observation)
        facts = pull_facts(git, snapshot, comparison, args.policies, thread.evidence, repo)
        evaluation, ticket = _judge_pull(git, repo, snapshot, comparison, facts)
        if evaluation.decision is Decision.INVALID:
            _print_errors(evaluation, comparison.problems)
    except ConfigError as exc:
        if _unknown_trigger(trigger_check, policies, target.number, exc):
            return 2
        evaluation = Evaluation.invalid([str(p) for p in exc.problems])
        _print_errors(evaluation, exc.problems)
    except FlaggateError as exc:
        if _unknown_trigger(trigger_check, policies, target.number, exc):
            return 2
        return _fail(args, env, repo, head_sha, policies, exc)
    except Exception as exc:  # anything unforeseen while reading GitHub: never success
        error = explain(exc, "evaluating")
        if _unknown_trigger(trigger_check, policies, target.number, error):
            return 2
        return _fail(args, env, repo, head_sha, policies, error)
    if snapshot is None:  # the files did not load before GitHub was read
        try:
            snapshot = _read(repo, env, target, None)
        except FlaggateError as exc:
            return _fail(args, env, repo, head_sha, policies, exc)
        if snapshot.state != "OPEN":
            return _not_open(snapshot, if_merged)
    thread = gather(snapshot, observation)
    if facts is None:  # still keep what this run's event saw
        facts = GitHubPullRequest(
            snapshot, {}, "", lambda _sha, _at: None, thread.evidence, clock.now()
        )
    settings = policies.settings if policies else Settings()
    roles = policies.roles if policies else {}
    published = Published(repo, snapshot, thread, facts)
    return _publish(args, env, published, evaluation, settings, roles, sweeping, ticket)


def _compare(git: Git, target: PullTarget, policies_dir: str) -> Comparison:
    ensure_commits(git, [target.base_sha, target.head_sha])
    base_sha = base_tip(git, target.base_ref, target.base_sha)
    return compare(git, base_sha, target.head_sha, policies_dir)


def _read(
    repo: Repository, env: ActionsEnvironment, target: PullTarget, policies: PolicySet | None
) -> PullSnapshot:
    return read_pull(
        repo.requester, env.repository, target.number, target.head_sha, teams_of(policies)
    )


def _not_open(snapshot: PullSnapshot, if_merged: Callable[[], int] | None) -> int:
    if snapshot.state == "MERGED" and if_merged is not None:
        return if_merged()
    state = snapshot.state.lower()
    print(f"flaggate: pull request #{snapshot.number} is {state}; nothing to evaluate")
    return 0


def pull_facts(
    git: Git,
    pull: PullSnapshot,
    comparison: Comparison,
    policies_dir: str,
    evidence: Evidence | None = None,
    repo: Repository | None = None,
) -> GitHubPullRequest:
    """The pull request's facts from its snapshot, with reviews judged current by what they
    saw landing: the merge of the reviewed commit into the base branch as it was then.
    ``evidence`` is gathered here when not given; with ``repo``, memberships of teams too
    large for the snapshot are asked of GitHub."""
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
    members = None
    if repo is not None:
        requester = repo.requester
        members = lambda asks: more_members(requester, asks)  # noqa: E731
    return GitHubPullRequest(
        pull, policies.roles, head_fingerprint, reviewed, evidence, clock.now(), members
    )


def _judge_pull(
    git: Git,
    repo: Repository,
    pull: PullSnapshot,
    comparison: Comparison,
    facts: GitHubPullRequest,
) -> tuple[Evaluation, TicketLookup | None]:
    head_sha = pull.head_sha
    ticket = None
    if not comparison.problems and not comparison.conflicts:
        text = PullText(pull.title, pull.head_ref, pull.body)
        ticket = ticket_lookup(comparison.policies.settings.spec.tickets, repo, text)
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


@dataclass(frozen=True)
class Published:
    """Where an evaluation is published: the repository, the pull request as read, what it
    holds of flaggate's (the sticky comment, the ledger) and the facts judged."""

    repo: Repository
    pull: PullSnapshot
    thread: Thread
    facts: GitHubPullRequest


def _publish(
    args: argparse.Namespace,
    env: ActionsEnvironment,
    where: Published,
    evaluation: Evaluation,
    settings: Settings,
    bindings: Mapping[str, RoleBinding],
    sweeping: bool,
    ticket: TicketLookup | None,
) -> int:
    repo, pull, thread = where.repo, where.pull, where.thread
    context = settings.spec.statusContext
    state = status_state(evaluation)
    text = status_description(evaluation, bindings)
    footer = f"policies from {pull.base_ref}@{pull.base_sha[:7]} · head {pull.head_sha[:7]}"
    run_link = f" · [workflow run]({env.run_url})" if env.run_url else ""
    plan = render.dumps(render.to_json(evaluation, {"pullRequest": pull.number}))
    print(f"flaggate: {evaluation.decision.value}: {evaluation.summary}")
    org = env.repository.split("/", 1)[0]
    if not args.dry_run and _status_of(repo, pull, context, sweeping) != (state, text):
        # The status first: it is what branch protection reads; the rest follows from it.
        write_status(repo, pull.head_sha, state, text, context, env.run_url)
    existing = thread.sticky
    remembered = thread.state
    already = set(remembered.requested) | pull.requested
    request = to_request(evaluation, bindings, org, pull.author, already)
    asked = (
        request.keys
        if request and not args.dry_run and _request_reviews(repo, pull.number, request)
        else ()
    )
    requested = tuple(dict.fromkeys(remembered.requested + asked))
    given = _give_notices(args, env, repo, pull, evaluation, settings, bindings, remembered.notices)
    tickets = settings.spec.tickets
    if ticket is not None and tickets is not None and ticket_passed(evaluation):
        about = PullInfo(env.repository, pull.number, pull.url, pull.author)
        updates = evaluation_updates(evaluation, tickets, about)
        given += tuple(
            update_ticket(ticket, updates, remembered.notices, env.step_summary, args.dry_run)
        )
    kept = sticky.CommentState(requested, tuple(dict.fromkeys(remembered.notices + given)))
    ledger = where.facts.ledger_out()
    sealed = sealed_state(kept, ledger, pull)
    body = sticky.render(evaluation, bindings, sealed, footer + run_link)
    unchanged = existing is not None and _same_comment(
        existing.body, sticky.render(evaluation, bindings, sealed, footer), run_link
    )
    if existing is not None and not unchanged and not args.dry_run:
        # About to write: keep what a run that wrote meanwhile kept, too.
        latest = _latest_ledger(repo, existing, ledger)
        if latest != ledger:
            body = sticky.render(
                evaluation, bindings, sealed_state(kept, latest, pull), footer + run_link
            )
    summary = body.replace(sticky.MARKER, "")
    if args.dry_run:
        print(
            f"dry run: would set status {context}={state} ({text!r}), "
            f"request {list(request.keys) or 'nobody'}"
        )
        print(summary)
    else:
        if not unchanged:
            _upsert_comment(repo, pull.number, existing, body)
        for team in request.skipped:
            print(
                f"flaggate: warning: cannot request a review from {team}: "
                f"not in the {org} organisation",
                file=sys.stderr,
            )
    count = requests_made()
    append_summary(
        env.step_summary,
        summary + f"\n<sub>{count} GitHub API request{'s' if count != 1 else ''}</sub>\n",
    )
    write_outputs(env.output, {"decision": evaluation.decision.value, "plan": plan})
    return 2 if evaluation.decision is Decision.INVALID else 0


def _status_of(
    repo: Repository, pull: PullSnapshot, context: str, sweeping: bool
) -> tuple[str, str] | None:
    """The state and description flaggate last wrote for ``context`` on the head, from the
    snapshot (None: another account wrote the latest one, or it cannot be told). Unchanged,
    it is not written again: GitHub keeps at most 1,000 statuses per commit and context."""
    if pull.head_statuses is None:
        return current_status(repo, pull.head_sha, context) if sweeping else None
    for status in pull.head_statuses:
        if status.context == context:
            if not same_login(status.creator, pull.viewer):
                return None
            return status.state, status.description
    return None


def _same_comment(old: str, new_without_run_link: str, run_link: str) -> bool:
    """Whether the comment says what it would say now; only the link to the workflow run
    that wrote it may differ (it is not rewritten for that alone)."""
    if old == new_without_run_link:
        return True
    return bool(run_link) and re.sub(r" · \[workflow run\]\([^)\s]*\)", "", old) == (
        new_without_run_link
    )


def _give_notices(
    args: argparse.Namespace,
    env: ActionsEnvironment,
    repo: Repository,
    pull: PullSnapshot,
    evaluation: Evaluation,
    settings: Settings,
    bindings: Mapping[str, RoleBinding],
    already: tuple[str, ...],
) -> tuple[str, ...]:
    """Post each one-time notice and send each notification not given before; the keys of
    those given now."""
    given: list[str] = []
    targets = settings.spec.notifications
    link = PullLink(env.repository, pull.number, pull.url, pull.title, pull.author)
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
                post_comment(repo, pull.number, notice.text)
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


def _latest_ledger(repo: Repository, existing: PullComment, ledger: Ledger) -> Ledger:
    """``ledger`` with what a run that wrote the comment meanwhile kept (read again just
    before writing, so two runs at once lose no pusher)."""
    try:
        data = request_json(
            repo.requester, "GET", f"{repo.url}/issues/comments/{existing.database_id}"
        )
        body = data.get("body") if isinstance(data, dict) else None
    except Exception:  # unreadable now: write what this run knows
        return ledger
    kept = sticky.CommentState.parse(body if isinstance(body, str) else None).ledger
    try:
        return ledger.merged(Ledger.from_json(kept)) if kept is not None else ledger
    except (ValueError, TypeError):
        return ledger


def post_comment(repo: Repository, number: int, body: str) -> None:
    """Comment on pull request ``number``; raises like PyGithub."""
    request_json(repo.requester, "POST", f"{repo.url}/issues/{number}/comments", {"body": body})


def _upsert_comment(repo: Repository, number: int, existing: PullComment | None, body: str) -> None:
    try:
        if existing is None:
            post_comment(repo, number, body)
        elif existing.body != body:
            request_json(
                repo.requester,
                "PATCH",
                f"{repo.url}/issues/comments/{existing.database_id}",
                {"body": body},
            )
    except REQUEST_ERRORS as exc:
        print(
            f"flaggate: warning: {explain(exc, 'writing the pull request comment')}",
            file=sys.stderr,
        )


def _request_reviews(repo: Repository, number: int, request: ReviewRequest) -> bool:
    """Ask for reviews; a failure is reported and retried on the next run."""
    body = {
        "reviewers": list(request.users),
        "team_reviewers": [team.split("/", 1)[1] for team in request.teams],
    }
    try:
        request_json(repo.requester, "POST", f"{repo.url}/pulls/{number}/requested_reviewers", body)
        return True
    except Exception as exc:  # a follow-up write: reported, not fatal
        print(f"flaggate: warning: {explain(exc, 'requesting reviews')}", file=sys.stderr)
        return False
