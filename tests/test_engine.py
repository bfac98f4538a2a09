"""The policy engine (SPEC 3.2, 4): rules, stages, reviews and the decision."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from flaggate.diff import ALL_ENVIRONMENTS, Change, FlagFile, diff_flags
from flaggate.model.flags import FeatureFlag
from flaggate.model.load import PolicySet, load_policies
from flaggate.policy.evaluate import evaluate
from flaggate.policy.result import (
    Decision,
    Evaluation,
    GateResult,
    GateStatus,
    IgnoredReview,
    StageStatus,
)
from flaggate.policy.stages import assign
from flaggate.pull.context import Review, latest_reviews
from tests.fakes.pull import ALL_METHODS, OLD_SHA, FakeCallError, FakePullRequest, review

EXAMPLE_POLICIES = Path(__file__).resolve().parent.parent / "policies"
EXAMPLE_FILES = {
    f"policies/{p.name}": p.read_bytes() for p in sorted(EXAMPLE_POLICIES.glob("*.yaml"))
}
POLICIES = load_policies(EXAMPLE_FILES)

ROLES_OF = {
    "tl": ["tech-lead"],
    "tl2": ["tech-lead"],
    "se": ["senior-engineer"],
    "po": ["product-owner"],
    "pm": ["product-manager"],
    "dev": ["developer"],
    "dev2": ["developer"],
    "sec": ["security-engineer"],
    "adm": ["admin"],
    "both": ["tech-lead", "product-owner"],
    "both2": ["tech-lead", "product-owner"],
    "author": ["tech-lead", "product-owner", "developer", "admin"],
    "bot": ["tech-lead", "product-owner", "developer", "admin"],
    "nobody": [],
}

ON = {"enabled": True, "variant": "on", "rollout": None, "targeting": None, "variants": {}}
OFF = {"enabled": False, "variant": "off", "rollout": None, "targeting": None, "variants": {}}


def flag_change(
    environment: str,
    flag: str = "checkout",
    *,
    tags: Sequence[str] = (),
    types: tuple[str, ...] = ("toggled",),
    delta: float = 100.0,
    owner: str | None = "@acme/checkout",
) -> Change:
    return Change(
        "flag", flag, environment, types, OFF, ON, delta, f"flags/{flag}.yaml", tuple(tags), owner
    )


def metadata_change(flag: str = "checkout", tags: Sequence[str] = ()) -> Change:
    return Change(
        "flag",
        flag,
        ALL_ENVIRONMENTS,
        ("metadata",),
        {"owner": "a", "description": None, "tags": list(tags)},
        {"owner": "b", "description": None, "tags": list(tags)},
        0.0,
        f"flags/{flag}.yaml",
        tuple(tags),
        "a",
    )


def policy_change(path: str = "policies/roles.yaml", kind: str = "updated") -> Change:
    return Change(
        "policy",
        path,
        ALL_ENVIRONMENTS,
        (kind,),
        {"sha256": "a", "bytes": 1},
        {"sha256": "b", "bytes": 2},
        0.0,
        path,
    )


def pr(*reviews: Review, **kwargs: Any) -> FakePullRequest:
    kwargs.setdefault("roles", ROLES_OF)
    return FakePullRequest(review_list=list(reviews), **kwargs)


def approvals(*logins: str) -> list[Review]:
    return [review(login) for login in logins]


def stage_table(ev: Evaluation) -> list[tuple[str, StageStatus, list[str], int]]:
    return [(s.stage.name, s.status, [a.login for a in s.approvals], s.missing) for s in ev.stages]


def assert_stages(ev: Evaluation, expected: list[tuple[str, StageStatus, list[str], int]]) -> None:
    """Compare stage results; an expected approver ``"a|b"`` may be either, in any order.

    Which of two equally eligible people lands in which stage is not part of the contract;
    that each person counts once is.
    """
    actual = stage_table(ev)
    assert [(n, st, len(a), m) for n, st, a, m in actual] == [
        (n, st, len(a), m) for n, st, a, m in expected
    ]
    people = [login for _, _, logins, _ in actual for login in logins]
    assert len(people) == len(set(people)), f"someone counted twice: {actual}"
    for (_, _, got, _), (name, _, want, _) in zip(actual, expected, strict=True):
        if all("|" not in w for w in want):
            assert sorted(got) == sorted(want), name
        else:
            for login in got:
                assert any(login in w.split("|") for w in want), (name, got, want)


def with_policy(policy_yaml: str, stages_yaml: str | None = None) -> PolicySet:
    files = {k: v for k, v in EXAMPLE_FILES.items() if not k.endswith("approval-policy.yaml")}
    files["policies/approval-policy.yaml"] = policy_yaml.encode()
    if stages_yaml is not None:
        files["policies/stages.yaml"] = stages_yaml.encode()
    return load_policies(files)


A, P, W, R = StageStatus.APPROVED, StageStatus.ACTIVE, StageStatus.WAITING, StageStatus.REJECTED


# --- rule matching ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "rule", "stages"),
    [
        pytest.param(
            flag_change("production", tags=["kill-switch"]), "kill-switch-bypass", (), id="ks-prod"
        ),
        pytest.param(
            flag_change("staging", tags=["payments", "kill-switch"]),
            "kill-switch-bypass",
            (),
            id="ks-staging",
        ),
        pytest.param(
            flag_change("production", tags=["kill-switch-like"]),
            "production-changes",
            ("technical-review", "business-review"),
            id="similar-tag",
        ),
        pytest.param(
            flag_change("production"),
            "production-changes",
            ("technical-review", "business-review"),
            id="prod",
        ),
        pytest.param(flag_change("staging"), "staging-changes", ("staging-changes",), id="staging"),
        pytest.param(flag_change("development"), "development-auto-approve", (), id="dev"),
        pytest.param(
            policy_change(), "policy-changes", ("technical-review", "security-review"), id="policy"
        ),
        pytest.param(metadata_change(), "metadata-only", ("metadata-only",), id="metadata"),
        pytest.param(
            metadata_change(tags=["kill-switch"]),
            "metadata-only",
            ("metadata-only",),
            id="ks-metadata",
        ),
        pytest.param(
            flag_change("production", tags=["kill-switch"], types=("rollout",)),
            "production-changes",
            ("technical-review", "business-review"),
            id="ks-rollout-is-not-a-toggle",
        ),
        pytest.param(flag_change("qa"), "default", ("default",), id="unmatched-env"),
    ],
)
def test_first_matching_rule(change: Change, rule: str, stages: tuple[str, ...]) -> None:
    ev = evaluate([change], POLICIES, pr())
    (result,) = ev.changes
    assert result.change is change
    assert result.rule == rule
    assert result.stages == stages
    assert result.requires_approval is bool(stages)


def test_kill_switch_tag_beats_production_rule_and_needs_no_review() -> None:
    fake = pr().forbid("reviews", "pushers", "holds_role", "review_is_current")
    ev = evaluate([flag_change("production", tags=["kill-switch"])], POLICIES, fake)
    assert ev.decision is Decision.APPROVED
    assert ev.summary == "no approval required"
    assert ev.stages == ()
    assert fake.calls["reviews"] == 0


def test_development_auto_approves() -> None:
    fake = pr().forbid("reviews", "pushers", "holds_role", "review_is_current")
    ev = evaluate([flag_change("development"), flag_change("development", "b")], POLICIES, fake)
    assert ev.decision is Decision.APPROVED
    assert ev.stages == ()
    assert [c.rule for c in ev.changes] == ["development-auto-approve"] * 2
    assert ev.active_stage is None


def test_no_changes_reads_nothing() -> None:
    fake = pr().forbid(*ALL_METHODS)
    ev = evaluate([], POLICIES, fake)
    assert ev.decision is Decision.NO_CHANGES
    assert ev.summary == "no flag or policy changes"
    assert (ev.changes, ev.stages, ev.rejections, ev.ignored) == ((), (), (), ())
    assert sum(fake.calls.values()) == 0


@pytest.mark.parametrize(
    ("reviewers", "decision", "table"),
    [
        pytest.param((), Decision.PENDING, [("default", P, [], 1)], id="none"),
        pytest.param(("dev", "tl"), Decision.PENDING, [("default", P, [], 1)], id="wrong-roles"),
        pytest.param(("adm",), Decision.APPROVED, [("default", A, ["adm"], 0)], id="admin"),
    ],
)
def test_fail_closed_default_needs_one_admin(
    reviewers: tuple[str, ...], decision: Decision, table: list[Any]
) -> None:
    ev = evaluate([flag_change("qa")], POLICIES, pr(*approvals(*reviewers)))
    assert ev.decision is decision
    assert stage_table(ev) == table
    assert ev.stages[0].stage.roles == ("admin",)
    assert ev.stages[0].stage.required == 1
    assert ev.changes[0].reason == "no rule matched: 1 approval from admin (fail closed)"


def test_no_approval_policy_document_fails_closed() -> None:
    files = {k: v for k, v in EXAMPLE_FILES.items() if not k.endswith("approval-policy.yaml")}
    policies = load_policies(files)
    assert policies.policy is None
    ev = evaluate([flag_change("development")], policies, pr())
    assert ev.decision is Decision.PENDING
    assert [c.rule for c in ev.changes] == ["default"]
    assert stage_table(ev) == [("default", P, [], 1)]


# --- staging: one approver ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("reviewers", "decision", "approved_by"),
    [
        ((), Decision.PENDING, []),
        (("dev",), Decision.APPROVED, ["dev"]),
        (("tl",), Decision.APPROVED, ["tl"]),
        (("po",), Decision.PENDING, []),
        (("se", "pm", "sec"), Decision.PENDING, []),
        (("dev", "tl"), Decision.APPROVED, ["dev"]),
    ],
)
def test_staging_needs_one_developer_or_tech_lead(
    reviewers: tuple[str, ...], decision: Decision, approved_by: list[str]
) -> None:
    ev = evaluate([flag_change("staging")], POLICIES, pr(*approvals(*reviewers)))
    assert ev.decision is decision
    assert stage_table(ev) == [
        ("staging-changes", A if approved_by else P, approved_by, 0 if approved_by else 1)
    ]
    assert ev.decision.exit_code == (0 if decision is Decision.APPROVED else 1)


def test_counted_approval_names_the_role_that_made_it_count() -> None:
    ev = evaluate([flag_change("staging")], POLICIES, pr(*approvals("tl")))
    assert [(a.login, a.role) for a in ev.stages[0].approvals] == [("tl", "tech-lead")]
    ev = evaluate([flag_change("production")], POLICIES, pr(*approvals("se", "pm")))
    assert [[(a.login, a.role) for a in s.approvals] for s in ev.stages] == [
        [("se", "senior-engineer")],
        [("pm", "product-manager")],
    ]


# --- production: two ordered stages -----------------------------------------------------------


@pytest.mark.parametrize(
    ("reviewers", "decision", "table"),
    [
        pytest.param(
            (),
            Decision.PENDING,
            [("technical-review", P, [], 1), ("business-review", W, [], 1)],
            id="none",
        ),
        pytest.param(
            ("tl",),
            Decision.PENDING,
            [("technical-review", A, ["tl"], 0), ("business-review", P, [], 1)],
            id="technical-only",
        ),
        pytest.param(
            ("po",),
            Decision.PENDING,
            [("technical-review", P, [], 1), ("business-review", A, ["po"], 0)],
            id="later-stage-first",
        ),
        pytest.param(
            ("tl", "po"),
            Decision.APPROVED,
            [("technical-review", A, ["tl"], 0), ("business-review", A, ["po"], 0)],
            id="both",
        ),
        pytest.param(
            ("se", "pm"),
            Decision.APPROVED,
            [("technical-review", A, ["se"], 0), ("business-review", A, ["pm"], 0)],
            id="other-roles",
        ),
        pytest.param(
            ("tl", "tl2"),
            Decision.PENDING,
            [("technical-review", A, ["tl"], 0), ("business-review", P, [], 1)],
            id="two-tech-leads",
        ),
        pytest.param(
            ("both",),
            Decision.PENDING,
            [("technical-review", A, ["both"], 0), ("business-review", P, [], 1)],
            id="one-person-two-roles-counts-once",
        ),
        pytest.param(
            ("both", "both2"),
            Decision.APPROVED,
            [
                ("technical-review", A, ["both|both2"], 0),
                ("business-review", A, ["both|both2"], 0),
            ],
            id="two-people-two-roles",
        ),
        pytest.param(
            # Naive greedy (sorted) puts `both` in technical-review; `tl` can only go there.
            ("both", "tl"),
            Decision.APPROVED,
            [("technical-review", A, ["tl"], 0), ("business-review", A, ["both"], 0)],
            id="route-dual-role-to-business",
        ),
        pytest.param(
            ("po", "both"),
            Decision.APPROVED,
            [("technical-review", A, ["both"], 0), ("business-review", A, ["po"], 0)],
            id="route-dual-role-to-technical",
        ),
        pytest.param(
            ("dev", "sec", "adm", "nobody"),
            Decision.PENDING,
            [("technical-review", P, [], 1), ("business-review", W, [], 1)],
            id="no-eligible",
        ),
    ],
)
def test_production_two_stages(
    reviewers: tuple[str, ...], decision: Decision, table: list[Any]
) -> None:
    ev = evaluate([flag_change("production")], POLICIES, pr(*approvals(*reviewers)))
    assert ev.decision is decision
    assert_stages(ev, table)
    active = next((name for name, status, _, _ in table if status is not A), None)
    assert (ev.active_stage.stage.name if ev.active_stage else None) == active


def test_pending_summary_names_the_first_unsatisfied_stage() -> None:
    ev = evaluate([flag_change("production")], POLICIES, pr(*approvals("po")))
    assert ev.summary == "needs technical-review: 1 more of tech-lead, senior-engineer"
    ev = evaluate([flag_change("production")], POLICIES, pr(*approvals("tl")))
    assert ev.summary == "needs business-review: 1 more of product-owner, product-manager"
    ev = evaluate([flag_change("production")], POLICIES, pr(*approvals("tl", "po")))
    assert ev.summary == "approved: 2 stage(s) satisfied"


def test_surplus_approvers_are_reported_as_not_needed() -> None:
    ev = evaluate([flag_change("production")], POLICIES, pr(*approvals("tl", "tl2", "po")))
    assert ev.decision is Decision.APPROVED
    assert ev.ignored == (IgnoredReview("tl2", "already counted elsewhere or not needed"),)


# --- union of requirements -----------------------------------------------------------------


def test_union_of_staging_and_production_requirements() -> None:
    changes = [flag_change("staging"), flag_change("production"), flag_change("production", "b")]
    ev = evaluate(changes, POLICIES, pr())
    assert [s.stage.name for s in ev.stages] == [
        "staging-changes",
        "technical-review",
        "business-review",
    ]
    assert [s.stage.rules for s in ev.stages] == [
        ("staging-changes",),
        ("production-changes",),
        ("production-changes",),
    ]
    assert [c.stages for c in ev.changes] == [
        ("staging-changes",),
        ("technical-review", "business-review"),
        ("technical-review", "business-review"),
    ]


@pytest.mark.parametrize(
    ("reviewers", "decision", "table"),
    [
        pytest.param(
            ("tl", "po"),
            Decision.PENDING,
            [
                ("staging-changes", A, ["tl"], 0),
                ("technical-review", P, [], 1),
                ("business-review", A, ["po"], 0),
            ],
            id="tech-lead-counts-once",
        ),
        pytest.param(
            ("tl", "po", "dev"),
            Decision.APPROVED,
            [
                ("staging-changes", A, ["dev"], 0),
                ("technical-review", A, ["tl"], 0),
                ("business-review", A, ["po"], 0),
            ],
            id="tech-lead-moved-to-technical",
        ),
        pytest.param(
            ("dev", "po"),
            Decision.PENDING,
            [
                ("staging-changes", A, ["dev"], 0),
                ("technical-review", P, [], 1),
                ("business-review", A, ["po"], 0),
            ],
            id="production-missing",
        ),
        pytest.param(
            ("tl", "po", "se"),
            Decision.APPROVED,
            [
                ("staging-changes", A, ["tl"], 0),
                ("technical-review", A, ["se"], 0),
                ("business-review", A, ["po"], 0),
            ],
            id="all-three",
        ),
    ],
)
def test_union_needs_every_rule_satisfied(
    reviewers: tuple[str, ...], decision: Decision, table: list[Any]
) -> None:
    changes = [flag_change("staging"), flag_change("production")]
    ev = evaluate(changes, POLICIES, pr(*approvals(*reviewers)))
    assert ev.decision is decision
    assert stage_table(ev) == table


def test_policy_and_production_changes_share_technical_review() -> None:
    changes = [policy_change(), flag_change("production")]
    ev = evaluate(changes, POLICIES, pr(*approvals("tl", "po", "sec")))
    assert [(s.stage.name, s.stage.order, s.stage.rules) for s in ev.stages] == [
        ("technical-review", (1, 1), ("policy-changes", "production-changes")),
        ("business-review", (1, 2), ("production-changes",)),
        ("security-review", (1, 3), ("policy-changes",)),
    ]
    assert ev.decision is Decision.APPROVED


@pytest.mark.parametrize(
    ("kind", "reviewers", "decision"),
    [
        ("created", (), Decision.PENDING),
        ("deleted", ("tl",), Decision.PENDING),
        ("updated", ("sec",), Decision.PENDING),
        ("updated", ("tl", "sec"), Decision.APPROVED),
        ("created", ("se", "sec"), Decision.APPROVED),
    ],
)
def test_policy_changes_need_technical_and_security_review(
    kind: str, reviewers: tuple[str, ...], decision: Decision
) -> None:
    ev = evaluate([policy_change(kind=kind)], POLICIES, pr(*approvals(*reviewers)))
    assert [c.rule for c in ev.changes] == ["policy-changes"]
    assert [s.stage.name for s in ev.stages] == ["technical-review", "security-review"]
    assert ev.decision is decision


# --- who counts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fake", "ignored"),
    [
        pytest.param(
            pr(*approvals("author"), author_login="author"),
            [IgnoredReview("author", "author of the pull request")],
            id="author",
        ),
        pytest.param(
            pr(review("bot", bot=True)),
            [IgnoredReview("bot", "bot account")],
            id="bot",
        ),
        pytest.param(
            pr(*approvals("dev"), pusher_logins=frozenset({"dev"})),
            [IgnoredReview("dev", "pushed commits to the pull request")],
            id="pusher",
        ),
        pytest.param(
            pr(review("dev", sha=OLD_SHA), stale_commits=frozenset({OLD_SHA})),
            [IgnoredReview("dev", "approved an older commit with other changes")],
            id="stale",
        ),
        pytest.param(
            pr(*approvals("po")),
            [IgnoredReview("po", "holds none of the required roles")],
            id="no-role",
        ),
    ],
)
def test_reviews_that_do_not_count(fake: FakePullRequest, ignored: list[IgnoredReview]) -> None:
    ev = evaluate([flag_change("staging")], POLICIES, fake)
    assert ev.decision is Decision.PENDING
    assert stage_table(ev) == [("staging-changes", P, [], 1)]
    assert list(ev.ignored) == ignored
    assert ev.rejections == ()


def test_approval_on_an_older_commit_with_the_same_changes_counts() -> None:
    fake = pr(review("dev", sha=OLD_SHA), stale_commits=frozenset({"other"}))
    ev = evaluate([flag_change("staging")], POLICIES, fake)
    assert ev.decision is Decision.APPROVED
    assert fake.calls["review_is_current"] == 1


def test_ignored_people_do_not_block_others() -> None:
    fake = pr(
        *approvals("author", "tl", "dev"),
        review("bot", bot=True),
        author_login="author",
        pusher_logins=frozenset({"tl"}),
    )
    ev = evaluate([flag_change("staging")], POLICIES, fake)
    assert ev.decision is Decision.APPROVED
    assert stage_table(ev) == [("staging-changes", A, ["dev"], 0)]
    assert sorted((i.login, i.reason) for i in ev.ignored) == [
        ("author", "author of the pull request"),
        ("bot", "bot account"),
        ("tl", "pushed commits to the pull request"),
    ]


@pytest.mark.parametrize(
    "reviews",
    [
        pytest.param([], id="no-reviews"),
        pytest.param([review("dev", "COMMENTED")], id="comment-only"),
        pytest.param([review("tl", "CHANGES_REQUESTED")], id="changes-requested-only"),
        pytest.param([review("dev", "DISMISSED")], id="dismissed-only"),
        pytest.param([review("author")], id="author-approval"),
        pytest.param([review("bot", bot=True)], id="bot-approval"),
        pytest.param(
            [review("dev", "APPROVED", 1), review("dev", "DISMISSED", 2)], id="approval-dismissed"
        ),
    ],
)
def test_pushers_are_not_read_without_a_counting_candidate(reviews: list[Review]) -> None:
    fake = pr(*reviews, author_login="author").forbid("pushers")
    ev = evaluate([flag_change("staging")], POLICIES, fake)
    assert fake.calls["pushers"] == 0
    assert ev.decision in (Decision.PENDING, Decision.REJECTED)


def test_author_and_bots_are_not_looked_up() -> None:
    fake = pr(review("author"), review("bot", bot=True), author_login="author").forbid(
        "holds_role", "pushers", "review_is_current"
    )
    ev = evaluate([flag_change("production")], POLICIES, fake)
    assert ev.decision is Decision.PENDING


def test_pushers_read_once_and_staleness_only_for_eligible_reviewers() -> None:
    fake = pr(
        *approvals("tl", "po", "dev", "nobody"),
        pusher_logins=frozenset({"dev"}),
    )
    ev = evaluate([flag_change("production")], POLICIES, fake)
    assert ev.decision is Decision.APPROVED
    assert fake.calls["pushers"] == 1
    assert fake.calls["reviews"] == 1
    # Only tl and po are eligible and not pushers.
    assert fake.calls["review_is_current"] == 2


def test_errors_from_the_pull_request_propagate() -> None:
    fake = pr(*approvals("dev"))
    fake.errors["pushers"] = RuntimeError("GitHub unreachable")
    with pytest.raises(RuntimeError, match="GitHub unreachable"):
        evaluate([flag_change("staging")], POLICIES, fake)
    with pytest.raises(FakeCallError):
        evaluate([flag_change("staging")], POLICIES, pr().forbid("author"))


# --- review history ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "decision", "approved_by", "rejections"),
    [
        pytest.param(
            [("APPROVED", 1), ("COMMENTED", 2)], Decision.APPROVED, ["dev"], (), id="comment-keeps"
        ),
        pytest.param(
            [("APPROVED", 1), ("DISMISSED", 2)], Decision.PENDING, [], (), id="dismissed-removes"
        ),
        pytest.param(
            [("CHANGES_REQUESTED", 1), ("APPROVED", 2)],
            Decision.APPROVED,
            ["dev"],
            (),
            id="approve-after-request",
        ),
        pytest.param(
            [("APPROVED", 1), ("CHANGES_REQUESTED", 2)],
            Decision.REJECTED,
            [],
            ("dev",),
            id="request-after-approve",
        ),
        pytest.param(
            [("CHANGES_REQUESTED", 1), ("COMMENTED", 2)],
            Decision.REJECTED,
            [],
            ("dev",),
            id="comment-keeps-request",
        ),
        pytest.param(
            [("CHANGES_REQUESTED", 1), ("DISMISSED", 2)],
            Decision.PENDING,
            [],
            (),
            id="dismissed-request",
        ),
        pytest.param(
            # Submission time decides, not list order.
            [("APPROVED", 5), ("CHANGES_REQUESTED", 3)],
            Decision.APPROVED,
            ["dev"],
            (),
            id="by-time-not-list-order",
        ),
        pytest.param(
            [("CHANGES_REQUESTED", None), ("APPROVED", None)],
            Decision.APPROVED,
            ["dev"],
            (),
            id="no-times-list-order",
        ),
    ],
)
def test_latest_review_per_reviewer_wins(
    history: list[tuple[Any, int | None]],
    decision: Decision,
    approved_by: list[str],
    rejections: tuple[str, ...],
) -> None:
    reviews = [review("dev", state, minute) for state, minute in history]
    ev = evaluate([flag_change("staging")], POLICIES, pr(*reviews))
    assert ev.decision is decision
    assert [a.login for a in ev.stages[0].approvals] == approved_by
    assert ev.rejections == rejections


def test_latest_reviews_skips_comments() -> None:
    reviews = [
        review("a", "APPROVED", 1),
        review("b", "COMMENTED", 2),
        review("a", "COMMENTED", 3),
        review("c", "CHANGES_REQUESTED", 4),
        review("c", "APPROVED", 5),
    ]
    latest = latest_reviews(reviews)
    assert {login: r.state for login, r in latest.items()} == {"a": "APPROVED", "c": "APPROVED"}
    assert latest["a"] is reviews[0]


# --- rejection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "requester", "decision", "rejections"),
    [
        pytest.param([flag_change("staging")], "dev", Decision.REJECTED, ("dev",), id="eligible"),
        pytest.param([flag_change("staging")], "po", Decision.PENDING, (), id="not-eligible"),
        pytest.param([flag_change("production")], "po", Decision.REJECTED, ("po",), id="later"),
        pytest.param([flag_change("production")], "dev", Decision.PENDING, (), id="prod-dev"),
        pytest.param([flag_change("development")], "tl", Decision.APPROVED, (), id="no-stages"),
    ],
)
def test_changes_requested(
    changes: list[Change], requester: str, decision: Decision, rejections: tuple[str, ...]
) -> None:
    ev = evaluate(changes, POLICIES, pr(review(requester, "CHANGES_REQUESTED")))
    assert ev.decision is decision
    assert ev.rejections == rejections
    if rejections:
        assert ev.summary == f"changes requested by @{requester}"


def test_rejected_stage_status_and_approvals_elsewhere() -> None:
    fake = pr(review("tl"), review("po", "CHANGES_REQUESTED"), review("pm"))
    ev = evaluate([flag_change("production")], POLICIES, fake)
    assert ev.decision is Decision.REJECTED
    assert ev.decision.exit_code == 1
    assert stage_table(ev) == [
        ("technical-review", A, ["tl"], 0),
        ("business-review", R, ["pm"], 0),
    ]


def test_changes_requested_by_author_or_bot_is_ignored() -> None:
    fake = pr(
        review("author", "CHANGES_REQUESTED"),
        review("bot", "CHANGES_REQUESTED", bot=True),
        review("dev"),
        author_login="author",
    )
    ev = evaluate([flag_change("staging")], POLICIES, fake)
    assert ev.decision is Decision.APPROVED
    assert ev.rejections == ()


# --- conditions on pull-request facts ----------------------------------------------------------

PR_POLICY = """
apiVersion: flaggate/v1
kind: ApprovalPolicy
metadata: {name: pr-facts}
spec:
  rules:
    - name: hotfix-staging
      conditions:
        - {field: pr.labels, operator: contains, value: hotfix}
        - {field: environment, operator: equals, value: staging}
      approval: {required: false}
    - name: release-managers
      conditions:
        - {field: pr.author, operator: in, value: [rel-a, rel-b]}
      approval: {required: true, minApprovers: 1, approverRoles: [developer]}
    - name: release-branch
      conditions:
        - {field: pr.baseRef, operator: regex, value: '^release/'}
      approval: {required: true, minApprovers: 1, approverRoles: [admin]}
    - name: small-step
      conditions:
        - {field: change.rolloutDelta, operator: lessThan, value: 10}
      approval: {required: true, minApprovers: 1, approverRoles: [tech-lead]}
    - name: big-step
      conditions:
        - {field: change.rolloutDelta, operator: greaterThan, value: 50}
      approval: {required: true, minApprovers: 2, approverRoles: [tech-lead, developer]}
    - name: rollout-to-full
      conditions:
        - {field: newValue.enabled, operator: equals, value: true}
        - {field: change.types, operator: contains, value: rollout}
      approval: {required: true, minApprovers: 1, approverRoles: [product-owner]}
"""


@pytest.mark.parametrize(
    ("labels", "author", "base_ref", "change", "rule"),
    [
        ({"hotfix"}, "x", "main", flag_change("staging"), "hotfix-staging"),
        ({"hotfix", "y"}, "rel-a", "main", flag_change("staging"), "hotfix-staging"),
        ({"hotfix"}, "x", "main", flag_change("production", delta=5), "small-step"),
        ({"hotfixes"}, "x", "main", flag_change("staging", delta=5), "small-step"),
        (set(), "rel-b", "release/2.0", flag_change("production"), "release-managers"),
        (set(), "rel-c", "release/2.0", flag_change("production"), "release-branch"),
        (set(), None, None, flag_change("production", delta=9.99), "small-step"),
        (set(), None, None, flag_change("production", delta=10), "default"),
        (set(), None, None, flag_change("production", delta=50.5), "big-step"),
        (set(), None, None, flag_change("production", delta=50), "default"),
        (
            set(),
            None,
            None,
            flag_change("production", delta=30, types=("rollout",)),
            "rollout-to-full",
        ),
        (set(), "x", "main", metadata_change(), "small-step"),
        (set(), "x", "main", policy_change(), "small-step"),
    ],
)
def test_conditions_on_pull_request_facts(
    labels: set[str], author: str | None, base_ref: str | None, change: Change, rule: str
) -> None:
    policies = with_policy(PR_POLICY)
    fake = pr(label_names=frozenset(labels), author_login=author, base=base_ref)
    ev = evaluate([change], policies, fake)
    assert [c.rule for c in ev.changes] == [rule]


def test_inline_stages_follow_rule_order() -> None:
    policies = with_policy(PR_POLICY)
    changes = [
        flag_change("production", "a", delta=60),
        flag_change("production", "b", delta=1),
        flag_change("qa", "c", delta=20),
    ]
    ev = evaluate(changes, policies, pr(*approvals("tl", "dev", "tl2")))
    assert [(s.stage.name, s.stage.required) for s in ev.stages] == [
        ("small-step", 1),
        ("big-step", 2),
        ("default", 1),
    ]
    assert_stages(
        ev,
        [
            ("small-step", A, ["tl|tl2"], 0),
            ("big-step", A, ["dev", "tl|tl2"], 0),
            ("default", P, [], 1),
        ],
    )
    assert "dev" in [a.login for a in ev.stages[1].approvals]


def test_rule_named_like_a_stage_does_not_swallow_the_default_requirement() -> None:
    """A rule called `default` must not merge with the fail-closed default stage."""
    policies = with_policy(
        """
apiVersion: flaggate/v1
kind: ApprovalPolicy
metadata: {name: p}
spec:
  rules:
    - name: default
      conditions: [{field: environment, operator: equals, value: staging}]
      approval: {required: true, minApprovers: 1, approverRoles: [developer]}
"""
    )
    changes = [flag_change("staging"), flag_change("production")]
    ev = evaluate(changes, policies, pr(*approvals("dev")))
    # The production change matches no rule: it needs an admin, whatever the rules are called.
    assert ev.decision is Decision.PENDING
    assert sorted((s.stage.roles, s.stage.required) for s in ev.stages) == [
        (("admin",), 1),
        (("developer",), 1),
    ]


def test_rule_named_like_a_named_stage_keeps_both_requirements() -> None:
    policies = with_policy(
        """
apiVersion: flaggate/v1
kind: ApprovalPolicy
metadata: {name: p}
spec:
  rules:
    - name: security-review
      conditions: [{field: environment, operator: equals, value: staging}]
      approval: {required: true, minApprovers: 1, approverRoles: [developer]}
    - name: prod
      conditions: [{field: environment, operator: equals, value: production}]
      approval: {required: true, stages: [security-review]}
"""
    )
    changes = [flag_change("staging"), flag_change("production")]
    ev = evaluate(changes, policies, pr(*approvals("dev")))
    assert ev.decision is Decision.PENDING


# --- gates and decisions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gates", "reviewers", "decision", "summary"),
    [
        ([GateResult("checks", GateStatus.PASSED, "ok")], ("dev",), Decision.APPROVED, None),
        (
            [GateResult("checks", GateStatus.FAILED, "load-tests failed")],
            ("dev",),
            Decision.FAILED,
            "gate checks: load-tests failed",
        ),
        (
            [GateResult("metrics", GateStatus.ERROR, "unreachable")],
            (),
            Decision.FAILED,
            "gate metrics could not be checked: unreachable",
        ),
        (
            [GateResult("checks", GateStatus.PENDING, "running")],
            ("dev",),
            Decision.PENDING,
            "waiting for gate checks: running",
        ),
        (
            [GateResult("checks", GateStatus.PENDING, "running")],
            (),
            Decision.PENDING,
            "needs staging-changes: 1 more of developer, tech-lead",
        ),
    ],
)
def test_gates_in_the_decision(
    gates: list[GateResult], reviewers: Iterable[str], decision: Decision, summary: str | None
) -> None:
    ev = evaluate([flag_change("staging")], POLICIES, pr(*approvals(*reviewers)), gates)
    assert ev.decision is decision
    assert ev.gates == tuple(gates)
    if summary is not None:
        assert ev.summary == summary


def test_rejection_outranks_a_failed_gate() -> None:
    gates = [GateResult("checks", GateStatus.FAILED, "x")]
    ev = evaluate([flag_change("staging")], POLICIES, pr(review("dev", "CHANGES_REQUESTED")), gates)
    assert ev.decision is Decision.REJECTED


@pytest.mark.parametrize(
    ("decision", "code", "value"),
    [
        (Decision.APPROVED, 0, "approved"),
        (Decision.NO_CHANGES, 0, "no_changes"),
        (Decision.BYPASSED, 0, "bypassed"),
        (Decision.PENDING, 1, "pending"),
        (Decision.REJECTED, 1, "rejected"),
        (Decision.FAILED, 1, "failed"),
        (Decision.INVALID, 2, "invalid"),
    ],
)
def test_decision_exit_codes(decision: Decision, code: int, value: str) -> None:
    assert decision.exit_code == code
    assert str(decision) == value


# --- stages.assign -----------------------------------------------------------------------------


def _as_sets(result: list[list[str]]) -> list[set[str]]:
    return [set(stage) for stage in result]


@pytest.mark.parametrize(
    ("required", "eligible", "allowed"),
    [
        pytest.param([1], {}, [[set()]], id="nobody"),
        pytest.param([], {"a": [0]}, [[]], id="no-stages"),
        pytest.param([1, 1], {"a": [0, 1]}, [[{"a"}, set()]], id="one-person-counts-once"),
        pytest.param([1, 1], {"a": [0, 1], "b": [0]}, [[{"b"}, {"a"}]], id="reroute-first"),
        pytest.param([1, 1], {"a": [0], "b": [0, 1]}, [[{"a"}, {"b"}]], id="already-fine"),
        pytest.param(
            [2],
            {"a": [0], "b": [0], "c": [0]},
            [[{"a", "b"}], [{"a", "c"}], [{"b", "c"}]],
            id="two-of-three",
        ),
        pytest.param([2], {"a": [0]}, [[{"a"}]], id="partial-single-stage"),
        pytest.param(
            [1, 1, 1],
            {"a": [0, 1, 2], "b": [0, 1], "c": [0]},
            [[{"c"}, {"b"}, {"a"}]],
            id="chain-of-three",
        ),
        pytest.param(
            [2, 1],
            {"a": [0, 1], "b": [0, 1], "c": [0]},
            [[{"a", "c"}, {"b"}], [{"b", "c"}, {"a"}]],
            id="two-slots-and-reroute",
        ),
        pytest.param(
            [1, 2],
            {"a": [0, 1], "b": [0, 1], "c": [1]},
            [[{"a"}, {"b", "c"}], [{"b"}, {"a", "c"}]],
            id="later-stage-two-slots",
        ),
        pytest.param(
            [1, 1, 1],
            {"a": [2], "b": [2]},
            [[set(), set(), {"a"}], [set(), set(), {"b"}]],
            id="only-last-stage",
        ),
        pytest.param(
            # Both stages cannot be satisfied: the earlier one wins.
            [1, 1],
            {"a": [0, 1]},
            [[{"a"}, set()]],
            id="prefix-first",
        ),
        pytest.param(
            # Stage 1 (needs 2) cannot be satisfied; `b` must then satisfy stage 2.
            [1, 2, 1],
            {"a": [0], "b": [1, 2]},
            [[{"a"}, set(), {"b"}]],
            id="most-stages-not-partial-fill",
        ),
        pytest.param(
            # Stage 0 cannot be satisfied by anyone: `x` must satisfy stage 1.
            [2, 1],
            {"x": [0, 1]},
            [[set(), {"x"}]],
            id="unsatisfiable-first-stage",
        ),
    ],
)
def test_assign(
    required: list[int], eligible: dict[str, list[int]], allowed: list[list[set[str]]]
) -> None:
    assert _as_sets(assign(required, eligible)) in allowed


def test_assign_results_are_distinct_and_eligible() -> None:
    eligible = {f"p{i}": [j for j in range(4) if (i + j) % 3 != 0] for i in range(7)}
    result = assign([2, 1, 2, 1], eligible)
    people = [login for stage in result for login in stage]
    assert len(people) == len(set(people))
    for stage, logins in enumerate(result):
        for login in logins:
            assert stage in eligible[login]
    assert [len(stage) for stage in result] == [2, 1, 2, 1]


TWO_TECH_STAGES = """
apiVersion: flaggate/v1
kind: ApprovalStages
metadata: {name: s}
spec:
  stages:
    - {name: technical-review, order: 1, requiredApprovers: 2, approverRoles: [tech-lead]}
    - {name: business-review, order: 2, requiredApprovers: 1, approverRoles: [product-owner]}
    - {name: security-review, order: 3, requiredApprovers: 1, approverRoles: [security-engineer]}
"""


def test_a_lone_dual_role_approver_satisfies_the_stage_it_can_satisfy() -> None:
    """SPEC 4: approvals are assigned so that the most stages are satisfied."""
    policies = with_policy(EXAMPLE_FILES["policies/approval-policy.yaml"].decode(), TWO_TECH_STAGES)
    ev = evaluate([flag_change("production")], policies, pr(*approvals("both")))
    assert ev.decision is Decision.PENDING
    assert stage_table(ev) == [
        ("technical-review", P, [], 2),
        ("business-review", A, ["both"], 0),
    ]


def test_contains_with_a_list_value_on_an_object_field_does_not_crash() -> None:
    policies = with_policy(
        """
apiVersion: flaggate/v1
kind: ApprovalPolicy
metadata: {name: p}
spec:
  rules:
    - name: odd
      conditions: [{field: newValue.rollout, operator: contains, value: [on]}]
      approval: {required: false}
"""
    )
    change = Change(
        "flag",
        "checkout",
        "production",
        ("rollout",),
        ON,
        {**ON, "variant": None, "rollout": {"off": 50.0, "on": 50.0}},
        50.0,
        "flags/checkout.yaml",
    )
    ev = evaluate([change], policies, pr())
    assert [c.rule for c in ev.changes] == ["default"]


def test_a_pull_request_adding_kill_switch_cannot_exempt_itself() -> None:
    changes = diff_flags(_tagged(["payments"], False), _tagged(["payments", "kill-switch"], True))
    ev = evaluate(changes, POLICIES, pr())
    assert [(c.change.environment, c.rule) for c in ev.changes] == [
        ("production", "production-changes"),
        ("*", "exempting-tag-edits"),
    ]
    assert ev.decision is Decision.PENDING
    # Once the base carries the tag, the kill switch is exempt.
    changes = diff_flags(_tagged(["kill-switch"], False), _tagged(["kill-switch"], True))
    assert evaluate(changes, POLICIES, pr()).decision is Decision.APPROVED


def _tagged(tags: list[str], enabled: bool) -> dict[str, FlagFile]:
    model = FeatureFlag.model_validate(
        {
            "apiVersion": "flaggate/v1",
            "kind": "FeatureFlag",
            "metadata": {"name": "pay", "tags": tags},
            "spec": {"environments": {"production": {"enabled": enabled}}},
        }
    )
    return {"pay": FlagFile("flags/pay.yaml", model)}


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(["payments"], ["payments", "kill-switch"], id="added"),
        pytest.param(["kill-switch", "payments"], ["payments"], id="removed"),
    ],
)
def test_adding_or_removing_an_exempting_tag_needs_a_tech_lead(
    before: list[str], after: list[str]
) -> None:
    changes = diff_flags(_tagged(before, False), _tagged(after, False))
    [change] = changes
    assert change.type == "metadata"
    ev = evaluate(changes, POLICIES, pr())
    assert [c.rule for c in ev.changes] == ["exempting-tag-edits"]
    assert [s.stage.roles for s in ev.stages] == [("tech-lead",)]
    assert ev.decision is Decision.PENDING
    ev = evaluate(changes, POLICIES, pr(review("dev1")))
    assert ev.decision is Decision.PENDING  # a developer is not enough
    assert evaluate(changes, POLICIES, pr(review("tl"))).decision is Decision.APPROVED


def test_other_tag_edits_need_one_developer() -> None:
    changes = diff_flags(_tagged(["payments"], False), _tagged(["payments", "ops"], False))
    ev = evaluate(changes, POLICIES, pr())
    assert [c.rule for c in ev.changes] == ["metadata-only"]
    assert [(c.tags_added, c.tags_removed) for c in changes] == [(("ops",), ())]


def test_a_new_flag_tagged_kill_switch_gets_no_exemption() -> None:
    changes = diff_flags({}, _tagged(["kill-switch"], True))
    assert [(c.type, c.tags_added) for c in changes] == [("created", ("kill-switch",))]
    ev = evaluate(changes, POLICIES, pr())
    assert [c.rule for c in ev.changes] == ["production-changes"]
    assert ev.decision is Decision.PENDING


def test_kill_switch_carried_on_the_base_toggles_without_review() -> None:
    changes = diff_flags(_tagged(["kill-switch"], False), _tagged(["kill-switch"], True))
    assert [(c.type, c.tags_added, c.tags_removed) for c in changes] == [("toggled", (), ())]
    ev = evaluate(changes, POLICIES, pr())
    assert [c.rule for c in ev.changes] == ["kill-switch-bypass"]
    assert ev.decision is Decision.APPROVED
