"""GitHub's GraphQL API: a query, its answer and the errors GitHub puts beside the data.

PyGithub's ``graphql_query`` raises on any error in the answer; flaggate asks for team
memberships in the same query as the pull request, and a token that may not read a team gets
that team as ``null`` with a ``FORBIDDEN`` error while the rest of the answer stands. So the
answer is taken here as GitHub gives it, and the caller decides which errors it can live with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from github import GithubException
from github.Requester import Requester

from flaggate.github.api import GitHubError, explain


@dataclass(frozen=True)
class GraphQLError:
    """One entry of an answer's ``errors``."""

    message: str
    type: str | None
    path: tuple[str | int, ...]


@dataclass(frozen=True)
class Answer:
    """An answer: its ``data`` (empty when GitHub gave none) and its errors."""

    data: dict[str, Any]
    errors: tuple[GraphQLError, ...]

    def errors_under(self, *prefix: str | int) -> list[GraphQLError]:
        """The errors whose path starts with ``prefix``."""
        return [e for e in self.errors if e.path[: len(prefix)] == prefix]


def run(
    requester: Requester, query: str, variables: dict[str, Any], doing: str, permission: str
) -> Answer:
    """POST ``query`` to GitHub's GraphQL endpoint; an HTTP error or an answer that is not a
    GraphQL answer raises :class:`~flaggate.github.api.GitHubError` (``doing`` says what
    flaggate was doing, ``permission`` what the token needs)."""
    try:
        _headers, answer = requester.requestJsonAndCheck(
            "POST", requester.graphql_url, input={"query": query, "variables": variables}
        )
    except GithubException as exc:
        raise explain(exc, doing, permission) from None
    except Exception as exc:  # connection errors after retries
        raise explain(exc, doing) from None
    if not isinstance(answer, dict):
        raise GitHubError(f"{doing}: GitHub's answer is not a GraphQL answer")
    data = answer.get("data")
    errors = tuple(_error(item) for item in answer.get("errors") or () if isinstance(item, dict))
    return Answer(data if isinstance(data, dict) else {}, errors)


def _error(item: dict[str, Any]) -> GraphQLError:
    path = item.get("path")
    steps = tuple(p for p in path if isinstance(p, str | int)) if isinstance(path, list) else ()
    kind = item.get("type")
    return GraphQLError(
        str(item.get("message") or "unknown error"), kind if isinstance(kind, str) else None, steps
    )


@cache
def document() -> str:
    """The text of ``pull_query.graphql``."""
    return files("flaggate.github").joinpath("pull_query.graphql").read_text(encoding="utf-8")


@cache
def fragments() -> dict[str, str]:
    """The fragments of ``pull_query.graphql`` by name."""
    found: dict[str, str] = {}
    for chunk in re.split(r"\n(?=fragment )", document())[1:]:
        name = chunk.split()[1]
        found[name] = chunk.strip() + "\n"
    return found


@cache
def timeline_types() -> str:
    """The timeline item types the main query reads (its follow-up pages read the same)."""
    found = re.search(r"itemTypes:\s*(\[[^\]]*\])", operation())
    if found is None:  # pragma: no cover - the query file is part of the package
        raise RuntimeError("pull_query.graphql names no timeline item types")
    return " ".join(found.group(1).split())


@cache
def operation() -> str:
    """The main query of ``pull_query.graphql`` (without the fragments)."""
    return re.split(r"\n(?=fragment )", document())[0]


def with_fragments(query: str) -> str:
    """``query`` followed by the fragments it spreads (GitHub rejects unused ones), and by
    those they spread in turn."""
    wanted: list[str] = []
    pending = [query]
    while pending:
        text = pending.pop()
        for name in re.findall(r"\.\.\.([A-Za-z_]\w*)", text):
            if name in fragments() and name not in wanted:
                wanted.append(name)
                pending.append(fragments()[name])
    return query.rstrip() + "\n\n" + "\n".join(fragments()[name] for name in wanted)
