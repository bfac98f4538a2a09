"""Jira as the ticket tracker: Jira Cloud through REST API v3 (comments in Atlassian Document
Format; basic auth with an account's email and API token, or a bearer OAuth 2.0 access
token), or Jira Data Center through REST API v2 (comments in wiki markup; a bearer personal
access token, or basic auth).

Fields are named by their display name (``Feature Flag``) and mapped to ids
(``customfield_10042``) through ``GET /rest/api/3/field``, once per instance. Comments are
Atlassian Document Format (ADF). Credentials come from the environment only and never appear
in a message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

import httpx

from flaggate.integrations import http
from flaggate.integrations.tickets import Move, Ticket, TicketComment, TicketError, TicketErrorKind
from flaggate.model.settings import Tickets

API = "/rest/api/3"
"""Jira Cloud's REST API; Data Center answers on ``/rest/api/2`` only."""
BASE_URL_ENV = "JIRA_BASE_URL"
PAGE_SIZE = 100
EMPTY = "—"
"""Shown for an empty value: ADF rejects a text node with empty text."""
MESSAGE_LIMIT = 200

_INLINE_PARENTS = frozenset({"paragraph", "heading", "codeBlock"})
"""ADF nodes whose children are inline: their text is joined without line breaks."""
_LIST_SPLIT = re.compile(r"\s*[,;]\s*")

JSON = Any


class JiraTickets:
    """`TicketProvider` over Jira's REST API v3, or v2 (see the module docstring)."""

    name = "Jira"

    def __init__(
        self,
        base_url: str,
        token: str,
        email: str | None = None,
        *,
        timeout: float = http.TIMEOUT_SECONDS,
        email_env: str = "JIRA_EMAIL",
        token_env: str = "JIRA_API_TOKEN",
        transport: httpx.BaseTransport | None = None,
        rest_api: int = 3,
    ) -> None:
        """Basic auth (``email``, API token: Jira Cloud) when ``email`` is given, else the
        token as a bearer token (an OAuth 2.0 access token, a Data Center personal access
        token). ``rest_api`` 2 speaks Data Center's REST API v2. The env var names are only
        shown in hints."""
        self.base_url = base_url.rstrip("/")
        self._api = f"/rest/api/{rest_api}"
        self._adf = rest_api >= 3
        self._where = f"Jira at {http.origin(self.base_url)}"
        self._timeout = timeout
        split = urlsplit(self.base_url)
        self._secrets = [token, email or "", split.username or "", split.password or ""]
        self._credentials = f"{email_env} and {token_env}" if email else token_env
        self._client = http.client(
            base_url=self.base_url,
            headers={"Accept": "application/json"} | ({} if email else _bearer(token)),
            auth=(email, token) if email else None,
            timeout=timeout,
            retry_posts=False,
            transport=transport,
        )
        self._fields: list[dict[str, JSON]] | None = None
        self._statuses: dict[str, str] = {}
        """Each ticket's status as last read or moved to (a transition needs no re-read)."""

    @classmethod
    def from_settings(cls, settings: Tickets, env: Mapping[str, str] | None = None) -> JiraTickets:
        """From the ticket settings and the environment (``os.environ`` by default); raises
        `TicketError` (``config``) when the URL or the token is not set."""
        env = os.environ if env is None else env
        base_url = (settings.url or env.get(BASE_URL_ENV) or "").strip()
        if not base_url:
            raise TicketError(
                "config",
                f"no Jira URL: set tickets.url in the settings or the {BASE_URL_ENV} "
                "environment variable",
            )
        if not _http_url(base_url):
            raise TicketError(
                "config", f"the Jira URL (tickets.url or {BASE_URL_ENV}) is not an http(s) URL"
            )
        token = env.get(settings.tokenEnv, "").strip()
        if not token:
            raise TicketError("config", f"no Jira API token: {settings.tokenEnv} is not set")
        email = env.get(settings.emailEnv, "").strip() or None
        return cls(
            base_url,
            token,
            email,
            timeout=settings.timeoutSeconds,
            email_env=settings.emailEnv,
            token_env=settings.tokenEnv,
            rest_api=settings.restApi,
        )

    def close(self) -> None:
        """Close the connections."""
        self._client.close()

    # --- TicketProvider ----------------------------------------------------------------------

    def fetch(self, key: str, fields: Sequence[str] = ()) -> Ticket | None:
        ids = {name: self._field(name)["id"] for name in fields}
        wanted = ["summary", "status", "labels", *(i for i in ids.values() if i not in _BASE)]
        response = self._send(
            "GET", self._issue_path(key), f"reading {key}", key, params={"fields": ",".join(wanted)}
        )
        if response is None:
            return None
        issue = _json_object(response, self._where)
        values = issue.get("fields")
        if not isinstance(values, dict):
            _unexpected(self._where, "an issue without fields")
        status = values.get("status") or {}
        category = status.get("statusCategory") or {} if isinstance(status, dict) else None
        labels = values.get("labels") or []
        if not isinstance(category, dict) or not isinstance(labels, list):
            _unexpected(self._where, "an issue's status or labels")
        real_key = str(issue.get("key") or key)
        self._statuses[key] = text(status.get("name"))
        return Ticket(
            key=real_key,
            url=f"{self.base_url}/browse/{real_key}",
            title=text(values.get("summary")),
            status=text(status.get("name")),
            closed=category.get("key") == "done",
            fields={name: text(values.get(ident)) for name, ident in ids.items()},
            labels=tuple(str(label) for label in labels),
        )

    def has_comment(self, key: str, marker: str) -> bool:
        start = 0
        while True:
            params = {"orderBy": "-created", "maxResults": PAGE_SIZE, "startAt": start}
            page = _json_object(
                self._require(
                    "GET",
                    f"{self._issue_path(key)}/comment",
                    f"reading the comments of {key}",
                    key,
                    params=params,
                ),
                self._where,
            )
            comments, total = page.get("comments"), page.get("total")
            if not isinstance(comments, list) or not isinstance(total, int):
                _unexpected(self._where, "a page of comments")
            for comment in comments:
                body = comment.get("body") if isinstance(comment, dict) else None
                if marker in text(body):
                    return True
            # Counted here, not from the answer's startAt: a server that ignores startAt
            # must not keep this loop on one page.
            start += len(comments)
            if not comments or start >= total:
                return False

    def comment(self, key: str, comment: TicketComment) -> None:
        self._require(
            "POST",
            f"{self._issue_path(key)}/comment",
            f"commenting on {key}",
            key,
            json={"body": adf_comment(comment) if self._adf else wiki_comment(comment)},
        )

    def relabel(self, key: str, add: Sequence[str], remove: Sequence[str]) -> None:
        """One ``PUT`` with ``add``/``remove`` operations (a label in both is added)."""
        ops = [{"add": label} for label in dict.fromkeys(add)]
        ops += [{"remove": label} for label in dict.fromkeys(remove) if label not in add]
        if ops:
            self._require(
                "PUT",
                self._issue_path(key),
                f"labelling {key}",
                key,
                json={"update": {"labels": ops}},
            )

    def move(self, key: str, name: str, dry_run: bool = False) -> Move:
        wanted = name.casefold()
        current = self._statuses.get(key)
        if current is None:
            issue = _json_object(
                self._require(
                    "GET", self._issue_path(key), f"reading {key}", key, params={"fields": "status"}
                ),
                self._where,
            )
            fields = issue.get("fields")
            status = fields.get("status") if isinstance(fields, dict) else None
            current = text(status.get("name")) if isinstance(status, dict) else ""
            self._statuses[key] = current
        if current and current.casefold() == wanted:
            return Move("already", current, current)
        path = f"{self._issue_path(key)}/transitions"
        listed = _json_object(
            self._require("GET", path, f"reading the transitions of {key}", key), self._where
        ).get("transitions")
        if not isinstance(listed, list):
            _unexpected(self._where, "a list of transitions")
        available = [t for t in listed if isinstance(t, dict) and t.get("isAvailable") is not False]
        chosen = next(
            (t for t in available if text(t.get("name")).casefold() == wanted),
            next((t for t in available if _target(t).casefold() == wanted), None),
        )
        if chosen is None:
            names = tuple(text(t.get("name")) for t in available)
            return Move("unavailable", current, current, names)
        if current and _target(chosen).casefold() == current.casefold():
            # A transition named ``name`` that leads to the status the ticket is in.
            return Move("already", current, current)
        reached = _target(chosen) or text(chosen.get("name"))
        if not dry_run:
            self._require(
                "POST",
                path,
                f"moving {key}",
                key,
                json={"transition": {"id": str(chosen.get("id"))}},
            )
            self._statuses[key] = reached
        return Move("moved", reached, current)

    def transition(self, key: str, name: str) -> str:
        """`move`, for a caller that only needs the status reached (or already in); no such
        transition available is a ``config`` error naming the available ones."""
        done = self.move(key, name)
        if done.outcome == "unavailable":
            names = ", ".join(done.available) or "none"
            raise TicketError("config", f"{key} has no transition {name!r} (available: {names})")
        return done.status

    def set_fields(self, key: str, values: Mapping[str, str | float]) -> None:
        """One ``PUT`` of the fields; each value is shaped for its field's type (a number, an
        option, a list, ADF for a multi-line text field)."""
        if not values:
            return
        body = {}
        for name, value in values.items():
            found = self._field(name)
            body[str(found["id"])] = field_input(found, value, self._adf)
        self._require(
            "PUT", self._issue_path(key), f"setting fields on {key}", key, json={"fields": body}
        )

    def _issue_path(self, key: str) -> str:
        return f"{self._api}/issue/{quote(key, safe='')}"

    # --- fields ------------------------------------------------------------------------------

    def _field(self, name: str) -> dict[str, JSON]:
        """The field with display name ``name`` (exactly, else ignoring case), else with id
        ``name``; a `TicketError` (``config``) when none or two match."""
        if self._fields is None:
            listed = _json(
                self._require("GET", f"{self._api}/field", "reading the fields"), self._where
            )
            if not isinstance(listed, list) or not all(
                isinstance(f, dict) and isinstance(f.get("id"), str) for f in listed
            ):
                _unexpected(self._where, "a list of fields")
            self._fields = listed
        for matches in (
            [f for f in self._fields if f.get("name") == name],
            [f for f in self._fields if text(f.get("name")).casefold() == name.casefold()],
            [f for f in self._fields if f["id"] == name],
        ):
            if len(matches) == 1:
                return matches[0]
            if matches:
                ids = ", ".join(str(f["id"]) for f in matches)
                raise TicketError(
                    "config",
                    f"Jira has {len(matches)} fields named {name!r} ({ids})",
                    "name the field by its id instead",
                )
        raise TicketError("config", f"Jira has no field named {name!r}")

    # --- requests ----------------------------------------------------------------------------

    def _require(
        self, method: str, path: str, doing: str, key: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """`_send`, with a 404 as an ``invalid`` error."""
        response = self._send(method, path, doing, key, **kwargs)
        if response is None:
            raise TicketError("invalid", f"{key} not found" if key else f"{path} not found")
        return response

    def _send(
        self, method: str, path: str, doing: str, key: str | None = None, **kwargs: Any
    ) -> httpx.Response | None:
        """The 2xx answer, or None for Jira's 404; anything else is a `TicketError`."""
        try:
            with http.hidden_in_logs(self._secrets):
                response = self._client.request(method, path, **kwargs)
        except httpx.InvalidURL:
            raise TicketError("config", f"{doing}: the Jira URL is not a valid URL") from None
        except httpx.HTTPError as exc:
            message = http.failure(exc, self._where, self._timeout)
            raise TicketError("unavailable", f"{doing}: {message}") from None
        status = response.status_code
        if 200 <= status < 300:
            return response
        body = _json_or_none(response)
        if status == 404 and isinstance(body, dict) and "errorMessages" in body:
            return None
        self._fail(response, doing, key)

    def _fail(self, response: httpx.Response, doing: str, key: str | None) -> NoReturn:
        status = response.status_code
        detail = self._detail(response)
        if status == 401:
            raise TicketError(
                "auth",
                "Jira rejected the credentials (HTTP 401)",
                f"check {self._credentials}",
            )
        if status == 403:
            raise TicketError(
                "forbidden",
                f"{doing}: Jira refused (HTTP 403)" + (f": {detail}" if detail else ""),
                "the Jira account needs permission for this",
            )
        if status == 400:
            raise TicketError(
                "invalid", f"{doing}: Jira refused the request (HTTP 400)" + _colon(detail)
            )
        if status in http.RETRY_STATUSES:
            retry = response.extensions.get("retry")
            attempts = getattr(retry, "attempts_made", 0) + 1
            plural = "s" if attempts != 1 else ""
            raise TicketError(
                "unavailable",
                f"{doing}: {self._where} answered HTTP {status} after {attempts} attempt{plural}",
            )
        if 300 <= status < 400:
            raise TicketError(
                "config",
                f"{doing}: {self._where} answered HTTP {status} (a redirect, not followed)",
                "check the Jira URL",
            )
        if status == 404:
            raise TicketError(
                "unavailable",
                f"{doing}: unexpected answer from {self._where} (HTTP 404, not from Jira's API)",
                "check the Jira URL",
            )
        kind: TicketErrorKind = "invalid" if 400 <= status < 500 else "unavailable"
        raise TicketError(kind, f"{doing}: {self._where} answered HTTP {status}" + _colon(detail))

    def _detail(self, response: httpx.Response) -> str:
        """Jira's ``errorMessages`` and ``errors`` on one line, without secrets."""
        body = _json_or_none(response)
        if not isinstance(body, dict):
            return ""
        messages = body.get("errorMessages")
        parts = [str(m) for m in messages if m] if isinstance(messages, list) else []
        errors = body.get("errors")
        if isinstance(errors, dict):
            parts += [f"{field}: {message}" for field, message in errors.items()]
        if not parts and isinstance(body.get("message"), str):
            parts.append(body["message"])
        return http.redact("; ".join(parts), self._secrets, MESSAGE_LIMIT)


_BASE = ("summary", "status", "labels")


def text(value: JSON) -> str:
    """A field value as text: ``""`` for empty, numbers without a trailing ``.0``, an option's
    ``value``, a user's ``displayName``, an object's ``name``, lists joined with ``, ``, and
    the plain text of an ADF document (paragraphs on their own lines)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, list):
        return ", ".join(t for t in (text(item) for item in value) if t)
    if isinstance(value, dict):
        if value.get("type") == "doc":
            return _adf_text(value).strip("\n")
        for name in ("value", "displayName", "name", "key"):
            if name in value:
                return text(value[name])
    return ""


def _adf_text(node: JSON) -> str:
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text") or "")
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji", "status", "date"):
        attrs = node.get("attrs") or {}
        return (
            str(attrs.get("text") or attrs.get("shortName") or "")
            if isinstance(attrs, dict)
            else ""
        )
    content = node.get("content")
    parts = [_adf_text(child) for child in content] if isinstance(content, list) else []
    if kind in _INLINE_PARENTS:
        return "".join(parts)
    return "\n".join(part for part in parts if part)


def adf_comment(comment: TicketComment) -> dict[str, JSON]:
    """The comment as an ADF document: the heading in bold, the rows as a bullet list with
    the values as code, the link, then the marker."""
    content: list[JSON] = [_paragraph(_text(comment.heading, {"type": "strong"}))]
    if comment.rows:
        items = [
            {
                "type": "listItem",
                "content": [
                    _paragraph(
                        _text(f"{label}: "),
                        _text(" ".join(value.split()), {"type": "code"}),
                    )
                ],
            }
            for label, value in comment.rows
        ]
        content.append({"type": "bulletList", "content": items})
    if comment.link is not None:
        label, url = comment.link
        content.append(_paragraph(_text(label, {"type": "link", "attrs": {"href": url}})))
    if comment.marker:
        content.append(_paragraph(_text(comment.marker)))
    return {"version": 1, "type": "doc", "content": content}


def wiki_comment(comment: TicketComment) -> str:
    """The comment in Jira wiki markup (REST v2): the heading in bold, the rows as a bullet
    list with the values as monospace, the link, then the marker."""
    lines = [f"*{_wiki(comment.heading)}*"]
    for label, value in comment.rows:
        shown = " ".join(value.split())
        lines.append(
            f"* {_wiki(label)}: {{{{{_wiki(shown)}}}}}" if shown else f"* {_wiki(label)}: {EMPTY}"
        )
    if comment.link is not None:
        label, url = comment.link
        lines.append(f"[{_wiki(label)}|{url}]")
    if comment.marker:
        lines.append(comment.marker)
    return "\n".join(lines)


def _wiki(text: str) -> str:
    """Text with wiki markup's special characters escaped (a backslash before each)."""
    return re.sub(r"([\\{}\[\]|*_?^~+#!-])", r"\\\1", text)


def adf_document(value: str) -> dict[str, JSON]:
    """Plain text as an ADF document, one paragraph per line."""
    lines = [line for line in value.splitlines() if line.strip()] or [EMPTY]
    return {"version": 1, "type": "doc", "content": [_paragraph(_text(line)) for line in lines]}


def field_input(found: Mapping[str, JSON], value: str | float, adf: bool = True) -> JSON:
    """``value`` shaped for the field's type (its ``schema``): a number, an option
    ``{"value"}``, a list of options, labels or versions, ADF for a multi-line text field (REST
    v3; text in v2), or the text."""
    schema = found.get("schema")
    if not isinstance(schema, dict):
        schema = {}
    kind, items = schema.get("type"), schema.get("items")
    custom, system = str(schema.get("custom") or ""), schema.get("system")
    as_text = value if isinstance(value, str) else _number(value)
    if kind == "number":
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return value
        return value
    if kind == "option":
        return {"value": as_text}
    if kind == "array":
        parts = [part for part in _LIST_SPLIT.split(as_text.strip()) if part]
        if items == "option":
            return [{"value": part} for part in parts]
        if items in ("version", "component"):
            return [{"name": part} for part in parts]
        if items == "string":
            return [word for part in parts for word in part.split()]
        return parts
    if (
        adf
        and kind == "string"
        and (custom.endswith(":textarea") or system in ("description", "environment"))
    ):
        return adf_document(as_text)
    return as_text


def _http_url(url: str) -> bool:
    try:
        split = urlsplit(url)
        split.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError:
        return False
    return split.scheme in ("http", "https") and bool(split.hostname) and " " not in url


def _paragraph(*nodes: JSON) -> dict[str, JSON]:
    return {"type": "paragraph", "content": list(nodes)}


def _text(value: str, *marks: JSON) -> dict[str, JSON]:
    node: dict[str, JSON] = {"type": "text", "text": value if value.strip() else EMPTY}
    if marks:
        node["marks"] = list(marks)
    return node


def _target(transition: Mapping[str, JSON]) -> str:
    to = transition.get("to")
    return text(to.get("name")) if isinstance(to, dict) else ""


def _number(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _colon(detail: str) -> str:
    return f": {detail}" if detail else ""


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _json_or_none(response: httpx.Response) -> JSON:
    try:
        return response.json()
    except ValueError:
        return None


def _json(response: httpx.Response, where: str) -> JSON:
    try:
        return response.json()
    except ValueError:
        _unexpected(where, f"HTTP {response.status_code} that is not JSON")


def _json_object(response: httpx.Response, where: str) -> dict[str, JSON]:
    body = _json(response, where)
    if not isinstance(body, dict):
        _unexpected(where, "JSON that is not an object")
    return body


def _unexpected(where: str, what: str) -> NoReturn:
    raise TicketError("unavailable", f"unexpected answer from {where}: {what}")
