"""Pull-request facts as GitHub reports them (one snapshot), judged as the evaluation asks."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property

from flaggate.github.api import MissingPermission
from flaggate.github.provenance import Provenance
from flaggate.github.snapshot import MEMBERS_PERMISSION, Members, PullSnapshot
from flaggate.model.policy import RoleBinding
from flaggate.pull.context import Review, ReviewState, latest_reviews
from flaggate.pull.events import PullEvents
from flaggate.pull.ledger import BypassBinding, Ledger, Observation

_WEB_FLOW = "web-flow"  # GitHub's committer for commits made in the web UI
_ANNOUNCING = frozenset({"opened", "synchronize", "reopened"})
"""Pull request events whose payload's head is the head they announce."""
_CO_AUTHOR = re.compile(r"^co-authored-by:[^<\n]*<([^>\n]+)>\s*$", re.IGNORECASE | re.MULTILINE)
_NOREPLY = re.compile(r"^(?:\d+\+)?([A-Za-z0-9-]+(?:\[bot\])?)@users\.noreply\.github\.com$", re.I)


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
    """The :class:`~flaggate.pull.context.PullRequest` protocol over a pull request's
    :class:`~flaggate.github.snapshot.PullSnapshot`.

    ``fingerprint_at(sha, moment)`` gives the fingerprint of the change set ``sha`` would land
    merged into the base as it was at ``moment`` (None when it cannot be read); a review counts
    only when that matches ``head_fingerprint``, the change set that would land now. The same
    holds for an emergency bypass, with the head and the time of the label. ``members`` asks
    GitHub about team memberships the snapshot could not settle (a team of more than 100).
    """

    def __init__(
        self,
        pull: PullSnapshot,
        roles: Mapping[str, RoleBinding],
        head_fingerprint: str,
        fingerprint_at: Callable[[str, datetime | None], str | None],
        evidence: Evidence,
        now: datetime,
        members: Members | None = None,
    ) -> None:
        self.pull = pull
        self.roles = roles
        self.head_sha: str = pull.head_sha
        self.head_fingerprint = head_fingerprint
        self.fingerprint_at = fingerprint_at
        self.evidence = evidence
        self.now = now
        self._ask_members = members
        self._members: dict[tuple[str, str], bool] = {}
        self._fingerprints: dict[tuple[str, datetime | None], str | None] = {}
        self._binding: BypassBinding | None = None

    def author(self) -> str | None:
        return self.pull.author

    def labels(self) -> frozenset[str]:
        return self.pull.labels

    def base_ref(self) -> str | None:
        return self.pull.base_ref

    def reviews(self) -> list[Review]:
        return list(self._reviews)

    @cached_property
    def _reviews(self) -> tuple[Review, ...]:
        return tuple(
            Review(
                login=item.login,
                state=_REVIEW_STATES[item.state],
                commit_sha=item.commit_sha,
                submitted_at=item.submitted_at,
                is_bot=item.is_bot or item.login.endswith("[bot]"),
                body=item.body,
            )
            for item in self.pull.reviews
            if item.login is not None and item.state in _REVIEW_STATES
        )

    def pushers(self) -> frozenset[str]:
        return self._pushers

    @cached_property
    def _pushers(self) -> frozenset[str]:
        """Senders of ``synchronize`` events (kept and this run's), force-pushers, and the
        accounts GitHub links to the commits' authors, committers and co-authors."""
        logins = set(self.evidence.ledger.pushers) | self.evidence.events.force_pushers()
        logins |= self.evidence.provenance.co_authors
        pusher = self._pusher_now()
        if pusher is not None:
            logins.add(pusher)
        for commit in self.pull.commits:
            for login in (commit.author, commit.committer):
                if login and login != _WEB_FLOW:
                    logins.add(login)
            logins |= commit.authors
            logins |= co_author_logins(commit.message)
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
        return self.pull.body

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
        self, label: str, actor: str, labeled_at: datetime, event: str | None, incident: str
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
        """Active membership of ``org/slug``, from the snapshot's member list; for a team
        too large for it, one question to GitHub about every reviewer whose role matters."""
        key = (team, login)
        if key in self._members:
            return self._members[key]
        known = self.pull.teams.get(team)
        if known is not None and known.problem is not None:
            raise MissingPermission(
                f"reading {login}'s membership of team {team}: {known.problem}",
                f"the token needs {MEMBERS_PERMISSION}",
            )
        if known is not None and (known.complete or login in known.members):
            return login in known.members
        if self._ask_members is None:
            raise MissingPermission(f"reading {login}'s membership of team {team}: not read")
        who = sorted(self._candidates | {login})
        asks = [(team, name) for name in who if (team, name) not in self._members]
        for (_team, name), answer in self._ask_members(asks).items():
            if isinstance(answer, str):
                raise MissingPermission(
                    f"reading {name}'s membership of team {team}: {answer}",
                    f"the token needs {MEMBERS_PERMISSION}",
                )
            self._members[(team, name)] = answer
        return self._members[key]


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
