"""evaluate(changes, policies, pull request) -> Evaluation. Pure: reads facts, writes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from flaggate.diff import Change
from flaggate.model.policyset import PolicySet
from flaggate.policy import rules as rule_engine
from flaggate.policy import timeouts
from flaggate.policy.result import (
    ChangeResult,
    CountedApproval,
    Decision,
    Evaluation,
    GateResult,
    GateStatus,
    IgnoredReview,
    StageRequirement,
    StageResult,
    StageStatus,
    StageTimeout,
)
from flaggate.policy.stages import assign
from flaggate.pull.context import PullRequest, latest_reviews


def evaluate(
    changes: Sequence[Change],
    policies: PolicySet,
    pr: PullRequest,
    gates: Sequence[GateResult] = (),
    now: datetime | None = None,
) -> Evaluation:
    """Match every change to its rule, count reviews against the union of stages, apply stage
    timeouts (when ``now`` is given and the pull request's opening time is known) and the
    emergency bypass, decide."""
    if not changes:
        return Evaluation(Decision.NO_CHANGES, "no flag or policy changes", gates=tuple(gates))
    author, labels, base_ref = pr.author(), pr.labels(), pr.base_ref()
    rules = policies.policy.spec.rules if policies.policy is not None else ()
    change_results: list[ChangeResult] = []
    needed: list[StageRequirement] = []
    for change in changes:
        facts = rule_engine.change_facts(change, author, labels, base_ref)
        rule = rule_engine.match(rules, facts)
        index = rules.index(rule) if rule is not None else len(rules)
        reqs = rule_engine.requirements(rule, index, policies)
        needed += reqs
        change_results.append(
            ChangeResult(
                change,
                rule.name if rule else rule_engine.DEFAULT_RULE,
                bool(reqs),
                tuple(r.name for r in reqs),
                rule_engine.explain(rule),
            )
        )
    stages = rule_engine.union(needed)
    opened = pr.opened_at() if now is not None else None
    escalated: set[str] = set()
    while True:
        counted = [_escalated(s) if s.name in escalated else s for s in stages]
        stage_results, ignored, rejections = _count_reviews(counted, pr, author)
        if now is None or opened is None:
            break
        stage_results = _apply_timeouts(
            stage_results, timeouts.schedule(stage_results, opened, now)
        )
        expired = {
            r.stage.name
            for r in stage_results
            if r.timeout is not None and r.timeout.action == "escalate"
        }
        if expired <= escalated:
            break
        escalated |= expired
    decision, summary = _decide(stage_results, gates, rejections)
    bypass = None
    emergency = policies.settings.spec.emergency
    if emergency.label in pr.labels():  # the bypass module is needed only then
        from flaggate.policy.emergency import judge_bypass

        bypass = judge_bypass(pr, emergency)
    if bypass is not None:
        if bypass.valid:
            decision, summary = Decision.BYPASSED, bypass.reason
        elif decision is not Decision.APPROVED:
            decision, summary = Decision.FAILED, bypass.reason
    return Evaluation(
        decision,
        summary,
        changes=tuple(change_results),
        stages=tuple(stage_results),
        gates=tuple(gates),
        rejections=tuple(rejections),
        ignored=tuple(ignored),
        bypass=bypass,
    )


def _escalated(stage: StageRequirement) -> StageRequirement:
    extra = tuple(r for r in stage.escalate_to if r not in stage.roles)
    return replace(stage, roles=stage.roles + extra, own_roles=stage.roles)


def _apply_timeouts(
    results: Sequence[StageResult], timings: Sequence[StageTimeout | None]
) -> list[StageResult]:
    """Attach each stage's clock; an expired auto-approve stage counts as approved."""
    timed = [
        replace(
            result,
            missing=0 if timing is not None and timing.action == "auto-approve" else result.missing,
            timeout=timing,
        )
        for result, timing in zip(results, timings, strict=True)
    ]
    return _with_statuses(
        timed, {i for i, r in enumerate(results) if r.status is StageStatus.REJECTED}
    )


def _with_statuses(results: Sequence[StageResult], rejected: set[int]) -> list[StageResult]:
    """Each stage's status: rejected, approved, the active one (first unsatisfied), waiting."""
    out: list[StageResult] = []
    active_seen = False
    for i, result in enumerate(results):
        if i in rejected:
            status = StageStatus.REJECTED
        elif result.missing == 0:
            status = StageStatus.APPROVED
        elif not active_seen:
            status = StageStatus.ACTIVE
        else:
            status = StageStatus.WAITING
        if result.missing > 0:
            active_seen = True
        out.append(replace(result, status=status))
    return out


def _count_reviews(
    stages: Sequence[StageRequirement], pr: PullRequest, author: str | None
) -> tuple[list[StageResult], list[IgnoredReview], list[str]]:
    if not stages:
        return [], [], []
    ignored: list[IgnoredReview] = []
    eligible: dict[str, list[int]] = {}
    roles_of: dict[tuple[str, int], str] = {}
    rejections: list[str] = []
    rejected_stages: set[int] = set()
    pushers: frozenset[str] | None = None
    doubt: str | None = None
    times: dict[str, datetime | None] = {}
    for login, review in sorted(latest_reviews(pr.reviews()).items()):
        if review.state not in ("APPROVED", "CHANGES_REQUESTED"):
            continue
        if login == author:
            ignored.append(IgnoredReview(login, "author of the pull request"))
            continue
        if review.is_bot:
            ignored.append(IgnoredReview(login, "bot account"))
            continue
        stage_roles = [
            (i, next((r for r in stage.roles if pr.holds_role(login, r)), None))
            for i, stage in enumerate(stages)
        ]
        stage_ids = [i for i, role in stage_roles if role is not None]
        if review.state == "CHANGES_REQUESTED":
            if stage_ids:
                rejections.append(login)
                rejected_stages.update(stage_ids)
            continue
        if pushers is None:
            doubt = pr.pusher_doubt()
            pushers = pr.pushers()
        if doubt is not None:
            ignored.append(IgnoredReview(login, doubt))
            continue
        if login in pushers:
            ignored.append(IgnoredReview(login, "pushed commits to the pull request"))
            continue
        if not stage_ids:
            ignored.append(IgnoredReview(login, "holds none of the required roles"))
            continue
        if not pr.review_is_current(review):
            ignored.append(IgnoredReview(login, "approved an older commit with other changes"))
            continue
        eligible[login] = stage_ids
        times[login] = review.submitted_at
        for i, role in stage_roles:
            if role is not None:
                roles_of[(login, i)] = role
    # Earliest approvals first: a stage is satisfied when its first approvals arrived.
    order = sorted(eligible, key=lambda login: (times[login] is None, times[login], login))
    assigned = assign([s.required for s in stages], {login: eligible[login] for login in order})
    results = []
    for i, stage in enumerate(stages):
        approvals = tuple(
            CountedApproval(login, roles_of[(login, i)], times.get(login)) for login in assigned[i]
        )
        results.append(
            StageResult(stage, StageStatus.WAITING, approvals, stage.required - len(approvals))
        )
    results = _with_statuses(results, rejected_stages)
    used = {a.login for r in results for a in r.approvals}
    for login in sorted(eligible.keys() - used):
        ignored.append(IgnoredReview(login, "already counted elsewhere or not needed"))
    return results, ignored, rejections


def _decide(
    stages: Sequence[StageResult], gates: Sequence[GateResult], rejections: Sequence[str]
) -> tuple[Decision, str]:
    if rejections:
        who = ", ".join(f"@{login}" for login in rejections)
        return Decision.REJECTED, f"changes requested by {who}"
    expired = next(
        (s for s in stages if s.timeout is not None and s.timeout.action == "reject"), None
    )
    if expired is not None:
        hours = f"{expired.stage.timeout_hours:g}h"
        return Decision.REJECTED, f"{expired.stage.name} expired after {hours} without approval"
    failed = [g for g in gates if g.status is GateStatus.FAILED]
    if failed:
        return Decision.FAILED, f"gate {failed[0].name}: {failed[0].message}"
    broken = [g for g in gates if g.status is GateStatus.ERROR]
    if broken:
        return Decision.FAILED, f"gate {broken[0].name} could not be checked: {broken[0].message}"
    waiting = next((s for s in stages if s.missing > 0), None)
    if waiting is not None:
        roles = ", ".join(waiting.stage.roles)
        return (
            Decision.PENDING,
            f"needs {waiting.stage.name}: {waiting.missing} more of {roles}",
        )
    running = [g for g in gates if g.status is GateStatus.PENDING]
    if running:
        return Decision.PENDING, f"waiting for gate {running[0].name}: {running[0].message}"
    if not stages:
        return Decision.APPROVED, "no approval required"
    return Decision.APPROVED, f"approved: {len(stages)} stage(s) satisfied"
