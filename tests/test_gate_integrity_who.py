"""Gate integrity, who and when: bypasses, pushers and clocks rest on what GitHub vouches for
(event senders, label events, server times), never on what the author writes (the
description's hidden text, commit names and dates, flaggate's comment edited by others).

Each test replays an attack end to end: a real git repository, real webhook payloads, the CLI
as a subprocess and the fake GitHub (REST and GraphQL) over HTTP.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest

from flaggate.publish.comment import CommentState
from tests.fakes.github import FakeGitHub, MemberState
from tests.github_env import NAME, OWNER, ActionRun, organisation, run_action, webhook_payload
from tests.gitrepo import GitRepo, edit, flag_yaml

NUMBER = 7
CHECKOUT = "flags/checkout/checkout-redesign.yaml"
KILL = "flags/checkout/payment-provider-kill-switch.yaml"
PROD_OFF = "production:\n      enabled: false\n      variant: off"
PROD_ON = "production:\n      enabled: true\n      variant: on"
PROD_ROLLOUT = "production:\n      enabled: true\n      rollout: {on: 10, off: 90}"
SEV1 = "Incident: INC-1\nSeverity: SEV1\nJustification: checkout is down everywhere\n"
TEAMS: dict[str, dict[str, MemberState]] = {
    "tech-leads": {"alice": "active", "tina": "active"},
    "senior-engineers": {},
    "product-owners": {"bob": "active"},
    "product-managers": {},
    "security": {"sam": "active"},
    "engineering": {"erin": "active", "dev": "active"},
    "engineering-managers": {"mia": "active"},
    "flag-admins": {},
    "incident-commanders": {},
    "on-call": {"olga": "active"},
    "sre": {},
}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with organisation(TEAMS) as server:
        yield server


@dataclass
class Pull:
    repo: GitRepo
    fake: FakeGitHub
    base: str
    head: str
    author: str = "dev"

    def send(
        self,
        event: str = "pull_request",
        action: str = "synchronize",
        sender: str | None = None,
        env: dict[str, str] | None = None,
        label: str | None = None,
    ) -> ActionRun:
        payload = webhook_payload(
            event, action, NUMBER, ("main", self.base), ("feature", self.head)
        )
        payload["sender"]["login"] = sender or self.author
        payload["pull_request"]["user"]["login"] = self.author
        payload["pull_request"]["body"] = self.fake.issue(OWNER, NAME, NUMBER)["body"]
        if label is not None:
            payload["label"]["name"] = label
        result = run_action(self.repo, self.fake, event, payload, env)
        assert result.code == 0, result.stdout + result.stderr
        return result

    def label(self, actor: str = "olga", env: dict[str, str] | None = None) -> ActionRun:
        self.fake.add_label_event(OWNER, NAME, NUMBER, "emergency", actor)
        return self.send("pull_request", "labeled", actor, env, label="emergency")

    def unlabel(self, actor: str = "olga") -> None:
        self.fake.add_label_event(OWNER, NAME, NUMBER, "emergency", actor, event="unlabeled")

    def push(
        self,
        change: Callable[[GitRepo], None],
        pusher: str | None = None,
        *,
        identity: str | None = None,
        message: str = "push",
        date: datetime | None = None,
        env: dict[str, str] | None = None,
    ) -> ActionRun:
        """``pusher`` pushes a commit made under ``identity``'s name (default: the author's);
        the synchronize event's sender is the pusher."""
        self.repo.checkout("feature")
        change(self.repo)
        who = identity or self.author
        dated = {}
        if date is not None:
            stamp = f"{int(date.timestamp())} +0000"
            dated = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        with mock.patch.dict(os.environ, dated):
            self.head = self.repo.commit(message)
        self.fake.update_pull(OWNER, NAME, NUMBER, head_sha=self.head)
        self.fake.set_commits(OWNER, NAME, NUMBER, [(self.head, who, who, message)])
        return self.send("pull_request", "synchronize", pusher or self.author, env)

    def review(self, login: str, state: str = "APPROVED") -> None:
        self.fake.add_review(OWNER, NAME, NUMBER, login, state, self.head)  # type: ignore[arg-type]

    def status(self) -> dict[str, Any]:
        statuses = self.fake.statuses(OWNER, NAME, self.head)
        assert statuses, "no status on the head"
        return statuses[-1]

    def sticky(self) -> dict[str, Any]:
        [comment] = [
            c for c in self.fake.comments(OWNER, NAME, NUMBER) if "flaggate:sticky" in c["body"]
        ]
        return comment


def open_pull(
    repo: GitRepo,
    fake: FakeGitHub,
    change: Callable[[GitRepo], None],
    body: str = "",
    created: datetime | None = None,
) -> Pull:
    base = repo.git("rev-parse", "main")
    repo.branch("feature")
    change(repo)
    head = repo.commit("change flags")
    fake.add_pull(
        OWNER, NAME, NUMBER, "dev", "main", base, "feature", head, body=body, created_at=created
    )
    fake.set_commits(OWNER, NAME, NUMBER, [(head, "dev", "dev")])
    return Pull(repo, fake, base, head)


def turn_on(repo: GitRepo) -> None:
    edit(repo, CHECKOUT, PROD_OFF, PROD_ON)


def notes(repo: GitRepo) -> None:
    repo.write("README.md", f"notes {len(repo.git('log', '--oneline').splitlines())}\n")


def ignored(result: ActionRun) -> dict[str, str]:
    plan = json.loads(result.outputs["plan"])
    return {item["login"]: item["reason"] for item in plan["ignoredReviews"]}


# --- 1. a push rides on a bypass ---------------------------------------------------------


def test_a_push_after_the_bypass_voids_it_until_the_label_is_added_again(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on, SEV1)
    assert pr.label().outputs["decision"] == "bypassed"
    covered = pr.head
    assert pr.status()["state"] == "success"

    pushed = pr.push(lambda r: edit(r, CHECKOUT, PROD_ON, PROD_ROLLOUT))
    assert pushed.outputs["decision"] == "failed"
    assert pr.status()["state"] == "failure"
    assert pr.status()["description"] == (
        f"emergency bypass by @olga covered {covered[:7]}; re-apply the label to cover the "
        "new changes"
    )
    # Later events change nothing: the binding is kept.
    assert pr.send("pull_request_review", "submitted").outputs["decision"] == "failed"

    pr.unlabel()
    assert pr.label().outputs["decision"] == "bypassed"
    assert pr.status()["state"] == "success"


def test_a_label_added_again_within_the_same_second_is_a_new_bypass(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    # GitHub's event times have whole seconds: the event id, not the time, tells a label
    # removed and added again apart from the one the kept binding was made for.
    second = datetime.now(UTC).replace(microsecond=0)
    pr = open_pull(repo, fake, turn_on, SEV1)
    fake.add_label_event(OWNER, NAME, NUMBER, "emergency", "olga", created_at=second)
    first = pr.send("pull_request", "labeled", "olga", None, label="emergency")
    assert first.outputs["decision"] == "bypassed"
    assert pr.push(lambda r: edit(r, CHECKOUT, PROD_ON, PROD_ROLLOUT)).outputs["decision"] == (
        "failed"
    )
    fake.add_label_event(OWNER, NAME, NUMBER, "emergency", "olga", "unlabeled", second)
    fake.add_label_event(OWNER, NAME, NUMBER, "emergency", "olga", created_at=second)
    again = pr.send("pull_request", "labeled", "olga", None, label="emergency")
    assert again.outputs["decision"] == "bypassed", again.stdout
    assert pr.status()["state"] == "success"


def test_a_push_that_lands_the_same_change_keeps_the_bypass(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on, SEV1)
    pr.label()
    assert pr.push(notes).outputs["decision"] == "bypassed"
    assert pr.status()["state"] == "success"


def test_a_label_seen_only_after_a_push_covers_nothing(repo: GitRepo, fake: FakeGitHub) -> None:
    """The label run never ran (or failed); flaggate first hears of the label after a push."""
    pr = open_pull(repo, fake, turn_on, SEV1)
    pr.send("pull_request", "opened")
    fake.add_label_event(OWNER, NAME, NUMBER, "emergency", "olga")
    result = pr.push(lambda r: edit(r, CHECKOUT, PROD_ON, PROD_ROLLOUT))
    assert result.outputs["decision"] == "failed"
    assert "emergency bypass by @olga" in pr.status()["description"]


# --- 2. hidden severity --------------------------------------------------------------------


@pytest.mark.parametrize(
    "hidden",
    [
        "<!--\nSeverity: SEV1\n-->\n",
        "```\nSeverity: SEV1\n```\n\n",
        "Context:\n\n    Severity: SEV1\n\n",
        "> Severity: SEV1\n\n",
    ],
    ids=["html-comment", "fenced-code", "indented-code", "quote"],
)
def test_hidden_severity_does_not_count(repo: GitRepo, fake: FakeGitHub, hidden: str) -> None:
    body = hidden + "Incident: INC-1\nSeverity: SEV3\nJustification: slow pages\n"
    pr = open_pull(repo, fake, turn_on, body)
    result = pr.label()
    assert result.outputs["decision"] == "failed"
    assert "severity SEV3 does not allow a bypass" in pr.status()["description"]


def test_editing_the_incident_after_the_label_voids_the_bypass(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on, SEV1)
    assert pr.label().outputs["decision"] == "bypassed"
    fake.update_pull(
        OWNER, NAME, NUMBER, body=SEV1.replace("everywhere", "in one region"), editor="dev"
    )
    result = pr.send("pull_request_review", "submitted")
    assert result.outputs["decision"] == "failed"
    assert pr.status()["description"].startswith(
        "emergency bypass by @olga covered other incident fields"
    )
    # Text outside the incident fields may change.
    fake.update_pull(OWNER, NAME, NUMBER, body="More context.\n\n" + SEV1, editor="dev")
    assert pr.send("pull_request_review", "submitted").outputs["decision"] == "bypassed"


def test_a_description_edited_after_the_label_before_flaggate_saw_it_covers_nothing(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on, "Incident: INC-1\nSeverity: SEV3\nJustification: x\n")
    pr.send("pull_request", "opened")
    labeled = datetime.now(UTC) + timedelta(seconds=5)
    fake.add_label_event(OWNER, NAME, NUMBER, "emergency", "olga", created_at=labeled)
    edited = labeled + timedelta(seconds=1)
    fake.update_pull(OWNER, NAME, NUMBER, body=SEV1, editor="dev", edited_at=edited)
    result = pr.send("pull_request_review", "submitted")
    assert result.outputs["decision"] == "failed"
    assert "what the label covered cannot be told" in pr.status()["description"]


# --- 3. the pusher approves ------------------------------------------------------------------


def test_a_pusher_using_the_authors_identity_cannot_approve(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on)
    pr.send("pull_request", "opened")
    pr.push(lambda r: edit(r, CHECKOUT, PROD_ON, PROD_ROLLOUT), pusher="tina", identity="dev")
    pr.review("tina")
    pr.review("bob")
    result = pr.send("pull_request_review", "submitted", sender="tina")
    assert result.outputs["decision"] == "pending"
    assert pr.status()["state"] == "pending"
    assert ignored(result)["tina"] == "pushed commits to the pull request"
    # Another tech lead who did not push can.
    pr.review("alice")
    assert pr.send("pull_request_review", "submitted").outputs["decision"] == "approved"


@pytest.mark.parametrize(
    "trailer",
    [
        "Co-authored-by: Tina <tina@users.noreply.github.com>",
        "Co-authored-by: Tina T <4711+tina@users.noreply.github.com>",
        "co-authored-by: T. <tina@work.example>",
    ],
    ids=["noreply", "noreply-with-id", "linked-email"],
)
def test_a_co_author_cannot_approve(repo: GitRepo, fake: FakeGitHub, trailer: str) -> None:
    fake.add_user("tina", emails=["tina@work.example"])
    pr = open_pull(repo, fake, turn_on)
    pr.push(notes, message=f"more notes\n\n{trailer}\n")
    pr.review("tina")
    pr.review("bob")
    result = pr.send("pull_request_review", "submitted", sender="tina")
    assert result.outputs["decision"] == "pending"
    assert ignored(result)["tina"] == "pushed commits to the pull request"


def test_a_force_pusher_cannot_approve(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    fake.add_pull_event(OWNER, NAME, NUMBER, "head_ref_force_pushed", "tina", head_sha=pr.head)
    pr.review("tina")
    pr.review("bob")
    result = pr.send("pull_request_review", "submitted", sender="tina")
    assert ignored(result)["tina"] == "pushed commits to the pull request"


# --- the kept record ---------------------------------------------------------------------


def tamper(pr: Pull, editor: str, change: Callable[[dict[str, Any]], None]) -> None:
    comment = pr.sticky()
    state = CommentState.parse(comment["body"])
    ledger = json.loads(json.dumps(state.ledger))
    change(ledger)
    forged = CommentState(state.requested, state.notices, ledger, state.mac)
    body = comment["body"].split("<!-- flaggate:state", 1)[0] + forged.to_html()
    body += comment["body"].split(" -->", 2)[-1]
    pr.fake.edit_comment(OWNER, NAME, comment["id"], body, editor)


def test_a_record_edited_by_someone_else_is_discarded_and_no_approval_counts(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on)
    pr.push(lambda r: edit(r, CHECKOUT, PROD_ON, PROD_ROLLOUT), pusher="tina", identity="dev")
    assert "tina" in CommentState.parse(pr.sticky()["body"]).ledger["pushers"]
    tamper(pr, "tina", lambda ledger: ledger.update(pushers=[]))
    pr.review("tina")
    pr.review("bob")
    result = pr.send("pull_request_review", "submitted", sender="tina")
    assert result.outputs["decision"] == "pending"
    assert pr.status()["state"] == "pending"
    reason = "who pushed cannot be told: flaggate's kept record was edited by @tina"
    assert ignored(result) == {"tina": reason, "bob": reason}
    assert reason in pr.sticky()["body"]


def test_a_deleted_record_is_discarded(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    pr.push(lambda r: edit(r, CHECKOUT, PROD_ON, PROD_ROLLOUT), pusher="tina", identity="dev")
    fake.delete_comment(OWNER, NAME, pr.sticky()["id"], "tina")
    pr.review("tina")
    pr.review("bob")
    result = pr.send("pull_request_review", "submitted", sender="tina")
    assert result.outputs["decision"] == "pending"
    assert set(ignored(result).values()) == {
        "who pushed cannot be told: flaggate's kept record was deleted by @tina"
    }


def test_a_forged_record_in_another_accounts_comment_is_ignored(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on, SEV1)
    pr.send("pull_request", "opened")
    ledger = {
        "heads": [],
        "pushers": [],
        "bypass": ["olga", "2026-01-01T00:00:00+00:00", pr.head, "0" * 16],
    }
    fake.add_comment(
        OWNER,
        NAME,
        NUMBER,
        "<!-- flaggate:sticky-comment -->\n" + CommentState((), (), ledger).to_html(),
        "evil-app[bot]",
    )
    fake.add_label_event(OWNER, NAME, NUMBER, "emergency", "olga")
    pr.push(lambda r: edit(r, CHECKOUT, PROD_ON, PROD_ROLLOUT))
    assert pr.status()["state"] == "failure"


def test_with_a_state_key_the_seal_decides(repo: GitRepo, fake: FakeGitHub) -> None:
    key = {"FLAGGATE_STATE_KEY": "s3cret-key"}
    pr = open_pull(repo, fake, turn_on)
    pr.push(
        lambda r: edit(r, CHECKOUT, PROD_ON, PROD_ROLLOUT), pusher="tina", identity="dev", env=key
    )
    assert CommentState.parse(pr.sticky()["body"]).mac
    # An edit that leaves the sealed state alone is harmless.
    comment = pr.sticky()
    fake.edit_comment(OWNER, NAME, comment["id"], comment["body"] + "\nthanks!", "mia")
    pr.review("tina")
    pr.review("alice")
    pr.review("bob")
    result = pr.send("pull_request_review", "submitted", env=key)
    assert ignored(result)["tina"] == "pushed commits to the pull request"
    assert result.outputs["decision"] == "approved"
    # Changing the sealed state breaks the seal.
    tamper(pr, "mia", lambda ledger: ledger.update(pushers=[]))
    result = pr.send("pull_request_review", "submitted", env=key)
    assert result.outputs["decision"] == "pending"
    assert set(ignored(result).values()) == {
        "who pushed cannot be told: flaggate's kept record was not sealed with the configured "
        "state key"
    }
    assert key["FLAGGATE_STATE_KEY"] not in pr.sticky()["body"] + result.stdout + result.stderr


# --- 4. backdated clocks ---------------------------------------------------------------------


def auto_approve_technical_review(repo: GitRepo) -> None:
    edit(
        repo,
        "policies/stages.yaml",
        "onTimeout: escalate\n      escalateTo: [engineering-manager]\n",
        "onTimeout: auto-approve\n",
    )
    repo.commit("technical review auto-approves after 24h")


def test_a_backdated_commit_does_not_expire_a_stage(repo: GitRepo, fake: FakeGitHub) -> None:
    auto_approve_technical_review(repo)
    pr = open_pull(repo, fake, turn_on, created=T0)

    def at(hours: float) -> dict[str, str]:
        return {"FLAGGATE_NOW": (T0 + timedelta(hours=hours)).isoformat()}

    pr.send("pull_request", "opened", env=at(0))
    pushed = pr.push(notes, date=datetime(2019, 6, 1, tzinfo=UTC), env=at(72))
    plan = json.loads(pushed.outputs["plan"])
    assert plan["stages"][0]["timeout"]["expired"] is False
    assert plan["stages"][0]["timeout"]["activeSince"] == "2026-03-05T09:00:00+00:00"
    assert pr.status()["description"].startswith("needs technical-review: 1 of")
    later = pr.send("pull_request_review", "submitted", env=at(72 + 24))
    assert json.loads(later.outputs["plan"])["stages"][0]["timeout"]["action"] == "auto-approve"
    assert pr.status()["description"].startswith("needs business-review: 1 of")


def test_a_draft_clock_starts_when_it_is_ready_for_review(repo: GitRepo, fake: FakeGitHub) -> None:
    auto_approve_technical_review(repo)
    pr = open_pull(repo, fake, turn_on, created=T0)
    ready = T0 + timedelta(hours=30)
    fake.add_pull_event(OWNER, NAME, NUMBER, "ready_for_review", "dev", created_at=ready)
    result = pr.send(
        "pull_request_review",
        "submitted",
        env={"FLAGGATE_NOW": (ready + timedelta(hours=1)).isoformat()},
    )
    timeout = json.loads(result.outputs["plan"])["stages"][0]["timeout"]
    assert timeout["activeSince"] == ready.isoformat()
    assert timeout["expired"] is False


# --- 5. re-tagging into an exemption --------------------------------------------------------


def test_adding_the_kill_switch_tag_needs_a_tech_lead(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(
        repo,
        fake,
        lambda r: edit(r, CHECKOUT, "tags: [checkout, experiment]", "tags: [kill-switch]"),
    )
    result = pr.send("pull_request", "opened")
    plan = json.loads(result.outputs["plan"])
    assert [c["rule"] for c in plan["changes"]] == ["exempting-tag-edits"]
    assert pr.status()["description"] == "needs exempting-tag-edits: 1 of @acme/tech-leads"
    pr.review("erin")  # a developer is not enough
    assert pr.send("pull_request_review", "submitted").outputs["decision"] == "pending"
    pr.review("alice")
    assert pr.send("pull_request_review", "submitted").outputs["decision"] == "approved"


def test_a_new_flag_tagged_kill_switch_needs_production_approval(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    def create(r: GitRepo) -> None:
        text = flag_yaml(
            "late-switch", "    production:\n      enabled: true\n", tags="[kill-switch]"
        )
        r.write("flags/checkout/late-switch.yaml", text)

    pr = open_pull(repo, fake, create)
    result = pr.send("pull_request", "opened")
    plan = json.loads(result.outputs["plan"])
    assert {c["rule"] for c in plan["changes"] if c["environment"] == "production"} == {
        "production-changes"
    }
    assert result.outputs["decision"] == "pending"


def test_toggling_a_kill_switch_tagged_on_the_base_needs_nothing(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(
        repo,
        fake,
        lambda r: edit(r, KILL, "production: {enabled: false}", "production: {enabled: true}"),
    )
    assert pr.send("pull_request", "opened").outputs["decision"] == "approved"


def test_an_answer_without_flaggates_identity_fails_closed(repo: GitRepo, fake: FakeGitHub) -> None:
    """Without GraphQL's viewer flaggate cannot tell its own comments, nor its record."""
    pr = open_pull(repo, fake, turn_on)
    pr.review("alice")
    pr.review("bob")
    fake.fail("POST", r"^/graphql$", 200, body={"data": {"viewer": None, "nodes": []}})
    payload = webhook_payload(
        "pull_request", "synchronize", NUMBER, ("main", pr.base), ("feature", pr.head)
    )
    result = run_action(repo, fake, "pull_request", payload)
    assert result.code == 2
    assert pr.status()["state"] == "error"
    assert "GitHub named no viewer" in result.stderr
