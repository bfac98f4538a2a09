"""What GitHub vouches for beyond the REST pull request: who edited flaggate's comments and
the description, which of flaggate's comments were deleted, and who co-authored the commits.

One GraphQL query per evaluation (``provenance_query.graphql``). The ledger kept in the sticky
comment counts only when GitHub shows that no comment of flaggate's identity was edited by
anyone else or deleted (or, with a state key configured, when its seal verifies).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import Any

from github import GithubException
from github.IssueComment import IssueComment
from github.PullRequest import PullRequest as GithubPull

from flaggate.github.api import GitHubError, explain

QUERY = files("flaggate.github").joinpath("provenance_query.graphql").read_text()
MAX_COMMENTS = 100
"""Comments whose edits one query can read (GraphQL ``nodes`` takes at most 100 ids)."""


@dataclass(frozen=True)
class Provenance:
    """The answers of the provenance query for one pull request."""

    viewer: str
    """flaggate's own identity (compare with :func:`same_login`: GitHub writes a bot's login
    with ``[bot]`` in some places and without in others)."""
    tampering: str | None
    """How a comment of flaggate's was edited or deleted by someone else (None: it was not)."""
    body_edited_at: datetime | None
    """When the description was last edited (None: never since it was opened)."""
    co_authors: frozenset[str]
    """Logins GitHub links to the authors and ``Co-authored-by:`` trailers of the pull
    request's last 100 commits."""


def same_login(a: str | None, b: str | None) -> bool:
    """Whether two logins name one account (REST ``x[bot]`` is GraphQL ``x``)."""
    return a is not None and b is not None and a.removesuffix("[bot]") == b.removesuffix("[bot]")


def read_provenance(pull: GithubPull, comments: list[IssueComment], *, sealed: bool) -> Provenance:
    """Ask GitHub, in one query, about ``comments`` (the pull request's bot comments) and
    the pull request. ``sealed``: the ledger carries a seal, so edits of flaggate's comments
    are judged by the seal instead (deletions still count)."""
    owner, name = pull.base.repo.full_name.split("/", 1)
    ids = [c.node_id for c in comments[:MAX_COMMENTS]]
    variables = {"owner": owner, "name": name, "number": pull.number, "comments": ids}
    try:
        _headers, answer = pull.requester.graphql_query(QUERY, variables)
    except GithubException as exc:
        raise explain(
            exc, "reading who edited the pull request and its comments (GraphQL)", "'Issues: read'"
        ) from None
    data = answer.get("data") or {}
    viewer = _login(data.get("viewer"))
    if not viewer:  # without it flaggate's comments, and so its kept record, are unknown
        raise GitHubError("reading who edited the pull request's comments: GitHub named no viewer")
    pr = ((data.get("repository") or {}).get("pullRequest")) or {}
    tampering = None
    if not sealed:
        tampering = _edited(data.get("nodes") or [], viewer)
    if len(comments) > MAX_COMMENTS and not sealed:
        tampering = tampering or f"more than {MAX_COMMENTS} bot comments: edits cannot be checked"
    tampering = tampering or _deleted(pr.get("timelineItems") or {}, viewer)
    commits = pr.get("commits") or {}
    co_authors = {
        login
        for node in commits.get("nodes") or []
        for author in (((node or {}).get("commit") or {}).get("authors") or {}).get("nodes") or []
        if (login := _login((author or {}).get("user")))
    }
    return Provenance(
        viewer=viewer,
        tampering=tampering,
        body_edited_at=_time(pr.get("lastEditedAt")),
        co_authors=frozenset(co_authors),
    )


def _edited(nodes: list[Any], viewer: str) -> str | None:
    for node in nodes:
        if not isinstance(node, dict) or not same_login(_login(node.get("author")), viewer):
            continue
        edits = node.get("userContentEdits") or {}
        listed = edits.get("nodes") or []
        if int(edits.get("totalCount") or 0) > len(listed):
            return "edited more often than GitHub lists at once"
        # An edit's editor is null when the account was deleted since: not flaggate either.
        editors = [_login((edit or {}).get("editor")) for edit in listed]
        if node.get("editor") is not None:
            editors.append(_login(node.get("editor")))
        others = sorted({_who(e) for e in editors if not same_login(e, viewer)})
        if others:
            return "edited by " + ", ".join(others)
    return None


def _deleted(timeline: dict[str, Any], viewer: str) -> str | None:
    for node in timeline.get("nodes") or []:
        if not isinstance(node, dict):
            continue
        author = _login(node.get("deletedCommentAuthor"))
        if same_login(author, viewer):
            return f"deleted by {_who(_login(node.get('actor')))}"
    return None


def _who(login: str | None) -> str:
    return "a deleted account" if login is None else f"@{login}"


def _login(actor: Any) -> str | None:
    if isinstance(actor, dict) and isinstance(actor.get("login"), str):
        return str(actor["login"])
    return None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
