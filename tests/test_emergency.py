"""The emergency bypass (SPEC 7): the incident note, who may bypass, the decision, and the
post-incident accountability after the merge (follow-up issue, retroactive approval, review).

The end-to-end tests run `flaggate github` as a subprocess against the fake GitHub, with real
webhook payloads, as tests/test_github_action.py does.
"""

from __future__ import annotations

import copy
import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from flaggate.diff import Change
from flaggate.incident.followup import (
    LABEL,
    NO_FINDINGS_MARKER,
    FollowUp,
    has_findings,
    render_body,
)
from flaggate.model.load import load_policies
from flaggate.model.settings import Emergency
from flaggate.policy.emergency import IncidentNote, judge_bypass
from flaggate.policy.evaluate import evaluate
from flaggate.policy.result import Decision
from flaggate.publish.comment import CommentState
from tests.fakes.github import FakeGitHub, MemberState, ReviewState
from tests.fakes.pull import FakePullRequest, review
from tests.github_env import (
    NAME,
    OWNER,
    WEBHOOKS,
    ActionRun,
    organisation,
    run_action,
    webhook_payload,
)
from tests.gitrepo import GitRepo

# --- the incident note -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "Incident: INC-4711\nSeverity: SEV1\nJustification: checkout is down",
            IncidentNote("INC-4711", "SEV1", "checkout is down"),
            id="plain-lines",
        ),
        pytest.param(
            "Restore checkout.\n\n**Incident:** INC-4711\n**Severity:** SEV2\n"
            "**Justification:** payments fail in the EU\n",
            IncidentNote("INC-4711", "SEV2", "payments fail in the EU"),
            id="markdown-bold-colon-inside",
        ),
        pytest.param(
            "**Incident**: INC-1\n__Severity__: SEV1\n*Justification*: outage",
            IncidentNote("INC-1", "SEV1", "outage"),
            id="markdown-bold-colon-outside",
        ),
        pytest.param(
            "## Emergency\n- Incident: INC-9\n* Severity: SEV1\n  - Justification: all down  \n",
            IncidentNote("INC-9", "SEV1", "all down"),
            id="bullets",
        ),
        pytest.param(
            "> Incident: INC-2\n> Severity: SEV2\n> Justification: quoted",
            IncidentNote(None, None, None),
            id="blockquote-is-not-the-authors-statement",
        ),
        pytest.param(
            "<!--\nSeverity: SEV1\n-->\nIncident: INC-2\nSeverity: SEV3\nJustification: x",
            IncidentNote("INC-2", "SEV3", "x"),
            id="html-comment-hidden",
        ),
        pytest.param(
            "Incident: INC-2 <!-- Severity: SEV1 -->\nJustification: x",
            IncidentNote("INC-2", None, "x"),
            id="inline-html-comment-hidden",
        ),
        pytest.param(
            "```\nSeverity: SEV1\n```\n\n~~~\nIncident: INC-0\n~~~\nSeverity: SEV3",
            IncidentNote(None, "SEV3", None),
            id="fenced-code-ignored",
        ),
        pytest.param(
            "Notes:\n\n    Severity: SEV1\n\nSeverity: SEV3",
            IncidentNote(None, "SEV3", None),
            id="indented-code-ignored",
        ),
        pytest.param(
            "<details>\n<p>Severity: SEV1</p>\n</details>\n\n~~Incident: INC-1~~",
            IncidentNote(None, None, None),
            id="html-block-and-strikethrough-ignored",
        ),
        pytest.param(
            "- Incident: INC-1\n- Severity: `SEV1`\n\n> Severity: SEV3\n\nJustification: x",
            IncidentNote("INC-1", "SEV1", "x"),
            id="list-and-inline-code-visible",
        ),
        pytest.param(
            "INCIDENT: INC-3\nseverity: sev2\nJUSTIFICATION: shouting",
            IncidentNote("INC-3", "SEV2", "shouting"),
            id="case-insensitive-keys-severity-upper-cased",
        ),
        pytest.param(
            "Incident: INC-1\nIncident: INC-2\nSeverity: SEV1\nSeverity: SEV3\n"
            "Justification: first\nJustification: second",
            IncidentNote("INC-1", "SEV1", "first"),
            id="first-occurrence-wins",
        ),
        pytest.param(
            "Incident:\nIncident: INC-5\nSeverity:   \nSeverity: SEV2\nJustification: x",
            IncidentNote("INC-5", "SEV2", "x"),
            id="empty-values-skipped",
        ),
        pytest.param(
            "Incident: INC-6\r\nSeverity: SEV1\r\nJustification: from the web editor\r\n",
            IncidentNote("INC-6", "SEV1", "from the web editor"),
            id="crlf",
        ),
        pytest.param(
            "Incident commander: @ivy\nSeverity level: SEV1\nIncidents: INC-7",
            IncidentNote(None, None, None),
            id="other-keys-do-not-match",
        ),
        pytest.param(
            "Incident: INC-8\nno other fields",
            IncidentNote("INC-8", None, None),
            id="missing-fields",
        ),
        pytest.param("", IncidentNote(None, None, None), id="empty"),
    ],
)
def test_incident_note_parse(body: str, expected: IncidentNote) -> None:
    assert IncidentNote.parse(body) == expected


# --- judging the bypass ----------------------------------------------------------------------

SETTINGS = Emergency()
NOTE = "Incident: INC-4711\nSeverity: SEV1\nJustification: checkout is down for everyone"
LABELER_ROLES = {
    "ic": ["incident-commander"],
    "oncall": ["on-call-engineer"],
    "sre": ["sre"],
    "both": ["sre", "on-call-engineer"],
    "tl": ["tech-lead"],
    "po": ["product-owner"],
    "nobody": [],
}


def bypass_pr(
    labeler: str | None = "ic",
    body: str = NOTE,
    author: str = "dev",
    labels: frozenset[str] = frozenset({"emergency"}),
    reviews: tuple[Any, ...] = (),
) -> FakePullRequest:
    return FakePullRequest(
        author_login=author,
        label_names=labels,
        description=body,
        label_actors={"emergency": labeler} if labeler else {},
        roles=LABELER_ROLES | {"dev": []},
        review_list=list(reviews),
    )


def test_no_label_is_no_bypass_and_reads_nothing_else() -> None:
    fake = bypass_pr(labels=frozenset({"bug"})).forbid("body", "label_actor", "holds_role")
    assert judge_bypass(fake, SETTINGS) is None


@pytest.mark.parametrize(
    ("labeler", "role"),
    [("ic", "incident-commander"), ("oncall", "on-call-engineer"), ("sre", "sre")],
)
def test_valid_bypass(labeler: str, role: str) -> None:
    bypass = judge_bypass(bypass_pr(labeler), SETTINGS)
    assert bypass is not None
    assert bypass.valid
    assert (bypass.label, bypass.actor, bypass.role) == ("emergency", labeler, role)
    assert bypass.note == IncidentNote("INC-4711", "SEV1", "checkout is down for everyone")
    assert bypass.reason == f"emergency bypass by @{labeler} for INC-4711 (SEV1)"


def test_role_named_is_the_first_of_the_settings_order() -> None:
    bypass = judge_bypass(bypass_pr("both"), SETTINGS)
    assert bypass is not None and bypass.valid
    assert bypass.role == "on-call-engineer"


def test_labeler_outside_the_roles_is_refused_even_when_the_author_holds_one() -> None:
    bypass = judge_bypass(bypass_pr("tl", author="sre"), SETTINGS)
    assert bypass is not None
    assert not bypass.valid
    assert bypass.actor == "tl"
    assert bypass.role is None
    assert bypass.reason == (
        "emergency bypass refused: @tl, who added the 'emergency' label, holds none of "
        "incident-commander, on-call-engineer, sre"
    )


def test_author_outside_the_roles_but_labeler_inside_is_valid() -> None:
    bypass = judge_bypass(bypass_pr("oncall", author="nobody"), SETTINGS)
    assert bypass is not None
    assert bypass.valid
    assert bypass.actor == "oncall"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(
            NOTE.replace("SEV1", "SEV3"),
            "severity SEV3 does not allow a bypass (only SEV1, SEV2)",
            id="sev3",
        ),
        pytest.param(
            NOTE.replace("Incident: INC-4711\n", ""),
            "no `Incident: <ID>` line in the description",
            id="no-incident",
        ),
        pytest.param(
            NOTE.replace("Severity: SEV1\n", ""),
            "no `Severity: <level>` line in the description",
            id="no-severity",
        ),
        pytest.param(
            NOTE.replace("\nJustification: checkout is down for everyone", ""),
            "no `Justification: <why>` line in the description",
            id="no-justification",
        ),
    ],
)
def test_incomplete_or_too_mild_note_is_refused(body: str, problem: str) -> None:
    bypass = judge_bypass(bypass_pr(body=body), SETTINGS)
    assert bypass is not None
    assert not bypass.valid
    assert bypass.actor == "ic"
    assert bypass.reason == f"emergency bypass refused: {problem}"


def test_unknown_labeler_is_refused() -> None:
    bypass = judge_bypass(bypass_pr(None), SETTINGS)
    assert bypass is not None
    assert not bypass.valid
    assert bypass.actor is None
    assert bypass.reason == "emergency bypass refused: cannot tell who added the 'emergency' label"


def test_every_problem_is_listed_in_one_reason() -> None:
    body = "Severity: SEV3\nnothing else"
    bypass = judge_bypass(bypass_pr("nobody", body=body), SETTINGS)
    assert bypass is not None
    assert not bypass.valid
    assert bypass.reason == (
        "emergency bypass refused: "
        "@nobody, who added the 'emergency' label, holds none of incident-commander, "
        "on-call-engineer, sre; "
        "no `Incident: <ID>` line in the description; "
        "severity SEV3 does not allow a bypass (only SEV1, SEV2); "
        "no `Justification: <why>` line in the description"
    )


def test_settings_choose_label_roles_and_severities() -> None:
    settings = Emergency(label="hotfix", roles=("tech-lead",), severities=("SEV3",))
    assert judge_bypass(bypass_pr("tl"), settings) is None  # only "emergency" is on it
    pr = bypass_pr("tl", body=NOTE.replace("SEV1", "SEV3"), labels=frozenset({"hotfix"}))
    pr.label_actors = {"hotfix": "tl"}
    bypass = judge_bypass(pr, settings)
    assert bypass is not None
    assert bypass.valid, bypass.reason
    assert (bypass.label, bypass.role) == ("hotfix", "tech-lead")


# --- the decision ----------------------------------------------------------------------------

EXAMPLE_POLICIES = Path(__file__).resolve().parent.parent / "policies"
POLICIES = load_policies(
    {f"policies/{p.name}": p.read_bytes() for p in sorted(EXAMPLE_POLICIES.glob("*.yaml"))}
)
ON = {"enabled": True, "variant": "on", "rollout": None, "targeting": None, "variants": {}}
OFF = {"enabled": False, "variant": "off", "rollout": None, "targeting": None, "variants": {}}
PRODUCTION = Change(
    "flag", "checkout", "production", ("toggled",), OFF, ON, 100.0, "flags/checkout.yaml"
)


def test_valid_bypass_is_bypassed_although_approvals_are_missing() -> None:
    ev = evaluate([PRODUCTION], POLICIES, bypass_pr())
    assert ev.decision is Decision.BYPASSED
    assert ev.summary == "emergency bypass by @ic for INC-4711 (SEV1)"
    assert ev.bypass is not None and ev.bypass.valid
    # the stages are still reported: they are what the retroactive approval owes
    assert [(s.stage.name, s.missing) for s in ev.stages] == [
        ("technical-review", 1),
        ("business-review", 1),
    ]


def test_valid_bypass_is_bypassed_although_changes_were_requested() -> None:
    ev = evaluate([PRODUCTION], POLICIES, bypass_pr(reviews=(review("po", "CHANGES_REQUESTED"),)))
    assert ev.decision is Decision.BYPASSED
    assert ev.rejections == ("po",)


def test_invalid_bypass_fails_with_the_reason() -> None:
    ev = evaluate([PRODUCTION], POLICIES, bypass_pr(body=NOTE.replace("SEV1", "SEV3")))
    assert ev.decision is Decision.FAILED
    assert ev.summary == (
        "emergency bypass refused: severity SEV3 does not allow a bypass (only SEV1, SEV2)"
    )
    assert ev.bypass is not None and not ev.bypass.valid


def test_invalid_bypass_fails_even_when_approval_is_only_partial() -> None:
    ev = evaluate([PRODUCTION], POLICIES, bypass_pr("tl", reviews=(review("po"),)))
    assert ev.decision is Decision.FAILED
    assert ev.summary.startswith("emergency bypass refused: @tl, who added")


def test_invalid_bypass_with_every_approval_given_is_approved() -> None:
    pr = bypass_pr("tl", reviews=(review("tl"), review("po")))
    ev = evaluate([PRODUCTION], POLICIES, pr)
    assert ev.decision is Decision.APPROVED
    assert ev.summary == "approved: 2 stage(s) satisfied"
    assert ev.bypass is not None and not ev.bypass.valid


def test_without_the_label_the_normal_evaluation_applies() -> None:
    pr = bypass_pr(labels=frozenset()).forbid("label_actor", "body")
    ev = evaluate([PRODUCTION], POLICIES, pr)
    assert ev.decision is Decision.PENDING
    assert ev.summary.startswith("needs technical-review")
    assert ev.bypass is None


# --- end to end: the pull request ------------------------------------------------------------

CHECKOUT = "flags/checkout/checkout-redesign.yaml"
PROD_OFF = "production:\n      enabled: false\n      variant: off"
PROD_ON = "production:\n      enabled: true\n      variant: on"
NUMBER = 7
LABELER = "ivy"
JUSTIFICATION = "checkout is down for all EU customers; the old flow works"
BODY = (
    "Turn the old checkout back on.\n\n"
    "**Incident:** INC-4711\n"
    "**Severity:** SEV1\n"
    f"**Justification:** {JUSTIFICATION}\n"
)
ALERT = "::warning title=flaggate compliance alert::"
TEAMS: dict[str, dict[str, MemberState]] = {
    "tech-leads": {"alice": "active"},
    "senior-engineers": {},
    "product-owners": {"bob": "active"},
    "product-managers": {},
    "security": {"sam": "active"},
    "engineering": {"erin": "active", "dev": "active", "alice": "active"},
    "engineering-managers": {"mia": "active"},
    "flag-admins": {"root": "active"},
    "incident-commanders": {LABELER: "active"},
    "on-call": {"otto": "active"},
    "sre": {"sara": "active"},
}
PENDING = "needs technical-review: 1 of @acme/tech-leads, @acme/senior-engineers"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with organisation(TEAMS) as server:
        yield server


def alerts(run: ActionRun) -> list[str]:
    return [line for line in run.stdout.splitlines() if line.startswith(ALERT)]


@dataclass
class Pull:
    """A pull request in the git repository and on the fake GitHub."""

    repo: GitRepo
    fake: FakeGitHub
    base: str
    head: str
    author: str

    def run(
        self, event: str = "pull_request", action: str = "synchronize", sender: str = "dev"
    ) -> ActionRun:
        payload = webhook_payload(
            event, action, NUMBER, ("main", self.base), ("feature", self.head)
        )
        pull = self.fake.issue(OWNER, NAME, NUMBER)
        payload["pull_request"]["body"] = pull["body"]
        payload["pull_request"]["user"]["login"] = self.author
        payload["pull_request"]["labels"] = pull["labels"]
        payload["sender"]["login"] = sender
        if event == "pull_request_review":
            payload["review"]["user"]["login"] = sender
        if event == "pull_request" and action == "closed":
            assert payload["pull_request"]["merged"] is True  # the merged sample
        result = run_action(self.repo, self.fake, event, payload)
        assert result.code == 0, result.stderr
        return result

    def label(
        self, actor: str = LABELER, event: Literal["labeled", "unlabeled"] = "labeled"
    ) -> ActionRun:
        """``actor`` adds (or removes) the emergency label; the action runs on that event."""
        self.fake.add_label_event(OWNER, NAME, NUMBER, label="emergency", actor=actor, event=event)
        payload = webhook_payload(
            "pull_request", event, NUMBER, ("main", self.base), ("feature", self.head)
        )
        payload["label"]["name"] = "emergency"
        payload["sender"]["login"] = actor
        result = run_action(self.repo, self.fake, "pull_request", payload)
        assert result.code == 0, result.stderr
        return result

    def review(self, login: str, state: ReviewState = "APPROVED") -> None:
        self.fake.add_review(OWNER, NAME, NUMBER, login, state, self.head)

    def merge(self, by: str = LABELER) -> str:
        """Merge into main (a real merge commit) and mark it merged on the fake."""
        self.repo.checkout("main")
        self.repo.git("merge", "-q", "--no-ff", "-m", f"Merge pull request #{NUMBER}", "feature")
        sha = self.repo.git("rev-parse", "HEAD")
        self.fake.update_pull(OWNER, NAME, NUMBER, merged_by=by, merge_commit_sha=sha)
        return sha

    def status(self) -> dict[str, Any]:
        statuses = self.fake.statuses(OWNER, NAME, self.head)
        assert statuses, "no status on head"
        return statuses[-1]

    def comments(self) -> list[dict[str, Any]]:
        return self.fake.comments(OWNER, NAME, NUMBER)

    def sticky(self) -> str:
        [comment] = [c for c in self.comments() if "flaggate:sticky-comment" in c["body"]]
        return str(comment["body"])


def open_pull(
    repo: GitRepo,
    fake: FakeGitHub,
    body: str = BODY,
    author: str = "dev",
    edit: tuple[str, str, str] = (CHECKOUT, PROD_OFF, PROD_ON),
) -> Pull:
    """A pull request making one edit (by default: the production checkout flag on)."""
    path, old, new = edit
    base = repo.git("rev-parse", "main")
    repo.branch("feature")
    target = repo.root / path
    text = target.read_text()
    assert old in text, f"{old!r} not in {path}"
    target.write_text(text.replace(old, new))
    head = repo.commit("change flags")
    fake.add_pull(OWNER, NAME, NUMBER, author, "main", base, "feature", head, body=body)
    fake.set_commits(OWNER, NAME, NUMBER, [(head, author, author)])
    return Pull(repo, fake, base, head, author)


def test_valid_bypass_succeeds_with_one_compliance_alert(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake)
    first = pr.label()
    status = pr.status()
    assert status["state"] == "success"
    assert status["context"] == "flaggate"
    assert status["description"] == "emergency bypass by @ivy for INC-4711 (SEV1)"
    assert first.outputs["decision"] == "bypassed"
    body = pr.sticky()
    assert "## 🚨 flaggate: `bypassed`" in body
    assert "### 🚨 Emergency bypass" in body
    assert "@ivy (incident-commander) bypassed approval for **INC-4711** (SEV1)." in body
    assert f"> {JUSTIFICATION}" in body
    assert "Owed after the merge" in body
    assert "retroactive approval of this pull request" in body
    assert "a post-incident review with findings and action items" in body
    assert "### Approval stages" in body  # what the retroactive approval owes
    assert "**Next:** ready to merge under the emergency bypass" in body
    assert alerts(first) == [
        f"{ALERT}#7: emergency bypass by @ivy for INC-4711 (SEV1); justification: {JUSTIFICATION}"
    ]
    assert "**Compliance alert:** #7: emergency bypass by @ivy" in first.summary
    assert CommentState.parse(body).notices == ("bypass:INC-4711:ivy",)

    second = pr.run("pull_request", "synchronize")
    assert alerts(second) == []
    assert "Compliance alert" not in second.summary
    assert pr.status()["state"] == "success"
    assert len(pr.comments()) == 1
    assert CommentState.parse(pr.sticky()).notices == ("bypass:INC-4711:ivy",)


def test_label_added_by_someone_outside_the_roles_fails(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, author="sara")  # the author is an sre; the labeler is not
    result = pr.label("erin")
    reason = (
        "emergency bypass refused: @erin, who added the 'emergency' label, holds none of "
        "incident-commander, on-call-engineer, sre"
    )
    assert pr.status()["state"] == "failure"
    assert pr.status()["description"] == reason
    assert result.outputs["decision"] == "failed"
    body = pr.sticky()
    assert "### ⛔ Emergency bypass refused" in body
    assert "@erin, who added the" in body
    assert "remove the `emergency` label and get the approvals below" in body
    assert alerts(result) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(
            BODY.replace("SEV1", "SEV3"),
            "emergency bypass refused: severity SEV3 does not allow a bypass (only SEV1, SEV2)",
            id="sev3",
        ),
        pytest.param(
            BODY.replace("**Incident:** INC-4711\n", ""),
            "emergency bypass refused: no `Incident: <ID>` line in the description",
            id="no-incident",
        ),
    ],
)
def test_incomplete_note_fails(repo: GitRepo, fake: FakeGitHub, body: str, reason: str) -> None:
    pr = open_pull(repo, fake, body=body)
    result = pr.label()
    assert pr.status()["state"] == "failure"
    assert pr.status()["description"] == reason
    assert "### ⛔ Emergency bypass refused" in pr.sticky()
    assert alerts(result) == []


def test_label_removed_gives_the_normal_evaluation(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake)
    assert pr.label().outputs["decision"] == "bypassed"
    result = pr.label(LABELER, "unlabeled")
    assert "emergency" not in {label["name"] for label in fake.issue(OWNER, NAME, NUMBER)["labels"]}
    assert result.outputs["decision"] == "pending"
    assert pr.status()["state"] == "pending"
    assert pr.status()["description"] == PENDING
    body = pr.sticky()
    assert "## ⏳ flaggate: `pending`" in body
    assert "Emergency bypass" not in body
    assert alerts(result) == []


# --- end to end: after the merge -------------------------------------------------------------

FOLLOW_UP_TITLE = "Post-incident review: checkout-redesign (#7, INC-4711)"


def follow_ups(fake: FakeGitHub) -> list[dict[str, Any]]:
    return [i for i in fake.issues(OWNER, NAME) if i["title"].startswith("Post-incident review")]


def merged_bypass(repo: GitRepo, fake: FakeGitHub) -> tuple[Pull, int, ActionRun]:
    """A bypassed pull request, merged, with its follow-up issue opened."""
    pr = open_pull(repo, fake)
    assert pr.label().outputs["decision"] == "bypassed"
    merge_sha = pr.merge()
    closed = pr.run("pull_request", "closed", LABELER)
    [issue] = follow_ups(fake)
    state = FollowUp.parse(issue["body"])
    assert state is not None and state.mergeSha == merge_sha
    return pr, issue["number"], closed


def test_merge_opens_one_follow_up_issue(repo: GitRepo, fake: FakeGitHub) -> None:
    pr, number, closed = merged_bypass(repo, fake)
    [issue] = follow_ups(fake)
    assert issue["title"] == FOLLOW_UP_TITLE
    assert [a["login"] for a in issue["assignees"]] == [LABELER]
    assert [label["name"] for label in issue["labels"]] == [LABEL]
    assert issue["state"] == "open"
    body = issue["body"]
    assert "**INC-4711** (SEV1)" in body
    assert "@ivy (incident-commander) added the emergency label" in body
    assert f"> {JUSTIFICATION}" in body
    assert "Flags: `checkout-redesign`" in body
    assert "- [ ] Retroactive approval" in body
    assert "- [ ] Findings written below" in body
    assert "- [ ] Action items filed and linked below" in body
    assert "## Findings" in body and "## Action items" in body
    state = FollowUp.parse(body)
    assert state is not None
    assert (state.pullRequest, state.incident, state.severity) == (7, "INC-4711", "SEV1")
    assert (state.bypassedBy, state.role) == (LABELER, "incident-commander")
    assert state.justification == JUSTIFICATION
    assert state.flags == ["checkout-redesign"]
    assert state.retroactiveApproval is None and state.reviewedBy is None

    links = [c for c in pr.comments() if f"<!-- flaggate:follow-up #{number} -->" in c["body"]]
    assert len(links) == 1
    assert f"tracked in #{number} (assigned to @ivy)" in links[0]["body"]
    assert f"#7: opened #{number} '{FOLLOW_UP_TITLE}'" in closed.stdout
    assert len([a for a in alerts(closed) if "emergency bypass" in a]) == 1
    assert any("changed checkout-redesign in production" in a for a in alerts(closed))
    assert "merged under emergency bypass by @ivy" in alerts(closed)[-1]

    comments_before = len(pr.comments())
    again = pr.run("pull_request", "closed")
    assert len(follow_ups(fake)) == 1
    assert len(pr.comments()) == comments_before
    assert f"already tracked in #{number}" in again.stdout
    assert alerts(again) == []


@pytest.mark.parametrize(
    ("body", "label"),
    [(BODY, False), (BODY.replace("SEV1", "SEV3"), True)],
    ids=["no-label", "invalid-bypass"],
)
def test_merge_without_a_valid_bypass_opens_no_issue(
    repo: GitRepo, fake: FakeGitHub, body: str, label: bool
) -> None:
    pr = open_pull(repo, fake, body=body)
    if label:
        fake.add_label_event(OWNER, NAME, NUMBER, label="emergency", actor=LABELER)
    pr.merge()
    result = pr.run("pull_request", "closed")
    assert "merged without an emergency bypass; nothing to follow up" in result.stdout
    assert fake.issues(OWNER, NAME) == []
    assert pr.comments() == []
    assert [a for a in alerts(result) if "bypass" in a] == []


def test_follow_up_of_a_change_needing_no_approval_owes_no_approval(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    dev_only = ("flags/platform/api-rate-limit.yaml", "variant: strict", "variant: default")
    pr = open_pull(repo, fake, edit=dev_only)
    fake.add_label_event(OWNER, NAME, NUMBER, label="emergency", actor=LABELER)
    pr.merge()
    pr.run("pull_request", "closed")
    [issue] = follow_ups(fake)
    state = FollowUp.parse(issue["body"])
    assert state is not None
    assert state.retroactiveApproval == []  # recorded as done: no stage was required
    assert "- [ ] Retroactive approval" not in issue["body"]


# --- retroactive approval --------------------------------------------------------------------


def test_retroactive_approval_is_recorded_once(repo: GitRepo, fake: FakeGitHub) -> None:
    pr, number, _ = merged_bypass(repo, fake)
    pr.review("alice")
    pr.review("bob")
    result = pr.run("pull_request_review", "submitted", "bob")
    who = "@alice (tech-lead, technical-review), @bob (product-owner, business-review)"
    assert f"#7: recorded the retroactive approval in #{number}: {who}" in result.stdout
    issue = fake.issue(OWNER, NAME, number)
    assert "- [x] Retroactive approval" in issue["body"]
    assert "- [ ] Retroactive approval" not in issue["body"]
    state = FollowUp.parse(issue["body"])
    assert state is not None and state.retroactiveApproval is not None
    assert [(a.login, a.role, a.stage) for a in state.retroactiveApproval] == [
        ("alice", "tech-lead", "technical-review"),
        ("bob", "product-owner", "business-review"),
    ]
    assert state.retroactiveApprovedAt is not None
    assert state.incident == "INC-4711"  # the rest of the state is kept
    [comment] = fake.comments(OWNER, NAME, number)
    assert comment["body"] == f"Retroactive approval of #7 recorded: {who}."
    assert fake.statuses(OWNER, NAME, pr.head)[-1]["description"].startswith("emergency bypass")

    again = pr.run("pull_request_review", "submitted", "bob")
    assert f"retroactive approval already recorded in #{number}" in again.stdout
    assert fake.issue(OWNER, NAME, number)["body"] == issue["body"]
    assert len(fake.comments(OWNER, NAME, number)) == 1


def test_one_stage_of_two_records_nothing_yet(repo: GitRepo, fake: FakeGitHub) -> None:
    pr, number, _ = merged_bypass(repo, fake)
    before = fake.issue(OWNER, NAME, number)["body"]
    pr.review("alice")
    result = pr.run("pull_request_review", "submitted", "alice")
    assert "retroactive approval incomplete: business-review (1 more)" in result.stdout
    assert fake.issue(OWNER, NAME, number)["body"] == before
    assert fake.comments(OWNER, NAME, number) == []


def test_the_labelers_approval_does_not_count(repo: GitRepo, fake: FakeGitHub) -> None:
    fake.add_team(OWNER, "tech-leads", {"alice": "active", LABELER: "active"})
    pr, number, _ = merged_bypass(repo, fake)
    pr.review(LABELER)
    pr.review("bob")
    result = pr.run("pull_request_review", "submitted", "bob")
    assert "retroactive approval incomplete: technical-review (1 more)" in result.stdout
    assert fake.comments(OWNER, NAME, number) == []

    pr.review("alice")
    result = pr.run("pull_request_review", "submitted", "alice")
    state = FollowUp.parse(fake.issue(OWNER, NAME, number)["body"])
    assert state is not None and state.retroactiveApproval is not None
    assert {a.login for a in state.retroactiveApproval} == {"alice", "bob"}


def test_review_on_a_merged_pull_request_without_bypass_records_nothing(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake)
    pr.merge()
    pr.review("alice")
    result = pr.run("pull_request_review", "submitted", "alice")
    assert "is merged and had no emergency bypass; nothing to record" in result.stdout
    assert fake.issues(OWNER, NAME) == []


# --- review completion -----------------------------------------------------------------------

FINDINGS_PLACEHOLDER = "<!-- what happened, why the bypass was needed, what the change did -->"


def issues_closed_payload(issue: dict[str, Any], sender: str) -> dict[str, Any]:
    """An `issues` `closed` payload built from a real `issue_comment` delivery's objects."""
    sample = json.loads((WEBHOOKS / "issue_comment" / "created.payload.json").read_text())
    data = copy.deepcopy(sample["issue"])
    data.update(
        number=issue["number"],
        title=issue["title"],
        body=issue["body"],
        state="closed",
        closed_at=issue["closed_at"],
        labels=issue["labels"],
    )
    repository = copy.deepcopy(sample["repository"])
    repository.update(full_name=f"{OWNER}/{NAME}", name=NAME)
    repository["owner"]["login"] = OWNER
    who = copy.deepcopy(sample["sender"])
    who["login"] = sender
    return {"action": "closed", "issue": data, "repository": repository, "sender": who}


def edit_issue_body(fake: FakeGitHub, number: int, body: str) -> None:
    """Edit an issue's body through the API, as a person would in the web editor."""
    request = urllib.request.Request(
        f"{fake.url}/repos/{OWNER}/{NAME}/issues/{number}",
        data=json.dumps({"body": body}).encode(),
        method="PATCH",
        headers={"Authorization": f"token {fake.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200


def close_follow_up(
    pr: Pull, number: int, findings: str | None, closer: str = LABELER
) -> tuple[dict[str, Any], ActionRun]:
    """Write ``findings`` (if any), close the issue as ``closer``, run on the `issues` event."""
    fake = pr.fake
    if findings is not None:
        body = fake.issue(OWNER, NAME, number)["body"]
        assert FINDINGS_PLACEHOLDER in body
        edit_issue_body(fake, number, body.replace(FINDINGS_PLACEHOLDER, findings))
    closed = fake.close_issue(OWNER, NAME, number, actor=closer)
    payload = issues_closed_payload(closed, closer)
    result = run_action(pr.repo, fake, "issues", payload)
    assert result.code == 0, result.stderr
    return payload, result


@pytest.fixture
def follow_up(repo: GitRepo, fake: FakeGitHub) -> tuple[Pull, int]:
    pr, number, _ = merged_bypass(repo, fake)
    return pr, number


def test_closing_with_findings_records_the_review(follow_up: tuple[Pull, int]) -> None:
    pr, number = follow_up
    fake = pr.fake
    findings = "The new checkout broke EU card payments; rolled back by the flag."
    payload, result = close_follow_up(pr, number, findings)
    assert f"recorded the post-incident review of #{number} by @ivy" in result.stdout
    issue = fake.issue(OWNER, NAME, number)
    assert issue["state"] == "closed"
    assert findings in issue["body"]
    state = FollowUp.parse(issue["body"])
    assert state is not None
    assert state.reviewedBy == LABELER
    closed_at = payload["issue"]["closed_at"].replace("Z", "+00:00")
    assert state.reviewedAt == closed_at
    assert state.incident == "INC-4711"
    [comment] = fake.comments(OWNER, NAME, number)
    assert comment["body"] == "Post-incident review recorded (closed by @ivy)."


def test_closing_without_findings_reopens(follow_up: tuple[Pull, int]) -> None:
    pr, number = follow_up
    fake = pr.fake
    _, result = close_follow_up(pr, number, None)
    assert f"reopened #{number}: closed without findings" in result.stdout
    issue = fake.issue(OWNER, NAME, number)
    assert issue["state"] == "open"
    state = FollowUp.parse(issue["body"])
    assert state is not None and state.reviewedBy is None and state.reviewedAt is None
    [comment] = fake.comments(OWNER, NAME, number)
    assert comment["body"].startswith(NO_FINDINGS_MARKER)
    assert "Findings" in comment["body"]


def test_the_same_closed_event_again_records_nothing_new(follow_up: tuple[Pull, int]) -> None:
    pr, number = follow_up
    fake = pr.fake
    payload, _ = close_follow_up(pr, number, "Root cause: an untested EU payment path.")
    body = fake.issue(OWNER, NAME, number)["body"]
    result = run_action(pr.repo, fake, "issues", payload)  # "Re-run jobs" replays the payload
    assert result.code == 0, result.stderr
    assert fake.issue(OWNER, NAME, number)["body"] == body
    assert len(fake.comments(OWNER, NAME, number)) == 1


def test_an_earlier_event_run_again_does_not_reopen_a_recorded_review(
    follow_up: tuple[Pull, int],
) -> None:
    pr, number = follow_up
    fake = pr.fake
    early, _ = close_follow_up(pr, number, None)  # reopened: no findings yet
    close_follow_up(pr, number, "Root cause: an untested EU payment path.")
    recorded = fake.issue(OWNER, NAME, number)
    assert recorded["state"] == "closed"
    comments = len(fake.comments(OWNER, NAME, number))
    result = run_action(pr.repo, fake, "issues", early)  # "Re-run jobs" of the first run
    assert result.code == 0, result.stderr
    assert fake.issue(OWNER, NAME, number)["state"] == "closed"
    assert len(fake.comments(OWNER, NAME, number)) == comments


def test_an_unrelated_issue_closed_does_nothing(repo: GitRepo, fake: FakeGitHub) -> None:
    fake.add_repo(OWNER, NAME)
    fake.add_issue(OWNER, NAME, "Checkout button misaligned", number=3, author="erin", body="CSS")
    closed = fake.close_issue(OWNER, NAME, 3, actor="erin")
    fake.reset_calls()
    result = run_action(repo, fake, "issues", issues_closed_payload(closed, "erin"))
    assert result.code == 0, result.stderr
    assert "not a post-incident issue; nothing to do" in result.stdout
    assert fake.comments(OWNER, NAME, 3) == []
    assert fake.issue(OWNER, NAME, 3)["state"] == "closed"
    assert [m for m, _ in fake.calls if m != "GET"] == []


# --- the findings section --------------------------------------------------------------------

TEMPLATE = render_body(
    FollowUp(7, "INC-4711", "SEV1", LABELER, "sre", "why", "0" * 40, ["checkout"]), "acme/flags"
)


def findings(text: str) -> str:
    return TEMPLATE.replace(FINDINGS_PLACEHOLDER, text)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(TEMPLATE, False, id="template"),
        pytest.param(findings("   \n\n"), False, id="blank"),
        pytest.param(findings("<!-- notes later -->"), False, id="only-a-comment"),
        pytest.param(findings("The EU path was untested."), True, id="text"),
        pytest.param(
            TEMPLATE.replace("<!-- links to the issues that follow up -->", "- #12"),
            False,
            id="only-action-items",
        ),
    ],
)
def test_has_findings(body: str, expected: bool) -> None:
    assert has_findings(body) is expected


def test_findings_under_sub_headings_count() -> None:
    assert has_findings(findings("### Timeline\n\n- 09:14 alert fired\n\n### Root cause\n\nX"))
