"""A fake Jira Cloud REST API v3 for tests, served over real HTTP on 127.0.0.1.

Start it, point the Jira URL at :attr:`FakeJira.url`, set up issues with
:meth:`FakeJira.add_issue`, run the code under test, then inspect the state
(:meth:`~FakeJira.issue`, :meth:`~FakeJira.comments`) and the requests
(:attr:`~FakeJira.requests`, :meth:`~FakeJira.count`)::

    with FakeJira() as jira:
        jira.add_issue("FEAT-1", "Roll out checkout", fields={"Feature Flag": "checkout"})
        tickets = JiraTickets.from_settings(Tickets(provider="jira", url=jira.url), jira.env)
        assert tickets.fetch("FEAT-1", ["Feature Flag"]).fields == {"Feature Flag": "checkout"}

Every response body is built from Atlassian's own examples (the v3 OpenAPI document) and
jira-cli's fixtures in ``tests/data/jira`` (see :func:`samples`): the example is copied, then
the keys, ids, names and values of the fake's issue are written over it. Where the two sources
disagree the fixture wins (``fields.updated`` is a timestamp string, as Jira sends it, not the
swagger example's ``1``).

Served: ``GET /rest/api/3/field``; ``GET``/``PUT /rest/api/3/issue/{key}``;
``GET``/``POST .../comment`` (paginated: ``startAt``, ``maxResults``, ``total``, ``orderBy``);
``GET``/``POST .../transitions``. Requests need HTTP basic auth with :attr:`~FakeJira.email`
and :attr:`~FakeJira.token` or ``Bearer <token>``. :meth:`~FakeJira.fail` and
:meth:`~FakeJira.hang` inject faults; :meth:`~FakeJira.serve` answers a path with a verbatim
document.

``FakeJira(rest_api=2)`` serves Jira Data Center's REST API v2 instead: the same paths under
``/rest/api/2``, with comments, descriptions and multi-line text fields as plain (wiki markup)
strings rather than ADF.
"""

from __future__ import annotations

import base64
import copy
import functools
import itertools
import json
import re
import threading
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, NoReturn
from urllib.parse import parse_qs, unquote, urlsplit

JSON = Any
"""A decoded JSON value."""

JIRA_DIR = Path(__file__).resolve().parent.parent / "data" / "jira"
"""``tests/data/jira``: the Jira samples (sources: ``tests/data/SOURCES.md``)."""
SWAGGER = JIRA_DIR / "platform-swagger.v3.json"
CLI_DIR = JIRA_DIR / "jira-cli-testdata"

DEFAULT_EMAIL = "flaggate-bot@example.com"
DEFAULT_TOKEN = "jira-t0ken"
API = "/rest/api/3"

NOT_FOUND = "Issue does not exist or you do not have permission to see it."
NO_PERMISSION = "You do not have the permission to see the specified issue."
UNAUTHENTICATED = "Client must be authenticated to access this resource."
INVALID_ADF = "INVALID_INPUT"

FieldKind = Literal[
    "text", "textarea", "select", "multiselect", "number", "user", "labels", "versions", "date"
]
Category = Literal["new", "indeterminate", "done"]

_CUSTOM_TYPES: dict[str, tuple[dict[str, str], str]] = {
    "text": ({"type": "string"}, "textfield"),
    "textarea": ({"type": "string"}, "textarea"),
    "select": ({"type": "option"}, "select"),
    "multiselect": ({"type": "array", "items": "option"}, "multiselect"),
    "number": ({"type": "number"}, "float"),
    "user": ({"type": "user"}, "userpicker"),
    "labels": ({"type": "array", "items": "string"}, "labels"),
    "versions": ({"type": "array", "items": "version"}, "multiversion"),
    "date": ({"type": "date"}, "datepicker"),
}
_CUSTOM_PREFIX = "com.atlassian.jira.plugin.system.customfieldtypes:"

_SYSTEM_FIELDS: list[tuple[str, str, dict[str, str]]] = [
    ("summary", "Summary", {"type": "string"}),
    ("description", "Description", {"type": "string"}),
    ("status", "Status", {"type": "status"}),
    ("labels", "Labels", {"type": "array", "items": "string"}),
    ("assignee", "Assignee", {"type": "user"}),
    ("reporter", "Reporter", {"type": "user"}),
    ("priority", "Priority", {"type": "priority"}),
    ("issuetype", "Issue Type", {"type": "issuetype"}),
    ("project", "Project", {"type": "project"}),
    ("resolution", "Resolution", {"type": "resolution"}),
    ("created", "Created", {"type": "datetime"}),
    ("updated", "Updated", {"type": "datetime"}),
    ("fixVersions", "Fix versions", {"type": "array", "items": "version"}),
    ("environment", "Environment", {"type": "string"}),
    ("comment", "Comment", {"type": "comments-page"}),
    ("issuelinks", "Linked Issues", {"type": "array", "items": "issuelinks"}),
    ("attachment", "Attachment", {"type": "array", "items": "attachment"}),
    ("worklog", "Log Work", {"type": "array", "items": "worklog"}),
    ("timetracking", "Time tracking", {"type": "timetracking"}),
    ("watches", "Watchers", {"type": "watches"}),
]
_SETTABLE_SYSTEM = {"summary", "description", "environment", "fixVersions", "labels"}

DEFAULT_CUSTOM_FIELDS: list[tuple[str, str, FieldKind, tuple[str, ...]]] = [
    ("customfield_10042", "Feature Flag", "text", ()),
    ("customfield_10043", "Target Environment", "select", ("staging", "production")),
    ("customfield_10044", "Rollout Percentage", "number", ()),
    ("customfield_10045", "Flag Owner", "user", ()),
    ("customfield_10046", "Rollout Plan", "textarea", ()),
    ("customfield_10047", "Deploy Environments", "multiselect", ("dev", "staging", "production")),
    ("customfield_10048", "Flag Keys", "labels", ()),
    ("customfield_10049", "Release", "versions", ()),
    ("customfield_10050", "Launch Date", "date", ()),
]
"""``(id, name, kind, options)`` of the custom fields every fake starts with."""

_CATEGORIES: dict[str, tuple[int, str, str]] = {
    "new": (2, "blue-gray", "To Do"),
    "indeterminate": (4, "yellow", "In Progress"),
    "done": (3, "green", "Done"),
}
"""Jira's status categories: ``key -> (id, colorName, name)``."""

_MARKS = {"strong", "em", "code", "link", "strike", "underline", "subsup", "textColor"}
_BLOCK_NODES = {
    "paragraph",
    "bulletList",
    "orderedList",
    "heading",
    "codeBlock",
    "blockquote",
    "rule",
    "panel",
}
_INLINE_NODES = {"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status"}


# --- the sample documents ----------------------------------------------------------------------


@dataclass(frozen=True)
class Samples:
    """The example documents the fake copies (decoded; copy before changing them)."""

    issue: JSON
    """Swagger ``GET /issue/{issueIdOrKey}`` 200 example (``ED-1``)."""
    transitions: JSON
    """Swagger ``GET /issue/{issueIdOrKey}/transitions`` 200 example."""
    comments: JSON
    """Swagger ``GET /issue/{issueIdOrKey}/comment`` 200 example (a page)."""
    comment_created: JSON
    """Swagger ``POST /issue/{issueIdOrKey}/comment`` 201 example."""
    fields: JSON
    """Swagger ``GET /field`` 200 example."""
    cli_issue: JSON
    """jira-cli ``issue.json`` (v3, ADF description)."""
    cli_issue_v2: JSON
    """jira-cli ``issue-2.json`` (a v2-style plain-text description)."""
    cli_transitions: JSON
    """jira-cli ``transitions.json``."""


def swagger_example(path: str, method: str, status: str) -> JSON:
    """The JSON example of one response of the swagger document (the examples are strings)."""
    operation = _swagger()["paths"][path][method]
    return json.loads(operation["responses"][status]["content"]["application/json"]["example"])


@functools.cache
def _swagger() -> JSON:
    return json.loads(SWAGGER.read_text(encoding="utf-8"))


@functools.cache
def samples() -> Samples:
    """The example documents (cached: never change them; ``copy.deepcopy`` first)."""
    issue = f"{API}/issue/{{issueIdOrKey}}"

    def cli(name: str) -> JSON:
        return json.loads((CLI_DIR / name).read_text(encoding="utf-8"))

    return Samples(
        issue=swagger_example(issue, "get", "200"),
        transitions=swagger_example(f"{issue}/transitions", "get", "200"),
        comments=swagger_example(f"{issue}/comment", "get", "200"),
        comment_created=swagger_example(f"{issue}/comment", "post", "201"),
        fields=swagger_example(f"{API}/field", "get", "200"),
        cli_issue=cli("issue.json"),
        cli_issue_v2=cli("issue-2.json"),
        cli_transitions=cli("transitions.json"),
    )


def error_collection(*messages: str, **errors: str) -> dict[str, JSON]:
    """Jira's ``ErrorCollection`` body."""
    return {"errorMessages": list(messages), "errors": dict(errors)}


def adf(text: str) -> dict[str, JSON]:
    """Plain text as an ADF document, one paragraph per line."""
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}]}
            for line in text.splitlines()
            if line
        ],
    }


def adf_problems(doc: JSON) -> list[str]:
    """Why ``doc`` is not a valid ADF document (empty: it is). Checks what Jira checks for the
    nodes flaggate writes: the root, node nesting, non-empty text, known marks, a link's
    ``href``, and that ``code`` combines with no mark but ``link``."""
    problems: list[str] = []
    if not isinstance(doc, dict) or doc.get("type") != "doc" or doc.get("version") != 1:
        return ["the root is not {type: doc, version: 1}"]
    if not isinstance(doc.get("content"), list):
        return ["the doc has no content list"]
    for index, node in enumerate(doc["content"]):
        _check_block(node, f"content[{index}]", problems)
    return problems


def _check_block(node: JSON, where: str, problems: list[str]) -> None:
    kind = node.get("type") if isinstance(node, dict) else None
    if kind not in _BLOCK_NODES:
        problems.append(f"{where}: {kind!r} is not a block node")
        return
    content = node.get("content", [])
    if not isinstance(content, list):
        problems.append(f"{where}: content is not a list")
        return
    if kind in ("bulletList", "orderedList"):
        if not content:
            problems.append(f"{where}: an empty list")
        for index, item in enumerate(content):
            here = f"{where}.content[{index}]"
            if not isinstance(item, dict) or item.get("type") != "listItem":
                problems.append(f"{here}: a list holds listItem nodes only")
                continue
            children = item.get("content")
            if not isinstance(children, list) or not children:
                problems.append(f"{here}: an empty listItem")
                continue
            for number, child in enumerate(children):
                _check_block(child, f"{here}.content[{number}]", problems)
    elif kind in ("paragraph", "heading", "codeBlock"):
        for index, child in enumerate(content):
            _check_inline(child, f"{where}.content[{index}]", problems)
    else:
        for index, child in enumerate(content):
            _check_block(child, f"{where}.content[{index}]", problems)


def _check_inline(node: JSON, where: str, problems: list[str]) -> None:
    kind = node.get("type") if isinstance(node, dict) else None
    if kind not in _INLINE_NODES:
        problems.append(f"{where}: {kind!r} is not an inline node")
        return
    if kind != "text":
        return
    if not isinstance(node.get("text"), str) or not node["text"]:
        problems.append(f"{where}: a text node with empty text")
    marks = node.get("marks", [])
    if not isinstance(marks, list):
        problems.append(f"{where}: marks is not a list")
        return
    types = [str(m.get("type")) if isinstance(m, dict) else "" for m in marks]
    for mark, mark_type in zip(marks, types, strict=True):
        if mark_type not in _MARKS:
            problems.append(f"{where}: unknown mark {mark_type!r}")
        elif mark_type == "link":
            attrs = mark.get("attrs")
            if not isinstance(attrs, dict) or not isinstance(attrs.get("href"), str):
                problems.append(f"{where}: a link mark without attrs.href")
    if len(set(types)) != len(types):
        problems.append(f"{where}: a mark repeated")
    if "code" in types and set(types) - {"code", "link"}:
        problems.append(f"{where}: code combined with {sorted(set(types) - {'code', 'link'})}")


def adf_text(doc: JSON) -> str:
    """Every text node of an ADF document, concatenated (for assertions)."""
    if isinstance(doc, dict):
        own = doc.get("text") if doc.get("type") == "text" else ""
        return str(own or "") + "".join(adf_text(c) for c in doc.get("content") or [])
    return ""


# --- state -------------------------------------------------------------------------------------


@dataclass
class FakeField:
    """A field of the fake Jira (system or custom)."""

    id: str
    name: str
    kind: str
    """A `FieldKind` for a custom field; the schema type for a system field."""
    custom: bool
    options: dict[str, str] = field(default_factory=dict)
    """``value -> option id`` of a select field."""


@dataclass
class FakeTransition:
    """A transition of an issue: ``name`` leads to status ``to`` (in ``category``)."""

    id: str
    name: str
    to: str
    category: Category = "indeterminate"
    available: bool = True


@dataclass
class FakeComment:
    """A comment: its ADF body and when it was made."""

    id: str
    body: JSON
    created: str
    author: str = "Flaggate Bot"
    visibility: JSON = None


@dataclass
class FakeIssue:
    """An issue of the fake; ``values`` holds field values as Jira renders them, by id."""

    key: str
    id: str
    summary: str
    status: str
    category: Category
    labels: list[str]
    values: dict[str, JSON]
    transitions: list[FakeTransition]
    comments: list[FakeComment] = field(default_factory=list)
    forbidden: bool = False
    created: str = ""
    updated: str = ""


@dataclass(frozen=True)
class RecordedRequest:
    """A request the fake received (every one, including those answered with an error)."""

    method: str
    path: str
    """Decoded path, without the query."""
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Lower-cased names."""
    body: JSON
    """The JSON body decoded (``None`` when empty; the raw text when it is not JSON)."""

    def param(self, name: str) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    remaining: int | None  # None: every matching request
    status: int
    headers: dict[str, str]
    body: JSON
    hang: float = 0.0


@dataclass
class _Reply:
    status: int
    body: JSON = None
    headers: dict[str, str] = field(default_factory=dict)


class _JiraError(Exception):
    """Raised by a handler to answer with an error body."""

    def __init__(self, status: int, body: JSON) -> None:
        super().__init__(status)
        self.reply = _Reply(status, body)


def _invalid(*messages: str, **errors: str) -> NoReturn:
    raise _JiraError(400, error_collection(*messages, **errors))


def _cannot_set(field_id: str) -> NoReturn:
    _invalid(
        **{
            field_id: f"Field '{field_id}' cannot be set. It is not on the appropriate screen, "
            "or unknown."
        }
    )


# --- the server ------------------------------------------------------------------------------


class FakeJira:
    """A stateful fake of Jira's REST API v3 (see the module docstring).

    The socket is bound at construction (so :attr:`url` is known before :meth:`start`);
    requests are served by a background thread between :meth:`start` and :meth:`stop` (or
    inside ``with``). ``comment_page_cap`` is the largest page of comments served, whatever
    ``maxResults`` asks for.
    """

    def __init__(
        self,
        email: str = DEFAULT_EMAIL,
        token: str = DEFAULT_TOKEN,
        *,
        comment_page_cap: int = 100,
        rest_api: int = 3,
    ) -> None:
        self.api = f"/rest/api/{rest_api}"
        self.adf = rest_api >= 3
        self.email = email
        self.token = token
        self.comment_page_cap = comment_page_cap
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._ids = itertools.count(10100)
        self._clock = itertools.count()
        self._issues: dict[str, FakeIssue] = {}
        self._fields: dict[str, FakeField] = {}
        self._status_ids: dict[str, str] = {}
        self._faults: list[_Fault] = []
        self._served: dict[tuple[str, str], _Reply] = {}
        self._requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        """Tracebacks of exceptions raised while answering (bugs in the fake): keep it empty."""
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread: threading.Thread | None = None
        for ident, name, schema in _SYSTEM_FIELDS:
            self._fields[ident] = FakeField(ident, name, schema["type"], custom=False)
        for ident, name, kind, options in DEFAULT_CUSTOM_FIELDS:
            self.add_field(ident, name, kind, options)

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:PORT`` (the settings' ``url``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def env(self) -> dict[str, str]:
        """Environment variables with this fake's credentials (basic auth)."""
        return {"JIRA_EMAIL": self.email, "JIRA_API_TOKEN": self.token}

    def start(self) -> FakeJira:
        """Serve requests in a background thread; returns ``self``."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (hanging requests are released) and close the socket."""
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeJira:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- setup -------------------------------------------------------------------------------

    def add_field(
        self, ident: str, name: str, kind: FieldKind, options: Iterable[str] = ()
    ) -> FakeField:
        """A custom field (``customfield_NNNNN``); ``options`` for a select field."""
        with self._lock:
            found = FakeField(
                ident, name, kind, custom=True, options={o: str(next(self._ids)) for o in options}
            )
            self._fields[ident] = found
            return found

    def add_issue(
        self,
        key: str,
        summary: str = "Roll out a feature flag",
        *,
        status: str = "In Progress",
        category: Category = "indeterminate",
        labels: Sequence[str] = (),
        fields: Mapping[str, JSON] | None = None,
        transitions: Sequence[tuple[str, str, str] | tuple[str, str, str, Category]] | None = None,
        description: str = "",
        forbidden: bool = False,
    ) -> FakeIssue:
        """An issue. ``fields`` are by id or name, as plain values (a select's value, a user's
        display name, a number, text, a list for a multi-value field); ``transitions`` are
        ``(id, name, to status[, category])`` (default: Start, QA Review, Done); ``forbidden``
        answers 403 to every request about it."""
        with self._lock:
            now = self._now()
            issue = FakeIssue(
                key=key,
                id=str(next(self._ids)),
                summary=summary,
                status=status,
                category=category,
                labels=list(labels),
                values={},
                transitions=[
                    FakeTransition(*t)
                    for t in (
                        transitions
                        or [
                            ("11", "Start", "In Progress"),
                            ("21", "QA Review", "In Review"),
                            ("31", "Done", "Done", "done"),
                        ]
                    )
                ],
                forbidden=forbidden,
                created=now,
                updated=now,
            )
            if description:
                issue.values["description"] = adf(description) if self.adf else description
            for name, value in (fields or {}).items():
                found = self.field(name)
                issue.values[found.id] = self._render(found, value)
            self._issues[key.upper()] = issue
            return issue

    def add_comment(self, key: str, body: str | JSON, *, author: str = "Alice Adams") -> None:
        """A comment on ``key`` (plain text becomes ADF); each is newer than the last."""
        with self._lock:
            issue = self._issues[key.upper()]
            document = adf(body) if isinstance(body, str) and self.adf else body
            issue.comments.append(FakeComment(str(next(self._ids)), document, self._now(), author))

    def fail(
        self,
        status: int,
        *,
        times: int | None = 1,
        method: str = "*",
        path: str = "",
        retry_after: int | None = None,
        body: JSON = None,
    ) -> None:
        """Answer the next ``times`` requests (``None``: all of them) whose method is
        ``method`` (``*``: any) and whose path matches ``path`` (``re.search``) with
        ``status``, and ``Retry-After`` when given. Faults queue up in order."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        if body is None:
            body = error_collection(
                "Rate limit exceeded." if status == 429 else "Internal server error"
            )
        with self._lock:
            self._faults.append(
                _Fault(method.upper(), re.compile(path), times, status, headers, body)
            )

    def hang(
        self, seconds: float, *, times: int | None = 1, method: str = "*", path: str = ""
    ) -> None:
        """Answer the next ``times`` matching requests only after ``seconds`` (longer than the
        client's timeout: it gives up first)."""
        with self._lock:
            self._faults.append(
                _Fault(method.upper(), re.compile(path), times, 200, {}, None, hang=seconds)
            )

    def serve(self, method: str, path: str, body: JSON, status: int = 200) -> None:
        """Answer ``method path`` (any query) with ``body`` verbatim, after the auth check."""
        with self._lock:
            self._served[(method.upper(), path)] = _Reply(status, copy.deepcopy(body))

    # --- inspection --------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in order."""
        with self._lock:
            return list(self._requests)

    def calls(self, method: str = "*", path: str = "") -> list[RecordedRequest]:
        """The requests with ``method`` (``*``: any) whose path matches ``path``
        (``re.search``)."""
        return [
            r
            for r in self.requests
            if method.upper() in ("*", r.method) and re.search(path, r.path)
        ]

    def count(self, method: str = "*", path: str = "") -> int:
        """How many requests `calls` would list."""
        return len(self.calls(method, path))

    def reset_calls(self) -> None:
        """Forget the requests received so far."""
        with self._lock:
            self._requests.clear()

    def issue(self, key: str) -> FakeIssue:
        """The issue's state (live: do not change it while requests are served)."""
        with self._lock:
            return self._issues[key.upper()]

    def comments(self, key: str) -> list[JSON]:
        """The ADF bodies of the issue's comments, oldest first."""
        with self._lock:
            return [copy.deepcopy(c.body) for c in self._issues[key.upper()].comments]

    def field(self, name: str) -> FakeField:
        """A field by id, else by exact name."""
        with self._lock:
            if name in self._fields:
                return self._fields[name]
            for found in self._fields.values():
                if found.name == name:
                    return found
            raise KeyError(name)

    def value(self, key: str, name: str) -> JSON:
        """A field's value on an issue, as Jira renders it (``None``: empty)."""
        with self._lock:
            return copy.deepcopy(self._issues[key.upper()].values.get(self.field(name).id))

    # --- rendering ---------------------------------------------------------------------------

    def _now(self) -> str:
        moment = datetime(2024, 3, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=next(self._clock))
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")

    def _user(self, name: str) -> JSON:
        user = copy.deepcopy(samples().comments["comments"][0]["author"])
        account = "5b10a2844c2016570" + format(sum(map(ord, name)) * 7919 % 16**7, "07x")
        user.update(
            self=f"{self.url}{self.api}/user?accountId={account}",
            accountId=account,
            displayName=name,
            active=True,
        )
        return user

    def _option(self, found: FakeField, value: str) -> JSON:
        if value not in found.options:
            _invalid(**{found.id: f"Option value '{value}' is not valid"})
        ident = found.options[value]
        return {
            "self": f"{self.url}{self.api}/customFieldOption/{ident}",
            "value": value,
            "id": ident,
        }

    def _version(self, name: str) -> JSON:
        ident = str(10000 + sum(map(ord, name)))
        return {
            "self": f"{self.url}{self.api}/version/{ident}",
            "id": ident,
            "name": name,
            "archived": False,
            "released": False,
        }

    def _render(self, found: FakeField, value: JSON) -> JSON:
        """A plain value (from `add_issue`) as Jira renders it for the field's kind."""
        if value is None:
            return None
        kind = found.kind
        many = list(value) if isinstance(value, list | tuple) else [value]
        if kind in ("select",):
            return self._option(found, str(value))
        if kind == "multiselect":
            return [self._option(found, str(v)) for v in many]
        if kind == "number":
            return float(value)
        if kind == "user":
            return self._user(str(value))
        if kind in ("labels", "array"):
            return [str(v) for v in many]
        if kind == "versions":
            return [self._version(str(v)) for v in many]
        if kind == "textarea" or found.id in ("description", "environment"):
            return adf(str(value)) if isinstance(value, str) and self.adf else value
        return value

    def _status(self, name: str, category: str) -> JSON:
        status = copy.deepcopy(samples().transitions["transitions"][0]["to"])
        ident = self._status_ids.setdefault(name, str(10000 + len(self._status_ids)))
        cat_id, color, cat_name = _CATEGORIES[category]
        status.update(
            self=f"{self.url}{self.api}/status/{ident}",
            description=f"The issue is {name.lower()}.",
            iconUrl=f"{self.url}/images/icons/statuses/generic.png",
            name=name,
            id=ident,
        )
        status["statusCategory"].update(
            self=f"{self.url}{self.api}/statuscategory/{cat_id}",
            id=cat_id,
            key=category,
            colorName=color,
            name=cat_name,
        )
        return status

    def _comment(self, issue: FakeIssue, comment: FakeComment) -> JSON:
        rendered = copy.deepcopy(samples().comments["comments"][0])
        author = self._user(comment.author)
        rendered.update(
            self=f"{self.url}{self.api}/issue/{issue.id}/comment/{comment.id}",
            id=comment.id,
            author=author,
            body=copy.deepcopy(comment.body),
            updateAuthor=author,
            created=comment.created,
            updated=comment.created,
        )
        # Jira sends visibility only for a restricted comment.
        rendered.pop("visibility", None)
        if comment.visibility is not None:
            rendered["visibility"] = comment.visibility
        return rendered

    def _issue_fields(self, issue: FakeIssue) -> dict[str, JSON]:
        fields: dict[str, JSON] = copy.deepcopy(samples().issue["fields"])
        project_key = issue.key.split("-", 1)[0]
        project = fields["project"]
        project.update(
            self=f"{self.url}{self.api}/project/{project_key}",
            key=project_key,
            name=project_key.title(),
        )
        project["insight"]["totalIssueCount"] = len(self._issues)
        watcher = fields["watcher"]
        watcher.update(
            self=f"{self.url}{self.api}/issue/{issue.key}/watchers", watchCount=0, watchers=[]
        )
        reporter = self._user("Rita Reporter")
        done = issue.category == "done"
        fields.update(
            {
                "summary": issue.summary,
                "status": self._status(issue.status, issue.category),
                "labels": list(issue.labels),
                "description": None,
                "environment": None,
                "comment": [self._comment(issue, c) for c in issue.comments],
                "attachment": [],
                "sub-tasks": [],
                "issuelinks": [],
                "worklog": [],
                "timetracking": {
                    "originalEstimate": "1d",
                    "remainingEstimate": "1d",
                    "timeSpent": "0m",
                    "originalEstimateSeconds": 28800,
                    "remainingEstimateSeconds": 28800,
                    "timeSpentSeconds": 0,
                },
                "created": issue.created,
                "updated": issue.updated,
                "issuetype": {
                    "self": f"{self.url}{self.api}/issuetype/10001",
                    "id": "10001",
                    "description": "A small, distinct piece of work.",
                    "iconUrl": f"{self.url}/images/icons/issuetypes/task.png",
                    "name": "Task",
                    "subtask": False,
                },
                "priority": {
                    "self": f"{self.url}{self.api}/priority/3",
                    "iconUrl": f"{self.url}/images/icons/priorities/medium.svg",
                    "name": "Medium",
                    "id": "3",
                },
                "resolution": (
                    {
                        "self": f"{self.url}{self.api}/resolution/10000",
                        "id": "10000",
                        "description": "Work has been completed on this issue.",
                        "name": "Done",
                    }
                    if done
                    else None
                ),
                "resolutiondate": issue.updated if done else None,
                "assignee": None,
                "reporter": reporter,
                "watches": {
                    "self": f"{self.url}{self.api}/issue/{issue.key}/watchers",
                    "watchCount": 0,
                    "isWatching": False,
                },
                "fixVersions": [],
            }
        )
        for found in self._fields.values():
            if found.custom:
                fields[found.id] = None
        fields.update(copy.deepcopy(issue.values))
        return fields

    def _issue_body(self, issue: FakeIssue, wanted: str | None) -> JSON:
        body = copy.deepcopy(samples().issue)
        fields = self._issue_fields(issue)
        if wanted is not None:
            names = [n.strip() for n in wanted.split(",") if n.strip()]
            if not any(n in ("*all", "*navigable") for n in names):
                fields = {k: v for k, v in fields.items() if k in names}
            for name in names:
                if name.startswith("-"):
                    fields.pop(name[1:], None)
        body.update(
            expand="renderedFields,names,schema,operations,editmeta,changelog,"
            "versionedRepresentations",
            id=issue.id,
            self=f"{self.url}{self.api}/issue/{issue.id}",
            key=issue.key,
            fields=fields,
        )
        return body

    def _field_body(self, found: FakeField) -> JSON:
        # The swagger example's "summary" field carries every key ("description" has no key).
        body = copy.deepcopy(next(f for f in samples().fields if f["id"] == "summary"))
        if found.custom:
            base, custom = _CUSTOM_TYPES[found.kind]
            number = int(found.id.rsplit("_", 1)[-1])
            schema: dict[str, JSON] = {
                **base,
                "custom": _CUSTOM_PREFIX + custom,
                "customId": number,
            }
            clauses = [f"cf[{number}]", found.name]
        else:
            system = next(s for i, _, s in _SYSTEM_FIELDS if i == found.id)
            schema = {**system, "system": found.id}
            clauses = [found.id]
        body.update(
            id=found.id,
            key=found.id,
            name=found.name,
            custom=found.custom,
            orderable=found.id not in ("status", "created", "updated", "resolution"),
            clauseNames=clauses,
            schema=schema,
        )
        return body

    def _transition_body(self, transition: FakeTransition) -> JSON:
        body = copy.deepcopy(samples().transitions["transitions"][0])
        body.update(
            id=transition.id,
            name=transition.name,
            to=self._status(transition.to, transition.category),
            hasScreen=False,
            isGlobal=True,
            isInitial=False,
            isAvailable=transition.available,
            isConditional=False,
            fields={},
        )
        return body

    # --- requests ----------------------------------------------------------------------------

    def _record(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> JSON:
        split = urlsplit(target)
        body: JSON = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        request = RecordedRequest(method, unquote(split.path), parse_qs(split.query), headers, body)
        with self._lock:
            self._requests.append(request)
        return request

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method in ("*", method) and fault.pattern.search(path):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        scheme, _, credential = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return credential.strip() == self.token
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credential.strip()).decode()
            except ValueError:
                return False
            return decoded == f"{self.email}:{self.token}"
        return False

    def _respond(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> _Reply:
        """Answer one request (after a hang, when one is injected)."""
        request = self._record(method, target, headers, raw)
        with self._lock:
            fault = self._take_fault(method, request.path)
        if fault is not None and fault.hang:
            self._stopping.wait(fault.hang)
        elif fault is not None:
            return _Reply(fault.status, copy.deepcopy(fault.body), dict(fault.headers))
        if not self._authorized(headers):
            return _Reply(
                401,
                {"message": UNAUTHENTICATED, "status-code": 401},
                {"WWW-Authenticate": 'OAuth realm="https%3A%2F%2Fjira.example"'},
            )
        with self._lock:
            served = self._served.get((method, request.path))
            if served is not None:
                return copy.deepcopy(served)
            try:
                return self._dispatch(request)
            except _JiraError as exc:
                return exc.reply

    def _dispatch(self, request: RecordedRequest) -> _Reply:
        method, path = request.method, request.path
        if method == "GET" and path == f"{self.api}/field":
            return _Reply(200, [self._field_body(f) for f in self._fields.values()])
        match = re.fullmatch(rf"{self.api}/issue/([^/]+)(/comment|/transitions)?", path)
        if match is None:
            return _Reply(404, {"message": f"null for uri: {self.url}{path}", "status-code": 404})
        issue = self._issues.get(match.group(1).upper()) or next(
            (i for i in self._issues.values() if i.id == match.group(1)), None
        )
        if issue is None:
            raise _JiraError(404, error_collection(NOT_FOUND))
        if issue.forbidden:
            raise _JiraError(403, error_collection(NO_PERMISSION))
        handler = {
            ("GET", None): self._get_issue,
            ("PUT", None): self._edit_issue,
            ("GET", "/comment"): self._get_comments,
            ("POST", "/comment"): self._add_comment,
            ("GET", "/transitions"): self._get_transitions,
            ("POST", "/transitions"): self._do_transition,
        }.get((method, match.group(2)))
        if handler is None:
            return _Reply(405, None, {"Allow": "GET"})
        return handler(issue, request)

    def _get_issue(self, issue: FakeIssue, request: RecordedRequest) -> _Reply:
        return _Reply(200, self._issue_body(issue, request.param("fields")))

    def _get_comments(self, issue: FakeIssue, request: RecordedRequest) -> _Reply:
        order = (request.param("orderBy") or "created").strip()
        if order not in ("created", "-created", "+created"):
            _invalid(f"The value '{order}' for orderBy is not valid.")
        try:
            start = max(int(request.param("startAt") or 0), 0)
            size = int(request.param("maxResults") or 50)
        except ValueError:
            _invalid("startAt and maxResults must be numbers.")
        size = min(max(size, 0), self.comment_page_cap)
        comments = list(issue.comments)
        if order == "-created":
            comments.reverse()
        page = copy.deepcopy(samples().comments)
        page.update(
            startAt=start,
            maxResults=size,
            total=len(comments),
            comments=[self._comment(issue, c) for c in comments[start : start + size]],
        )
        return _Reply(200, page)

    def _add_comment(self, issue: FakeIssue, request: RecordedRequest) -> _Reply:
        body = request.body.get("body") if isinstance(request.body, dict) else None
        if not self.adf:
            if not isinstance(body, str) or not body.strip():
                _invalid(body="Comment body can not be empty!")
        elif adf_problems(body):
            _invalid(INVALID_ADF)
        comment = FakeComment(str(next(self._ids)), body, self._now(), "Flaggate Bot")
        issue.comments.append(comment)
        rendered = copy.deepcopy(samples().comment_created)
        rendered.update(self._comment(issue, comment))
        rendered.pop("visibility", None)
        return _Reply(201, rendered)

    def _edit_issue(self, issue: FakeIssue, request: RecordedRequest) -> _Reply:
        body = request.body
        if not isinstance(body, dict) or not (body.get("update") or body.get("fields")):
            _invalid("No fields or updates to apply.")
        labels = list(issue.labels)
        for field_id, operations in (body.get("update") or {}).items():
            if field_id != "labels" or not isinstance(operations, list):
                _cannot_set(field_id)
            for operation in operations:
                labels = _label_operation(labels, operation)
        values = {
            field_id: self._accept(field_id, value)
            for field_id, value in (body.get("fields") or {}).items()
        }
        issue.labels = values.pop("labels", labels)
        if "summary" in values:
            issue.summary = values.pop("summary")
        issue.values.update(values)
        issue.updated = self._now()
        return _Reply(204)

    def _accept(self, field_id: str, value: JSON) -> JSON:
        """A ``fields`` value of an edit, validated and as Jira then renders it."""
        found = self._fields.get(field_id)
        if found is None or (not found.custom and field_id not in _SETTABLE_SYSTEM):
            _cannot_set(field_id)
        kind = found.kind
        if value is None:
            return None
        if kind == "number":
            if not isinstance(value, int | float) or isinstance(value, bool):
                _invalid(**{field_id: "Operation value must be a number"})
            return float(value)
        if not self.adf and (kind == "textarea" or field_id in ("description", "environment")):
            if not isinstance(value, str):
                _invalid(**{field_id: "Operation value must be a string"})
            return value
        if kind == "textarea" or field_id in ("description", "environment"):
            if adf_problems(value):
                _invalid(
                    **{
                        field_id: "Operation value must be an Atlassian Document (see the "
                        "Atlassian Document Format)"
                    }
                )
            return value
        if kind in ("text", "string", "date"):
            if not isinstance(value, str):
                _invalid(**{field_id: "Operation value must be a string"})
            return value
        if kind == "select":
            if not isinstance(value, dict) or not isinstance(value.get("value"), str):
                _invalid(**{field_id: f"Specify a valid 'id' or 'name' for {found.name}"})
            return self._option(found, value["value"])
        many = value if isinstance(value, list) else None
        if many is None:
            _invalid(**{field_id: "Operation value must be an array"})
        if kind == "multiselect":
            if not all(isinstance(v, dict) and isinstance(v.get("value"), str) for v in many):
                _invalid(**{field_id: f"Specify a valid 'id' or 'name' for {found.name}"})
            return [self._option(found, v["value"]) for v in many]
        if kind in ("labels", "array") and field_id != "fixVersions":
            return _label_operation([], {"set": many})
        if kind in ("versions", "array"):
            if not all(isinstance(v, dict) and isinstance(v.get("name"), str) for v in many):
                _invalid(**{field_id: "Version name or id must be given"})
            return [self._version(v["name"]) for v in many]
        _cannot_set(field_id)

    def _get_transitions(self, issue: FakeIssue, request: RecordedRequest) -> _Reply:
        body = copy.deepcopy(samples().cli_transitions)
        body["transitions"] = [self._transition_body(t) for t in issue.transitions]
        return _Reply(200, body)

    def _do_transition(self, issue: FakeIssue, request: RecordedRequest) -> _Reply:
        wanted = request.body.get("transition") if isinstance(request.body, dict) else None
        ident = wanted.get("id") if isinstance(wanted, dict) else None
        if ident is None:
            _invalid("Missing 'transition' identifier")
        chosen = next((t for t in issue.transitions if t.id == str(ident) and t.available), None)
        if chosen is None:
            _invalid(f"Transition id '{ident}' is not valid for this issue.")
        issue.status, issue.category = chosen.to, chosen.category
        issue.updated = self._now()
        return _Reply(204)


def _label_operation(labels: list[str], operation: JSON) -> list[str]:
    if not isinstance(operation, dict) or len(operation) != 1:
        _invalid(labels="An update operation is an object with one of add, remove, set.")
    ((verb, value),) = operation.items()
    values = value if verb == "set" else [value]
    if verb not in ("add", "remove", "set") or not isinstance(values, list):
        _invalid(labels=f"Unsupported operation '{verb}'.")
    for label in values:
        if not isinstance(label, str) or not label or re.search(r"\s", label):
            _invalid(labels=f"The label '{label}' contains spaces which is invalid.")
    if verb == "set":
        return list(dict.fromkeys(values))
    if verb == "add":
        return labels if value in labels else [*labels, value]
    return [label for label in labels if label != value]


# --- the HTTP plumbing -----------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], fake: FakeJira
    ) -> None:
        self.fake = fake
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "AtlassianEdge"
    sys_version = ""
    server: _Server

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_GET

    def _handle(self) -> None:
        fake = self.server.fake
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = fake._respond(self.command, self.path, headers, raw)
        except Exception:
            fake.errors.append(traceback.format_exc())
            reply = _Reply(500, error_collection("Internal server error"))
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.body is not None:
                self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            # The client gave up (a hang longer than its timeout).
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr log (``requests`` records every request)."""
