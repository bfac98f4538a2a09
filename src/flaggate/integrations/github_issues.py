"""GitHub issues of the pull request's own repository as tickets (no extra credentials).

A field is a line ``Name: value`` in the issue body, or an issue form's ``### Name`` heading
followed by its answer (``_No response_`` is empty). A ticket is open or closed; it has no
transitions but ``closed``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from github import GithubException
from github.Issue import Issue
from github.Repository import Repository

from flaggate.integrations.tickets import Move, Ticket, TicketComment, TicketError

NO_RESPONSE = "_No response_"


class GitHubIssues:
    """`TicketProvider` over the repository's issues, through PyGithub (with its retries)."""

    name = "GitHub issues"

    def __init__(self, repo: Repository) -> None:
        self._repo = repo
        self._issues: dict[int, Issue] = {}

    def fetch(self, key: str, fields: Sequence[str] = ()) -> Ticket | None:
        number = _number(key)
        try:
            issue = self._repo.get_issue(number)
            data = issue.raw_data
        except GithubException as exc:
            if exc.status in (404, 410):
                return None
            raise _error(exc, f"reading issue {key}", "'Issues: read'") from None
        except Exception as exc:
            raise _unavailable(exc, f"reading issue {key}") from None
        self._issues[number] = issue
        body = str(data.get("body") or "")
        return Ticket(
            key=f"#{number}",
            url=str(data.get("html_url") or ""),
            title=str(data.get("title") or ""),
            status=str(data.get("state") or ""),
            closed=data.get("state") != "open",
            fields={name: field_value(body, name) for name in fields},
            labels=tuple(str(label.get("name")) for label in data.get("labels") or []),
            pull_request=data.get("pull_request") is not None,
        )

    def has_comment(self, key: str, marker: str) -> bool:
        issue = self._issue(key)
        try:
            return any(marker in (comment.body or "") for comment in issue.get_comments())
        except GithubException as exc:
            raise _error(exc, f"reading the comments of {key}", "'Issues: read'") from None
        except Exception as exc:
            raise _unavailable(exc, f"reading the comments of {key}") from None

    def comment(self, key: str, comment: TicketComment) -> None:
        issue = self._issue(key)
        try:
            issue.create_comment(render_markdown(comment))
        except GithubException as exc:
            raise _error(exc, f"commenting on {key}", "'Issues: write'") from None
        except Exception as exc:
            raise _unavailable(exc, f"commenting on {key}") from None

    def relabel(self, key: str, add: Sequence[str], remove: Sequence[str]) -> None:
        """One ``PATCH`` of the issue's whole label set, when it changes."""
        issue = self._issue(key)
        current = [label.name for label in issue.labels]
        wanted = [name for name in current if name not in remove]
        wanted += [name for name in add if name not in wanted]
        if wanted == current:
            return
        try:
            issue.edit(labels=wanted)
        except GithubException as exc:
            raise _error(exc, f"labelling {key}", "'Issues: write'") from None
        except Exception as exc:
            raise _unavailable(exc, f"labelling {key}") from None

    def move(self, key: str, name: str, dry_run: bool = False) -> Move:
        issue = self._issue(key)
        state = issue.state or "open"
        if name != "closed":
            return Move("unavailable", state, state, ("closed",) if state != "closed" else ())
        if state == "closed":
            return Move("already", "closed", "closed")
        if not dry_run:
            try:
                issue.edit(state="closed", state_reason="completed")
            except GithubException as exc:
                raise _error(exc, f"closing {key}", "'Issues: write'") from None
            except Exception as exc:
                raise _unavailable(exc, f"closing {key}") from None
        return Move("moved", "closed", state)

    def set_fields(self, key: str, values: Mapping[str, str | float]) -> None:
        if values:
            raise TicketError("config", "GitHub issues have no fields to set")

    def _issue(self, key: str) -> Issue:
        number = _number(key)
        if number not in self._issues and self.fetch(key) is None:
            raise TicketError("invalid", f"issue {key} not found")
        return self._issues[number]


def field_value(body: str, name: str) -> str:
    """The value of field ``name`` in an issue body: an issue form's ``### name`` section, else
    the first ``name: value`` line (markdown bold around the name allowed); "" when absent."""
    lines = body.replace("\r\n", "\n").split("\n")
    heading = re.compile(rf"^#{{1,6}}\s*{re.escape(name)}\s*$", re.IGNORECASE)
    for index, line in enumerate(lines):
        if heading.match(line.strip()):
            answer = []
            for following in lines[index + 1 :]:
                if following.lstrip().startswith("#"):
                    break
                answer.append(following)
            text = "\n".join(answer).strip()
            return "" if text == NO_RESPONSE else text
    inline = re.compile(rf"^\s*[*_]*{re.escape(name)}[*_]*\s*:[*_]*\s*(.*)$", re.IGNORECASE)
    for line in lines:
        match = inline.match(line)
        if match:
            return match.group(1).strip().strip("*_").strip()
    return ""


def render_markdown(comment: TicketComment) -> str:
    """The comment as GitHub markdown, its marker hidden in an HTML comment."""
    lines = [f"**{comment.heading}**", ""]
    for label, value in comment.rows:
        lines.append(f"- {label}: {_code(value)}")
    if comment.link is not None:
        text, url = comment.link
        lines += ["", f"[{text}]({url})"]
    lines += ["", f"<!-- {comment.marker} -->"]
    return "\n".join(lines)


def _code(value: str) -> str:
    if not value:
        return "—"
    fence = "``" if "`" in value else "`"
    return f"{fence}{value}{fence}" if "\n" not in value else value.replace("\n", " ")


def _number(key: str) -> int:
    text = key.lstrip("#")
    if not text.isdigit():
        raise TicketError("invalid", f"{key!r} is not a GitHub issue number")
    return int(text)


def _error(exc: GithubException, doing: str, permission: str) -> TicketError:
    message = exc.data.get("message") if isinstance(exc.data, dict) else None
    detail = f"{doing}: HTTP {exc.status}" + (f": {message}" if message else "")
    if exc.status == 401:
        return TicketError("auth", detail, "check the workflow's token")
    if exc.status == 403:
        return TicketError("forbidden", detail, f"the token needs {permission}")
    if exc.status == 404:
        return TicketError("invalid", detail)
    if exc.status in (422, 400):
        return TicketError("invalid", detail)
    return TicketError("unavailable", detail)


def _unavailable(exc: Exception, doing: str) -> TicketError:
    return TicketError("unavailable", f"{doing}: {type(exc).__name__}")
