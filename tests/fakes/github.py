"""A fake GitHub REST API for tests, served over real HTTP on 127.0.0.1.

Start it, point ``GITHUB_API_URL`` (PyGithub's ``base_url``) at :attr:`FakeGitHub.url`, set up
state with the ``add_*``/``set_*`` methods, run the code under test (in process or as a
subprocess), then inspect what it did (:attr:`~FakeGitHub.calls`, :meth:`~FakeGitHub.statuses`,
:meth:`~FakeGitHub.comments`, ...)::

    with FakeGitHub(token="t0ken") as gh:
        gh.add_team("acme", "tech-leads", {"alice": "active"})
        gh.add_pull("acme", "flags", 7, "bob", "main", BASE, "feature", HEAD)
        gh.add_review("acme", "flags", 7, "alice", "APPROVED", HEAD)
        run_cli(env={"GITHUB_API_URL": gh.url, "GITHUB_TOKEN": "t0ken"})
        assert gh.statuses("acme", "flags", HEAD)[-1]["state"] == "success"

Every response body is a copy of a real GitHub response (see
:func:`tests.fakes.github_samples.templates`) with ids, logins, SHAs, URLs and timestamps
taken from the fake's state. Only the endpoints in :data:`ROUTES` are served; any other path
is a 404 with GitHub's body. Lists paginate like GitHub (``per_page`` default 30, max 100,
``page``, a ``Link`` header with full URLs). Requests need ``Authorization: token <token>``
(or ``Bearer``). :meth:`FakeGitHub.fail` and :meth:`FakeGitHub.drop_connection` inject faults.

``POST /graphql`` answers GitHub's GraphQL API from the same state (a subset of GitHub's schema:
see :mod:`tests.fakes.github_graphql`).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import itertools
import json
import re
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, NoReturn
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from tests.fakes.github_samples import JSON, Templates, templates

DEFAULT_TOKEN = "t0ken"
DEFAULT_ACTOR = "github-actions[bot]"
DOCS_URL = "https://docs.github.com/rest"
GRAPHQL_DOCS_URL = "https://docs.github.com/graphql"

BAD_CREDENTIALS = "Bad credentials"
NOT_FOUND = "Not Found"
NOT_ACCESSIBLE = "Resource not accessible by integration"
SECONDARY_RATE_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID "
    "FAKE:0000:0000000:0000000:00000000."
)
AUTHOR_REVIEW = "Review cannot be requested from pull request author."
SERVER_ERROR = "Server Error"

ReviewState = Literal["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"]
MemberState = Literal["active", "pending"]
Timestamp = datetime | str
CommitSpec = tuple[str, str | None, str | None] | tuple[str, str | None, str | None, str]
"""``(sha, author login, committer login)`` or ``(sha, author login, committer login, message)``;
a login of ``None`` is a git identity that GitHub cannot link to an account (the REST object
then has ``author``/``committer`` ``null``). Without a message the commit's is
``Change flags (<sha[:7]>)``."""
PullEvent = Literal["ready_for_review", "convert_to_draft", "head_ref_force_pushed"]

_REVIEW_STATES = ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED")
_STATUS_STATES = ("error", "failure", "pending", "success")
_ISSUE_STATES = ("open", "closed")
_STATE_REASONS = ("completed", "not_planned", "duplicate", "reopened")
_PR_COMMITS_CAP = 250  # GET /pulls/{n}/commits lists at most 250 commits
_PR_FILES_CAP = 3000  # GET /pulls/{n}/files lists at most 3000 files
_RATE_LIMIT = 5000
_GRAPHQL_ONLY_EVENTS = frozenset({"comment_deleted"})
"""Events kept for GraphQL's timeline that REST's issue events and timeline do not list."""
_APP_ROUTE = re.compile(r"^(/repos/[^/]+/[^/]+/installation|/app/installations/\d+/access_tokens)$")


def github_error(status: int, message: str, **extra: Any) -> dict[str, Any]:
    """GitHub's error body: ``{"message", "documentation_url", "status"}`` plus ``extra``."""
    return {"message": message, **extra, "documentation_url": DOCS_URL, "status": str(status)}


_DEFAULT_FAULT_MESSAGES = {
    401: BAD_CREDENTIALS,
    403: NOT_ACCESSIBLE,
    404: NOT_FOUND,
    422: "Validation Failed",
    429: SECONDARY_RATE_LIMIT,
}


def _iso(value: Timestamp | None = None) -> str:
    """``value`` (or now) as GitHub writes times: ``2026-01-05T09:00:00Z``."""
    if isinstance(value, str):
        return value
    moment = value or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _node_id(kind: str, ident: int) -> str:
    """A node id in GitHub's legacy format (``04:User42`` in base64)."""
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode()


def _event_node_kind(event: str) -> str:
    """The node type of an issue event: ``labeled`` is ``LabeledEvent``."""
    return event.title().replace("_", "") + "Event"


def _fake_sha(*parts: object) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()


def _label_color(name: str) -> str:
    return hashlib.md5(name.encode()).hexdigest()[:6]


# --- state -----------------------------------------------------------------------------------


@dataclass
class _User:
    login: str
    id: int
    bot: bool
    site_admin: bool = False
    organization: bool = False
    emails: list[str] = field(default_factory=list)
    """Verified email addresses: GitHub links commits by them to this account."""


@dataclass
class _Team:
    org: str
    slug: str
    id: int
    name: str
    members: dict[str, MemberState]
    roles: dict[str, str]
    forbidden: bool = False


@dataclass
class _Review:
    id: int
    login: str
    state: str
    commit_id: str | None
    submitted_at: str
    body: str


@dataclass
class _Commit:
    sha: str
    author: str | None
    committer: str | None
    message: str
    date: str


@dataclass
class _File:
    filename: str
    status: str
    additions: int
    deletions: int
    previous_filename: str | None = None


@dataclass
class _Edit:
    """One revision of a comment's or a description's text (GraphQL's ``UserContentEdit``)."""

    id: int
    editor: str
    edited_at: str
    body: str
    """The text as of this revision."""


@dataclass
class _Comment:
    id: int
    number: int
    login: str
    body: str
    created_at: str
    updated_at: str
    edits: list[_Edit] = field(default_factory=list)
    """Oldest first; once edited, the first is the creation (by the author), as GitHub keeps
    them. Empty while never edited."""


@dataclass
class _Event:
    id: int
    number: int
    event: str
    actor: str
    created_at: str
    label: str | None = None
    reviewer: str | None = None
    team: str | None = None
    assignee: str | None = None
    state_reason: str | None = None
    deleted_author: str | None = None
    """``comment_deleted``: the author of the deleted comment."""
    before_sha: str | None = None
    """``head_ref_force_pushed``: the head before the push."""
    after_sha: str | None = None
    """``head_ref_force_pushed``: the head after the push."""


@dataclass
class _Status:
    id: int
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: str


@dataclass
class _CheckRun:
    id: int
    head_sha: str
    name: str
    status: str
    conclusion: str | None
    started_at: str
    completed_at: str | None
    app_slug: str


@dataclass
class _Pull:
    base_ref: str
    base_sha: str
    head_ref: str
    head_sha: str
    draft: bool = False
    merged: bool = False
    merged_at: str | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    requested_users: list[str] = field(default_factory=list)
    requested_teams: list[str] = field(default_factory=list)
    reviews: list[_Review] = field(default_factory=list)
    commits: list[_Commit] = field(default_factory=list)
    files: list[_File] = field(default_factory=list)


@dataclass
class _Issue:
    number: int
    id: int
    title: str
    body: str | None
    author: str
    labels: list[str]
    state: str
    created_at: str
    updated_at: str
    closed_at: str | None = None
    pull: _Pull | None = None
    assignees: list[str] = field(default_factory=list)
    state_reason: str | None = None
    closed_by: str | None = None
    edits: list[_Edit] = field(default_factory=list)
    """Revisions of the body, as :attr:`_Comment.edits`."""


@dataclass
class _Repo:
    owner: str
    name: str
    id: int
    default_branch: str
    private: bool
    created_at: str
    issues: dict[int, _Issue] = field(default_factory=dict)
    comments: dict[int, _Comment] = field(default_factory=dict)
    events: list[_Event] = field(default_factory=list)
    statuses: list[_Status] = field(default_factory=list)
    check_runs: list[_CheckRun] = field(default_factory=list)
    label_ids: dict[str, int] = field(default_factory=dict)
    pushed: set[str] = field(default_factory=set)
    """Commits pushed to branches other than pull requests' (e.g. a merge queue's)."""

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class RecordedRequest:
    """A request the fake received (every one, including those answered with an error)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> JSON:
        """The request body decoded (``None`` when empty)."""
        return json.loads(self.body) if self.body else None


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    status: int | None  # None: close the connection without answering
    remaining: int
    headers: dict[str, str]
    body: JSON


@dataclass
class _Reply:
    status: int
    body: JSON = None
    headers: dict[str, str] = field(default_factory=dict)


class _HttpError(Exception):
    """Raised by a route handler to answer with a GitHub error body."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.reply = _Reply(status, github_error(status, message, **extra))


def _not_found() -> NoReturn:
    raise _HttpError(404, NOT_FOUND)


def _validation_failed(resource: str, field_name: str, code: str, message: str = "") -> NoReturn:
    error = {"resource": resource, "code": code, "field": field_name}
    if message:
        error["message"] = message
    raise _HttpError(422, "Validation Failed", errors=[error])


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: dict[str, str]
    body: JSON

    def json_object(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise _HttpError(400, "Problems parsing JSON")
        return self.body


ROUTES: list[tuple[str, re.Pattern[str], str]] = []
"""``(method, path regex, handler name)`` of every endpoint the fake serves."""


def _route(method: str, pattern: str) -> Callable[[Callable[..., _Reply]], Callable[..., _Reply]]:
    def register(handler: Callable[..., _Reply]) -> Callable[..., _Reply]:
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        ROUTES.append((method, regex, handler.__name__))
        return handler

    return register


_REPO = "/repos/{owner}/{repo}"


# --- the server ------------------------------------------------------------------------------


class FakeGitHub:
    """A stateful fake of the GitHub REST API (see the module docstring).

    ``token`` is the only credential accepted. ``actor`` is the login the token belongs to: it
    creates statuses, comments, issues and review requests. ``server_url`` is the web host of
    ``html_url`` values. The socket is bound at construction (so :attr:`url` is known before
    :meth:`start`); requests are served by a background thread between :meth:`start` and
    :meth:`stop` (or inside ``with``).
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        actor: str = DEFAULT_ACTOR,
        server_url: str = "https://github.com",
    ) -> None:
        self.token = token
        self.actor = actor
        self.server_url = server_url.rstrip("/")
        self._lock = threading.RLock()
        self._ids = itertools.count(1001)
        self._users: dict[str, _User] = {}
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._teams: dict[tuple[str, str], _Team] = {}
        self._faults: list[_Fault] = []
        self._requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        """Tracebacks of exceptions raised while answering (bugs in the fake): keep it empty."""
        self._request_count = 0
        self._rate_reset = int(time.time()) + 3600
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread: threading.Thread | None = None
        self._t: Templates = _retarget(templates(), self.url, self.server_url)

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The API root, e.g. ``http://127.0.0.1:PORT`` (use as ``GITHUB_API_URL``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeGitHub:
        """Serve requests in a background thread; returns ``self``."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- setup -------------------------------------------------------------------------------

    def add_user(
        self,
        login: str,
        *,
        bot: bool = False,
        site_admin: bool = False,
        emails: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Register ``login`` (done implicitly on first use; ``[bot]`` logins are bots).

        ``emails`` are added to the account's verified addresses: GitHub links a commit's git
        identity (author, committer, ``Co-authored-by:``) with one of them to the account, as
        it does ``login@users.noreply.github.com`` and ``<id>+login@users.noreply.github.com``.
        """
        with self._lock:
            user = self._user(login, bot=bot)
            user.site_admin = site_admin
            for email in emails:
                if email.lower() not in (known.lower() for known in user.emails):
                    user.emails.append(email)
            return self._render_user(login)

    def add_repo(
        self, owner: str, repo: str, *, default_branch: str = "main", private: bool = False
    ) -> dict[str, Any]:
        """Create repository ``owner/repo`` (done implicitly by :meth:`add_pull`)."""
        with self._lock:
            key = (owner, repo)
            if key not in self._repos:
                self._user(owner).organization = True
                self._repos[key] = _Repo(
                    owner, repo, next(self._ids), default_branch, private, _iso()
                )
            return self._render_repo(self._repos[key])

    def push_commit(self, owner: str, repo: str, sha: str) -> None:
        """Make ``sha`` known to the repository, as a push to some branch would (statuses and
        checks can then be set on it)."""
        with self._lock:
            self.add_repo(owner, repo)
            self._repo(owner, repo).pushed.add(sha)

    def add_pull(
        self,
        owner: str,
        repo: str,
        number: int,
        author: str,
        base_ref: str,
        base_sha: str,
        head_ref: str,
        head_sha: str,
        labels: Iterable[str] = (),
        body: str | None = "",
        draft: bool = False,
        merged: bool = False,
        state: Literal["open", "closed"] = "open",
        *,
        title: str | None = None,
        merged_by: str | None = None,
        merge_commit_sha: str | None = None,
        created_at: Timestamp | None = None,
    ) -> dict[str, Any]:
        """Open (or, with ``merged``/``state``, close) pull request ``number``.

        An empty ``body`` is served as ``null``, as GitHub does. A merged pull request is
        closed; ``merged_by`` defaults to the author and ``merge_commit_sha`` to a made-up SHA.
        Returns the REST pull request object.
        """
        with self._lock:
            self.add_repo(owner, repo)
            the_repo = self._repo(owner, repo)
            if number in the_repo.issues:
                raise ValueError(f"{owner}/{repo}#{number} exists already")
            self._user(author)
            created = _iso(created_at)
            pull = _Pull(base_ref, base_sha, head_ref, head_sha, draft=draft)
            issue = _Issue(
                number=number,
                id=next(self._ids),
                title=title or f"Change flags ({head_ref})",
                body=body,
                author=author,
                labels=list(dict.fromkeys(labels)),
                state="closed" if merged else state,
                created_at=created,
                updated_at=created,
                pull=pull,
            )
            if issue.state == "closed":
                issue.closed_at = created
            if merged:
                pull.merged, pull.merged_at = True, created
                pull.merged_by = issue.closed_by = merged_by or author
                pull.merge_commit_sha = merge_commit_sha or _fake_sha("merge", owner, repo, number)
            the_repo.issues[number] = issue
            return self._render_pull(the_repo, issue)

    def update_pull(
        self,
        owner: str,
        repo: str,
        number: int,
        *,
        head_sha: str | None = None,
        labels: Iterable[str] | None = None,
        body: str | None = None,
        draft: bool | None = None,
        state: Literal["open", "closed"] | None = None,
        merged_by: str | None = None,
        merge_commit_sha: str | None = None,
        editor: str | None = None,
        edited_at: Timestamp | None = None,
    ) -> dict[str, Any]:
        """Change a pull request: push (``head_sha``), relabel, edit, close, or merge
        (``merged_by`` merges it and closes it). Returns the REST pull request object.

        A new ``body`` is an edit of the description by ``editor`` (default: the author) at
        ``edited_at`` (default: now), kept in its edit history (GraphQL's ``userContentEdits``,
        ``editor`` and ``lastEditedAt``); the same body again is no edit."""
        with self._lock:
            the_repo = self._repo(owner, repo)
            issue, pull = self._pull_of(the_repo, number)
            now = _iso()
            if head_sha is not None:
                pull.head_sha = head_sha
            if labels is not None:
                issue.labels = list(dict.fromkeys(labels))
            if body is not None:
                self._edit_issue_body(issue, body, editor or issue.author, _iso(edited_at))
            if draft is not None:
                pull.draft = draft
            if state is not None:
                issue.state, issue.closed_at = state, (now if state == "closed" else None)
                if state == "open":
                    issue.closed_by = None
            if merged_by is not None:
                self._user(merged_by)
                pull.merged, pull.merged_at, pull.merged_by = True, now, merged_by
                pull.merge_commit_sha = merge_commit_sha or _fake_sha("merge", owner, repo, number)
                issue.state, issue.closed_at, issue.closed_by = "closed", now, merged_by
            issue.updated_at = now
            return self._render_pull(the_repo, issue)

    def add_issue(
        self,
        owner: str,
        repo: str,
        title: str,
        *,
        number: int | None = None,
        author: str | None = None,
        body: str | None = None,
        labels: Iterable[str] = (),
        assignees: Iterable[str] = (),
        state: Literal["open", "closed"] = "open",
        state_reason: str | None = None,
        created_at: Timestamp | None = None,
    ) -> dict[str, Any]:
        """Add issue ``number`` (default: the next free number) as if it already existed.

        ``author`` defaults to :attr:`actor`. A closed issue is closed when created, by its
        author, with ``state_reason`` (default ``completed``). No issue events are recorded
        (use :meth:`close_issue` or the API for those). Returns the REST issue object.
        """
        with self._lock:
            self.add_repo(owner, repo)
            the_repo = self._repo(owner, repo)
            number = number if number is not None else max(the_repo.issues, default=0) + 1
            if number in the_repo.issues:
                raise ValueError(f"{owner}/{repo}#{number} exists already")
            login = author or self.actor
            for user in (login, *assignees):
                self._user(user)
            created = _iso(created_at)
            issue = _Issue(
                number=number,
                id=next(self._ids),
                title=title,
                body=body,
                author=login,
                labels=self._label_names(the_repo, labels),
                state=state,
                created_at=created,
                updated_at=created,
                assignees=list(dict.fromkeys(assignees)),
            )
            if state == "closed":
                issue.closed_at, issue.closed_by = created, login
                issue.state_reason = state_reason or "completed"
            the_repo.issues[number] = issue
            return self._render_issue(the_repo, issue)

    def close_issue(
        self,
        owner: str,
        repo: str,
        number: int,
        actor: str | None = None,
        state_reason: str = "completed",
    ) -> dict[str, Any]:
        """Close issue (or pull request) ``number`` as ``actor`` (default :attr:`actor`) would
        through the UI: sets ``closed_at``, ``closed_by`` and ``state_reason`` and records a
        ``closed`` issue event. A pull request gets no ``state_reason`` (GitHub's is null).
        Closing a closed issue changes nothing. Returns the REST issue object."""
        if state_reason not in _STATE_REASONS:
            raise ValueError(f"state_reason {state_reason!r} is not one of {_STATE_REASONS}")
        with self._lock:
            the_repo = self._repo(owner, repo)
            issue = self._issue(the_repo, number)
            self._set_issue_state(the_repo, issue, "closed", actor or self.actor, state_reason)
            return self._render_issue(the_repo, issue)

    def add_review(
        self,
        owner: str,
        repo: str,
        number: int,
        login: str,
        state: ReviewState,
        commit_id: str | None,
        submitted_at: Timestamp | None = None,
        bot: bool = False,
        *,
        body: str = "",
    ) -> dict[str, Any]:
        """Submit a review; like GitHub, it satisfies ``login``'s pending review request and
        that of every requested team ``login`` is an active member of."""
        if state not in _REVIEW_STATES:
            raise ValueError(f"review state {state!r} is not one of {_REVIEW_STATES}")
        with self._lock:
            the_repo = self._repo(owner, repo)
            _, pull = self._pull_of(the_repo, number)
            self._user(login, bot=bot)
            review = _Review(next(self._ids), login, state, commit_id, _iso(submitted_at), body)
            pull.reviews.append(review)
            self._satisfy_review_request(the_repo, pull, login)
            return self._render_review(the_repo, number, review)

    def dismiss_review(self, owner: str, repo: str, number: int, review_id: int) -> dict[str, Any]:
        """Set review ``review_id`` to ``DISMISSED`` (what a dismissal does to its state)."""
        with self._lock:
            the_repo = self._repo(owner, repo)
            _, pull = self._pull_of(the_repo, number)
            review = next(r for r in pull.reviews if r.id == review_id)
            review.state = "DISMISSED"
            return self._render_review(the_repo, number, review)

    def set_commits(
        self, owner: str, repo: str, number: int, commits: Sequence[CommitSpec]
    ) -> list[dict[str, Any]]:
        """Replace the commits of a pull request (oldest first; each dated when the pull
        request was opened). Does not move its head.

        Each is ``(sha, author, committer)`` or ``(sha, author, committer, message)`` (see
        :data:`CommitSpec`); GraphQL's ``Commit.authors`` adds one author per
        ``Co-authored-by: Name <email>`` trailer of the message."""
        with self._lock:
            the_repo = self._repo(owner, repo)
            issue, pull = self._pull_of(the_repo, number)
            pull.commits = []
            for spec in commits:
                sha, author, committer = spec[0], spec[1], spec[2]
                for login in (author, committer):
                    if login is not None:
                        self._user(login)
                message = spec[3] if len(spec) == 4 else f"Change flags ({sha[:7]})"
                pull.commits.append(_Commit(sha, author, committer, message, issue.created_at))
            return [self._render_commit(the_repo, pull, c) for c in pull.commits]

    def set_files(
        self,
        owner: str,
        repo: str,
        number: int,
        files: Sequence[str | tuple[str, str] | tuple[str, str, int, int]],
    ) -> list[dict[str, Any]]:
        """Replace the changed files of a pull request: a path, ``(path, status)`` or
        ``(path, status, additions, deletions)``; status ``added``/``modified``/``removed``,
        or ``renamed:<old path>``."""
        with self._lock:
            the_repo = self._repo(owner, repo)
            _, pull = self._pull_of(the_repo, number)
            pull.files = [_file_of(spec) for spec in files]
            return [self._render_file(the_repo, pull, f) for f in pull.files]

    def add_team(
        self,
        org: str,
        slug: str,
        members: Mapping[str, MemberState] | None = None,
        *,
        maintainers: Iterable[str] = (),
        forbidden: bool = False,
        name: str | None = None,
    ) -> dict[str, Any]:
        """Create (or replace) team ``org/slug``; ``members`` maps a login to ``active`` or
        ``pending``. ``forbidden`` answers its member endpoints 403 "Resource not accessible
        by integration", as for a token without the ``members: read`` permission."""
        with self._lock:
            self._user(org).organization = True
            for login in members or {}:
                self._user(login)
            maintainer_set = set(maintainers)
            team = _Team(
                org=org,
                slug=slug,
                id=next(self._ids),
                name=name or slug,
                members=dict(members or {}),
                roles={m: "maintainer" if m in maintainer_set else "member" for m in members or {}},
                forbidden=forbidden,
            )
            self._teams[(org, slug)] = team
            return self._render_team(team)

    def set_team_forbidden(self, org: str, slug: str, forbidden: bool = True) -> None:
        """Make the member endpoints of a team answer 403 (or stop doing so)."""
        with self._lock:
            self._team(org, slug).forbidden = forbidden

    def add_comment(
        self,
        owner: str,
        repo: str,
        number: int,
        body: str,
        login: str = DEFAULT_ACTOR,
        *,
        created_at: Timestamp | None = None,
    ) -> dict[str, Any]:
        """Add an issue comment to issue or pull request ``number``."""
        with self._lock:
            the_repo = self._repo(owner, repo)
            self._issue(the_repo, number)
            self._user(login)
            at = _iso(created_at)
            comment = _Comment(next(self._ids), number, login, body, at, at)
            the_repo.comments[comment.id] = comment
            return self._render_comment(the_repo, comment)

    def edit_comment(
        self,
        owner: str,
        repo: str,
        comment_id: int,
        body: str,
        editor: str,
        *,
        edited_at: Timestamp | None = None,
    ) -> dict[str, Any]:
        """Edit issue comment ``comment_id`` as ``editor`` (any account, e.g. a maintainer
        editing the bot's comment) at ``edited_at`` (default: now), as the UI would.

        Like an edit through ``PATCH .../issues/comments/{id}`` (whose editor is
        :attr:`actor`), it sets ``body`` and ``updated_at`` and, when the body changes, keeps
        a revision in the comment's edit history (GraphQL's ``userContentEdits``, ``editor``,
        ``lastEditedAt``). Returns the REST comment object."""
        with self._lock:
            the_repo = self._repo(owner, repo)
            comment = self._comment(the_repo, comment_id)
            at = _iso(edited_at)
            self._edit_comment_body(comment, body, editor, at)
            return self._render_comment(the_repo, comment)

    def delete_comment(
        self,
        owner: str,
        repo: str,
        comment_id: int,
        actor: str,
        *,
        deleted_at: Timestamp | None = None,
    ) -> None:
        """Delete issue comment ``comment_id`` as ``actor`` at ``deleted_at`` (default: now),
        as ``DELETE .../issues/comments/{id}`` does for :attr:`actor`.

        The comment is gone from REST (lists, timeline; edits answer 404) and from GraphQL
        (its node id no longer resolves); the issue's GraphQL timeline gets a
        ``CommentDeletedEvent`` (REST lists no event for it)."""
        with self._lock:
            the_repo = self._repo(owner, repo)
            self._delete_comment(the_repo, self._comment(the_repo, comment_id), actor, deleted_at)

    def add_pull_event(
        self,
        owner: str,
        repo: str,
        number: int,
        event: PullEvent,
        actor: str,
        created_at: Timestamp | None = None,
        *,
        head_sha: str | None = None,
    ) -> dict[str, Any]:
        """Record that ``actor`` marked a pull request ready for review, converted it to a
        draft, or force-pushed its head to ``head_sha`` (required then), and apply the change
        (``draft``, the head). Listed by REST's issue events and timeline and by GraphQL's
        ``timelineItems``; returns the REST issue event."""
        with self._lock:
            the_repo = self._repo(owner, repo)
            _, pull = self._pull_of(the_repo, number)
            self._user(actor)
            record = _Event(next(self._ids), number, event, actor, _iso(created_at))
            if event == "head_ref_force_pushed":
                if head_sha is None:
                    raise ValueError("a force push needs the new head_sha")
                record.before_sha, record.after_sha = pull.head_sha, head_sha
                pull.head_sha = head_sha
            elif event in ("ready_for_review", "convert_to_draft"):
                pull.draft = event == "convert_to_draft"
            else:
                raise ValueError(f"unknown pull request event {event!r}")
            the_repo.events.append(record)
            return self._render_event(the_repo, record)

    def add_label_event(
        self,
        owner: str,
        repo: str,
        number: int,
        label: str,
        actor: str,
        event: Literal["labeled", "unlabeled"] = "labeled",
        created_at: Timestamp | None = None,
    ) -> dict[str, Any]:
        """Record that ``actor`` added (or removed) ``label``, and apply it to the labels."""
        with self._lock:
            the_repo = self._repo(owner, repo)
            issue = self._issue(the_repo, number)
            self._user(actor)
            if event == "labeled" and label not in issue.labels:
                issue.labels.append(label)
            if event == "unlabeled" and label in issue.labels:
                issue.labels.remove(label)
            record = _Event(next(self._ids), number, event, actor, _iso(created_at), label=label)
            the_repo.events.append(record)
            return self._render_event(the_repo, record)

    def add_status(
        self,
        owner: str,
        repo: str,
        sha: str,
        state: str,
        context: str = "default",
        description: str | None = None,
        target_url: str | None = None,
        *,
        creator: str | None = None,
    ) -> dict[str, Any]:
        """Add a commit status as if another tool had posted it."""
        with self._lock:
            the_repo = self._repo(owner, repo)
            login = creator or self.actor
            self._user(login)
            status = _Status(
                next(self._ids), sha, state, context, description, target_url, login, _iso()
            )
            the_repo.statuses.append(status)
            return self._render_status(the_repo, status)

    def add_check_run(
        self,
        owner: str,
        repo: str,
        head_sha: str,
        name: str,
        *,
        status: Literal["queued", "in_progress", "completed"] = "completed",
        conclusion: str | None = "success",
        app_slug: str = "github-actions",
        started_at: Timestamp | None = None,
        completed_at: Timestamp | None = None,
    ) -> dict[str, Any]:
        """Add a check run on ``head_sha`` (``conclusion`` is ``None`` unless completed)."""
        with self._lock:
            the_repo = self._repo(owner, repo)
            done = status == "completed"
            run = _CheckRun(
                id=next(self._ids),
                head_sha=head_sha,
                name=name,
                status=status,
                conclusion=conclusion if done else None,
                started_at=_iso(started_at),
                completed_at=_iso(completed_at) if done else None,
                app_slug=app_slug,
            )
            the_repo.check_runs.append(run)
            return self._render_check_run(the_repo, run)

    def enable_app(self, app_id: str, public_key_pem: str, installation_id: int = 4711) -> None:
        """Accept a GitHub App: JWTs signed with the matching private key may look up the
        app's installation and mint an installation token (which is :attr:`token`)."""
        with self._lock:
            self._app = (app_id, public_key_pem)
            self._installation_id = installation_id

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        body: JSON = None,
    ) -> None:
        """Answer the next ``times`` requests whose method is ``method`` (``*``: any) and whose
        path (without the query) matches ``path_regex`` (``re.search``) with ``status``.

        Faults queue up in order: ``fail("GET", "/pulls/7$", 502, times=2)`` makes two 502s,
        then the normal answer. ``body`` defaults to GitHub's error body for the status
        (``Server Error`` for 5xx); a 403 with a ``Retry-After`` header defaults to the
        secondary rate limit message.
        """
        with self._lock:
            fault_headers = dict(headers or {})
            if body is None:
                body = github_error(status, _default_fault_message(status, fault_headers))
            self._faults.append(
                _Fault(method.upper(), re.compile(path_regex), status, times, fault_headers, body)
            )

    def drop_connection(self, method: str, path_regex: str, times: int = 1) -> None:
        """Close the connection without answering the next ``times`` matching requests."""
        with self._lock:
            self._faults.append(
                _Fault(method.upper(), re.compile(path_regex), None, times, {}, None)
            )

    # --- inspection --------------------------------------------------------------------------

    @property
    def calls(self) -> list[tuple[str, str]]:
        """``(method, path with query)`` of every request received, in order."""
        with self._lock:
            return [(r.method, r.path) for r in self._requests]

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in order, with headers and body."""
        with self._lock:
            return list(self._requests)

    def reset_calls(self) -> None:
        """Forget the requests received so far."""
        with self._lock:
            self._requests.clear()

    def statuses(self, owner: str, repo: str, sha: str) -> list[dict[str, Any]]:
        """Commit statuses on ``sha``, oldest first (the API lists newest first)."""
        with self._lock:
            the_repo = self._repo(owner, repo)
            return [self._render_status(the_repo, s) for s in the_repo.statuses if s.sha == sha]

    def comments(self, owner: str, repo: str, number: int) -> list[dict[str, Any]]:
        """Issue comments on ``number``, oldest first."""
        with self._lock:
            the_repo = self._repo(owner, repo)
            return [self._render_comment(the_repo, c) for c in self._comments_of(the_repo, number)]

    def requested_reviewers(self, owner: str, repo: str, number: int) -> dict[str, list[str]]:
        """Pending review requests: ``{"users": [login, ...], "teams": [slug, ...]}``."""
        with self._lock:
            _, pull = self._pull_of(self._repo(owner, repo), number)
            return {"users": list(pull.requested_users), "teams": list(pull.requested_teams)}

    def issues(self, owner: str, repo: str) -> list[dict[str, Any]]:
        """Issues that are not pull requests (e.g. created through the API), by number, as
        REST issue objects (with ``labels``, ``assignees``, ``state``, ``state_reason``)."""
        with self._lock:
            the_repo = self._repo(owner, repo)
            return [
                self._render_issue(the_repo, i)
                for _, i in sorted(the_repo.issues.items())
                if i.pull is None
            ]

    def issue(self, owner: str, repo: str, number: int) -> dict[str, Any]:
        """Issue (or pull request) ``number`` as ``GET /repos/{owner}/{repo}/issues/{number}``
        answers it."""
        with self._lock:
            the_repo = self._repo(owner, repo)
            return self._render_issue(the_repo, self._issue(the_repo, number))

    def events(self, owner: str, repo: str, number: int) -> list[dict[str, Any]]:
        """Issue events of ``number`` (labels, assignees, review requests, closing and
        reopening), oldest first."""
        with self._lock:
            the_repo = self._repo(owner, repo)
            return [self._render_event(the_repo, e) for e in self._events_of(the_repo, number)]

    def reviews(self, owner: str, repo: str, number: int) -> list[dict[str, Any]]:
        """Reviews of pull request ``number``, oldest first."""
        with self._lock:
            the_repo = self._repo(owner, repo)
            _, pull = self._pull_of(the_repo, number)
            return [self._render_review(the_repo, number, r) for r in pull.reviews]

    # --- state lookups -----------------------------------------------------------------------

    def _user(self, login: str, *, bot: bool = False) -> _User:
        user = self._users.get(login)
        if user is None:
            is_bot = bot or login.endswith("[bot]")
            user = self._users[login] = _User(login, next(self._ids), is_bot)
        elif bot:
            user.bot = True
        return user

    def _repo(self, owner: str, repo: str) -> _Repo:
        try:
            return self._repos[(owner, repo)]
        except KeyError:
            raise KeyError(f"no repository {owner}/{repo}: call add_repo/add_pull first") from None

    def _team(self, org: str, slug: str) -> _Team:
        try:
            return self._teams[(org, slug)]
        except KeyError:
            raise KeyError(f"no team {org}/{slug}: call add_team first") from None

    def _issue(self, repo: _Repo, number: int) -> _Issue:
        try:
            return repo.issues[number]
        except KeyError:
            raise KeyError(f"no issue or pull request {repo.full_name}#{number}") from None

    def _pull_of(self, repo: _Repo, number: int) -> tuple[_Issue, _Pull]:
        issue = self._issue(repo, number)
        if issue.pull is None:
            raise KeyError(f"{repo.full_name}#{number} is an issue, not a pull request")
        return issue, issue.pull

    def _comments_of(self, repo: _Repo, number: int) -> list[_Comment]:
        return [c for c in repo.comments.values() if c.number == number]

    def _comment(self, repo: _Repo, comment_id: int) -> _Comment:
        try:
            return repo.comments[comment_id]
        except KeyError:
            raise KeyError(f"no comment {comment_id} in {repo.full_name}") from None

    def _events_of(self, repo: _Repo, number: int) -> list[_Event]:
        """The issue events REST lists (not those only GraphQL's timeline has)."""
        return [
            e for e in repo.events if e.number == number and e.event not in _GRAPHQL_ONLY_EVENTS
        ]

    def _known_shas(self, repo: _Repo) -> set[str]:
        shas: set[str] = set(repo.pushed)
        for issue in repo.issues.values():
            if issue.pull is not None:
                pull = issue.pull
                shas |= {pull.base_sha, pull.head_sha, *(c.sha for c in pull.commits)}
                if pull.merge_commit_sha:
                    shas.add(pull.merge_commit_sha)
        return shas

    def _resolve_ref(self, repo: _Repo, ref: str) -> str:
        """A SHA for ``ref``: a SHA itself, or a branch that is a pull request's head/base."""
        for issue in repo.issues.values():
            if issue.pull is not None and ref in (issue.pull.head_ref, issue.pull.base_ref):
                return issue.pull.head_sha if ref == issue.pull.head_ref else issue.pull.base_sha
        return ref

    def _satisfy_review_request(self, repo: _Repo, pull: _Pull, login: str) -> None:
        if login in pull.requested_users:
            pull.requested_users.remove(login)
        for slug in list(pull.requested_teams):
            team = self._teams.get((repo.owner, slug))
            if team is not None and team.members.get(login) == "active":
                pull.requested_teams.remove(slug)

    def _association(self, repo: _Repo, login: str) -> str:
        if login == repo.owner:
            return "OWNER"
        teams = (t for (org, _), t in self._teams.items() if org == repo.owner)
        if any(t.members.get(login) == "active" for t in teams):
            return "MEMBER"
        return "CONTRIBUTOR"

    # --- issue changes -------------------------------------------------------------------------

    def _label_names(self, repo: _Repo, names: Iterable[str]) -> list[str]:
        """``names`` deduplicated, each spelt as the repository's label of that name (label
        names are case-insensitive); a name the repository lacks becomes a new label, as
        GitHub creates it for a writer."""
        known = {name.lower(): name for name in repo.label_ids}
        result: list[str] = []
        for name in names:
            canonical = known.setdefault(name.lower(), name)
            repo.label_ids.setdefault(canonical, next(self._ids))
            if canonical not in result:
                result.append(canonical)
        return result

    def _record_edit(
        self,
        edits: list[_Edit],
        author: str,
        created_at: str,
        old: str,
        new: str,
        editor: str,
        at: str,
    ) -> None:
        """Keep a revision from ``old`` to ``new`` text by ``editor`` (none when unchanged);
        the first edit also keeps the creation (by ``author``), as GitHub does."""
        if new == old:
            return
        self._user(editor)
        if not edits:
            edits.append(_Edit(next(self._ids), author, created_at, old))
        edits.append(_Edit(next(self._ids), editor, at, new))

    def _edit_comment_body(self, comment: _Comment, body: str, editor: str, at: str) -> None:
        self._record_edit(
            comment.edits, comment.login, comment.created_at, comment.body, body, editor, at
        )
        comment.body, comment.updated_at = body, at

    def _edit_issue_body(self, issue: _Issue, body: str | None, editor: str, at: str) -> None:
        old, new = issue.body or "", body or ""
        self._record_edit(issue.edits, issue.author, issue.created_at, old, new, editor, at)
        issue.body = body

    def _delete_comment(
        self, repo: _Repo, comment: _Comment, actor: str, at: Timestamp | None = None
    ) -> None:
        del repo.comments[comment.id]
        self._add_event(
            repo, comment.number, "comment_deleted", actor, _iso(at), deleted_author=comment.login
        )

    def _add_event(
        self, repo: _Repo, number: int, name: str, actor: str, at: str | None = None, **fields: Any
    ) -> None:
        self._user(actor)
        repo.events.append(_Event(next(self._ids), number, name, actor, at or _iso(), **fields))

    def _set_labels(self, repo: _Repo, issue: _Issue, names: list[str], actor: str) -> None:
        """Relabel ``issue``, recording a ``labeled``/``unlabeled`` event per change."""
        for name in issue.labels:
            if name not in names:
                self._add_event(repo, issue.number, "unlabeled", actor, label=name)
        for name in names:
            if name not in issue.labels:
                self._add_event(repo, issue.number, "labeled", actor, label=name)
        issue.labels = names

    def _set_assignees(self, repo: _Repo, issue: _Issue, logins: list[str], actor: str) -> None:
        """Reassign ``issue``, recording an ``assigned``/``unassigned`` event per change."""
        for login in issue.assignees:
            if login not in logins:
                self._add_event(repo, issue.number, "unassigned", actor, assignee=login)
        for login in logins:
            self._user(login)
            if login not in issue.assignees:
                self._add_event(repo, issue.number, "assigned", actor, assignee=login)
        issue.assignees = logins

    def _set_issue_state(
        self, repo: _Repo, issue: _Issue, state: str, actor: str, reason: str | None = None
    ) -> None:
        """Close or reopen ``issue`` as GitHub does and record the ``closed``/``reopened``
        event; nothing changes when it is in ``state`` already.

        Closing sets ``closed_at``, ``closed_by`` and ``state_reason`` (``reason``, by default
        ``completed``); reopening clears them and sets ``state_reason`` to ``reopened``. A pull
        request's ``state_reason`` stays null, as GitHub's does."""
        if state == issue.state:
            return
        now = _iso()
        if state == "closed":
            issue.closed_at, issue.closed_by = now, actor
            reason = reason if reason in ("completed", "not_planned", "duplicate") else "completed"
        else:
            issue.closed_at = issue.closed_by = None
            reason = "reopened"
        issue.state, issue.updated_at = state, now
        issue.state_reason = reason if issue.pull is None else None
        event = "closed" if state == "closed" else "reopened"
        self._add_event(repo, issue.number, event, actor, now, state_reason=issue.state_reason)

    # --- rendering (templates from real samples) ----------------------------------------------

    def _api(self, repo: _Repo) -> str:
        return f"{self.url}/repos/{repo.full_name}"

    def _web(self, repo: _Repo) -> str:
        return f"{self.server_url}/{repo.full_name}"

    def _render_user(self, login: str) -> dict[str, Any]:
        user = self._user(login)
        t = self._t.get("user")
        path = quote(login)
        old_api, api = t["url"], f"{self.url}/users/{path}"
        for key, value in t.items():
            if key.endswith("url") and isinstance(value, str) and value.startswith(old_api):
                t[key] = api + value[len(old_api) :]
        app = login.removesuffix("[bot]")
        kind = "Bot" if user.bot else "Organization" if user.organization else "User"
        t.update(
            login=login,
            id=user.id,
            node_id=_node_id(kind, user.id),
            avatar_url=f"https://avatars.githubusercontent.com/u/{user.id}?v=4",
            html_url=f"{self.server_url}/{'apps/' + app if user.bot else path}",
            type=kind,
            site_admin=user.site_admin,
        )
        return t

    def _repo_fields(self, template: dict[str, Any], repo: _Repo) -> dict[str, Any]:
        """``template`` (a repository object of any size) with ``repo``'s identity."""
        old_api, old_web = template["url"], template["html_url"]
        api, web = self._api(repo), self._web(repo)
        for key, value in template.items():
            if key.endswith("url") and isinstance(value, str):
                template[key] = value.replace(old_api, api).replace(old_web, web)
        host = urlsplit(self.server_url).netloc
        values: dict[str, Any] = {
            "id": repo.id,
            "node_id": _node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": self._render_user(repo.owner),
            "organization": self._render_user(repo.owner),
            "description": f"Feature flags of {repo.owner}",
            "fork": False,
            "default_branch": repo.default_branch,
            "visibility": "private" if repo.private else "public",
            "created_at": repo.created_at,
            "updated_at": repo.created_at,
            "pushed_at": repo.created_at,
            "git_url": f"git://{host}/{repo.full_name}.git",
            "ssh_url": f"git@{host}:{repo.full_name}.git",
            "clone_url": f"{web}.git",
            "svn_url": web,
            "homepage": None,
            "topics": [],
            "open_issues": sum(i.state == "open" for i in repo.issues.values()),
            "open_issues_count": sum(i.state == "open" for i in repo.issues.values()),
        }
        template.update({k: v for k, v in values.items() if k in template})
        return template

    def _render_repo(self, repo: _Repo) -> dict[str, Any]:
        return self._repo_fields(self._t.get("repo"), repo)

    def _render_label(self, repo: _Repo, name: str) -> dict[str, Any]:
        label_id = repo.label_ids.setdefault(name, next(self._ids))
        t = self._t.get("label")
        t.update(
            id=label_id,
            node_id=_node_id("Label", label_id),
            url=f"{self._api(repo)}/labels/{quote(name)}",
            name=name,
            color=_label_color(name),
            default=False,
            description=None,
        )
        return t

    def _render_team(self, team: _Team) -> dict[str, Any]:
        t = self._t.get("team")
        org_id = self._user(team.org).id
        url = f"{self.url}/organizations/{org_id}/team/{team.id}"
        t.update(
            name=team.name,
            id=team.id,
            slug=team.slug,
            description="",
            privacy="closed",
            url=url,
            members_url=f"{url}/members{{/member}}",
            repositories_url=f"{url}/repos",
            permission="pull",
        )
        return t

    def _render_pull(self, repo: _Repo, issue: _Issue, *, simple: bool = False) -> dict[str, Any]:
        pull = issue.pull
        assert pull is not None
        t = self._t.get("pull")
        api, web, n = self._api(repo), self._web(repo), issue.number
        urls = {
            "self": f"{api}/pulls/{n}",
            "html": f"{web}/pull/{n}",
            "issue": f"{api}/issues/{n}",
            "comments": f"{api}/issues/{n}/comments",
            "review_comments": f"{api}/pulls/{n}/comments",
            "review_comment": f"{api}/pulls/comments{{/number}}",
            "commits": f"{api}/pulls/{n}/commits",
            "statuses": f"{api}/statuses/{pull.head_sha}",
        }
        files = pull.files[:_PR_FILES_CAP]
        t.update(
            url=urls["self"],
            id=issue.id,
            node_id=_node_id("PullRequest", issue.id),
            html_url=urls["html"],
            diff_url=f"{web}/pull/{n}.diff",
            patch_url=f"{web}/pull/{n}.patch",
            issue_url=urls["issue"],
            commits_url=urls["commits"],
            review_comments_url=urls["review_comments"],
            review_comment_url=urls["review_comment"],
            comments_url=urls["comments"],
            statuses_url=urls["statuses"],
            _links={key: {"href": urls[key]} for key in t["_links"]},
            number=n,
            state=issue.state,
            locked=False,
            title=issue.title,
            user=self._render_user(issue.author),
            body=issue.body or None,  # GitHub sends null, never "", for an empty body
            labels=[self._render_label(repo, name) for name in issue.labels],
            milestone=None,
            active_lock_reason=None,
            created_at=issue.created_at,
            updated_at=issue.updated_at,
            closed_at=issue.closed_at,
            merged_at=pull.merged_at,
            merge_commit_sha=pull.merge_commit_sha,
            **self._render_assignees(issue),
            requested_reviewers=[self._render_user(u) for u in pull.requested_users],
            requested_teams=[
                self._render_team(self._teams[(repo.owner, s)]) for s in pull.requested_teams
            ],
            head=self._render_branch(repo, pull.head_ref, pull.head_sha),
            base=self._render_branch(repo, pull.base_ref, pull.base_sha),
            author_association=self._association(repo, issue.author),
            auto_merge=None,
            draft=pull.draft,
            merged=pull.merged,
            mergeable=None if issue.state == "closed" else True,
            rebaseable=None if issue.state == "closed" else True,
            mergeable_state="unknown" if issue.state == "closed" else "clean",
            merged_by=self._render_user(pull.merged_by) if pull.merged_by else None,
            comments=len(self._comments_of(repo, n)),
            review_comments=0,
            maintainer_can_modify=False,
            commits=len(pull.commits) or 1,
            additions=sum(f.additions for f in files),
            deletions=sum(f.deletions for f in files),
            changed_files=len(files),
        )
        if simple:
            return {k: v for k, v in t.items() if k not in self._t.pull_simple_absent}
        return t

    def _render_branch(self, repo: _Repo, ref: str, sha: str) -> dict[str, Any]:
        return {
            "label": f"{repo.owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self._render_user(repo.owner),
            "repo": self._repo_fields(self._t.get("pull_repo"), repo),
        }

    def _render_review(self, repo: _Repo, number: int, review: _Review) -> dict[str, Any]:
        t = self._t.get("review")
        html = f"{self._web(repo)}/pull/{number}#pullrequestreview-{review.id}"
        pull_url = f"{self._api(repo)}/pulls/{number}"
        t.update(
            id=review.id,
            node_id=_node_id("PullRequestReview", review.id),
            user=self._render_user(review.login),
            body=review.body,
            state=review.state,
            html_url=html,
            pull_request_url=pull_url,
            author_association=self._association(repo, review.login),
            _links={"html": {"href": html}, "pull_request": {"href": pull_url}},
            submitted_at=review.submitted_at,
            commit_id=review.commit_id,
        )
        return t

    def _git_identity(self, login: str | None, date: str) -> dict[str, str]:
        if login is None:
            return {"name": "Unknown Author", "email": "unknown@example.com", "date": date}
        return {"name": login, "email": f"{login}@users.noreply.github.com", "date": date}

    def _parents(
        self, repo: _Repo, pull: _Pull, commit: _Commit, git: bool
    ) -> list[dict[str, str]]:
        index = next(i for i, c in enumerate(pull.commits) if c is commit)
        parent = pull.commits[index - 1].sha if index else pull.base_sha
        api = f"{self._api(repo)}/{'git/' if git else ''}commits/{parent}"
        return [{"sha": parent, "url": api, "html_url": f"{self._web(repo)}/commit/{parent}"}]

    def _render_commit(self, repo: _Repo, pull: _Pull, commit: _Commit) -> dict[str, Any]:
        t = self._t.get("commit")
        api, sha = self._api(repo), commit.sha
        tree = _fake_sha("tree", sha)
        t["commit"].update(
            author=self._git_identity(commit.author, commit.date),
            committer=self._git_identity(commit.committer, commit.date),
            message=commit.message,
            tree={"sha": tree, "url": f"{api}/git/trees/{tree}"},
            url=f"{api}/git/commits/{sha}",
            comment_count=0,
        )
        t.update(
            sha=sha,
            url=f"{api}/commits/{sha}",
            html_url=f"{self._web(repo)}/commit/{sha}",
            comments_url=f"{api}/commits/{sha}/comments",
            author=self._render_user(commit.author) if commit.author else None,
            committer=self._render_user(commit.committer) if commit.committer else None,
            parents=self._parents(repo, pull, commit, git=False),
        )
        return t

    def _render_file(self, repo: _Repo, pull: _Pull, file: _File) -> dict[str, Any]:
        t = self._t.get("file")
        web, path = self._web(repo), quote(file.filename)
        t.update(
            sha=_fake_sha("blob", pull.head_sha, file.filename),
            filename=file.filename,
            status=file.status,
            additions=file.additions,
            deletions=file.deletions,
            changes=file.additions + file.deletions,
            blob_url=f"{web}/blob/{pull.head_sha}/{path}",
            raw_url=f"{web}/raw/{pull.head_sha}/{path}",
            contents_url=f"{self._api(repo)}/contents/{path}?ref={pull.head_sha}",
            patch=f"@@ -1,{file.deletions} +1,{file.additions} @@",
        )
        if file.previous_filename is not None:
            t["previous_filename"] = file.previous_filename
        return t

    def _render_status(
        self, repo: _Repo, status: _Status, *, combined: bool = False
    ) -> dict[str, Any]:
        t = self._t.get("combined_entry" if combined else "status")
        creator = self._render_user(status.creator)
        t.update(
            url=f"{self._api(repo)}/statuses/{status.sha}",
            avatar_url=creator["avatar_url"],
            id=status.id,
            node_id=_node_id("StatusContext", status.id),
            state=status.state,
            description=status.description,
            target_url=status.target_url,
            context=status.context,
            created_at=status.created_at,
            updated_at=status.created_at,
        )
        if "creator" in t:
            t["creator"] = creator
        return t

    def _render_comment(self, repo: _Repo, comment: _Comment) -> dict[str, Any]:
        t = self._t.get("comment")
        api, issue = self._api(repo), self._issue(repo, comment.number)
        kind = "issues" if issue.pull is None else "pull"
        url = f"{api}/issues/comments/{comment.id}"
        t.update(
            url=url,
            html_url=f"{self._web(repo)}/{kind}/{comment.number}#issuecomment-{comment.id}",
            issue_url=f"{api}/issues/{comment.number}",
            id=comment.id,
            node_id=_node_id("IssueComment", comment.id),
            user=self._render_user(comment.login),
            created_at=comment.created_at,
            updated_at=comment.updated_at,
            author_association=self._association(repo, comment.login),
            body=comment.body,
            performed_via_github_app=None,
        )
        t["reactions"].update({key: 0 for key in t["reactions"] if key != "url"})
        t["reactions"]["url"] = f"{url}/reactions"
        return t

    def _render_event(self, repo: _Repo, event: _Event) -> dict[str, Any]:
        is_request = event.event in ("review_requested", "review_request_removed")
        t = self._t.get("review_request_event" if is_request else "issue_event")
        t.pop("label", None)
        t.update(
            id=event.id,
            node_id=_node_id(_event_node_kind(event.event), event.id),
            url=f"{self._api(repo)}/issues/events/{event.id}",
            actor=self._render_user(event.actor),
            event=event.event,
            commit_id=None,
            commit_url=None,
            created_at=event.created_at,
            performed_via_github_app=None,
        )
        # The keys of each kind come before performed_via_github_app, as GitHub orders them.
        del t["performed_via_github_app"]
        if event.label is not None:
            t["label"] = {"name": event.label, "color": _label_color(event.label)}
        elif event.event in ("assigned", "unassigned"):
            t["assignee"] = self._render_user(event.assignee or "")
            t["assigner"] = self._render_user(event.actor)
        elif event.event in ("closed", "reopened"):
            t["state_reason"] = event.state_reason
        elif is_request:
            t["review_requester"] = self._render_user(event.actor)
            if event.team is not None:
                # No recording of a team request event: GitHub documents `requested_team`
                # (a team object) in place of `requested_reviewer`.
                del t["requested_reviewer"]
                t["requested_team"] = self._render_team(self._teams[(repo.owner, event.team)])
            else:
                t["requested_reviewer"] = self._render_user(event.reviewer or "")
        t["performed_via_github_app"] = None
        return t

    def _render_assignees(self, issue: _Issue) -> dict[str, Any]:
        """``assignee`` (the first assignee, or null) and ``assignees``."""
        users = [self._render_user(login) for login in issue.assignees]
        return {"assignee": users[0] if users else None, "assignees": users}

    def _render_issue(self, repo: _Repo, issue: _Issue, *, listed: bool = False) -> dict[str, Any]:
        """The issue object; ``listed``: as an item of ``GET /issues`` (no ``closed_by``)."""
        t = self._t.get("issue")
        api, n = self._api(repo), issue.number
        kind = "issues" if issue.pull is None else "pull"
        t.update(
            url=f"{api}/issues/{n}",
            repository_url=api,
            labels_url=f"{api}/issues/{n}/labels{{/name}}",
            comments_url=f"{api}/issues/{n}/comments",
            events_url=f"{api}/issues/{n}/events",
            html_url=f"{self._web(repo)}/{kind}/{n}",
            id=issue.id,
            node_id=_node_id("Issue" if issue.pull is None else "PullRequest", issue.id),
            number=n,
            title=issue.title,
            user=self._render_user(issue.author),
            labels=[self._render_label(repo, name) for name in issue.labels],
            state=issue.state,
            locked=False,
            **self._render_assignees(issue),
            milestone=None,
            comments=len(self._comments_of(repo, n)),
            created_at=issue.created_at,
            updated_at=issue.updated_at,
            closed_at=issue.closed_at,
            closed_by=self._render_user(issue.closed_by) if issue.closed_by else None,
            author_association=self._association(repo, issue.author),
            active_lock_reason=None,
            body=issue.body or None,  # GitHub sends null, never "", for an empty body
            timeline_url=f"{api}/issues/{n}/timeline",
            performed_via_github_app=None,
            state_reason=issue.state_reason,
        )
        t["reactions"].update({key: 0 for key in t["reactions"] if key != "url"})
        t["reactions"]["url"] = f"{api}/issues/{n}/reactions"
        if listed:  # only the single-issue endpoints have closed_by
            del t["closed_by"]
        if issue.pull is None:
            del t["draft"], t["pull_request"]
        else:
            t["draft"] = issue.pull.draft
            t["pull_request"] = {
                "url": f"{api}/pulls/{n}",
                "html_url": f"{self._web(repo)}/pull/{n}",
                "diff_url": f"{self._web(repo)}/pull/{n}.diff",
                "patch_url": f"{self._web(repo)}/pull/{n}.patch",
                "merged_at": issue.pull.merged_at,
            }
        return t

    def _render_check_run(self, repo: _Repo, run: _CheckRun) -> dict[str, Any]:
        t = self._t.get("check_run")
        url = f"{self._api(repo)}/check-runs/{run.id}"
        html = f"{self._web(repo)}/runs/{run.id}"
        t["output"].update(
            title=None, summary=None, text=None, annotations_url=f"{url}/annotations"
        )
        app_owner = t["app"]["owner"]["login"]
        self._user(app_owner).organization = True
        t["app"].update(
            owner=self._render_user(app_owner),
            slug=run.app_slug,
            html_url=f"{self.server_url}/apps/{run.app_slug}",
        )
        t.update(
            id=run.id,
            node_id=_node_id("CheckRun", run.id),
            head_sha=run.head_sha,
            external_id="",
            url=url,
            html_url=html,
            details_url=html,
            status=run.status,
            conclusion=run.conclusion,
            started_at=run.started_at,
            completed_at=run.completed_at,
            name=run.name,
            check_suite={"id": _check_suite_id(run.head_sha)},
            pull_requests=[],
        )
        return t

    def _render_timeline(self, repo: _Repo, number: int) -> list[dict[str, Any]]:
        """Committed, labeled/unlabeled, review request, commented and reviewed items, in time
        order (``committed`` items have no ``created_at``: their author date orders them)."""
        issue = self._issue(repo, number)
        items: list[tuple[str, int, dict[str, Any]]] = []
        if issue.pull is not None:
            for seq, commit in enumerate(issue.pull.commits):
                items.append((commit.date, seq, self._render_committed(repo, issue.pull, commit)))
            for review in issue.pull.reviews:
                reviewed = self._render_review(repo, number, review)
                reviewed.update(state=review.state.lower(), event="reviewed")
                items.append((review.submitted_at, review.id, reviewed))
        for event in self._events_of(repo, number):
            items.append((event.created_at, event.id, self._render_event(repo, event)))
        for comment in self._comments_of(repo, number):
            commented = self._render_comment(repo, comment)
            commented.update(event="commented", actor=commented["user"])
            items.append((comment.created_at, comment.id, commented))
        return [item for _, _, item in sorted(items, key=lambda i: (i[0], i[1]))]

    def _render_committed(self, repo: _Repo, pull: _Pull, commit: _Commit) -> dict[str, Any]:
        t = self._t.get("timeline_committed")
        api, tree = self._api(repo), _fake_sha("tree", commit.sha)
        t.update(
            sha=commit.sha,
            node_id=base64.b64encode(f"06:Commit{repo.id}:{commit.sha}".encode()).decode(),
            url=f"{api}/git/commits/{commit.sha}",
            html_url=f"{self._web(repo)}/commit/{commit.sha}",
            author=self._git_identity(commit.author, commit.date),
            committer=self._git_identity(commit.committer, commit.date),
            tree={"sha": tree, "url": f"{api}/git/trees/{tree}"},
            message=commit.message,
            parents=self._parents(repo, pull, commit, git=True),
            event="committed",
        )
        return t

    def _render_combined(self, repo: _Repo, sha: str) -> dict[str, Any]:
        latest: dict[str, _Status] = {}
        for status in repo.statuses:
            if status.sha == sha:
                latest[status.context] = status
        entries = sorted(latest.values(), key=lambda s: s.id, reverse=True)
        t = self._t.get("combined_status")
        t.update(
            state=_combined_state([s.state for s in entries]),
            statuses=[self._render_status(repo, s, combined=True) for s in entries],
            sha=sha,
            total_count=len(entries),
            repository=self._repo_fields(self._t.get("combined_repo"), repo),
            commit_url=f"{self._api(repo)}/commits/{sha}",
            url=f"{self._api(repo)}/commits/{sha}/status",
        )
        return t

    # --- HTTP --------------------------------------------------------------------------------

    def _respond(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> _Reply | None:
        """Answer one request (``None``: drop the connection)."""
        with self._lock:
            self._requests.append(RecordedRequest(method, target, headers, raw))
            self._request_count += 1
            split = urlsplit(target)
            fault = self._take_fault(method, split.path)
            if fault is not None:
                if fault.status is None:
                    return None
                reply = _Reply(fault.status, fault.body, dict(fault.headers))
            elif _APP_ROUTE.match(split.path):
                reply = self._app_endpoint(method, split.path, headers)
            elif not self._authorized(headers):
                reply = _Reply(401, github_error(401, BAD_CREDENTIALS))
            else:
                reply = self._dispatch(method, split.path, split.query, raw)
            reply.headers = {**self._standard_headers(), **reply.headers}
            if split.path == "/graphql":
                _graphql_error_body(reply)
            return reply

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method in ("*", method) and fault.pattern.search(path):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _app_endpoint(self, method: str, path: str, headers: dict[str, str]) -> _Reply:
        """The two GitHub App calls, authenticated with the app's JWT (RS256)."""
        import jwt  # PyJWT, installed with PyGithub

        scheme, _, credential = headers.get("authorization", "").partition(" ")
        if self._app is None or scheme.lower() != "bearer":
            return _Reply(401, github_error(401, "A JSON web token could not be decoded"))
        app_id, public_key = self._app
        try:
            claims = jwt.decode(credential.strip(), public_key, algorithms=["RS256"])
        except jwt.PyJWTError:
            return _Reply(401, github_error(401, "A JSON web token could not be decoded"))
        if str(claims.get("iss")) != app_id:
            return _Reply(401, github_error(401, "'Issuer' claim ('iss') must be an Integer"))
        if method == "GET" and path.endswith("/installation"):
            # Shape of GitHub's documented "Get a repository installation" response (subset).
            return _Reply(
                200,
                {
                    "id": self._installation_id,
                    "app_id": int(app_id),
                    "app_slug": "flaggate",
                    "target_type": "Organization",
                    "account": self._render_user(path.split("/")[2]),
                    "permissions": {"members": "read", "pull_requests": "write"},
                    "events": ["pull_request", "pull_request_review"],
                    "repository_selection": "selected",
                    "access_tokens_url": (
                        f"{self.url}/app/installations/{self._installation_id}/access_tokens"
                    ),
                    "created_at": _iso(),
                    "updated_at": _iso(),
                },
            )
        if method == "POST" and path == f"/app/installations/{self._installation_id}/access_tokens":
            return _Reply(
                201,
                {
                    "token": self.token,
                    "expires_at": datetime.fromtimestamp(time.time() + 3600, UTC).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    ),
                    "permissions": {"members": "read", "pull_requests": "write"},
                    "repository_selection": "selected",
                },
            )
        return _Reply(404, github_error(404, NOT_FOUND))

    def _authorized(self, headers: dict[str, str]) -> bool:
        scheme, _, credential = headers.get("authorization", "").partition(" ")
        return scheme.lower() in ("token", "bearer") and credential.strip() == self.token

    def _dispatch(self, method: str, path: str, query: str, raw: bytes) -> _Reply:
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            return _Reply(400, github_error(400, "Problems parsing JSON"))
        request = _Request(method, path, dict(parse_qsl(query)), body)
        for route_method, regex, name in ROUTES:
            match = regex.match(path)
            if match and route_method == method:
                params = {k: unquote(v) for k, v in match.groupdict().items()}
                try:
                    reply: _Reply = getattr(self, name)(request, params)
                except _HttpError as error:
                    return error.reply
                except Exception:  # a bug in the fake: answer 500 and keep it for the test
                    self.errors.append(traceback.format_exc())
                    return _Reply(500, github_error(500, SERVER_ERROR))
                return reply
        return _Reply(404, github_error(404, NOT_FOUND))

    def _standard_headers(self) -> dict[str, str]:
        used = self._request_count
        return {
            "Content-Type": "application/json; charset=utf-8",
            "X-RateLimit-Limit": str(_RATE_LIMIT),
            "X-RateLimit-Remaining": str(max(_RATE_LIMIT - used, 0)),
            "X-RateLimit-Reset": str(self._rate_reset),
            "X-RateLimit-Used": str(used),
            "X-RateLimit-Resource": "core",
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Api-Version-Selected": "2022-11-28",
            "X-GitHub-Request-Id": f"FAKE:{used:04X}:{id(self) & 0xFFFFFF:06X}:{used:07X}",
        }

    def _page(self, request: _Request, items: Sequence[JSON]) -> tuple[list[JSON], dict[str, str]]:
        """The requested page of ``items`` and the ``Link`` header GitHub would send."""
        per_page = _int_param(request.query.get("per_page"), 30)
        per_page = 30 if per_page < 1 else min(per_page, 100)
        page = max(_int_param(request.query.get("page"), 1), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = list(items[(page - 1) * per_page : page * per_page])

        def link(number: int, rel: str) -> str:
            query = {**request.query, "page": str(number)}
            return f'<{self.url}{request.path}?{urlencode(query)}>; rel="{rel}"'

        links = []
        if page > 1:
            links.append(link(min(page - 1, last), "prev"))
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links.append(link(1, "first"))
        return chunk, ({"Link": ", ".join(links)} if links else {})

    def _list(self, request: _Request, items: Sequence[JSON]) -> _Reply:
        chunk, headers = self._page(request, items)
        return _Reply(200, chunk, headers)

    # --- endpoints ---------------------------------------------------------------------------

    def _path_repo(self, params: dict[str, str]) -> _Repo:
        repo = self._repos.get((params["owner"], params["repo"]))
        if repo is None:
            _not_found()
        return repo

    def _path_issue(self, params: dict[str, str]) -> tuple[_Repo, _Issue]:
        repo = self._path_repo(params)
        issue = repo.issues.get(_int_param(params["number"], -1))
        if issue is None:
            _not_found()
        return repo, issue

    def _path_pull(self, params: dict[str, str]) -> tuple[_Repo, _Issue, _Pull]:
        repo, issue = self._path_issue(params)
        if issue.pull is None:
            _not_found()
        return repo, issue, issue.pull

    @_route("GET", _REPO)
    def _get_repo(self, request: _Request, params: dict[str, str]) -> _Reply:
        return _Reply(200, self._render_repo(self._path_repo(params)))

    @_route("GET", _REPO + "/pulls")
    def _list_pulls(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo = self._path_repo(params)
        state = request.query.get("state", "open")
        head, base = request.query.get("head"), request.query.get("base")
        pulls = [
            issue
            for issue in repo.issues.values()
            if issue.pull is not None
            and state in ("all", issue.state)
            and (base is None or issue.pull.base_ref == base)
            and (head is None or f"{repo.owner}:{issue.pull.head_ref}" == head)
        ]
        newest_first = request.query.get("direction", "desc") == "desc"
        pulls.sort(key=lambda i: (i.created_at, i.number), reverse=newest_first)
        return self._list(request, [self._render_pull(repo, i, simple=True) for i in pulls])

    @_route("GET", _REPO + "/pulls/{number}")
    def _get_pull(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo, issue, _ = self._path_pull(params)
        return _Reply(200, self._render_pull(repo, issue))

    @_route("GET", _REPO + "/pulls/{number}/reviews")
    def _list_reviews(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo, issue, pull = self._path_pull(params)
        reviews = [self._render_review(repo, issue.number, r) for r in pull.reviews]
        return self._list(request, reviews)

    @_route("GET", _REPO + "/pulls/{number}/commits")
    def _list_commits(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo, _, pull = self._path_pull(params)
        commits = [self._render_commit(repo, pull, c) for c in pull.commits[:_PR_COMMITS_CAP]]
        return self._list(request, commits)

    @_route("GET", _REPO + "/pulls/{number}/files")
    def _list_files(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo, _, pull = self._path_pull(params)
        files = [self._render_file(repo, pull, f) for f in pull.files[:_PR_FILES_CAP]]
        return self._list(request, files)

    @_route("GET", _REPO + "/pulls/{number}/requested_reviewers")
    def _get_review_requests(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo, _, pull = self._path_pull(params)
        return _Reply(
            200,
            {
                "users": [self._render_user(u) for u in pull.requested_users],
                "teams": [
                    self._render_team(self._teams[(repo.owner, s)]) for s in pull.requested_teams
                ],
            },
        )

    def _reviewers_in(self, request: _Request) -> tuple[list[str], list[str]]:
        body = request.json_object()
        users, teams = body.get("reviewers", []), body.get("team_reviewers", [])
        lists = isinstance(users, list) and isinstance(teams, list)
        if not lists or not all(isinstance(x, str) for x in [*users, *teams]) or not users + teams:
            raise _HttpError(422, "Invalid request.\n\nNo reviewers or team_reviewers given.")
        return list(users), list(teams)

    @_route("POST", _REPO + "/pulls/{number}/requested_reviewers")
    def _request_reviewers(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo, issue, pull = self._path_pull(params)
        users, teams = self._reviewers_in(request)
        if issue.author in users:
            raise _HttpError(422, AUTHOR_REVIEW)
        if any((repo.owner, slug) not in self._teams for slug in teams):
            raise _HttpError(
                422,
                "Reviews may only be requested from collaborators. One or more of the teams you "
                f"specified is not a collaborator of the {repo.full_name} repository.",
            )
        now = _iso()
        for login in users:
            self._user(login)
            if login not in pull.requested_users:
                pull.requested_users.append(login)
                self._add_request_event(repo, issue.number, now, reviewer=login)
        for slug in teams:
            if slug not in pull.requested_teams:
                pull.requested_teams.append(slug)
                self._add_request_event(repo, issue.number, now, team=slug)
        return _Reply(201, self._render_pull(repo, issue, simple=True))

    @_route("DELETE", _REPO + "/pulls/{number}/requested_reviewers")
    def _remove_review_requests(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo, issue, pull = self._path_pull(params)
        users, teams = self._reviewers_in(request)
        now = _iso()
        for login in users:
            if login in pull.requested_users:
                pull.requested_users.remove(login)
                self._add_request_event(repo, issue.number, now, reviewer=login, removed=True)
        for slug in teams:
            if slug in pull.requested_teams:
                pull.requested_teams.remove(slug)
                self._add_request_event(repo, issue.number, now, team=slug, removed=True)
        return _Reply(200, self._render_pull(repo, issue, simple=True))

    def _add_request_event(
        self,
        repo: _Repo,
        number: int,
        at: str,
        *,
        reviewer: str | None = None,
        team: str | None = None,
        removed: bool = False,
    ) -> None:
        name = "review_request_removed" if removed else "review_requested"
        event = _Event(next(self._ids), number, name, self.actor, at, reviewer=reviewer, team=team)
        self._user(self.actor)
        repo.events.append(event)

    @_route("GET", "/orgs/{org}/teams/{slug}/memberships/{user}")
    def _get_membership(self, request: _Request, params: dict[str, str]) -> _Reply:
        team = self._path_team(params)
        login = params["user"]
        state = team.members.get(login)
        if state is None:
            _not_found()
        t = self._t.get("membership")
        t.update(
            url=f"{self.url}/organizations/{self._user(team.org).id}/team/{team.id}"
            f"/memberships/{quote(login)}",
            role=team.roles.get(login, "member"),
            state=state,
        )
        return _Reply(200, t)

    @_route("GET", "/orgs/{org}/teams/{slug}/members")
    def _list_members(self, request: _Request, params: dict[str, str]) -> _Reply:
        team = self._path_team(params)
        role = request.query.get("role", "all")
        members = [
            self._render_user(login)
            for login, state in team.members.items()
            if state == "active" and role in ("all", team.roles.get(login, "member"))
        ]
        return self._list(request, members)

    def _path_team(self, params: dict[str, str]) -> _Team:
        team = self._teams.get((params["org"], params["slug"]))
        if team is None:
            _not_found()
        if team.forbidden:
            raise _HttpError(403, NOT_ACCESSIBLE)
        return team

    @_route("POST", _REPO + "/statuses/{sha}")
    def _create_status(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo = self._path_repo(params)
        body = request.json_object()
        sha = params["sha"]
        state, description = body.get("state"), body.get("description")
        if state not in _STATUS_STATES:
            _validation_failed("Status", "state", "custom", "state is not included in the list")
        if isinstance(description, str) and len(description) > 140:
            _validation_failed(
                "Status",
                "description",
                "custom",
                "description is too long (maximum is 140 characters)",
            )
        if sha not in self._known_shas(repo):
            raise _HttpError(422, f"No commit found for SHA: {sha}")
        self._user(self.actor)
        status = _Status(
            id=next(self._ids),
            sha=sha,
            state=state,
            context=body.get("context") or "default",
            description=description,
            target_url=body.get("target_url"),
            creator=self.actor,
            created_at=_iso(),
        )
        repo.statuses.append(status)
        location = {"Location": f"{self._api(repo)}/statuses/{sha}"}
        return _Reply(201, self._render_status(repo, status), location)

    @_route("GET", _REPO + "/commits/{ref}/statuses")
    def _list_statuses(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo = self._path_repo(params)
        sha = self._resolve_ref(repo, params["ref"])
        statuses = [s for s in reversed(repo.statuses) if s.sha == sha]
        return self._list(request, [self._render_status(repo, s) for s in statuses])

    @_route("GET", _REPO + "/commits/{ref}/status")
    def _combined_status(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo = self._path_repo(params)
        sha = self._resolve_ref(repo, params["ref"])
        return _Reply(200, self._render_combined(repo, sha))

    @_route("GET", _REPO + "/commits/{ref}/check-runs")
    def _list_check_runs(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo = self._path_repo(params)
        sha = self._resolve_ref(repo, params["ref"])
        runs = [r for r in repo.check_runs if r.head_sha == sha]
        if request.query.get("filter", "latest") == "latest":
            latest = {r.name: r for r in runs}
            runs = [r for r in runs if latest[r.name] is r]
        name, status = request.query.get("check_name"), request.query.get("status")
        runs = [r for r in runs if name in (None, r.name) and status in (None, r.status)]
        chunk, headers = self._page(request, list(reversed(runs)))
        return _Reply(
            200,
            {
                "total_count": len(runs),
                "check_runs": [self._render_check_run(repo, r) for r in chunk],
            },
            headers,
        )

    @_route("GET", _REPO + "/commits/{ref}/pulls")
    def _pulls_of_commit(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo = self._path_repo(params)
        sha = params["ref"]
        pulls = [
            issue
            for issue in repo.issues.values()
            if issue.pull is not None
            and sha
            in {
                issue.pull.head_sha,
                issue.pull.merge_commit_sha,
                *(c.sha for c in issue.pull.commits),
            }
        ]
        return self._list(request, [self._render_pull(repo, i, simple=True) for i in pulls])

    @_route("GET", _REPO + "/issues/{number}")
    def _get_issue(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo, issue = self._path_issue(params)
        return _Reply(200, self._render_issue(repo, issue))

    @_route("GET", _REPO + "/issues")
    def _list_issues(self, request: _Request, params: dict[str, str]) -> _Reply:
        """Issues and pull requests (GitHub lists both), filtered by ``state`` (default
        ``open``), ``labels`` (comma-separated; every one), ``assignee`` (a login, ``none``,
        ``*``), ``creator`` and ``since``; sorted by ``sort``/``direction`` (newest first)."""
        repo = self._path_repo(params)
        query = request.query
        state = query.get("state", "open")
        wanted = {name.strip().lower() for name in query.get("labels", "").split(",")}
        wanted.discard("")
        assignee, creator = query.get("assignee"), query.get("creator")
        since = _parse_time(query.get("since"))

        def selected(issue: _Issue) -> bool:
            return (
                state in ("all", issue.state)
                and wanted <= {name.lower() for name in issue.labels}
                and (
                    assignee is None
                    or (assignee == "none" and not issue.assignees)
                    or (assignee == "*" and bool(issue.assignees))
                    or assignee in issue.assignees
                )
                and creator in (None, issue.author)
                and (since is None or (_parse_time(issue.updated_at) or since) >= since)
            )

        issues = [issue for issue in repo.issues.values() if selected(issue)]
        sort = query.get("sort", "created")
        sort_keys: dict[str, Callable[[_Issue], tuple[Any, int]]] = {
            "created": lambda i: (i.created_at, i.number),
            "updated": lambda i: (i.updated_at, i.number),
            "comments": lambda i: (len(self._comments_of(repo, i.number)), i.number),
        }
        issues.sort(key=sort_keys.get(sort, sort_keys["created"]))
        if query.get("direction", "desc") != "asc":
            issues.reverse()
        chunk, headers = self._page(request, issues)
        return _Reply(200, [self._render_issue(repo, i, listed=True) for i in chunk], headers)

    def _labels_in(self, repo: _Repo, value: JSON) -> list[str]:
        """Label names of a request's ``labels``: names or ``{"name": ...}`` objects."""
        if value is None:
            return []
        if not isinstance(value, list):
            _validation_failed("Issue", "labels", "invalid")
        names = [item.get("name") if isinstance(item, dict) else item for item in value]
        strings = [name for name in names if isinstance(name, str) and name]
        if len(strings) != len(names):
            _validation_failed("Label", "name", "invalid")
        return self._label_names(repo, strings)

    def _assignees_in(self, body: dict[str, Any]) -> list[str] | None:
        """Logins of a request's ``assignees`` (or deprecated ``assignee``); ``None`` when it
        has neither."""
        if "assignees" in body:
            value = body["assignees"]
            if value is None:
                return []
            if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                _validation_failed("Issue", "assignees", "invalid")
            return list(dict.fromkeys(value))
        if "assignee" in body:
            login = body["assignee"]
            if login is not None and not isinstance(login, str):
                _validation_failed("Issue", "assignee", "invalid")
            return [login] if login else []
        return None

    @staticmethod
    def _title_in(body: dict[str, Any]) -> str:
        title = body.get("title")
        if isinstance(title, int) and not isinstance(title, bool):
            title = str(title)  # GitHub takes a number as the title too
        if not isinstance(title, str) or not title:
            _validation_failed("Issue", "title", "missing_field")
        return title

    @_route("POST", _REPO + "/issues")
    def _create_issue(self, request: _Request, params: dict[str, str]) -> _Reply:
        """Open an issue as :attr:`actor` (a writer: labels it names that do not exist are
        created, assignees are kept), recording its ``labeled`` and ``assigned`` events."""
        repo = self._path_repo(params)
        body = request.json_object()
        title = self._title_in(body)
        labels = self._labels_in(repo, body.get("labels"))
        assignees = self._assignees_in(body) or []
        now = _iso()
        self._user(self.actor)
        number = max(repo.issues, default=0) + 1
        issue = _Issue(
            number=number,
            id=next(self._ids),
            title=title,
            body=body.get("body"),
            author=self.actor,
            labels=[],
            state="open",
            created_at=now,
            updated_at=now,
        )
        repo.issues[number] = issue
        self._set_labels(repo, issue, labels, self.actor)
        self._set_assignees(repo, issue, assignees, self.actor)
        location = {"Location": f"{self._api(repo)}/issues/{number}"}
        return _Reply(201, self._render_issue(repo, issue), location)

    @_route("PATCH", _REPO + "/issues/{number}")
    def _update_issue(self, request: _Request, params: dict[str, str]) -> _Reply:
        """Edit ``title``, ``body``, ``labels``, ``assignees`` and ``state`` (``state_reason``
        counts only with a change of state) as :attr:`actor`; ``milestone`` is ignored."""
        repo, issue = self._path_issue(params)
        body = request.json_object()
        title = self._title_in(body) if "title" in body else None
        if "body" in body and not isinstance(body["body"], str | None):
            _validation_failed("Issue", "body", "invalid")
        state, reason = body.get("state"), body.get("state_reason")
        if state is not None and state not in _ISSUE_STATES:
            _validation_failed("Issue", "state", "invalid")
        if reason is not None and reason not in _STATE_REASONS:
            _validation_failed("Issue", "state_reason", "invalid")
        labels = self._labels_in(repo, body["labels"]) if "labels" in body else None
        assignees = self._assignees_in(body)
        actor = self.actor
        self._user(actor)
        before = dataclasses.replace(issue, labels=list(issue.labels), edits=list(issue.edits))
        if title is not None:
            issue.title = title
        if "body" in body:
            self._edit_issue_body(issue, body["body"], actor, _iso())
        if labels is not None:
            self._set_labels(repo, issue, labels, actor)
        if assignees is not None:
            self._set_assignees(repo, issue, assignees, actor)
        if state is not None:
            self._set_issue_state(repo, issue, state, actor, reason)
        if issue != before:
            issue.updated_at = _iso()
        return _Reply(200, self._render_issue(repo, issue))

    @_route("GET", _REPO + "/issues/{number}/comments")
    def _list_comments(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo, issue = self._path_issue(params)
        comments = self._comments_of(repo, issue.number)
        return self._list(request, [self._render_comment(repo, c) for c in comments])

    @_route("POST", _REPO + "/issues/{number}/comments")
    def _create_comment(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo, issue = self._path_issue(params)
        text = request.json_object().get("body")
        if not isinstance(text, str) or not text:
            _validation_failed("IssueComment", "body", "missing_field")
        self._user(self.actor)
        now = _iso()
        comment = _Comment(next(self._ids), issue.number, self.actor, text, now, now)
        repo.comments[comment.id] = comment
        rendered = self._render_comment(repo, comment)
        return _Reply(201, rendered, {"Location": rendered["url"]})

    @_route("PATCH", _REPO + "/issues/comments/{comment_id}")
    def _edit_comment(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo = self._path_repo(params)
        comment = repo.comments.get(_int_param(params["comment_id"], -1))
        if comment is None:
            _not_found()
        text = request.json_object().get("body")
        if not isinstance(text, str) or not text:
            _validation_failed("IssueComment", "body", "missing_field")
        self._edit_comment_body(comment, text, self.actor, _iso())
        return _Reply(200, self._render_comment(repo, comment))

    @_route("DELETE", _REPO + "/issues/comments/{comment_id}")
    def _delete_comment_route(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo = self._path_repo(params)
        comment = repo.comments.get(_int_param(params["comment_id"], -1))
        if comment is None:
            _not_found()
        self._delete_comment(repo, comment, self.actor)
        return _Reply(204)

    @_route("POST", "/graphql")
    def _graphql(self, request: _Request, params: dict[str, str]) -> _Reply:
        """GitHub's GraphQL API over this state (see :mod:`tests.fakes.github_graphql`)."""
        from tests.fakes import github_graphql  # graphql-core is needed for this route only

        return github_graphql.answer(self, request.body)

    @_route("GET", _REPO + "/issues/{number}/events")
    def _list_events(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo, issue = self._path_issue(params)
        events = self._events_of(repo, issue.number)
        return self._list(request, [self._render_event(repo, e) for e in events])

    @_route("GET", _REPO + "/issues/{number}/timeline")
    def _list_timeline(self, request: _Request, params: dict[str, str]) -> _Reply:
        repo, issue = self._path_issue(params)
        return self._list(request, self._render_timeline(repo, issue.number))


# --- helpers ---------------------------------------------------------------------------------


def _retarget(samples: Templates, api_url: str, server_url: str) -> Templates:
    """The templates with GitHub.com's API and web hosts replaced by the fake's."""

    def walk(value: JSON) -> JSON:
        if isinstance(value, str):
            value = value.replace("https://api.github.com", api_url)
            return value.replace("https://github.com", server_url)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    fields = {f.name: getattr(samples, f.name) for f in dataclasses.fields(samples)}
    return Templates(**{k: walk(v) if isinstance(v, dict) else v for k, v in fields.items()})


def _graphql_error_body(reply: _Reply) -> None:
    """An HTTP error of ``/graphql`` (bad credentials, faults) points at GraphQL's docs, as
    GitHub's does."""
    if isinstance(reply.body, dict) and reply.body.get("documentation_url") == DOCS_URL:
        reply.body["documentation_url"] = GRAPHQL_DOCS_URL


def _parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time (``2026-01-05T09:00:00Z``) as an aware datetime (``None`` if not one)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _int_param(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _default_fault_message(status: int, headers: Mapping[str, str]) -> str:
    if status == 403 and any(k.lower() == "retry-after" for k in headers):
        return SECONDARY_RATE_LIMIT
    if status >= 500:
        return SERVER_ERROR
    return _DEFAULT_FAULT_MESSAGES.get(status, "Error")


def _combined_state(states: Sequence[str]) -> str:
    """GitHub's rule: failure if any error/failure, pending if none or any pending."""
    if any(s in ("error", "failure") for s in states):
        return "failure"
    if not states or "pending" in states:
        return "pending"
    return "success"


def _check_suite_id(sha: str) -> int:
    return int(sha[:8], 16) if re.fullmatch(r"[0-9a-f]{8,}", sha) else 1


def _file_of(spec: str | tuple[str, str] | tuple[str, str, int, int]) -> _File:
    if isinstance(spec, str):
        return _File(spec, "modified", 1, 1)
    path, status = spec[0], spec[1]
    additions, deletions = (spec[2], spec[3]) if len(spec) == 4 else (1, 1)
    previous = None
    if status.startswith("renamed:"):
        status, previous = "renamed", status.removeprefix("renamed:")
    return _File(path, status, additions, deletions, previous)


# --- the HTTP plumbing -----------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], fake: FakeGitHub
    ) -> None:
        self.fake = fake
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "GitHub.com"
    sys_version = ""
    server: _Server

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.fake._respond(self.command, self.path, headers, raw)
        if reply is None:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        etag = f'"{hashlib.sha256(payload).hexdigest()}"'
        status = reply.status
        if status == 200 and self.headers.get("If-None-Match") == etag:
            status, payload = 304, b""
        self.send_response(status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.body is not None:
            self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr log (``calls`` records every request)."""
