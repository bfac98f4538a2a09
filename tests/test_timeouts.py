"""Stage timeouts in the engine: when each stage's clock starts, what its expiry does."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flaggate import render
from flaggate.diff import Change
from flaggate.model.load import PolicySet, load_policies
from flaggate.policy.evaluate import evaluate
from flaggate.policy.result import (
    Decision,
    Evaluation,
    IgnoredReview,
    StageResult,
    StageStatus,
    StageTimeout,
)
from flaggate.pull.context import Review
from tests.fakes.pull import FakePullRequest, review

EXAMPLE_POLICIES = Path(__file__).resolve().parent.parent / "policies"
EXAMPLE_FILES = {
    f"policies/{p.name}": p.read_bytes() for p in sorted(EXAMPLE_POLICIES.glob("*.yaml"))
}


def _opened() -> datetime:
    opened = FakePullRequest().opened
    assert opened is not None
    return opened


OPENED = _opened()
"""When the fake pull request was opened; ``review(..., minute=m)`` is ``m`` minutes later."""

ROLES = {
    "tl": ["tech-lead"],
    "tl2": ["tech-lead"],
    "em": ["engineering-manager"],
    "po": ["product-owner"],
    "sec": ["security-engineer"],
    "qa": ["developer"],
}

A, P, W = StageStatus.APPROVED, StageStatus.ACTIVE, StageStatus.WAITING
SECOND = timedelta(seconds=1)

ON = {"enabled": True, "variant": "on", "rollout": None, "targeting": None, "variants": {}}
OFF = {"enabled": False, "variant": "off", "rollout": None, "targeting": None, "variants": {}}
CHANGE = Change(
    "flag",
    "checkout",
    "production",
    ("toggled",),
    OFF,
    ON,
    100.0,
    "flags/checkout.yaml",
    (),
    "@acme/checkout",
)


def at(hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    """An instant relative to the pull request's opening."""
    return OPENED + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def stage(
    name: str,
    order: int,
    roles: Sequence[str],
    hours: float | None = None,
    on_timeout: str | None = None,
    escalate_to: Sequence[str] = (),
    required: int = 1,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "order": order,
        "requiredApprovers": required,
        "approverRoles": list(roles),
    }
    if hours is not None:
        spec["timeoutHours"] = hours
    if on_timeout is not None:
        spec["onTimeout"] = on_timeout
    if escalate_to:
        spec["escalateTo"] = list(escalate_to)
    return spec


def policies(*stages: dict[str, Any]) -> PolicySet:
    """The example policies with these stages, all required by production changes."""
    document = {
        "apiVersion": "featureflags/v1",
        "kind": "ApprovalStages",
        "metadata": {"name": "stages"},
        "spec": {"stages": list(stages)},
    }
    policy = {
        "apiVersion": "featureflags/v1",
        "kind": "ApprovalPolicy",
        "metadata": {"name": "policy"},
        "spec": {
            "rules": [
                {
                    "name": "production-changes",
                    "conditions": [
                        {"field": "environment", "operator": "equals", "value": "production"}
                    ],
                    "approval": {"required": True, "stages": [s["name"] for s in stages]},
                }
            ]
        },
    }
    files = dict(EXAMPLE_FILES)
    files["policies/stages.yaml"] = json.dumps(document).encode()  # JSON is YAML
    files["policies/approval-policy.yaml"] = json.dumps(policy).encode()
    return load_policies(files)


TECH = stage("technical-review", 1, ["tech-lead"], 24, "escalate", ["engineering-manager"])
BUSINESS = stage("business-review", 2, ["product-owner"], 24, "reject")
SECURITY = stage("security-review", 3, ["security-engineer"], 24, "auto-approve")


def run(
    stages: PolicySet,
    now: datetime | None,
    *reviews: Review,
    opened: datetime | None = OPENED,
) -> Evaluation:
    fake = FakePullRequest(review_list=list(reviews), roles=ROLES, opened=opened)
    return evaluate([CHANGE], stages, fake, now=now)


def table(ev: Evaluation) -> list[tuple[str, StageStatus, int, str | None]]:
    """Each stage: name, status, missing approvals, the action its timeout took."""
    return [
        (s.stage.name, s.status, s.missing, s.timeout.action if s.timeout else None)
        for s in ev.stages
    ]


def by_name(ev: Evaluation, name: str) -> StageResult:
    return next(s for s in ev.stages if s.stage.name == name)


# --- each action around its deadline -------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "offset", "decision", "summary"),
    [
        ("escalate", -SECOND, Decision.PENDING, "needs first: 1 more of tech-lead"),
        (
            "escalate",
            timedelta(0),
            Decision.PENDING,
            "needs first: 1 more of tech-lead, engineering-manager",
        ),
        (
            "escalate",
            SECOND,
            Decision.PENDING,
            "needs first: 1 more of tech-lead, engineering-manager",
        ),
        ("reject", -SECOND, Decision.PENDING, "needs first: 1 more of tech-lead"),
        ("reject", timedelta(0), Decision.REJECTED, "first expired after 24h without approval"),
        ("reject", SECOND, Decision.REJECTED, "first expired after 24h without approval"),
        ("auto-approve", -SECOND, Decision.PENDING, "needs first: 1 more of tech-lead"),
        ("auto-approve", timedelta(0), Decision.APPROVED, "approved: 1 stage(s) satisfied"),
        ("auto-approve", SECOND, Decision.APPROVED, "approved: 1 stage(s) satisfied"),
    ],
    ids=lambda v: str(v) if isinstance(v, timedelta) else None,
)
def test_each_action_just_before_at_and_after_the_deadline(
    action: str, offset: timedelta, decision: Decision, summary: str
) -> None:
    escalate_to = ["engineering-manager"] if action == "escalate" else []
    stages = policies(stage("first", 1, ["tech-lead"], 24, action, escalate_to))
    deadline = at(hours=24)
    ev = run(stages, deadline + offset)
    expired = offset >= timedelta(0)
    (result,) = ev.stages
    assert result.timeout == StageTimeout(OPENED, deadline, expired, action if expired else None)
    assert (ev.decision, ev.summary) == (decision, summary)
    assert result.auto_approved is (expired and action == "auto-approve")
    assert result.status is (A if expired and action == "auto-approve" else P)
    assert result.missing == (0 if expired and action == "auto-approve" else 1)


@pytest.mark.parametrize(
    ("hours", "before", "after", "text"),
    [
        (1.5, at(minutes=89, seconds=59), at(minutes=90), "1.5h"),
        (0.25, at(minutes=14, seconds=59), at(minutes=15), "0.25h"),
        (72, at(hours=71, minutes=59, seconds=59), at(hours=72), "72h"),
    ],
)
def test_fractional_and_long_timeouts(
    hours: float, before: datetime, after: datetime, text: str
) -> None:
    stages = policies(stage("first", 1, ["tech-lead"], hours, "reject"))
    assert run(stages, before).decision is Decision.PENDING
    ev = run(stages, after)
    assert ev.decision is Decision.REJECTED
    assert ev.summary == f"first expired after {text} without approval"


def test_an_approval_before_the_deadline_stops_the_clock() -> None:
    stages = policies(stage("first", 1, ["tech-lead"], 24, "reject"))
    ev = run(stages, at(hours=1000), review("tl", minute=24 * 60 - 1))
    assert ev.decision is Decision.APPROVED
    assert ev.stages[0].timeout is None


# --- when each stage's clock starts ---------------------------------------------------------


def test_second_stage_clock_starts_when_the_first_was_satisfied() -> None:
    stages = policies(TECH, BUSINESS)
    approval = review("tl", minute=150)  # 2.5h after opening
    ev = run(stages, at(hours=26, minutes=30) - SECOND, approval)
    assert table(ev) == [("technical-review", A, 0, None), ("business-review", P, 1, None)]
    assert by_name(ev, "technical-review").timeout is None
    assert by_name(ev, "business-review").timeout == StageTimeout(
        at(minutes=150), at(hours=26, minutes=30), False
    )
    assert ev.decision is Decision.PENDING

    # Measured from the opening it would have expired at +24h; it did not.
    assert run(stages, at(hours=24, seconds=1), approval).decision is Decision.PENDING

    late = run(stages, at(hours=26, minutes=30), approval)
    assert late.decision is Decision.REJECTED
    assert late.summary == "business-review expired after 24h without approval"
    assert table(late) == [
        ("technical-review", A, 0, None),
        ("business-review", P, 1, "reject"),
    ]


def test_the_approval_that_completes_a_stage_of_two_starts_the_next_clock() -> None:
    stages = policies(
        stage("technical-review", 1, ["tech-lead"], 24, "reject", required=2), BUSINESS
    )
    ev = run(stages, at(hours=3), review("tl", minute=30), review("tl2", minute=90))
    assert by_name(ev, "business-review").timeout == StageTimeout(
        at(minutes=90), at(hours=25, minutes=30), False
    )
    # Only one of two: technical-review is still active from the opening.
    ev = run(stages, at(hours=3), review("tl", minute=30))
    assert table(ev) == [("technical-review", P, 1, None), ("business-review", W, 1, None)]
    assert by_name(ev, "technical-review").timeout == StageTimeout(OPENED, at(hours=24), False)


def test_an_approval_from_before_the_clock_started_does_not_move_the_next_clock_back() -> None:
    stages = policies(TECH, BUSINESS)
    ev = run(stages, at(hours=1), review("tl", minute=-120))  # before a push restarted it
    assert by_name(ev, "business-review").timeout == StageTimeout(OPENED, at(hours=24), False)


def test_stage_without_timeout_has_a_clock_but_no_deadline_and_blocks_the_rest() -> None:
    stages = policies(stage("technical-review", 1, ["tech-lead"]), BUSINESS)
    ev = run(stages, at(hours=10_000))
    assert by_name(ev, "technical-review").timeout == StageTimeout(OPENED, None, False)
    assert by_name(ev, "business-review").timeout is None
    assert ev.decision is Decision.PENDING
    # Once approved, the next stage's clock runs from that approval.
    ev = run(stages, at(hours=100), review("tl", minute=60 * 90))
    assert by_name(ev, "business-review").timeout == StageTimeout(
        at(hours=90), at(hours=114), False
    )


def test_only_the_active_stage_has_a_clock() -> None:
    ev = run(policies(TECH, BUSINESS, SECURITY), at(hours=1))
    assert [s.timeout for s in ev.stages] == [
        StageTimeout(OPENED, at(hours=24), False),
        None,
        None,
    ]
    assert table(ev) == [
        ("technical-review", P, 1, None),
        ("business-review", W, 1, None),
        ("security-review", W, 1, None),
    ]


@pytest.mark.parametrize("hours", [25, 48, 1000])
def test_later_stages_do_not_expire_while_an_escalated_stage_waits(hours: int) -> None:
    ev = run(policies(TECH, BUSINESS, SECURITY), at(hours=hours))
    assert table(ev) == [
        ("technical-review", P, 1, "escalate"),
        ("business-review", W, 1, None),
        ("security-review", W, 1, None),
    ]
    assert ev.decision is Decision.PENDING


# --- auto-approval -------------------------------------------------------------------------


def test_after_auto_approval_the_next_clock_starts_at_the_deadline() -> None:
    stages = policies(stage("qa-review", 1, ["developer"], 24, "auto-approve"), BUSINESS)
    ev = run(stages, at(hours=24, seconds=1))
    qa, business = ev.stages
    assert qa.auto_approved and qa.status is A and qa.missing == 0 and qa.approvals == ()
    assert qa.timeout == StageTimeout(OPENED, at(hours=24), True, "auto-approve")
    assert business.status is P
    assert business.timeout == StageTimeout(at(hours=24), at(hours=48), False)
    assert ev.summary == "needs business-review: 1 more of product-owner"
    assert run(stages, at(hours=48) - SECOND).decision is Decision.PENDING
    assert run(stages, at(hours=48)).decision is Decision.REJECTED


def test_auto_approval_keeps_partial_approvals() -> None:
    stages = policies(stage("qa-review", 1, ["developer"], 24, "auto-approve", required=2))
    ev = run(stages, at(hours=30), review("qa", minute=5))
    (qa,) = ev.stages
    assert [a.login for a in qa.approvals] == ["qa"]
    assert (qa.status, qa.missing, qa.auto_approved) == (A, 0, True)
    assert ev.decision is Decision.APPROVED


CASCADE = (
    stage("first", 1, ["tech-lead"], 24, "auto-approve"),
    stage("second", 2, ["product-owner"], 12, "auto-approve"),
    stage("third", 3, ["security-engineer"], 6, "reject"),
)


@pytest.mark.parametrize(
    ("now", "expected", "decision"),
    [
        (at(hours=24) - SECOND, [(P, None), (W, None), (W, None)], Decision.PENDING),
        (at(hours=24), [(A, "auto-approve"), (P, None), (W, None)], Decision.PENDING),
        (at(hours=36) - SECOND, [(A, "auto-approve"), (P, None), (W, None)], Decision.PENDING),
        (
            at(hours=36),
            [(A, "auto-approve"), (A, "auto-approve"), (P, None)],
            Decision.PENDING,
        ),
        (
            at(hours=42) - SECOND,
            [(A, "auto-approve"), (A, "auto-approve"), (P, None)],
            Decision.PENDING,
        ),
        (
            at(hours=42),
            [(A, "auto-approve"), (A, "auto-approve"), (P, "reject")],
            Decision.REJECTED,
        ),
        (
            at(hours=500),
            [(A, "auto-approve"), (A, "auto-approve"), (P, "reject")],
            Decision.REJECTED,
        ),
    ],
)
def test_cascading_auto_approvals(
    now: datetime, expected: list[tuple[StageStatus, str | None]], decision: Decision
) -> None:
    ev = run(policies(*CASCADE), now)
    assert [(s.status, s.timeout.action if s.timeout else None) for s in ev.stages] == expected
    assert ev.decision is decision
    deadlines = [s.timeout.deadline for s in ev.stages if s.timeout is not None]
    assert deadlines == [at(hours=24), at(hours=36), at(hours=42)][: len(deadlines)]
    starts = [s.timeout.active_since for s in ev.stages if s.timeout is not None]
    assert starts == [OPENED, at(hours=24), at(hours=36)][: len(starts)]


def test_every_stage_auto_approved_approves() -> None:
    stages = policies(
        stage("first", 1, ["tech-lead"], 24, "auto-approve"),
        stage("second", 2, ["product-owner"], 24, "auto-approve"),
    )
    assert run(stages, at(hours=48) - SECOND).decision is Decision.PENDING
    ev = run(stages, at(hours=48))
    assert (ev.decision, ev.summary) == (Decision.APPROVED, "approved: 2 stage(s) satisfied")
    assert all(s.auto_approved for s in ev.stages)


def test_a_person_approving_after_an_auto_approval_starts_the_next_clock() -> None:
    ev = run(policies(*CASCADE), at(hours=40), review("po", minute=30 * 60))
    assert [(s.status, s.timeout) for s in ev.stages] == [
        (A, StageTimeout(OPENED, at(hours=24), True, "auto-approve")),
        (A, None),
        (P, StageTimeout(at(hours=30), at(hours=36), True, "reject")),
    ]
    assert ev.decision is Decision.REJECTED


def test_a_changes_request_stays_rejected_through_an_auto_approval() -> None:
    stages = policies(stage("first", 1, ["tech-lead"], 24, "auto-approve"))
    ev = run(stages, at(hours=30), review("tl", "CHANGES_REQUESTED", minute=5))
    assert ev.decision is Decision.REJECTED
    assert ev.summary == "changes requested by @tl"
    assert ev.stages[0].status is StageStatus.REJECTED


# --- escalation ----------------------------------------------------------------------------


def test_escalation_lets_an_escalate_to_role_approve() -> None:
    stages = policies(TECH, BUSINESS)
    manager = review("em", minute=25 * 60)
    before = run(stages, at(hours=24) - SECOND, manager)
    assert by_name(before, "technical-review").stage.roles == ("tech-lead",)
    assert before.ignored == (IgnoredReview("em", "holds none of the required roles"),)
    assert before.summary == "needs technical-review: 1 more of tech-lead"

    after = run(stages, at(hours=25, seconds=1), manager)
    tech = by_name(after, "technical-review")
    assert tech.stage.roles == ("tech-lead", "engineering-manager")
    assert [(a.login, a.role) for a in tech.approvals] == [("em", "engineering-manager")]
    assert (tech.status, tech.missing) == (A, 0)
    assert after.ignored == ()
    assert after.summary == "needs business-review: 1 more of product-owner"
    # The manager's approval completed technical-review: business-review runs from it.
    assert by_name(after, "business-review").timeout == StageTimeout(
        at(hours=25), at(hours=49), False
    )


def test_escalated_stage_still_counts_its_own_roles() -> None:
    ev = run(policies(TECH, BUSINESS), at(hours=30), review("tl", minute=29 * 60))
    assert [a.login for a in by_name(ev, "technical-review").approvals] == ["tl"]
    assert by_name(ev, "business-review").timeout == StageTimeout(at(hours=29), at(hours=53), False)


def test_escalation_that_is_waiting_reports_the_wider_roles() -> None:
    ev = run(policies(TECH, BUSINESS), at(hours=24, seconds=1))
    tech = by_name(ev, "technical-review")
    assert tech.timeout == StageTimeout(OPENED, at(hours=24), True, "escalate")
    assert tech.stage.roles == ("tech-lead", "engineering-manager")
    assert ev.summary == "needs technical-review: 1 more of tech-lead, engineering-manager"
    assert by_name(ev, "business-review").stage.roles == ("product-owner",)


def test_an_escalate_to_role_already_among_the_roles_is_not_added_twice() -> None:
    stages = policies(
        stage(
            "technical-review",
            1,
            ["tech-lead", "engineering-manager"],
            24,
            "escalate",
            ["engineering-manager", "product-owner"],
        )
    )
    ev = run(stages, at(hours=25))
    assert ev.stages[0].stage.roles == ("tech-lead", "engineering-manager", "product-owner")


def test_escalations_cascade_through_stages_satisfied_by_escalation() -> None:
    stages = policies(
        TECH, stage("business-review", 2, ["product-owner"], 24, "escalate", ["director-product"])
    )
    roles = {**ROLES, "dir": ["director-product"]}
    fake = FakePullRequest(
        review_list=[review("em", minute=25 * 60), review("dir", minute=60 * 60)],
        roles=roles,
    )
    # technical-review escalated at +24h, the manager approved at +25h; business-review
    # escalated at +49h, the director approved at +60h.
    ev = evaluate([CHANGE], stages, fake, now=at(hours=61))
    assert ev.decision is Decision.APPROVED
    assert [[a.login for a in s.approvals] for s in ev.stages] == [["em"], ["dir"]]
    before = evaluate([CHANGE], stages, fake, now=at(hours=49) - SECOND)
    assert before.summary == "needs business-review: 1 more of product-owner"


def test_early_escalate_to_approval_starts_the_next_clock_at_the_escalation() -> None:
    stages = policies(TECH, BUSINESS)
    manager = review("em", minute=60)  # approved at +1h, counts only from +24h
    ev = run(stages, at(hours=25), manager)
    assert by_name(ev, "technical-review").status is A
    assert by_name(ev, "business-review").timeout == StageTimeout(at(hours=24), at(hours=48), False)
    assert ev.decision is Decision.PENDING


def test_next_clock_starts_when_the_stage_first_had_enough_approvals() -> None:
    stages = policies(TECH, BUSINESS)
    ev = run(
        stages,
        at(hours=24, minutes=10, seconds=1),
        review("tl2", minute=10),  # completes technical-review at +10m
        review("tl", minute=300),  # a surplus approval, five hours later
    )
    assert by_name(ev, "business-review").timeout == StageTimeout(
        at(minutes=10), at(hours=24, minutes=10), True, "reject"
    )
    assert ev.decision is Decision.REJECTED


# --- no clock ----------------------------------------------------------------------------


def test_no_timeouts_without_now() -> None:
    fake = FakePullRequest(roles=ROLES, review_list=[review("em", minute=5)]).forbid("opened_at")
    ev = evaluate([CHANGE], policies(TECH, BUSINESS, SECURITY), fake, now=None)
    assert [s.timeout for s in ev.stages] == [None, None, None]
    assert fake.calls["opened_at"] == 0
    assert ev.summary == "needs technical-review: 1 more of tech-lead"
    assert ev.ignored == (IgnoredReview("em", "holds none of the required roles"),)


@pytest.mark.parametrize("action", ["escalate", "reject", "auto-approve"])
def test_no_timeouts_when_the_opening_time_is_unknown(action: str) -> None:
    escalate_to = ["engineering-manager"] if action == "escalate" else []
    stages = policies(stage("first", 1, ["tech-lead"], 1, action, escalate_to))
    ev = run(stages, at(hours=10_000), review("em", minute=5), opened=None)
    (result,) = ev.stages
    assert result.timeout is None
    assert (result.status, result.missing) == (P, 1)
    assert result.stage.roles == ("tech-lead",)
    assert ev.decision is Decision.PENDING


def test_no_changes_reads_no_opening_time() -> None:
    fake = FakePullRequest().forbid("opened_at")
    ev = evaluate([], policies(TECH), fake, now=at(hours=100))
    assert ev.decision is Decision.NO_CHANGES


# --- presentation --------------------------------------------------------------------------


def test_json_timeout_of_each_stage() -> None:
    stages = policies(
        stage("qa-review", 0, ["developer"], 12, "auto-approve"),
        TECH,
        BUSINESS,
    )
    ev = run(stages, at(hours=40))
    data = render.to_json(ev)
    assert [s["timeout"] for s in data["stages"]] == [
        {
            "activeSince": "2026-01-05T09:00:00+00:00",
            "deadline": "2026-01-05T21:00:00+00:00",
            "expired": True,
            "action": "auto-approve",
        },
        {
            "activeSince": "2026-01-05T21:00:00+00:00",
            "deadline": "2026-01-06T21:00:00+00:00",
            "expired": True,
            "action": "escalate",
        },
        None,
    ]
    assert [s["status"] for s in data["stages"]] == ["approved", "pending", "waiting"]
    assert data["stages"][1]["approverRoles"] == ["tech-lead", "engineering-manager"]
    assert json.loads(render.dumps(data)) == data


def test_json_timeout_before_the_deadline_and_without_one() -> None:
    ev = run(policies(TECH), at(hours=1))
    assert render.to_json(ev)["stages"][0]["timeout"] == {
        "activeSince": "2026-01-05T09:00:00+00:00",
        "deadline": "2026-01-06T09:00:00+00:00",
        "expired": False,
        "action": None,
    }
    ev = run(policies(stage("technical-review", 1, ["tech-lead"])), at(hours=1))
    assert render.to_json(ev)["stages"][0]["timeout"] == {
        "activeSince": "2026-01-05T09:00:00+00:00",
        "deadline": None,
        "expired": False,
        "action": None,
    }
    satisfied = run(policies(TECH), at(hours=1), review("tl", minute=5))
    assert render.to_json(satisfied)["stages"][0]["timeout"] is None
    offline = run(policies(TECH), None)
    assert render.to_json(offline)["stages"][0]["timeout"] is None


@pytest.mark.parametrize(
    ("spec", "now", "note"),
    [
        (TECH, at(hours=1), "escalate at 2026-01-06 09:00 UTC"),
        (TECH, at(hours=25), "escalated after 24h to engineering-manager"),
        (BUSINESS, at(hours=1), "reject at 2026-01-06 09:00 UTC"),
        (BUSINESS, at(hours=25), "expired after 24h"),
        (SECURITY, at(hours=1), "auto-approve at 2026-01-06 09:00 UTC"),
        (SECURITY, at(hours=25), "auto-approved after 24h"),
        (stage("plain", 1, ["tech-lead"]), at(hours=25), ""),
    ],
)
def test_timeout_note(spec: dict[str, Any], now: datetime, note: str) -> None:
    ev = run(policies(spec), now)
    (result,) = ev.stages
    assert render.timeout_note(result) == note
    if note:
        assert render.stage_line(result).endswith(f"({note})")
