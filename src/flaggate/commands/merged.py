"""After a pull request merged: the audit records, the post-incident follow-up of an emergency
bypass, and the retroactive approval when reviewers approve the merged pull request later."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime

from github import GithubException
from github.PaginatedList import PaginatedList
from github.PullRequest import PullRequest as GithubPull
from github.Repository import Repository

from flaggate import clock
from flaggate.audit.collect import (
    MergeContext,
    direct_push_records,
    merge_records,
    retroactive_records,
)
from flaggate.audit.record import Record
from flaggate.audit.sinks import send
from flaggate.audit.store import append
from flaggate.diff import describe_state
from flaggate.errors import FlaggateError, GitError
from flaggate.gates.runner import HeadChecks
from flaggate.gates.ticket import PullText, TicketLookup
from flaggate.git import Git
from flaggate.github.api import explain
from flaggate.github.checks import commit_checks
from flaggate.github.event import ActionsEnvironment
from flaggate.github.evidence import gather
from flaggate.github.gate import pull_facts, teams_of
from flaggate.github.snapshot import read_pull
from flaggate.github.summary import append_summary
from flaggate.github.ticketing import ticket_lookup, update_ticket
from flaggate.incident.actions import compliance_alert, open_follow_up, record_retroactive
from flaggate.incident.followup import linked_issue
from flaggate.integrations.notify import Event
from flaggate.integrations.ticket_updates import PullInfo, merge_update
from flaggate.integrations.tickets import TicketError
from flaggate.model.policyset import PolicySet
from flaggate.pipeline import compare, ensure_commits, judge
from flaggate.policy.result import Evaluation
from flaggate.publish.announce import deliver
from flaggate.pull.context import Review
from flaggate.pull.github import GitHubPullRequest
from flaggate.serve.publish import publish
from flaggate.source import Comparison, read_policies


def after_merge(
    args: argparse.Namespace,
    env: ActionsEnvironment,
    repo: Repository,
    pull: GithubPull,
    review: bool,
) -> int:
    """On merge: open the follow-up of a valid bypass. On a later review: record the
    retroactive approval once the required stages are satisfied."""
    git = Git(env.workspace)
    base_sha, head_sha = pull.base.sha, pull.head.sha
    ensure_commits(git, [base_sha, head_sha])
    comparison = compare(git, base_sha, head_sha, args.policies)
    policies = comparison.policies
    snapshot = read_pull(repo.requester, env.repository, pull.number, head_sha, teams_of(policies))
    thread = gather(snapshot)
    facts = pull_facts(git, snapshot, comparison, args.policies, thread.evidence, repo)
    issue = linked_issue(list(thread.bodies))
    number = pull.number
    text = PullText(pull.title or "", pull.head.ref or "", pull.body or "")
    ticket = ticket_lookup(policies.settings.spec.tickets, repo, text)
    merge = _merge_context(env, pull, ticket)
    if review:
        if issue is None:
            print(f"flaggate: #{number} is merged and had no emergency bypass; nothing to record")
            return 0
        bypasser = facts.label_actor(policies.settings.spec.emergency.label)
        counted = _WithoutReviewer(facts, bypasser)
        evaluation = judge(git, comparison, counted, now=None, gated=False)
        done, approvals = record_retroactive(repo, issue, evaluation, args.dry_run)
        print(f"flaggate: #{number}: {done}")
        if not approvals:
            return 0
        rows = [(a.login, a.role, a.stage, a.at) for a in approvals]
        return _audit(args, env, git, policies, retroactive_records(rows, merge, None, 10_000))[0]
    evaluation = _evaluation_at_merge(git, repo, comparison, facts, pull, merge, ticket)
    code, appended = _audit(args, env, git, policies, merge_records(evaluation, merge))
    if appended:
        # Alerts go out with the records, once: a re-run appends nothing and alerts nobody.
        _alert_production_changes(evaluation, pull, env, policies, args.dry_run)
    if ticket is not None:
        _tell_ticket_applied(args, env, pull, comparison, merge, ticket)
    if pull.base.ref == pull.base.repo.default_branch:
        merged_sha = pull.merge_commit_sha or head_sha
        code = max(code, _publish(args, env, git, pull.base.ref, merged_sha, policies))
    bypass = evaluation.bypass
    if bypass is None or not bypass.valid:
        print(f"flaggate: #{number} merged without an emergency bypass; nothing to follow up")
        return code
    if issue is not None:
        print(f"flaggate: #{number}: the post-incident review is already tracked in #{issue}")
        return code
    flags = sorted({c.flag for c in comparison.changes if c.resource == "flag"})
    without = _WithoutReviewer(facts, bypass.actor)
    retroactive = judge(git, comparison, without, now=None, gated=False)
    opened, done = open_follow_up(repo, pull, bypass, flags, bool(retroactive.stages), args.dry_run)
    print(f"flaggate: #{number}: {done}")
    compliance_alert(f"#{number} merged under {bypass.reason}; {done}", env.step_summary)
    if opened is not None and retroactive.stages:
        # Approvals given before the merge count as well.
        done, approvals = record_retroactive(repo, opened, retroactive, False)
        print(f"flaggate: #{number}: {done}")
        if approvals:
            rows = [(a.login, a.role, a.stage, a.at) for a in approvals]
            records = retroactive_records(rows, merge, bypass.note.incident, 10_000)
            code = max(code, _audit(args, env, git, policies, records)[0])
    return code


def after_push(
    args: argparse.Namespace,
    env: ActionsEnvironment,
    repo: Repository,
    branch: str,
    before: str,
    after: str,
) -> int:
    """A push to the default branch: audit its flag changes when no pull request brought it
    (``approval: none``, with a compliance alert); a merged pull request's push is audited by
    the pull request's own event."""
    listing = PaginatedList(GithubPull, repo.requester, f"{repo.url}/commits/{after}/pulls", None)
    try:
        merged = [p.number for p in listing if p.merged_at is not None]
    except GithubException as exc:
        raise explain(
            exc, f"listing pull requests of {after[:7]}", "'Pull requests: read'"
        ) from None
    if merged:
        print(f"flaggate: push {after[:7]} came from #{merged[0]}; audited with it")
        return 0
    git = Git(env.workspace)
    ensure_commits(git, [before, after])
    comparison = compare(git, before, after, args.policies)
    if not comparison.changes:
        print(f"flaggate: push {after[:7]} changes no flags or policies; nothing to audit")
        return 0
    moment = datetime.fromtimestamp(git.commit_time(after), UTC)
    pusher = os.environ.get("GITHUB_ACTOR")
    merge = MergeContext(env.repository, None, after, moment, pusher, run_url=env.run_url)
    records = direct_push_records(comparison.changes, merge)
    code, appended = _audit(args, env, git, comparison.policies, records)
    if appended:
        message = (
            f"push {after[:7]} to the default branch without a pull request changed "
            f"{len(comparison.changes)} flag/policy setting(s), unapproved"
        )
        compliance_alert(message, env.step_summary)
        flags = tuple(dict.fromkeys(c.flag for c in comparison.changes if c.resource == "flag"))
        event = Event(
            type="compliance.direct_push",
            title=f"Unapproved push to the default branch: {after[:7]}",
            text=message,
            repository=env.repository,
            url=env.run_url,
            flags=flags,
            environments=tuple(dict.fromkeys(c.environment for c in comparison.changes)),
            actor=pusher,
            key=f"push:{after}",
        )
        deliver(event, comparison.policies.settings.spec.notifications, env.step_summary, False)
    return max(code, _publish(args, env, git, branch, after, comparison.policies))


def _publish(
    args: argparse.Namespace,
    env: ActionsEnvironment,
    git: Git,
    default_branch: str,
    merged: str,
    before: PolicySet,
) -> int:
    """Publish the default branch's export when its Settings say so (``spec.publish``, as
    merged: a pull request that turns publishing on publishes on its own merge); the exit
    code: 2 when publishing failed (the job fails and says why; nothing was written)."""
    try:
        ensure_commits(git, [merged])
    except GitError:
        settings = before.settings.spec.publish  # the merged commit is not at hand
    else:
        try:
            settings = read_policies(git, merged, args.policies).settings.spec.publish
        except FlaggateError as exc:  # whether to publish cannot be told: say so, fail
            return _not_published(env, f"(the policies at {merged[:12]} do not load)", exc)
    if settings is None:
        return 0
    where = f"branch {settings.branch}"
    if args.dry_run:
        print(f"flaggate: dry run: would publish the flags of {default_branch} to {where}")
        return 0
    try:
        done = publish(git, settings, default_branch, policies_dir=args.policies)
    except FlaggateError as exc:
        return _not_published(env, f"to {where}", exc)
    if done.moved:
        print(f"flaggate: publish: {default_branch} no longer publishes to {where}; skipped")
    elif done.commit is None:
        print(f"flaggate: publish: {where} already serves {done.source[:12]}")
    else:
        names = ", ".join(done.files)
        print(f"flaggate: publish: {names} of {done.source[:12]} written to {where}")
    return 0


def _not_published(env: ActionsEnvironment, why: str, exc: FlaggateError) -> int:
    """Report a publish that could not be done (stderr and the job summary): exit code 2."""
    for problem in getattr(exc, "problems", ()):
        print(problem, file=sys.stderr)
    print(f"flaggate: error: flags not published {why}: {exc}", file=sys.stderr)
    append_summary(env.step_summary, f"## ⚠️ Flags not published\n\n{exc}\n")
    return 2


def _merge_context(
    env: ActionsEnvironment, pull: GithubPull, ticket: TicketLookup | None
) -> MergeContext:
    author = pull.user
    merged_by = pull.merged_by
    return MergeContext(
        repository=env.repository,
        pull_request=pull.number,
        merge_sha=pull.merge_commit_sha or pull.head.sha,
        merged_at=pull.merged_at or clock.now(),
        author=author.login if author else None,
        author_id=author.id if author else None,
        merged_by=merged_by.login if merged_by else None,
        run_url=env.run_url,
        ticket=ticket.ref.key if ticket is not None and ticket.ref is not None else None,
    )


def _evaluation_at_merge(
    git: Git,
    repo: Repository,
    comparison: Comparison,
    facts: GitHubPullRequest,
    pull: GithubPull,
    merge: MergeContext,
    ticket: TicketLookup | None,
) -> Evaluation:
    """The evaluation as it stood when the pull request merged, gates included (recorded,
    never blocking: a gate that cannot be read is recorded as an error)."""
    head_sha = pull.head.sha
    head = HeadChecks(head_sha, facts.head_seen_at, lambda: commit_checks(repo, head_sha))
    return judge(
        git,
        comparison,
        facts,
        now=merge.merged_at,
        checks=head,
        online=True,
        ticket=ticket,
        record_gate_errors=True,
    )


def _audit(
    args: argparse.Namespace,
    env: ActionsEnvironment,
    git: Git,
    policies: PolicySet,
    records: list[Record],
) -> tuple[int, int]:
    """Append the records to the audit log, then send them to the sinks: the exit code (2
    when the log could not be written: the job fails and says why) and how many records
    were appended now."""
    audit = policies.settings.spec.audit
    where = f"{audit.path}/" if audit.path else f"branch {audit.branch}"
    if args.dry_run:
        print(f"flaggate: dry run: would append {len(records)} audit record(s) to {where}")
        return 0, 0
    try:
        result = append(git, records, audit, message=f"audit: {len(records)} record(s)")
    except FlaggateError as exc:
        print(f"flaggate: error: audit records not written: {exc}", file=sys.stderr)
        append_summary(env.step_summary, f"## ⚠️ Audit records not written\n\n{exc}\n")
        return 2, 0
    print(
        f"flaggate: audit: {result.appended} record(s) appended to {where}, "
        f"{result.skipped} already there"
    )
    for sent in send(result.records, audit.sinks):
        line = f"flaggate: audit sink {sent.sink}: {'ok' if sent.ok else sent.reason}"
        print(line, file=sys.stdout if sent.ok else sys.stderr)
        if not sent.ok:
            append_summary(env.step_summary, f"⚠️ {line}\n")
    return 0, result.appended


def _alert_production_changes(
    evaluation: Evaluation,
    pull: GithubPull,
    env: ActionsEnvironment,
    policies: PolicySet,
    dry_run: bool,
) -> None:
    """Compliance alerts (seed): production flag changes and policy changes, as annotations
    and to the notification targets."""
    number = pull.number
    targets = policies.settings.spec.notifications
    policy_paths = [r.change.path for r in evaluation.changes if r.change.resource == "policy"]
    production = [
        r.change
        for r in evaluation.changes
        if r.change.resource == "flag" and r.change.environment == "production"
    ]
    for path in policy_paths:
        compliance_alert(f"#{number} changed policy file {path}", env.step_summary)
    for change in production:
        compliance_alert(
            f"#{number} changed {change.flag} in production ({', '.join(change.types)})",
            env.step_summary,
        )
    merged_by = pull.merged_by.login if pull.merged_by else None
    if policy_paths:
        event = Event(
            type="compliance.policy_change",
            title=f"Approval policy changed by #{number}",
            text="\n".join(f"{path} changed" for path in policy_paths),
            actor=merged_by,
            key=f"policy:{pull.merge_commit_sha}",
            repository=env.repository,
            pull_request=number,
            url=pull.html_url,
        )
        deliver(event, targets, env.step_summary, dry_run)
    if production:
        flags = tuple(dict.fromkeys(c.flag for c in production))
        event = Event(
            type="compliance.production_change",
            title=f"Production flag change merged: {', '.join(flags[:5])}",
            text="\n".join(
                f"{c.flag}: {describe_state(c.previous)} → "
                f"{'removed' if c.new is None else describe_state(c.new)}"
                for c in production[:25]
            ),
            flags=flags,
            environments=("production",),
            actor=merged_by,
            key=f"production:{pull.merge_commit_sha}",
            repository=env.repository,
            pull_request=number,
            url=pull.html_url,
        )
        deliver(event, targets, env.step_summary, dry_run)


def _tell_ticket_applied(
    args: argparse.Namespace,
    env: ActionsEnvironment,
    pull: GithubPull,
    comparison: Comparison,
    merge: MergeContext,
    ticket: TicketLookup,
) -> None:
    """Tell the pull request's ticket the change is applied (once: the comment's marker)."""
    tickets = comparison.policies.settings.spec.tickets
    if tickets is None or ticket.ref is None or ticket.provider is None:
        return
    try:
        found = ticket.fetch(tickets.requiredFields)
    except TicketError as exc:
        line = f"{ticket.provider.name} {ticket.ref.key} not updated: {exc}"
        print(f"flaggate: warning: {line}", file=sys.stderr)
        append_summary(env.step_summary, f"⚠️ {line}\n")
        return
    if found is None or found.pull_request:
        print(f"flaggate: {ticket.ref.key} is not a ticket; not updated")
        return
    about = PullInfo(env.repository, pull.number, pull.html_url, merge.author)
    order = [e.name for e in comparison.policies.environments]
    update = merge_update(
        comparison.changes, tickets, about, merge.merge_sha, merge.merged_at, merge.merged_by, order
    )
    update_ticket(ticket, [update], (), env.step_summary, args.dry_run)


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

    def pusher_doubt(self) -> str | None:
        return self._facts.pusher_doubt()

    def bypass_problem(self, label: str, actor: str, incident: str) -> str | None:
        return self._facts.bypass_problem(label, actor, incident)

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
