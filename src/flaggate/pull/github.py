"""Pull-request facts read from GitHub, lazily: only what the evaluation asks for, once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cached_property

from github import GithubException, UnknownObjectException
from github.IssueEvent import IssueEvent
from github.PaginatedList import PaginatedList
from github.PullRequest import PullRequest as GithubPull

from flaggate.github.api import explain
from flaggate.model.policy import RoleBinding
from flaggate.pull.context import Review, ReviewState, latest_reviews

_WEB_FLOW = "web-flow"  # GitHub's committer for commits made in the web UI
MEMBERS_PERMISSION = (
    "organization 'Members: read' (a GitHub App installation token or a token with read:org); "
    "the workflow's GITHUB_TOKEN cannot read team membership"
)


class GitHubPullRequest:
    """The :class:`~flaggate.pull.context.PullRequest` protocol over the GitHub REST API.

    ``fingerprint_at(sha, submitted_at)`` gives the fingerprint of the change set a review on
    ``sha`` saw landing at ``submitted_at`` (None when it cannot be read); a review counts only
    when that matches ``head_fingerprint``, the change set that would land now.
    """

    def __init__(
        self,
        pull: GithubPull,
        roles: Mapping[str, RoleBinding],
        head_fingerprint: str,
        fingerprint_at: Callable[[str, datetime | None], str | None],
    ) -> None:
        self.pull = pull
        self.roles = roles
        self.head_sha: str = pull.head.sha
        self.head_fingerprint = head_fingerprint
        self.fingerprint_at = fingerprint_at
        self._members: dict[tuple[str, str], bool] = {}
        self._team_lists: dict[str, frozenset[str]] = {}
        self._fingerprints: dict[tuple[str, datetime | None], str | None] = {}
        self._label_actors: dict[str, str | None] = {}
        self.clock_start: datetime | None = None
        """The head commit's time, when known (see :meth:`opened_at`)."""

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
        try:
            raw = list(self.pull.get_reviews())
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
        try:
            commits = list(self.pull.get_commits())
        except GithubException as exc:
            raise explain(exc, "reading the pull request's commits", "'Contents: read'") from None
        logins = set()
        for commit in commits:
            for person in (commit.author, commit.committer):
                if person is not None and person.login and person.login != _WEB_FLOW:
                    logins.add(person.login)
        return frozenset(logins)

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
        if label not in self._label_actors:
            self._label_actors[label] = self._read_label_actor(label)
        return self._label_actors[label]

    def _read_label_actor(self, label: str) -> str | None:
        events = PaginatedList(
            IssueEvent, self.pull.requester, f"{self.pull.issue_url}/events", None
        )
        actor = None
        try:
            for event in events:
                if (
                    event.event == "labeled"
                    and event.label is not None
                    and event.label.name == label
                ):
                    actor = event.actor.login if event.actor is not None else None
        except GithubException as exc:
            raise explain(
                exc, "reading the pull request's label events", "'Issues: read'"
            ) from None
        return actor

    def opened_at(self) -> datetime | None:
        """When the first stage's clock started: the pull request's opening, or the head
        commit's time when that is later (a new push restarts the clock)."""
        opened = self.pull.created_at
        if self.clock_start is not None and (opened is None or self.clock_start > opened):
            return self.clock_start
        return opened

    def review_is_current(self, review: Review) -> bool:
        sha = review.commit_sha
        if sha is None:
            return False
        key = (sha, review.submitted_at)
        if key not in self._fingerprints:
            self._fingerprints[key] = self.fingerprint_at(sha, review.submitted_at)
        return self._fingerprints[key] == self.head_fingerprint

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
            try:
                members = self._list_members(org, slug)
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
