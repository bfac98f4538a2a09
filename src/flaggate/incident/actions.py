"""GitHub side effects of post-incident accountability: open the follow-up issue, record the
retroactive approval and the review, remind about reviews still open.

Each action is idempotent: it reads what it did before (markers in comments, the state block
in the issue body) and does nothing the second time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from github import GithubException
from github.Issue import Issue
from github.PullRequest import PullRequest as GithubPull
from github.Repository import Repository

from flaggate import clock
from flaggate.github.api import explain
from flaggate.github.summary import append_summary
from flaggate.incident.followup import (
    LABEL,
    NO_FINDINGS_MARKER,
    PULL_MARKER,
    REMINDER_MARKER,
    Approval,
    FollowUp,
    has_findings,
    render_body,
    with_state,
)
from flaggate.policy.emergency import Bypass
from flaggate.policy.result import Evaluation

REMIND_AFTER = timedelta(hours=48)


def compliance_alert(message: str, summary: Path | None) -> None:
    """Raise a compliance alert: an Actions warning annotation and a job-summary line."""
    print(f"::warning title=flaggate compliance alert::{message}")
    append_summary(summary, f"> [!WARNING]\n> **Compliance alert:** {message}\n")


def open_follow_up(
    repo: Repository,
    pull: GithubPull,
    bypass: Bypass,
    flags: list[str],
    approval_required: bool,
    dry_run: bool,
) -> tuple[int | None, str]:
    """Open the post-incident review issue for a merged, bypassed pull request; its number
    (None on a dry run) and what was done."""
    state = FollowUp.from_bypass(pull.number, bypass, pull.merge_commit_sha or "", flags)
    if not approval_required:
        state = replace(state, retroactiveApproval=[], retroactiveApprovedAt=_now())
    if dry_run:
        return None, f"would open {state.title!r} assigned to @{state.bypassedBy}"
    try:
        issue = repo.create_issue(
            title=state.title,
            body=with_state(render_body(state, repo.full_name), state),
            assignees=[state.bypassedBy] if state.bypassedBy else [],
            labels=[LABEL],
        )
        pull.create_issue_comment(
            f"{PULL_MARKER.format(number=issue.number)}\n"
            f"Emergency bypass merged: the post-incident review is tracked in #{issue.number} "
            f"(assigned to @{state.bypassedBy}). Retroactive approval: approve this pull "
            "request as the stages require, even now that it is merged."
        )
    except GithubException as exc:
        raise explain(exc, "opening the post-incident issue", "'Issues: write'") from None
    return issue.number, f"opened #{issue.number} {state.title!r}"


def record_retroactive(
    repo: Repository, number: int, evaluation: Evaluation, dry_run: bool
) -> tuple[str, list[Approval] | None]:
    """Record the retroactive approval once every required stage is approved; what was done
    and, when recorded now, the approvals."""
    issue = _issue(repo, number)
    state = FollowUp.parse(issue.body)
    if state is None:
        return f"#{number} is not a post-incident issue; nothing recorded", None
    if state.retroactiveApproval is not None:
        return f"retroactive approval already recorded in #{number}", None
    missing = [s for s in evaluation.stages if s.missing > 0]
    if missing:
        needs = ", ".join(f"{s.stage.name} ({s.missing} more)" for s in missing)
        return f"retroactive approval incomplete: {needs}", None
    approvals = [
        Approval(a.login, a.role, s.stage.name, a.at.isoformat() if a.at else None)
        for s in evaluation.stages
        for a in s.approvals
    ]
    state = replace(state, retroactiveApproval=approvals, retroactiveApprovedAt=_now())
    who = ", ".join(f"@{a.login} ({a.role}, {a.stage})" for a in approvals)
    if dry_run:
        return f"would record the retroactive approval in #{number}: {who}", None
    _record(issue, state, f"Retroactive approval of #{state.pullRequest} recorded: {who}.")
    return f"recorded the retroactive approval in #{number}: {who}", approvals


def record_review(repo: Repository, payload: dict[str, Any], dry_run: bool) -> str:
    """On a follow-up issue closed: record the review, or reopen it when findings are empty."""
    data = payload.get("issue") or {}
    number = data.get("number")
    if FollowUp.parse(data.get("body")) is None or not isinstance(number, int):
        return "not a post-incident issue; nothing to do"
    # Judge the issue as it is now, not as the (possibly re-run) event saw it.
    issue = _issue(repo, number)
    state = FollowUp.parse(issue.body)
    if state is None:
        return f"#{number} no longer holds its state block; nothing recorded"
    if state.reviewedAt is not None:
        return f"the review of #{number} is already recorded"
    if issue.state != "closed":
        return f"#{number} is open again; nothing to record"
    closer = (payload.get("sender") or {}).get("login") or "unknown"
    if not has_findings(issue.body):
        if dry_run:
            return f"would reopen #{number}: closed without findings"
        try:
            issue.edit(state="open")
            issue.create_comment(
                f"{NO_FINDINGS_MARKER}\nReopened: the post-incident review is recorded only "
                "once the **Findings** section is written. Write them, then close again."
            )
        except GithubException as exc:
            raise explain(exc, f"reopening #{number}", "'Issues: write'") from None
        return f"reopened #{number}: closed without findings"
    closed_at = issue.closed_at.isoformat() if issue.closed_at else _now()
    state = replace(state, reviewedBy=closer, reviewedAt=closed_at)
    if dry_run:
        return f"would record the post-incident review of #{number} by @{closer}"
    _record(issue, state, f"Post-incident review recorded (closed by @{closer}).")
    return f"recorded the post-incident review of #{number} by @{closer}"


def remind_open_reviews(repo: Repository, now: datetime, dry_run: bool) -> list[str]:
    """Comment once on each follow-up issue still open 48 hours after it was opened."""
    done = []
    try:
        issues = list(repo.get_issues(state="open", labels=[LABEL]))
    except GithubException as exc:
        raise explain(exc, "listing post-incident issues", "'Issues: read'") from None
    for issue in issues:
        state = FollowUp.parse(issue.body)
        if state is None or now - issue.created_at < REMIND_AFTER:
            continue
        try:
            if any(REMINDER_MARKER in (c.body or "") for c in issue.get_comments()):
                continue
            owed = _owed(state)
            text = (
                f"{REMINDER_MARKER}\n@{state.bypassedBy}: the post-incident review of "
                f"#{state.pullRequest} ({state.incident}) is still open after 48 hours. "
                f"Owed: {owed}."
            )
            if not dry_run:
                issue.create_comment(text)
        except GithubException as exc:
            raise explain(exc, f"reminding on #{issue.number}", "'Issues: write'") from None
        done.append(f"{'would remind' if dry_run else 'reminded'} on #{issue.number} ({owed})")
    return done


def _record(issue: Issue, state: FollowUp, comment: str) -> None:
    """Write ``state`` into the issue body and say what was recorded."""
    try:
        issue.edit(body=with_state(issue.body or "", state))
        issue.create_comment(comment)
    except GithubException as exc:
        raise explain(exc, f"updating #{issue.number}", "'Issues: write'") from None


def _owed(state: FollowUp) -> str:
    owed = ["findings"]
    if state.retroactiveApproval is None:
        owed.insert(0, "retroactive approval")
    return " and ".join(owed)


def _issue(repo: Repository, number: int) -> Issue:
    try:
        return repo.get_issue(number)
    except GithubException as exc:
        raise explain(exc, f"reading issue #{number}", "'Issues: read'") from None


def _now() -> str:
    return clock.now().isoformat(timespec="seconds")
