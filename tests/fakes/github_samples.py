"""Real GitHub data from ``tests/data/github`` (provenance in ``tests/data/SOURCES.md``).

Three loaders, one per recording format:

- :func:`load_replay`: PyGithub ``ReplayData`` files (10 lines per request, then a blank line);
- :func:`load_cassette`: github3.py betamax cassettes (bodies are usually base64 of gzip);
- :func:`load_octokit_fixture`: octokit/fixtures nock recordings;

and :func:`load_webhook` for octokit's webhook payload examples.

:func:`templates` picks, for every object the fake GitHub server renders, the real sample it
copies (most recent recording where several exist). The fake replaces ids, logins, SHAs, URLs
and timestamps; the keys and value types stay GitHub's.
"""

from __future__ import annotations

import ast
import base64
import copy
import functools
import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JSON = Any
"""A decoded JSON value."""

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
"""``tests/data``: the third-party sample data the tests read (see its ``SOURCES.md``)."""

GITHUB_DIR = DATA_DIR / "github"
REST_DIR = GITHUB_DIR / "rest"
WEBHOOKS_DIR = GITHUB_DIR / "webhooks"

MEDIA_TYPE_KEYS = frozenset({"body_html", "body_text"})
"""Keys GitHub adds only for the ``application/vnd.github.full+json`` media type, which the
github3.py cassettes asked for; a default (``application/vnd.github+json``) response has none."""


# --- PyGithub ReplayData ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayRecord:
    """One request/response pair of a PyGithub ``ReplayData`` file."""

    scheme: str
    method: str
    host: str
    port: int | None
    path: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int
    response_headers: list[tuple[str, str]]
    response_body: str

    def json(self) -> JSON:
        """The response body decoded (``None`` for an empty body)."""
        return json.loads(self.response_body) if self.response_body.strip() else None

    def header(self, name: str) -> str | None:
        """A response header, case-insensitively."""
        return next((v for k, v in self.response_headers if k.lower() == name.lower()), None)


_REPLAY_LINES = 10


def parse_replay(text: str) -> list[ReplayRecord]:
    """Parse a PyGithub ``ReplayData`` file.

    Each request is 10 lines (scheme, method, host, port, path, request headers as a Python
    dict repr, request body or ``None``, status, response headers as a Python list-of-tuples
    repr, response body on one line) followed by one blank line (missing after the last one).
    The body line may itself be empty, so records are cut by count, not by blank lines.
    """
    lines = text.split("\n")
    records: list[ReplayRecord] = []
    start = 0
    while start + _REPLAY_LINES <= len(lines):
        chunk = lines[start : start + _REPLAY_LINES]
        if not any(chunk):
            break
        records.append(_replay_record(chunk))
        start += _REPLAY_LINES + 1
    return records


def _replay_record(lines: list[str]) -> ReplayRecord:
    scheme, method, host, port, path, req_headers, req_body, status, resp_headers, body = lines
    headers = ast.literal_eval(resp_headers)
    return ReplayRecord(
        scheme=scheme,
        method=method,
        host=host,
        port=None if port == "None" else int(port),
        path=path,
        request_headers=ast.literal_eval(req_headers),
        request_body=None if req_body == "None" else req_body,
        status=int(status),
        response_headers=list(headers) if isinstance(headers, list) else [],
        response_body=body,
    )


def load_replay(stem: str) -> list[ReplayRecord]:
    """All records of ``rest/<stem>.PyGithub-replay.txt``."""
    return parse_replay((REST_DIR / f"{stem}.PyGithub-replay.txt").read_text(encoding="utf-8"))


def replay_body(stem: str, method: str, path_pattern: str, index: int = 0) -> JSON:
    """The JSON body of the ``index``-th record of ``stem`` matching method and path regex."""
    matches = [
        r for r in load_replay(stem) if r.method == method and re.search(path_pattern, r.path)
    ]
    return matches[index].json()


# --- github3.py betamax cassettes ------------------------------------------------------------


@dataclass(frozen=True)
class CassetteInteraction:
    """One request/response of a github3.py betamax cassette, body decoded."""

    method: str
    uri: str
    status: int
    request_headers: dict[str, Any]
    body: str

    def json(self) -> JSON:
        """The response body decoded (``None`` for an empty body)."""
        return json.loads(self.body) if self.body.strip() else None


def _cassette_body(body: dict[str, Any]) -> str:
    if "base64_string" not in body:
        return str(body.get("string", ""))
    raw = base64.b64decode(body["base64_string"])
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8")


def load_cassette(stem: str) -> list[CassetteInteraction]:
    """All interactions of ``rest/github3py-cassettes/<stem>.json``."""
    data = json.loads((REST_DIR / "github3py-cassettes" / f"{stem}.json").read_text("utf-8"))
    return [
        CassetteInteraction(
            method=item["request"]["method"],
            uri=item["request"]["uri"],
            status=item["response"]["status"]["code"],
            request_headers=item["request"]["headers"],
            body=_cassette_body(item["response"]["body"]),
        )
        for item in data["http_interactions"]
    ]


def cassette_body(stem: str, method: str, uri_pattern: str) -> JSON:
    """The JSON body of the first interaction of ``stem`` matching method and URI regex."""
    return next(
        i.json()
        for i in load_cassette(stem)
        if i.method == method and re.search(uri_pattern, i.uri)
    )


# --- octokit fixtures and webhooks -----------------------------------------------------------


def load_octokit_fixture(scenario: str = "create-status") -> list[dict[str, Any]]:
    """The raw nock recording ``rest/<scenario>.octokit-fixtures.raw-fixture.json``."""
    path = REST_DIR / f"{scenario}.octokit-fixtures.raw-fixture.json"
    data: list[dict[str, Any]] = json.loads(path.read_text("utf-8"))
    return data


def octokit_body(method: str, path_pattern: str, index: int = 0) -> JSON:
    """The response of the ``index``-th create-status recording matching method and path."""
    matches = [
        r
        for r in load_octokit_fixture()
        if r["method"].upper() == method and re.search(path_pattern, r["path"])
    ]
    return matches[index]["response"]


def webhook_files(event: str) -> list[Path]:
    """Every payload file of ``webhooks/<event>/``, sorted by name."""
    return sorted((WEBHOOKS_DIR / event).glob("*.json"))


def load_webhook(event: str, name: str) -> dict[str, Any]:
    """The payload ``webhooks/<event>/<name>`` (``name`` with or without ``.json``)."""
    file = name if name.endswith(".json") else f"{name}.json"
    payload: dict[str, Any] = json.loads((WEBHOOKS_DIR / event / file).read_text("utf-8"))
    return payload


def iter_webhook_pull_requests() -> Iterator[tuple[str, dict[str, Any]]]:
    """``(file name, pull_request object)`` of every ``pull_request`` webhook payload."""
    for path in webhook_files("pull_request"):
        yield path.name, json.loads(path.read_text("utf-8"))["pull_request"]


def without(obj: dict[str, Any], keys: frozenset[str] | set[str]) -> dict[str, Any]:
    """A copy of ``obj`` without ``keys`` (top level only)."""
    return {k: v for k, v in obj.items() if k not in keys}


def union(primary: JSON, secondary: JSON) -> JSON:
    """``primary`` plus, recursively, the object keys only ``secondary`` has (a new value)."""
    if not (isinstance(primary, dict) and isinstance(secondary, dict)):
        return copy.deepcopy(primary)
    merged = {k: union(v, secondary.get(k)) for k, v in primary.items()}
    merged.update({k: copy.deepcopy(v) for k, v in secondary.items() if k not in primary})
    return merged


# --- templates of the fake server ------------------------------------------------------------


@dataclass(frozen=True)
class Templates:
    """One real sample per object the fake server renders (see :func:`templates`)."""

    user: dict[str, Any]
    repo: dict[str, Any]
    pull: dict[str, Any]
    pull_repo: dict[str, Any]
    pull_simple_absent: frozenset[str]
    label: dict[str, Any]
    review: dict[str, Any]
    commit: dict[str, Any]
    file: dict[str, Any]
    status: dict[str, Any]
    combined_status: dict[str, Any]
    combined_repo: dict[str, Any]
    combined_entry: dict[str, Any]
    comment: dict[str, Any]
    membership: dict[str, Any]
    team: dict[str, Any]
    issue: dict[str, Any]
    issue_event: dict[str, Any]
    review_request_event: dict[str, Any]
    timeline_committed: dict[str, Any]
    check_run: dict[str, Any]

    def get(self, name: str) -> dict[str, Any]:
        """A deep copy of template ``name`` (templates themselves are never mutated)."""
        value: dict[str, Any] = copy.deepcopy(getattr(self, name))
        return value


def _event_of(records: list[ReplayRecord], event: str) -> dict[str, Any]:
    body: dict[str, Any] = next(r.json() for r in records if (r.json() or {}).get("event") == event)
    return body


@functools.cache
def templates() -> Templates:
    """The real samples the fake copies, one per object kind (loaded once).

    - user, repo: ``issues-get-event-all-types`` GET /repos/PyGithub/PyGithub (2025; its
      ``owner`` is the newest user object here, with ``user_view_type``).
    - pull, pull_repo, label: the ``pull_request`` of webhook ``pull_request/labeled`` (the
      REST pull object has the same shape), plus the keys only github3.py's REST GET
      /pulls/873 (2021) has (``allow_forking`` of the head and base repositories);
      ``pull_simple_absent`` are the keys the
      "pull request simple" of github3.py's POST requested_reviewers (2021) lacks.
    - review: github3.py ``PullRequest_pull_reviews`` (2021; the PyGithub 2018 recording has
      no ``node_id``), without the full-media-type keys.
    - commit: github3.py ``RepoCommit_statuses`` GET /commits/{sha} without ``files`` and
      ``stats`` (only the single-commit endpoint has them). There is no recording of
      GET /pulls/{n}/commits; GitHub documents its items as this commit object.
    - file: github3.py ``PullRequest_files`` (2021, with ``contents_url``).
    - status, combined status: octokit ``create-status`` (2022).
    - comment: webhook ``issue_comment/created.1`` ``comment`` (same object as REST).
    - membership: ``teams-membership-for-user``; only ``url``, ``role`` and ``state``, the
      body GitHub documents for GET /orgs/{org}/teams/{slug}/memberships/{user} (the
      recording carries org-membership keys pasted in by PyGithub's maintainers).
    - team: ``pulls-request-reviewers`` GET ``teams[0]``.
    - issue: the ``issue`` embedded in the ``review_requested`` event of
      ``issues-get-event-all-types`` (2025), plus ``closed_by`` (present in single-issue
      responses, e.g. github3.py ``Issue_events`` GET /issues/218).
    - issue_event, review_request_event: the ``labeled`` and ``review_requested`` events of
      ``issues-get-event-all-types`` without ``issue`` (list endpoints omit it, as
      ``issues-list-events-pr`` shows).
    - timeline_committed: a ``committed`` item of ``issues-list-timeline-pr``.
    - check_run: ``checks-list-for-ref`` ``check_runs[0]`` (2020).
    """
    event_records = load_replay("issues-get-event-all-types")
    repo = event_records[0].json()
    labeled = _event_of(event_records, "labeled")
    requested = _event_of(event_records, "review_requested")
    rest_pull = cassette_body("PullRequest_create_review_requests", "GET", r"/pulls/\d+$")
    pull = union(
        load_webhook("pull_request", "labeled.payload")["pull_request"],
        without(rest_pull, MEDIA_TYPE_KEYS),
    )
    simple = cassette_body("PullRequest_create_review_requests", "POST", r"/requested_reviewers$")
    combined = octokit_body("GET", r"/status$")
    timeline = replay_body("issues-list-timeline-pr", "GET", r"/timeline$")
    closed_by = cassette_body("Issue_events", "GET", r"/issues/\d+$")["closed_by"]
    membership = replay_body("teams-membership-for-user", "GET", r"/memberships/")
    return Templates(
        user=repo["owner"],
        repo=repo,
        pull=pull,
        pull_repo=pull["base"]["repo"],
        pull_simple_absent=frozenset(set(pull) - set(simple)),
        label=pull["labels"][0],
        review=without(
            cassette_body("PullRequest_pull_reviews", "GET", r"/reviews")[0], MEDIA_TYPE_KEYS
        ),
        commit=without(
            cassette_body("RepoCommit_statuses", "GET", r"/commits/[0-9a-f]{40}$"),
            {"files", "stats"},
        ),
        file=cassette_body("PullRequest_files", "GET", r"/files")[0],
        status=octokit_body("POST", r"/statuses/"),
        combined_status=combined,
        combined_repo=combined["repository"],
        combined_entry=combined["statuses"][0],
        comment=load_webhook("issue_comment", "created.1.payload")["comment"],
        membership={k: membership[k] for k in ("url", "role", "state")},
        team=replay_body("pulls-request-reviewers", "GET", r"/requested_reviewers$")["teams"][0],
        issue={**requested["issue"], "closed_by": closed_by},
        issue_event=without(labeled, {"issue"}),
        review_request_event=without(requested, {"issue"}),
        timeline_committed=next(i for i in timeline if i["event"] == "committed"),
        check_run=replay_body("checks-list-for-ref", "GET", r"/check-runs$")["check_runs"][0],
    )
