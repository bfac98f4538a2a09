"""A pull request as GitHub reports it, read in one GraphQL query.

One query (``pull_query.graphql``) answers everything an evaluation asks GitHub: the pull
request, its labels, requested reviewers, reviews, comments with their edit history, the
timeline events flaggate trusts (labels, ready for review, force pushes, deleted comments),
commits with the accounts GitHub links to them, the head commit's statuses, the viewer, and
the members of every team the base policies name. Connections longer than a page (100) are
read on with follow-up queries; a team of more than 100 members is asked about the reviewers
in question only (``members(query:)``), when one of them is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from github.Requester import Requester

from flaggate.github.api import GitHubError, MissingPermission, RetryPolicy
from flaggate.github.graphql import Answer, operation, run, timeline_types, with_fragments
from flaggate.pull.events import PullEvent

PAGE = 100
MAX_PAGES = 50
"""Follow-up pages per connection (5,000 items) before flaggate gives up, failing closed."""
PULL_PERMISSION = "'Pull requests: read' and 'Issues: read'"
MEMBERS_PERMISSION = (
    "organization 'Members: read' (a GitHub App installation token or a token with read:org); "
    "the workflow's GITHUB_TOKEN cannot read team membership"
)
_PAGE_FRAGMENTS = {
    "reviews": "Reviews",
    "comments": "Comments",
    "timelineItems": "Timeline",
    "commits": "Commits",
}
"""The fragment of ``pull_query.graphql`` each paged connection is read with."""


@dataclass(frozen=True)
class PullComment:
    """A comment of the pull request's conversation."""

    node_id: str
    database_id: int
    body: str
    author: str | None
    """The author's login as REST writes it (a bot's with ``[bot]``)."""
    author_is_bot: bool
    editors: tuple[str | None, ...]
    """Who edited it (the last editor and each listed edit's; None: a deleted account)."""
    edits_listed: bool
    """Whether every edit is in ``editors`` (GitHub lists at most 100)."""


@dataclass(frozen=True)
class PullCommit:
    """A commit of the pull request, with the accounts GitHub links to it."""

    sha: str
    message: str
    author: str | None
    committer: str | None
    authors: frozenset[str]
    """Accounts linked to the author and the ``Co-authored-by:`` trailers."""


@dataclass(frozen=True)
class ReviewNode:
    """A submitted review."""

    database_id: int | None
    login: str | None
    is_bot: bool
    state: str
    commit_sha: str | None
    submitted_at: datetime | None
    body: str


@dataclass(frozen=True)
class StatusContext:
    """The latest status of one context on the head commit."""

    context: str
    state: str
    """Lower case, as REST writes it (``success``, ``pending``, ...)."""
    description: str
    creator: str | None


@dataclass(frozen=True)
class TeamMembers:
    """What the query learnt of a team: its members (the first 100 of ``total``) or why it
    could not be read."""

    members: frozenset[str] = frozenset()
    total: int = 0
    problem: str | None = None
    """Why the team could not be read (GitHub's words)."""

    @property
    def complete(self) -> bool:
        """Whether ``members`` lists every member."""
        return self.problem is None and len(self.members) >= self.total


@dataclass(frozen=True)
class PullSnapshot:
    """A pull request and everything around it, as one query (and its pages) read it."""

    owner: str
    name: str
    number: int
    node_id: str
    title: str
    body: str
    url: str
    state: str
    """``OPEN``, ``CLOSED`` or ``MERGED``."""
    draft: bool
    created_at: datetime
    body_edited_at: datetime | None
    author: str | None
    base_ref: str
    base_sha: str
    head_ref: str
    head_sha: str
    labels: frozenset[str]
    requested: frozenset[str]
    """Requested reviewers: ``@login`` for people, ``org/slug`` for teams."""
    reviews: tuple[ReviewNode, ...]
    comments: tuple[PullComment, ...]
    events: tuple[PullEvent, ...]
    """Oldest first."""
    commits: tuple[PullCommit, ...]
    commits_total: int
    viewer: str
    head_statuses: tuple[StatusContext, ...] | None
    """The statuses on :attr:`head_sha` (None: not read, the head moved meanwhile)."""
    teams: dict[str, TeamMembers] = field(default_factory=dict)
    """``org/slug`` -> what the query learnt of it."""

    @property
    def full_name(self) -> str:
        """``owner/name`` of the repository."""
        return f"{self.owner}/{self.name}"


def read_pull(
    requester: Requester,
    repository: str,
    number: int,
    head: str,
    teams: Iterable[str] = (),
) -> PullSnapshot:
    """Read pull request ``number`` of ``repository`` (``owner/name``): one query, plus one
    per further page of a long connection. ``head`` is the head commit the caller knows of
    (its statuses are read when it is still the head); ``teams`` (``org/slug``) the teams
    whose members to read along."""
    owner, name = repository.split("/", 1)
    wanted = sorted(set(teams))
    variables: dict[str, Any] = {"owner": owner, "name": name, "number": number, "head": head}
    doing = f"reading pull request #{number} (GraphQL)"
    answer = _read_once_more_if_missing(
        lambda: run(
            requester,
            _pull_query(wanted),
            variables | _team_variables(wanted),
            doing,
            PULL_PERMISSION,
        )
    )
    if wanted and not answer.data and _scopes_refused(answer):
        # A classic token without read:org is refused the whole query: ask without teams.
        answer = run(requester, _pull_query([]), variables, doing, PULL_PERMISSION)
        refused = TeamMembers(problem=answer.errors[0].message if answer.errors else "refused")
        team_answers = {team: refused for team in wanted}
    else:
        team_answers = {team: _team(answer, f"t{i}", team) for i, team in enumerate(wanted)}
    _raise_unexpected(answer, {f"t{i}" for i in range(len(wanted))}, doing, PULL_PERMISSION)
    viewer = _text(_get(answer.data, "viewer", "login"))
    if not viewer:  # without it flaggate's comments, and so its kept record, are unknown
        raise GitHubError(f"{doing}: GitHub named no viewer")
    pull = _get(answer.data, "repository", "pullRequest")
    if not isinstance(pull, dict):
        raise GitHubError(f"{doing}: GitHub knows no pull request #{number} in {repository}")
    pager = _Pager(requester, str(pull.get("id") or ""), number)
    head_object = _get(answer.data, "repository", "object")
    return PullSnapshot(
        owner=owner,
        name=name,
        number=number,
        node_id=str(pull.get("id") or ""),
        title=_text(pull.get("title")),
        body=_text(pull.get("body")),
        url=_text(pull.get("url")),
        state=_text(pull.get("state")),
        draft=bool(pull.get("isDraft")),
        created_at=_required_time(pull.get("createdAt"), doing),
        body_edited_at=_time(pull.get("lastEditedAt")),
        author=login_of(pull.get("author")),
        base_ref=_text(pull.get("baseRefName")),
        base_sha=_text(pull.get("baseRefOid")),
        head_ref=_text(pull.get("headRefName")),
        head_sha=_text(pull.get("headRefOid")),
        labels=frozenset(_text(n.get("name")) for n in _nodes(pull.get("labels"))),
        requested=frozenset(_requested(pull.get("reviewRequests"))),
        reviews=tuple(_review(n) for n in pager.forward("reviews", pull.get("reviews"))),
        comments=tuple(_comment(n) for n in pager.forward("comments", pull.get("comments"))),
        events=tuple(_event(n) for n in pager.backward("timelineItems", pull.get("timelineItems"))),
        commits=tuple(_commit(n) for n in pager.backward("commits", pull.get("commits"))),
        commits_total=int(_get(pull, "commits", "totalCount") or 0),
        viewer=viewer,
        head_statuses=_statuses(head_object, head),
        teams=team_answers,
    )


def more_members(
    requester: Requester, asks: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], bool | str]:
    """Whether each ``(org/slug, login)`` is a member, for teams too large for the first
    query: one query asking each team about each login (``members(query:)``), exact logins
    only. A pair that cannot be told maps to why."""
    if not asks:
        return {}
    declared, fields = [], []
    variables: dict[str, Any] = {}
    for i, (team, login) in enumerate(asks):
        org, slug = team.split("/", 1)
        declared.append(f"$o{i}: String!, $s{i}: String!, $q{i}: String!")
        fields.append(
            f"  m{i}: organization(login: $o{i}) {{ team(slug: $s{i}) "
            f"{{ members(first: {PAGE}, query: $q{i}) {{ ...TeamMembers }} }} }}"
        )
        variables |= {f"o{i}": org, f"s{i}": slug, f"q{i}": login}
    query = with_fragments(
        f"query FlaggateMembers({', '.join(declared)}) {{\n" + "\n".join(fields) + "\n}\n"
    )
    doing = "reading team membership (GraphQL)"
    answer = run(requester, query, variables, doing, MEMBERS_PERMISSION)
    if not answer.data and answer.errors:
        raise MissingPermission(
            f"{doing}: {answer.errors[0].message}", f"the token needs {MEMBERS_PERMISSION}"
        )
    found: dict[tuple[str, str], bool | str] = {}
    for i, (team, login) in enumerate(asks):
        members = _team(answer, f"m{i}", team)
        if members.problem is not None:
            found[(team, login)] = members.problem
        elif login in members.members:
            found[(team, login)] = True
        elif members.total > len(members.members):
            found[(team, login)] = f"more than {PAGE} members of {team} match {login!r}"
        else:
            found[(team, login)] = False
    return found


def _pull_query(teams: Sequence[str]) -> str:
    query = operation()
    if teams:
        declared = "".join(f"  $o{i}: String!\n  $s{i}: String!\n" for i in range(len(teams)))
        fields = "".join(
            f"  t{i}: organization(login: $o{i}) {{ team(slug: $s{i}) "
            f"{{ members(first: {PAGE}) {{ ...TeamMembers }} }} }}\n"
            for i in range(len(teams))
        )
        query = query.replace("  # team variables\n", declared).replace("  # team fields\n", fields)
    return with_fragments(query)


def _team_variables(teams: Sequence[str]) -> dict[str, str]:
    variables: dict[str, str] = {}
    for i, team in enumerate(teams):
        org, slug = team.split("/", 1)
        variables |= {f"o{i}": org, f"s{i}": slug}
    return variables


def _scopes_refused(answer: Answer) -> bool:
    return any(e.type == "INSUFFICIENT_SCOPES" or "read:org" in e.message for e in answer.errors)


def _team(answer: Answer, alias: str, team: str) -> TeamMembers:
    """A team alias of an answer: its members, or why it cannot be read."""
    problems = answer.errors_under(alias)
    members = _get(answer.data, alias, "team", "members")
    if problems or not isinstance(members, dict):
        why = problems[0].message if problems else "no such team, or not visible to the token"
        return TeamMembers(problem=why)
    logins = frozenset(login for n in _nodes(members) if (login := _text(n.get("login"))))
    return TeamMembers(logins, max(int(members.get("totalCount") or 0), len(logins)))


def _raise_unexpected(answer: Answer, allowed: set[str], doing: str, permission: str) -> None:
    """Fail on any error but those under the team aliases (a team the token may not read
    matters only when someone's role depends on it)."""
    for error in answer.errors:
        if error.path and error.path[0] in allowed:
            continue
        line = f"{doing}: {error.message}"
        if error.type in ("FORBIDDEN", "INSUFFICIENT_SCOPES", "NOT_FOUND"):
            raise MissingPermission(line, f"the token needs {permission}")
        raise GitHubError(line)


def _read_once_more_if_missing(read: Callable[[], Answer]) -> Answer:
    """``read()``, and once more after a pause when GitHub says the pull request does not
    exist: right after it is opened, the replica that answers may not know it yet."""
    answer = read()
    if any(e.type == "NOT_FOUND" for e in answer.errors_under("repository", "pullRequest")):
        time.sleep(RetryPolicy.from_env().not_found_pause)
        answer = read()
    return answer


class _Pager:
    """Reads the rest of a pull request's connections, a page per query."""

    def __init__(self, requester: Requester, node_id: str, number: int) -> None:
        self.requester = requester
        self.node_id = node_id
        self.number = number

    def forward(self, name: str, connection: Any) -> list[dict[str, Any]]:
        """Every node of ``connection`` (oldest first), reading on after the first page."""
        nodes = _nodes(connection)
        info = _get(connection, "pageInfo") or {}
        for _ in range(MAX_PAGES):
            if not info.get("hasNextPage"):
                return nodes
            connection = self._page(name, f"first: {PAGE}, after: $cursor", info.get("endCursor"))
            nodes += _nodes(connection)
            info = _get(connection, "pageInfo") or {}
        raise self._too_long(name)

    def backward(self, name: str, connection: Any) -> list[dict[str, Any]]:
        """Every node of ``connection`` (oldest first), reading back before the last page."""
        pages = [_nodes(connection)]
        info = _get(connection, "pageInfo") or {}
        for _ in range(MAX_PAGES):
            if not info.get("hasPreviousPage"):
                return [node for page in reversed(pages) for node in page]
            arguments = f"last: {PAGE}, before: $cursor"
            if name == "timelineItems":
                arguments = f"itemTypes: {timeline_types()}, " + arguments
            connection = self._page(name, arguments, info.get("startCursor"))
            pages.append(_nodes(connection))
            info = _get(connection, "pageInfo") or {}
        raise self._too_long(name)

    def _page(self, name: str, arguments: str, cursor: Any) -> Any:
        fragment = _PAGE_FRAGMENTS[name]
        query = with_fragments(
            "query FlaggatePullPage($id: ID!, $cursor: String) {\n"
            f"  node(id: $id) {{ ... on PullRequest {{ {name}({arguments}) "
            f"{{ ...{fragment} }} }} }}\n"
            "}\n"
        )
        doing = f"reading the {name} of pull request #{self.number} (GraphQL)"
        answer = run(
            self.requester, query, {"id": self.node_id, "cursor": cursor}, doing, PULL_PERMISSION
        )
        _raise_unexpected(answer, set(), doing, PULL_PERMISSION)
        return _get(answer.data, "node", name)

    def _too_long(self, name: str) -> GitHubError:
        return GitHubError(
            f"reading pull request #{self.number}: more than {PAGE * (MAX_PAGES + 1)} {name}"
        )


def login_of(actor: Any) -> str | None:
    """An actor's login as REST writes it: a ``Bot``'s with ``[bot]``."""
    login = _get(actor, "login")
    if not isinstance(login, str) or not login:
        return None
    if _get(actor, "__typename") == "Bot" and not login.endswith("[bot]"):
        return f"{login}[bot]"
    return login


def _requested(connection: Any) -> Iterable[str]:
    for node in _nodes(connection):
        who = node.get("requestedReviewer")
        if _get(who, "__typename") == "Team":
            org, slug = _get(who, "organization", "login"), _get(who, "slug")
            if isinstance(org, str) and isinstance(slug, str):
                yield f"{org}/{slug}"
        elif (login := login_of(who)) is not None:
            yield f"@{login}"


def _review(node: dict[str, Any]) -> ReviewNode:
    author = node.get("author")
    ident = node.get("databaseId")
    return ReviewNode(
        database_id=ident if isinstance(ident, int) else None,
        login=login_of(author),
        is_bot=_get(author, "__typename") == "Bot",
        state=_text(node.get("state")),
        commit_sha=_get(node, "commit", "oid"),
        submitted_at=_time(node.get("submittedAt")),
        body=_text(node.get("body")),
    )


def _comment(node: dict[str, Any]) -> PullComment:
    edits = node.get("userContentEdits") or {}
    listed = _nodes(edits)
    editors = [login_of(edit.get("editor")) for edit in listed]
    if node.get("editor") is not None:
        editors.append(login_of(node.get("editor")))
    ident = node.get("databaseId")
    return PullComment(
        node_id=_text(node.get("id")),
        database_id=ident if isinstance(ident, int) else 0,
        body=_text(node.get("body")),
        author=login_of(node.get("author")),
        author_is_bot=_get(node, "author", "__typename") == "Bot",
        editors=tuple(editors),
        edits_listed=int(edits.get("totalCount") or 0) <= len(listed),
    )


_EVENTS = {
    "LabeledEvent": "labeled",
    "ReadyForReviewEvent": "ready_for_review",
    "HeadRefForcePushedEvent": "head_ref_force_pushed",
    "CommentDeletedEvent": "comment_deleted",
}


def _event(node: dict[str, Any]) -> PullEvent:
    return PullEvent(
        event=_EVENTS.get(_text(node.get("__typename")), ""),
        actor=login_of(node.get("actor")),
        at=_time(node.get("createdAt")),
        label=_get(node, "label", "name"),
        commit=_get(node, "afterCommit", "oid"),
        id=node.get("id") if isinstance(node.get("id"), str) else None,
        deleted_author=login_of(node.get("deletedCommentAuthor")),
    )


def _commit(node: dict[str, Any]) -> PullCommit:
    commit = node.get("commit") or {}
    authors = _nodes(commit.get("authors"))
    return PullCommit(
        sha=_text(commit.get("oid")),
        message=_text(commit.get("message")),
        author=login_of(_get(commit, "author", "user")),
        committer=login_of(_get(commit, "committer", "user")),
        authors=frozenset(login for a in authors if (login := login_of(a.get("user")))),
    )


def _statuses(head_object: Any, head: str) -> tuple[StatusContext, ...] | None:
    if not isinstance(head_object, dict) or head_object.get("oid") != head:
        return None
    contexts = _get(head_object, "status", "contexts") or []
    return tuple(
        StatusContext(
            context=_text(c.get("context")),
            state=_text(c.get("state")).lower(),
            description=_text(c.get("description")),
            creator=login_of(c.get("creator")),
        )
        for c in contexts
        if isinstance(c, dict)
    )


def _nodes(connection: Any) -> list[dict[str, Any]]:
    nodes = _get(connection, "nodes") or []
    return [n for n in nodes if isinstance(n, dict)]


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _required_time(value: Any, doing: str) -> datetime:
    moment = _time(value)
    if moment is None:
        raise GitHubError(f"{doing}: GitHub gave no creation time")
    return moment


Members = Callable[[Sequence[tuple[str, str]]], dict[tuple[str, str], bool | str]]
"""Asks GitHub about (team, login) pairs the first query could not settle."""
