"""Pull-request facts read from GitHub, lazily: only what the evaluation asks for, once."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property

from github import GithubException, UnknownObjectException
from github.PullRequest import PullRequest as GithubPull

from flaggate.github.api import explain, read_again_if_missing
from flaggate.github.provenance import Provenance
from flaggate.model.policy import RoleBinding
from flaggate.pull.context import Review, ReviewState, latest_reviews
from flaggate.pull.events import PullEvents
from flaggate.pull.ledger import BypassBinding, Ledger, Observation

_WEB_FLOW = "web-flow"  # GitHub's committer for commits made in the web UI
_ANNOUNCING = frozenset({"opened", "synchronize", "reopened"})
"""Pull request events whose payload's head is the head they announce."""
_CO_AUTHOR = re.compile(r"^co-authored-by:[^<\n]*<([^>\n]+)>\s*$", re.IGNORECASE | re.MULTILINE)
_NOREPLY = re.compile(r"^(?:\d+\+)?([A-Za-z0-9-]+(?:\[bot\])?)@users\.noreply\.github\.com$", re.I)
MEMBERS_PERMISSION = (
    "organization 'Members: read' (a GitHub App installation token or a token with read:org); "
    "the workflow's GITHUB_TOKEN cannot read team membership"
)


@dataclass(frozen=True)
class Evidence:
    """What GitHub vouches for about a pull request beyond its REST object."""

    events: PullEvents
    provenance: Provenance
    ledger: Ledger
    """The kept ledger when it can be trusted (empty otherwise)."""
    doubt: str | None = None
    """Why the kept ledger was discarded (None: it was not)."""
    observation: Observation | None = None
    """What this run's own event vouches for."""


class GitHubPullRequest:
    """The :class:`~flaggate.pull.context.PullRequest` protocol over the GitHub REST API.

    ``fingerprint_at(sha, moment)`` gives the fingerprint of the change set ``sha`` would land
    merged into the base as it was at ``moment`` (None when it cannot be read); a review counts
    only when that matches ``head_fingerprint``, the change set that would land now. The same
    holds for an emergency bypass, with the head and the time of the label.
    """

    def __init__(
        self,
        pull: GithubPull,
        roles: Mapping[str, RoleBinding],
        head_fingerprint: str,
        fingerprint_at: Callable[[str, datetime | None], str | None],
        evidence: Evidence,
        now: datetime,
    ) -> None:
        self.pull = pull
        self.roles = roles
        self.head_sha: str = pull.head.sha
        self.head_fingerprint = head_fingerprint
        self.fingerprint_at = fingerprint_at
        self.evidence = evidence
        self.now = now
        self._members: dict[tuple[str, str], bool] = {}
        self._team_lists: dict[str, frozenset[str]] = {}
        self._fingerprints: dict[tuple[str, datetime | None], str | None] = {}
        self._binding: BypassBinding | None = None

    def author(self) -> str | None:
        return self.pull.user.login if self.pull.user else None

    def labels(self) -> frozenset[str]:
        return frozenset(label.name for label in self.pull.labels)

    def base_ref(self) -> str | None:
        return self.pull.base.ref

    def reviews(self) -> list[Review]:
        return list(self._reviews)

    @cached_property
    def _reviews(self) -> tuple[Review, ...]:
        try:  # a 404 right after the pull request's event may be GitHub catching up
            raw = read_again_if_missing(lambda: list(self.pull.get_reviews()))
        except GithubException as exc:
            raise explain(exc, "reading reviews", "'Pull requests: read'") from None
        reviews = []
        for item in raw:
            user = item.user
            if user is None or item.state not in _REVIEW_STATES:
                continue
            reviews.append(
                Review(
                    login=user.login,
                    state=_REVIEW_STATES[item.state],
                    commit_sha=item.commit_id,
                    submitted_at=item.submitted_at,
                    is_bot=user.type == "Bot" or user.login.endswith("[bot]"),
                    body=item.body or "",
                )
            )
        return tuple(reviews)

    def pushers(self) -> frozenset[str]:
        return self._pushers

    @cached_property
    def _pushers(self) -> frozenset[str]:
        """Senders of ``synchronize`` events (kept and this run's), force-pushers, and the
        accounts GitHub links to the commits' authors, committers and co-authors."""
        try:
            commits = list(self.pull.get_commits())
        except GithubException as exc:
            raise explain(exc, "reading the pull request's commits", "'Contents: read'") from None
        logins = set(self.evidence.ledger.pushers) | self.evidence.events.force_pushers()
        logins |= self.evidence.provenance.co_authors
        pusher = self._pusher_now()
        if pusher is not None:
            logins.add(pusher)
        for commit in commits:
            for person in (commit.author, commit.committer):
                if person is not None and person.login and person.login != _WEB_FLOW:
                    logins.add(person.login)
            logins |= co_author_logins(commit.commit.message or "")
        return frozenset(logins)

    def pusher_doubt(self) -> str | None:
        doubt = self.evidence.doubt
        if doubt is None:
            return None
        return f"who pushed cannot be told: flaggate's kept record was {doubt}"

    def _pusher_now(self) -> str | None:
        seen = self.evidence.observation
        if seen is not None and seen.action == "synchronize" and seen.head_sha == self.head_sha:
            return seen.sender
        return None

    def holds_role(self, login: str, role: str) -> bool:
        binding = self.roles.get(role)
        if binding is None:
            return False
        if login in binding.users:
            return True
        return any(self._is_member(team, login) for team in binding.teams)

    def body(self) -> str:
        return self.pull.body or ""

    def label_actor(self, label: str) -> str | None:
        event = self.evidence.events.last_labeled(label)
        return event.actor if event is not None else None

    @cached_property
    def head_seen_at(self) -> datetime:
        """When the head commit became the head, by GitHub's clock or flaggate's first sight
        of it; never a commit date (those are whatever the pusher typed)."""
        ledger, seen = self.evidence.ledger, self.evidence.observation
        known = ledger.first_seen(self.head_sha)
        if known is not None:
            return known
        if seen is not None and seen.head_sha == self.head_sha and seen.action in _ANNOUNCING:
            return self.now
        if ledger.heads or self.evidence.doubt is not None:
            return self.now  # a push flaggate did not see: its time is unknown, start now
        # Nothing kept yet: the head is the one the pull request was opened (or force-pushed)
        # with, as far as GitHub's records tell.
        records = [self.pull.created_at, self.evidence.events.force_pushed_at(self.head_sha)]
        return max((t for t in records if t is not None), default=self.now)

    def opened_at(self) -> datetime | None:
        """When the first stage's clock started: the latest of the pull request's opening,
        its last ``ready_for_review`` event and the head's first sighting."""
        times = [self.pull.created_at, self.evidence.events.ready_at(), self.head_seen_at]
        return max(t for t in times if t is not None)

    def bypass_problem(self, label: str, actor: str, incident: str) -> str | None:
        labeled = self.evidence.events.last_labeled(label)
        if labeled is None or labeled.at is None or labeled.actor != actor:
            return f"emergency bypass by @{actor}: the label event cannot be read; re-apply it"
        binding = self._bound(label, actor, labeled.at, labeled.id, incident)
        if binding is None:
            return (
                f"emergency bypass by @{actor}: what the label covered cannot be told "
                "(the head or the description changed since); re-apply the label"
            )
        if binding.incident != incident:
            return (
                f"emergency bypass by @{actor} covered other incident fields; the incident, "
                "severity or justification changed since: re-apply the label"
            )
        if not self._same_change_set(binding.sha, binding.labeled_at):
            return (
                f"emergency bypass by @{actor} covered {binding.sha[:7]}; "
                "re-apply the label to cover the new changes"
            )
        self._binding = binding
        return None

    def _bound(
        self, label: str, actor: str, labeled_at: datetime, event: int | None, incident: str
    ) -> BypassBinding | None:
        """What the label covered: seen by this run's ``labeled`` event, kept from the run
        that saw it, or read from GitHub's records when nothing changed since. The kept
        binding is the label's own when the event id matches (the time alone cannot tell a
        label removed and added again within one second)."""
        kept = self.evidence.ledger.bypass
        if (
            kept is not None
            and kept.actor == actor
            and kept.labeled_at == labeled_at
            and (kept.event is None or event is None or kept.event == event)
        ):
            return kept
        body_edited = self.evidence.provenance.body_edited_at
        if body_edited is not None and body_edited >= labeled_at:  # same second: cannot tell
            return None
        seen = self.evidence.observation
        if (
            seen is not None
            and seen.action == "labeled"
            and seen.label == label
            and seen.sender == actor
            and seen.head_sha is not None
        ):
            return BypassBinding(actor, labeled_at, seen.head_sha, incident, event)
        head_then = self.evidence.ledger.head_at(labeled_at)
        if head_then is None and self.head_seen_at <= labeled_at:
            head_then = self.head_sha
        if head_then is None:
            return None
        return BypassBinding(actor, labeled_at, head_then, incident, event)

    def _same_change_set(self, sha: str, moment: datetime | None) -> bool:
        key = (sha, moment)
        if key not in self._fingerprints:
            self._fingerprints[key] = self.fingerprint_at(sha, moment)
        return self._fingerprints[key] == self.head_fingerprint

    def ledger_out(self) -> Ledger:
        """The ledger to keep after this run: what was kept, the head and its pusher as
        this run saw them, and the bypass binding in force."""
        ledger = self.evidence.ledger.seen(self.head_sha, self.head_seen_at, self._pusher_now())
        if self._binding is not None:
            ledger = replace(ledger, bypass=self._binding)
        return ledger

    def review_is_current(self, review: Review) -> bool:
        if review.commit_sha is None:
            return False
        return self._same_change_set(review.commit_sha, review.submitted_at)

    @cached_property
    def _candidates(self) -> frozenset[str]:
        """Reviewers whose roles matter: a deciding latest review, not the author, no bot."""
        latest = latest_reviews(self._reviews)
        author = self.author()
        return frozenset(
            login
            for login, review in latest.items()
            if review.state in ("APPROVED", "CHANGES_REQUESTED")
            and login != author
            and not review.is_bot
        )

    def _is_member(self, team: str, login: str) -> bool:
        """Active membership of ``org/slug``: one team listing when several reviewers need
        checking against the team, one membership look-up when only one does."""
        key = (team, login)
        if key in self._members:
            return self._members[key]
        if team in self._team_lists:
            return login in self._team_lists[team]
        org, slug = team.split("/", 1)
        requester = self.pull.requester
        if len(self._candidates) > 1:
            try:  # a 404 right after the team changed may be GitHub catching up
                members = read_again_if_missing(lambda: self._list_members(org, slug))
            except GithubException as exc:
                raise explain(
                    exc, f"reading the members of team {team}", MEMBERS_PERMISSION
                ) from None
            self._team_lists[team] = members
            return login in members
        try:
            _headers, data = requester.requestJsonAndCheck(
                "GET", f"/orgs/{org}/teams/{slug}/memberships/{login}"
            )
            member = isinstance(data, dict) and data.get("state") == "active"
        except UnknownObjectException:
            member = False
        except GithubException as exc:
            raise explain(
                exc, f"reading {login}'s membership of team {team}", MEMBERS_PERMISSION
            ) from None
        self._members[key] = member
        return member

    def _list_members(self, org: str, slug: str) -> frozenset[str]:
        members: set[str] = set()
        page = 1
        while True:
            _headers, data = self.pull.requester.requestJsonAndCheck(
                "GET",
                f"/orgs/{org}/teams/{slug}/members",
                parameters={"per_page": 100, "page": page},
            )
            batch = data if isinstance(data, list) else []
            members.update(item["login"] for item in batch if isinstance(item, dict))
            if len(batch) < 100:
                return frozenset(members)
            page += 1


_REVIEW_STATES: dict[str, ReviewState] = {
    "APPROVED": "APPROVED",
    "CHANGES_REQUESTED": "CHANGES_REQUESTED",
    "COMMENTED": "COMMENTED",
    "DISMISSED": "DISMISSED",
}


def co_author_logins(message: str) -> frozenset[str]:
    """Logins named by ``Co-authored-by:`` trailers with GitHub's no-reply addresses (other
    addresses are linked to accounts by GitHub itself, see :class:`Provenance`)."""
    logins = set()
    for email in _CO_AUTHOR.findall(message):
        match = _NOREPLY.match(email.strip())
        if match:
            logins.add(match.group(1))
    return frozenset(logins)
