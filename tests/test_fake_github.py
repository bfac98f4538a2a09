"""Tests of the fake GitHub server: its responses have the shape of real GitHub responses,
PyGithub works against it, faults are injected as asked, and calls are recorded in order."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import github
import httpx
import pytest
from urllib3.util import Retry

from tests.fakes import github_samples as samples
from tests.fakes.github import (
    AUTHOR_REVIEW,
    BAD_CREDENTIALS,
    NOT_ACCESSIBLE,
    ROUTES,
    SECONDARY_RATE_LIMIT,
    FakeGitHub,
)

TOKEN = "t0ken"
BASE = "b" * 40
FIRST = "c" * 40
HEAD = "a" * 40
NEW_HEAD = "d" * 40
REPO = "/repos/acme/flags"


# --- the scenario every shape test reads ------------------------------------------------------


def populate(fake: FakeGitHub) -> None:
    """Org ``acme`` with three teams; in ``acme/flags``, open pull request 7 with every kind of
    fact (commits, files, reviews, a comment, label events, a status, check runs) and merged
    pull request 6."""
    fake.add_team("acme", "tech-leads", {"alice": "active", "carol": "pending"})
    fake.add_team("acme", "product-owners", {"paula": "active"}, maintainers=["paula"])
    fake.add_team("acme", "secret", {"sam": "active"}, forbidden=True)
    fake.add_pull(
        "acme",
        "flags",
        7,
        "bob",
        "main",
        BASE,
        "feature",
        HEAD,
        labels=["flags"],
        body="Turn on checkout-redesign",
        created_at="2026-01-05T09:00:00Z",
    )
    fake.set_commits("acme", "flags", 7, [(FIRST, "bob", "bob"), (HEAD, "bob", None)])
    fake.set_files("acme", "flags", 7, ["flags/checkout.yaml", ("flags/new.yaml", "added", 9, 0)])
    fake.add_review("acme", "flags", 7, "alice", "APPROVED", HEAD, "2026-01-05T10:00:00Z")
    fake.add_review("acme", "flags", 7, "renovate[bot]", "COMMENTED", FIRST, "2026-01-05T09:30:00Z")
    fake.add_comment(
        "acme", "flags", 7, "<!-- flaggate -->\nPending", created_at="2026-01-05T09:05:00Z"
    )
    fake.add_label_event("acme", "flags", 7, "emergency", "erin", created_at="2026-01-05T09:10:00Z")
    fake.add_label_event(
        "acme", "flags", 7, "emergency", "erin", "unlabeled", "2026-01-05T09:20:00Z"
    )
    fake.add_status("acme", "flags", HEAD, "pending", "ci/build", "Building")
    fake.add_check_run("acme", "flags", HEAD, "lint", conclusion="failure")
    fake.add_check_run("acme", "flags", HEAD, "test", status="in_progress")
    fake.add_pull(
        "acme",
        "flags",
        6,
        "bob",
        "main",
        BASE,
        "old",
        FIRST,
        merged=True,
        merged_by="alice",
        created_at="2026-01-04T09:00:00Z",
    )


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as server:
        populate(server)
        yield server
        assert server.errors == []


@pytest.fixture
def client(fake: FakeGitHub) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, headers={"Authorization": f"token {TOKEN}"}) as http:
        yield http


def pygithub(fake: FakeGitHub, **options: Any) -> github.Github:
    """A PyGithub client of the fake: no retries and no write throttling unless asked."""
    options = {"retry": None, "seconds_between_requests": 0, "seconds_between_writes": 0, **options}
    return github.Github(auth=github.Auth.Token(TOKEN), base_url=fake.url, **options)


# --- shape comparison --------------------------------------------------------------------------

_NULLABLE_GROUPS = {
    "pull requests and issues": "body assignee milestone closed_at merged_at merge_commit_sha"
    " merged_by mergeable rebaseable auto_merge active_lock_reason closed_by state_reason"
    " head.repo base.repo",
    "repositories": "description homepage language license mirror_url license.spdx_id license.url",
    "labels, statuses, reviews, events": "label.description target_url submitted_at commit_id"
    " commit_url",
    "commits (unlinked git identities, unsigned)": "author committer signature payload",
    "check runs": "conclusion completed_at output.title output.summary output.text",
}
NULLABLE = frozenset(name for names in _NULLABLE_GROUPS.values() for name in names.split())
"""Fields GitHub documents as nullable: a sample's ``null`` may be a value in the fake's
answer, and the other way round. Matched by key name or by dotted path."""


OPEN_MAPS = frozenset({"app.permissions"})
"""Objects whose keys are data (a GitHub App's permissions), not part of the shape."""


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names[type(value)]


def shape_problems(sample: Any, actual: Any, path: str = "") -> list[str]:
    """Every key of ``sample`` missing from ``actual``, and every value of another JSON type,
    recursively (list items: the first of each, when both lists have one)."""
    kinds = json_type(sample), json_type(actual)
    if kinds[0] != kinds[1]:
        key = path.rsplit(".", 1)[-1].removesuffix("[]")
        parent = path.rsplit(".", 2)[-2:] if path.count(".") else [path]
        if "null" in kinds and (
            key in NULLABLE or path in NULLABLE or ".".join(parent) in NULLABLE
        ):
            return []
        return [f"{path or '<root>'}: {kinds[0]} in the sample, {kinds[1]} from the fake"]
    if isinstance(sample, dict) and path in OPEN_MAPS:
        return []
    if isinstance(sample, dict):
        problems = [f"{path}.{k}: missing" for k in sample if k not in actual]
        for key in sample.keys() & actual.keys():
            problems += shape_problems(sample[key], actual[key], f"{path}.{key}".lstrip("."))
        return problems
    if isinstance(sample, list) and sample and actual:
        return shape_problems(sample[0], actual[0], f"{path}[]")
    return []


def test_shape_problems_reports_missing_keys_types_and_allows_documented_nulls() -> None:
    sample: dict[str, Any] = {
        "a": 1,
        "body": None,
        "x": {"y": "s"},
        "z": [{"k": True}],
        "head": {"repo": {}},
    }
    actual = {"body": "text", "x": {"y": 2}, "z": [{}], "head": {"repo": None}}
    assert sorted(shape_problems(sample, actual)) == [
        ".a: missing",
        "x.y: string in the sample, number from the fake",
        "z[].k: missing",
    ]


# --- the samples of each endpoint --------------------------------------------------------------


def replay(stem: str, method: str, pattern: str, index: int = 0) -> tuple[str, Any]:
    return f"PyGithub {stem} {method} {pattern}", samples.replay_body(stem, method, pattern, index)


def cassette(stem: str, method: str, pattern: str) -> tuple[str, Any]:
    """A github3.py response without the keys of the full media type it asked for."""
    body = samples.cassette_body(stem, method, pattern)
    media = samples.MEDIA_TYPE_KEYS
    if isinstance(body, list):
        body = [samples.without(item, media) for item in body]
    elif isinstance(body, dict):
        body = samples.without(body, media)
    return f"github3.py {stem} {method} {pattern}", body


def octokit(method: str, pattern: str, index: int = 0) -> tuple[str, Any]:
    return f"octokit create-status {method} {pattern}", samples.octokit_body(method, pattern, index)


def events_of_type(event: str) -> list[tuple[str, Any]]:
    """Issue events of one type from every recording, without the single-event ``issue``."""
    found = []
    for record in samples.load_replay("issues-get-event-all-types")[1:]:
        body = record.json()
        if body["event"] == event:
            found.append((f"PyGithub {record.path}", samples.without(body, {"issue"})))
    for stem in ("issues-list-events-pr", "issues-list-timeline-pr"):
        for item in samples.replay_body(stem, "GET", r"/(events|timeline)$"):
            if item.get("event") == event:
                found.append((f"PyGithub {stem}", item))
    return found


def timeline_items(event: str) -> list[tuple[str, Any]]:
    items = samples.replay_body("issues-list-timeline-pr", "GET", r"/timeline$")
    return [(f"PyGithub issues-list-timeline-pr {event}", i) for i in items if i["event"] == event]


def embedded_issues(pull: bool) -> list[tuple[str, Any]]:
    found = []
    for record in samples.load_replay("issues-get-event-all-types")[1:]:
        issue = record.json()["issue"]
        if ("pull_request" in issue) == pull:
            found.append((f"PyGithub {record.path} issue", issue))
    return found


def webhook_reviews() -> list[tuple[str, Any]]:
    return [
        (f"webhook pull_request_review/{p.name}", json.loads(p.read_text())["review"])
        for p in samples.webhook_files("pull_request_review")
    ]


def webhook_comments() -> list[tuple[str, Any]]:
    return [
        (f"webhook issue_comment/{p.name}", json.loads(p.read_text())["comment"])
        for p in samples.webhook_files("issue_comment")
    ]


def without_commit_extras(source: tuple[str, Any]) -> tuple[str, Any]:
    """A single-commit response without ``files`` and ``stats``, which list items lack."""
    return source[0], samples.without(source[1], {"files", "stats"})


def merged_pull_webhook() -> dict[str, Any]:
    return samples.load_webhook("pull_request", "closed.merged.create-issue-branch")


def simple_pull() -> tuple[str, Any]:
    return cassette("PullRequest_create_review_requests", "POST", r"/requested_reviewers$")


def webhook_issues() -> list[tuple[str, Any]]:
    """The ``issue`` of every ``issue_comment`` payload (most have an assignee), without the
    ``draft`` webhooks give an issue (REST gives it only to pull requests)."""
    return [
        (
            f"webhook issue_comment/{p.name} issue",
            samples.without(json.loads(p.read_text())["issue"], {"draft"}),
        )
        for p in samples.webhook_files("issue_comment")
    ]


INCIDENT = {
    "title": "Post-incident review",
    "body": "INC-1",
    "labels": ["incident"],
    "assignees": ["alice"],
}


def incident_issue(client: httpx.Client) -> None:
    """Issue 8 (``INCIDENT``) exists: created by the first call."""
    if client.get(f"{REPO}/issues/8").status_code == 404:
        assert client.post(f"{REPO}/issues", json=INCIDENT).json()["number"] == 8


def set_incident_issue(client: httpx.Client, *changes: dict[str, Any]) -> None:
    incident_issue(client)
    for change in changes:
        assert client.patch(f"{REPO}/issues/8", json=change).status_code == 200


REVIEWERS = {"reviewers": ["dave"], "team_reviewers": ["tech-leads"]}


def request_reviewers(client: httpx.Client) -> None:
    assert client.post(f"{REPO}/pulls/7/requested_reviewers", json=REVIEWERS).status_code == 201


def request_and_remove_reviewers(client: httpx.Client) -> None:
    request_reviewers(client)
    removed = client.request("DELETE", f"{REPO}/pulls/7/requested_reviewers", json=REVIEWERS)
    assert removed.status_code == 200


Samples = Callable[[], list[tuple[str, Any]]]


@dataclass(frozen=True)
class ShapeCase:
    """A request to the fake, the item of its answer to compare, and the real samples."""

    name: str
    method: str
    path: str  # "{comment_id}" stands for the id of pull request 7's first comment
    samples: Samples
    pick: Callable[[Any], Any] = lambda body: body
    body: Any = None
    status: int = 200
    setup: Callable[[httpx.Client], None] | None = None


def first(body: Any) -> Any:
    return body[0]


def of_event(event: str) -> Any:
    return lambda body: next(item for item in body if item["event"] == event)


SHAPE_CASES = [
    ShapeCase(
        "repo",
        "GET",
        REPO,
        lambda: [
            replay("issues-get-event-all-types", "GET", r"^/repos/PyGithub/PyGithub$"),
            cassette("Issue_events", "GET", r"/repos/sigmavirus24/github3.py$"),
        ],
    ),
    ShapeCase(
        "pull",
        "GET",
        f"{REPO}/pulls/7",
        lambda: [
            *((f"webhook {n}", pr) for n, pr in samples.iter_webhook_pull_requests()),
            cassette("PullRequest_create_review_requests", "GET", r"/pulls/873$"),
            cassette("PullRequest_files", "GET", r"/pulls/235$"),
            cassette("PullRequest_pull_reviews", "GET", r"/pulls/671$"),
        ],
    ),
    ShapeCase(
        "merged pull",
        "GET",
        f"{REPO}/pulls/6",
        lambda: [("webhook closed.merged", merged_pull_webhook()["pull_request"])],
    ),
    ShapeCase("pull list", "GET", f"{REPO}/pulls?state=all", lambda: [simple_pull()], first),
    ShapeCase(
        "pulls of a commit", "GET", f"{REPO}/commits/{HEAD}/pulls", lambda: [simple_pull()], first
    ),
    ShapeCase(
        "reviews",
        "GET",
        f"{REPO}/pulls/7/reviews",
        lambda: [
            replay("pulls-list-reviews", "GET", r"/reviews$"),
            replay("pulls-create-review-and-get", "GET", r"/reviews/\d+$"),
            cassette("PullRequest_pull_reviews", "GET", r"/reviews"),
            *webhook_reviews(),
        ],
        first,
    ),
    ShapeCase(
        "commits",
        "GET",
        f"{REPO}/pulls/7/commits",
        lambda: [
            without_commit_extras(cassette("RepoCommit_status", "GET", r"/commits/[0-9a-f]+$")),
            without_commit_extras(cassette("RepoCommit_statuses", "GET", r"/commits/[0-9a-f]+$")),
            without_commit_extras(replay("repos-list-commit-statuses", "GET", r"/commits/")),
        ],
        first,
    ),
    ShapeCase(
        "files",
        "GET",
        f"{REPO}/pulls/7/files",
        lambda: [
            replay("pulls-list-files", "GET", r"/files$"),
            cassette("PullRequest_files", "GET", r"/files"),
        ],
        first,
    ),
    ShapeCase(
        "review requests",
        "GET",
        f"{REPO}/pulls/7/requested_reviewers",
        lambda: [replay("pulls-request-reviewers", "GET", r"/requested_reviewers$")],
        setup=request_reviewers,
    ),
    ShapeCase(
        "request reviewers",
        "POST",
        f"{REPO}/pulls/7/requested_reviewers",
        lambda: [simple_pull()],
        body=REVIEWERS,
        status=201,
    ),
    ShapeCase(
        "remove review requests",
        "DELETE",
        f"{REPO}/pulls/7/requested_reviewers",
        lambda: [simple_pull()],
        body={"reviewers": ["dave"]},
        setup=request_reviewers,
    ),
    ShapeCase(
        "team membership",
        "GET",
        "/orgs/acme/teams/tech-leads/memberships/alice",
        lambda: [("PyGithub teams-membership-for-user", samples.templates().membership)],
    ),
    ShapeCase(
        "team members",
        "GET",
        "/orgs/acme/teams/tech-leads/members",
        lambda: [
            replay("teams-list-members", "GET", r"/members$", 1),
            cassette("Team_members", "GET", r"/members"),
        ],
        first,
    ),
    ShapeCase(
        "create status",
        "POST",
        f"{REPO}/statuses/{HEAD}",
        lambda: [
            replay("repos-create-commit-status", "POST", r"/statuses/"),
            octokit("POST", r"/statuses/"),
            cassette("Repository_create_status", "POST", r"/statuses/"),
        ],
        body={"state": "success", "context": "flaggate", "description": "Approved"},
        status=201,
    ),
    ShapeCase(
        "statuses",
        "GET",
        f"{REPO}/commits/{HEAD}/statuses",
        lambda: [
            replay("repos-list-commit-statuses", "GET", r"/statuses/"),
            octokit("GET", r"/statuses$"),
            cassette("RepoCommit_statuses", "GET", r"/statuses"),
        ],
        first,
    ),
    ShapeCase(
        "combined status",
        "GET",
        f"{REPO}/commits/{HEAD}/status",
        lambda: [
            replay("repos-get-combined-status", "GET", r"/status$"),
            octokit("GET", r"/status$"),
            cassette("RepoCommit_status", "GET", r"/status$"),
        ],
    ),
    ShapeCase(
        "comments",
        "GET",
        f"{REPO}/issues/7/comments",
        lambda: [
            replay("issues-list-comments", "GET", r"/comments$"),
            cassette("Issue_comments", "GET", r"/comments"),
            *webhook_comments(),
        ],
        first,
    ),
    ShapeCase(
        "create comment",
        "POST",
        f"{REPO}/issues/7/comments",
        lambda: [
            replay("issues-create-comment", "POST", r"/comments$"),
            cassette("Issue_create_comment", "POST", r"/comments$"),
        ],
        body={"body": "hello"},
        status=201,
    ),
    ShapeCase(
        "edit comment (no recording: the comment object)",
        "PATCH",
        f"{REPO}/issues/comments/{{comment_id}}",
        lambda: [*webhook_comments(), replay("issues-create-comment", "POST", r"/comments$")],
        body={"body": "edited"},
    ),
    ShapeCase(
        "labeled event",
        "GET",
        f"{REPO}/issues/7/events",
        lambda: events_of_type("labeled"),
        of_event("labeled"),
    ),
    ShapeCase(
        "unlabeled event",
        "GET",
        f"{REPO}/issues/7/events",
        lambda: events_of_type("unlabeled"),
        of_event("unlabeled"),
    ),
    ShapeCase(
        "review_requested event",
        "GET",
        f"{REPO}/issues/7/events",
        lambda: events_of_type("review_requested"),
        of_event("review_requested"),
        setup=request_reviewers,
    ),
    ShapeCase(
        "review_request_removed event",
        "GET",
        f"{REPO}/issues/7/events",
        lambda: events_of_type("review_request_removed"),
        of_event("review_request_removed"),
        setup=request_and_remove_reviewers,
    ),
    *(
        ShapeCase(
            f"timeline {event}",
            "GET",
            f"{REPO}/issues/7/timeline",
            partial(timeline_items, event),
            of_event(event),
        )
        for event in ("committed", "labeled", "commented", "reviewed")
    ),
    ShapeCase(
        "issue of a pull request", "GET", f"{REPO}/issues/7", lambda: embedded_issues(pull=True)
    ),
    ShapeCase(
        "create issue",
        "POST",
        f"{REPO}/issues",
        lambda: [
            *embedded_issues(pull=False),
            cassette("Issue_comments", "GET", r"/issues/187$"),
            *webhook_issues(),
        ],
        body=INCIDENT,
        status=201,
    ),
    ShapeCase(
        "issue list (a pull request first)",
        "GET",
        f"{REPO}/issues?state=all",
        lambda: embedded_issues(pull=True),
        first,
    ),
    ShapeCase(
        "issue list (an assigned issue)",
        "GET",
        f"{REPO}/issues?labels=incident",
        lambda: [*embedded_issues(pull=False), *webhook_issues()],
        first,
        setup=incident_issue,
    ),
    ShapeCase(
        "update issue",
        "PATCH",
        f"{REPO}/issues/8",
        lambda: [
            *embedded_issues(pull=False),
            cassette("Issue_comments", "GET", r"/issues/187$"),
            *webhook_issues(),
        ],
        body={"state": "closed", "state_reason": "not_planned", "labels": ["incident", "sev2"]},
        setup=incident_issue,
    ),
    ShapeCase(
        "assigned event",
        "GET",
        f"{REPO}/issues/8/events",
        lambda: events_of_type("assigned"),
        of_event("assigned"),
        setup=incident_issue,
    ),
    ShapeCase(
        "unassigned event",
        "GET",
        f"{REPO}/issues/8/events",
        lambda: events_of_type("unassigned"),
        of_event("unassigned"),
        setup=lambda client: set_incident_issue(client, {"assignees": []}),
    ),
    ShapeCase(
        "closed event",
        "GET",
        f"{REPO}/issues/8/events",
        lambda: events_of_type("closed"),
        of_event("closed"),
        setup=lambda client: set_incident_issue(client, {"state": "closed"}),
    ),
    ShapeCase(
        "reopened event",
        "GET",
        f"{REPO}/issues/8/events",
        lambda: events_of_type("reopened"),
        of_event("reopened"),
        setup=lambda client: set_incident_issue(client, {"state": "closed"}, {"state": "open"}),
    ),
    ShapeCase(
        "timeline closed",
        "GET",
        f"{REPO}/issues/8/timeline",
        partial(timeline_items, "closed"),
        of_event("closed"),
        setup=lambda client: set_incident_issue(client, {"state": "closed"}),
    ),
    ShapeCase(
        "check runs",
        "GET",
        f"{REPO}/commits/{HEAD}/check-runs",
        lambda: [
            replay("checks-list-for-ref", "GET", r"/check-runs$"),
            cassette("CheckRun_check_runs_for_ref", "GET", r"/check-runs"),
        ],
    ),
    ShapeCase(
        "check run object",
        "GET",
        f"{REPO}/commits/{HEAD}/check-runs",
        lambda: [
            replay("checks-create-run-completed", "POST", r"/check-runs$"),
            cassette("CheckRun_create_check_run", "POST", r"/check-runs$"),
        ],
        lambda body: body["check_runs"][0],
    ),
]


def items_of(sample: Any, item: Any) -> list[Any]:
    """A sample list's items when the fake's item is one element of a list answer."""
    return sample if isinstance(sample, list) and not isinstance(item, list) else [sample]


def prepare(fake: FakeGitHub, client: httpx.Client, case: ShapeCase) -> str:
    """The request path of ``case``, after the requests it needs first."""
    if case.setup is not None:
        case.setup(client)
    if "{comment_id}" in case.path:
        return case.path.format(comment_id=fake.comments("acme", "flags", 7)[0]["id"])
    return case.path


@pytest.mark.parametrize("case", SHAPE_CASES, ids=lambda c: c.name)
def test_answer_has_every_key_and_json_type_of_the_real_samples(
    fake: FakeGitHub, client: httpx.Client, case: ShapeCase
) -> None:
    path = prepare(fake, client, case)
    response = client.request(case.method, path, json=case.body)
    assert response.status_code == case.status, response.text
    item = case.pick(response.json())
    sources = case.samples()
    assert sources, f"no sample for {case.name}"
    problems = {
        f"{source} [{index}]": shape_problems(sample, item)
        for source, body in sources
        for index, sample in enumerate(items_of(body, item))
    }
    assert {s: p for s, p in problems.items() if p} == {}


NO_REST_OBJECT = [
    ("DELETE", f"{REPO}/issues/comments/{{comment_id}}"),  # 204 without a body
    ("POST", "/graphql"),  # GraphQL's answers: tests/test_fake_github_graphql.py
]
"""Endpoints served whose answer is no REST object to compare with samples."""


def test_shape_cases_cover_every_endpoint_served() -> None:
    served = {(method, regex.pattern) for method, regex, _ in ROUTES}
    covered = set()
    for method, case_path in [*((c.method, c.path) for c in SHAPE_CASES), *NO_REST_OBJECT]:
        path = case_path.split("?")[0].replace("{comment_id}", "1")
        covered |= {(m, r.pattern) for m, r, _ in ROUTES if m == method and r.match(path)}
    assert served - covered == set()


def every_answer(fake: FakeGitHub, client: httpx.Client) -> Iterator[tuple[str, str]]:
    for case in SHAPE_CASES:
        path = prepare(fake, client, case)
        yield path, client.request(case.method, path, json=case.body).text


def test_answers_point_at_the_fake_and_leak_nothing_of_the_samples(
    fake: FakeGitHub, client: httpx.Client
) -> None:
    sample_identities = [
        "api.github.com",
        "PyGithub",
        "jacquev6",
        "Codertocat",
        "Hello-World",
        "octokit-fixture",
        "sigmavirus24",
        "github3.py",
        "robvanderleek",
        "BeaverSoftware",
        "sfdye",
        "jzelinskie",
    ]
    for path, text in every_answer(fake, client):
        leaks = [name for name in sample_identities if name in text]
        assert leaks == [], f"{path} leaks {leaks}"
        assert fake.url in text, path


def test_errors_have_githubs_body(fake: FakeGitHub, client: httpx.Client) -> None:
    unknown = client.get(f"{REPO}/branches")
    assert unknown.status_code == 404
    assert unknown.json() == {
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest",
        "status": "404",
    }
    assert client.get("/repos/acme/nope/pulls/7").status_code == 404
    assert client.get(f"{REPO}/pulls/99").status_code == 404
    assert client.get(f"{REPO}/pulls/7/reviews", headers={"Authorization": "token x"}).json() == {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }


def test_headers_are_githubs(fake: FakeGitHub, client: httpx.Client) -> None:
    first_reply = client.get(f"{REPO}/pulls/7")
    second = client.get(f"{REPO}/pulls/7")
    headers = second.headers
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["x-ratelimit-limit"] == "5000"
    used = int(headers["x-ratelimit-used"])
    assert int(headers["x-ratelimit-remaining"]) == 5000 - used
    assert used == int(first_reply.headers["x-ratelimit-used"]) + 1
    assert int(headers["x-ratelimit-reset"]) > 0
    assert headers["x-github-request-id"] != first_reply.headers["x-github-request-id"]
    assert headers["etag"] == first_reply.headers["etag"]
    cached = client.get(f"{REPO}/pulls/7", headers={"If-None-Match": headers["etag"]})
    assert (cached.status_code, cached.content) == (304, b"")


# --- pagination ---------------------------------------------------------------------------------


def test_pagination_follows_github(fake: FakeGitHub, client: httpx.Client) -> None:
    for i in range(65):
        fake.add_review("acme", "flags", 7, f"user{i}", "COMMENTED", HEAD)
    total = 67
    default = client.get(f"{REPO}/pulls/7/reviews")
    assert len(default.json()) == 30
    url = f"{fake.url}{REPO}/pulls/7/reviews"
    assert default.headers["link"] == (f'<{url}?page=2>; rel="next", <{url}?page=3>; rel="last"')
    middle = client.get(f"{REPO}/pulls/7/reviews?per_page=20&page=2")
    assert middle.headers["link"] == (
        f'<{url}?per_page=20&page=1>; rel="prev", <{url}?per_page=20&page=3>; rel="next", '
        f'<{url}?per_page=20&page=4>; rel="last", <{url}?per_page=20&page=1>; rel="first"'
    )
    last = client.get(f"{REPO}/pulls/7/reviews?per_page=20&page=4")
    assert len(last.json()) == total - 60
    assert 'rel="next"' not in last.headers["link"]
    capped = client.get(f"{REPO}/pulls/7/reviews?per_page=500")
    assert len(capped.json()) == total
    assert "link" not in capped.headers
    beyond = client.get(f"{REPO}/pulls/7/reviews?page=9")
    assert beyond.json() == []


def test_pygithub_walks_every_page(fake: FakeGitHub) -> None:
    for i in range(248):
        fake.add_review("acme", "flags", 7, f"user{i}", "APPROVED", HEAD)
    gh = pygithub(fake, per_page=100, lazy=True)
    pull = gh.get_repo("acme/flags").get_pull(7)
    fake.reset_calls()
    reviews = list(pull.get_reviews())
    assert len(reviews) == 250
    assert [review.user.login for review in reviews[:2]] == ["alice", "renovate[bot]"]
    assert fake.calls == [
        ("GET", f"{REPO}/pulls/7/reviews?per_page=100"),
        ("GET", f"{REPO}/pulls/7/reviews?page=2&per_page=100"),
        ("GET", f"{REPO}/pulls/7/reviews?page=3&per_page=100"),
    ]


def test_check_runs_paginate_inside_their_wrapper(fake: FakeGitHub) -> None:
    for i in range(3):
        fake.add_check_run("acme", "flags", HEAD, f"gate-{i}")
    gh = pygithub(fake, per_page=2, lazy=True)
    runs = gh.get_repo("acme/flags").get_commit(HEAD).get_check_runs()
    assert runs.totalCount == 5
    assert [r.name for r in runs] == ["gate-2", "gate-1", "gate-0", "test", "lint"]


# --- PyGithub against the fake ---------------------------------------------------------------


@pytest.mark.parametrize("lazy", [True, False])
def test_pygithub_reads_a_pull_request(fake: FakeGitHub, lazy: bool) -> None:
    gh = pygithub(fake, lazy=lazy)
    repo = gh.get_repo("acme/flags")
    assert fake.calls == ([] if lazy else [("GET", REPO)])
    assert (repo.full_name, repo.default_branch) == ("acme/flags", "main")
    pull = repo.get_pull(7)
    assert (pull.user.login, pull.base.ref, pull.base.sha, pull.head.sha) == (
        "bob",
        "main",
        BASE,
        HEAD,
    )
    assert [label.name for label in pull.labels] == ["flags"]
    assert pull.body == "Turn on checkout-redesign"
    assert (pull.merged, pull.draft, pull.state) == (False, False, "open")
    reviews = [(r.user.login, r.user.type, r.state, r.commit_id) for r in pull.get_reviews()]
    assert reviews == [
        ("alice", "User", "APPROVED", HEAD),
        ("renovate[bot]", "Bot", "COMMENTED", FIRST),
    ]
    commits = [(c.sha, c.author.login, c.committer is None) for c in pull.get_commits()]
    assert commits == [(FIRST, "bob", False), (HEAD, "bob", True)]
    assert [f.filename for f in pull.get_files()] == ["flags/checkout.yaml", "flags/new.yaml"]
    merged = repo.get_pull(6)
    assert (merged.merged, merged.merged_by.login, merged.state) == (True, "alice", "closed")
    assert [p.number for p in repo.get_pulls(state="all")] == [7, 6]


def test_pygithub_writes_status_comment_and_review_requests(fake: FakeGitHub) -> None:
    gh = pygithub(fake, lazy=True)
    repo = gh.get_repo("acme/flags")
    status = repo.get_commit(HEAD).create_status(
        "success", "https://ci.example/run/1", "2 of 2 stages approved", "flaggate"
    )
    assert (status.state, status.context, status.creator.login) == (
        "success",
        "flaggate",
        "github-actions[bot]",
    )
    assert [s["state"] for s in fake.statuses("acme", "flags", HEAD)] == ["pending", "success"]
    combined = repo.get_commit(HEAD).get_combined_status()
    assert (combined.state, combined.total_count) == ("pending", 2)

    pull = repo.get_pull(7)
    comment = pull.create_issue_comment("<!-- flaggate -->\nApproved")
    comment.edit("<!-- flaggate -->\nApproved, edited")
    bodies = [c.body for c in pull.get_issue_comments()]
    assert bodies == ["<!-- flaggate -->\nPending", "<!-- flaggate -->\nApproved, edited"]
    assert fake.comments("acme", "flags", 7)[-1]["user"]["type"] == "Bot"

    pull.create_review_request(reviewers=["dave"], team_reviewers=["tech-leads"])
    users, teams = pull.get_review_requests()
    assert ([u.login for u in users], [t.slug for t in teams]) == (["dave"], ["tech-leads"])
    pull.delete_review_request(reviewers=["dave"])
    assert fake.requested_reviewers("acme", "flags", 7) == {"users": [], "teams": ["tech-leads"]}

    issue = repo.create_issue("Post-incident review for #7", "INC-42", labels=["incident"])
    assert (issue.number, issue.user.login) == (8, "github-actions[bot]")
    assert [i["title"] for i in fake.issues("acme", "flags")] == ["Post-incident review for #7"]


def test_pygithub_reads_events_timeline_and_checks(fake: FakeGitHub) -> None:
    repo = pygithub(fake, lazy=True).get_repo("acme/flags")
    issue = repo.get_issue(7)
    assert issue.pull_request is not None
    events = [(e.event, e.actor.login, e.label.name) for e in issue.get_events()]
    assert events == [("labeled", "erin", "emergency"), ("unlabeled", "erin", "emergency")]
    timeline = [item.event for item in issue.get_timeline()]
    assert timeline == [
        "committed",
        "committed",
        "commented",
        "labeled",
        "unlabeled",
        "reviewed",
        "reviewed",
    ]
    runs = {(r.name, r.status, r.conclusion) for r in repo.get_commit(HEAD).get_check_runs()}
    assert runs == {("lint", "completed", "failure"), ("test", "in_progress", None)}
    assert [p.number for p in repo.get_commit(FIRST).get_pulls()] == [7, 6]


# --- behaviour ------------------------------------------------------------------------------


def test_team_membership(fake: FakeGitHub, client: httpx.Client) -> None:
    base = "/orgs/acme/teams"
    alice = client.get(f"{base}/tech-leads/memberships/alice")
    assert alice.status_code == 200
    assert {k: alice.json()[k] for k in ("role", "state")} == {"role": "member", "state": "active"}
    assert client.get(f"{base}/tech-leads/memberships/carol").json()["state"] == "pending"
    assert client.get(f"{base}/product-owners/memberships/paula").json()["role"] == "maintainer"
    assert client.get(f"{base}/tech-leads/memberships/mallory").status_code == 404
    assert client.get(f"{base}/no-such-team/memberships/alice").status_code == 404
    members = client.get(f"{base}/tech-leads/members").json()
    assert [m["login"] for m in members] == ["alice"]  # pending members are not listed
    forbidden = client.get(f"{base}/secret/memberships/sam")
    assert (forbidden.status_code, forbidden.json()["message"]) == (403, NOT_ACCESSIBLE)
    fake.set_team_forbidden("acme", "secret", False)
    assert client.get(f"{base}/secret/memberships/sam").status_code == 200


def test_review_requests_follow_github_rules(fake: FakeGitHub, client: httpx.Client) -> None:
    url = f"{REPO}/pulls/7/requested_reviewers"
    author = client.post(url, json={"reviewers": ["bob"]})
    assert (author.status_code, author.json()["message"]) == (422, AUTHOR_REVIEW)
    unknown = client.post(url, json={"team_reviewers": ["ghosts"]})
    assert unknown.status_code == 422
    created = client.post(url, json={"reviewers": ["dave"], "team_reviewers": ["tech-leads"]})
    assert created.status_code == 201
    assert [t["slug"] for t in created.json()["requested_teams"]] == ["tech-leads"]
    assert "mergeable" not in created.json()  # the "pull request simple" object
    fake.add_review("acme", "flags", 7, "alice", "APPROVED", HEAD)  # a tech-leads member
    assert fake.requested_reviewers("acme", "flags", 7) == {"users": ["dave"], "teams": []}
    kinds = [
        (e["event"], e.get("requested_team", {}).get("slug"))
        for e in fake.events("acme", "flags", 7)
    ]
    assert kinds[-2:] == [("review_requested", None), ("review_requested", "tech-leads")]


def test_statuses_validate_like_github(fake: FakeGitHub, client: httpx.Client) -> None:
    url = f"{REPO}/statuses/{HEAD}"
    too_long = client.post(url, json={"state": "success", "description": "x" * 141})
    assert too_long.status_code == 422
    assert "maximum is 140" in too_long.json()["errors"][0]["message"]
    assert client.post(url, json={"state": "green"}).status_code == 422
    unknown = client.post(f"{REPO}/statuses/{'e' * 40}", json={"state": "success"})
    assert (unknown.status_code, unknown.json()["message"]) == (
        422,
        f"No commit found for SHA: {'e' * 40}",
    )
    client.post(url, json={"state": "failure", "context": "flaggate"})
    client.post(url, json={"state": "success", "context": "flaggate"})
    fake.add_status("acme", "flags", HEAD, "success", "ci/build")
    combined = client.get(f"{REPO}/commits/{HEAD}/status").json()
    assert (combined["state"], combined["total_count"]) == ("success", 2)
    listed = client.get(f"{REPO}/commits/{HEAD}/statuses").json()
    assert [s["state"] for s in listed] == ["success", "success", "failure", "pending"]
    by_branch = client.get(f"{REPO}/commits/feature/status").json()
    assert by_branch["sha"] == HEAD


def test_update_pull_moves_head_and_merges(fake: FakeGitHub, client: httpx.Client) -> None:
    fake.update_pull("acme", "flags", 7, head_sha=NEW_HEAD, labels=["flags", "emergency"])
    pull = client.get(f"{REPO}/pulls/7").json()
    assert pull["head"]["sha"] == NEW_HEAD
    assert [label["name"] for label in pull["labels"]] == ["flags", "emergency"]
    fake.update_pull("acme", "flags", 7, merged_by="alice", merge_commit_sha="f" * 40)
    merged = client.get(f"{REPO}/pulls/7").json()
    assert (merged["merged"], merged["state"], merged["merge_commit_sha"]) == (
        True,
        "closed",
        "f" * 40,
    )
    assert client.get(f"{REPO}/pulls").json() == []
    assert [p["number"] for p in client.get(f"{REPO}/pulls?state=closed").json()] == [7, 6]
    assert merged["merged_at"] is not None
    assert merged["merged_by"]["login"] == "alice"
    issue = client.get(f"{REPO}/issues/7").json()
    assert issue["pull_request"]["merged_at"] == merged["merged_at"]
    assert (issue["state"], issue["closed_by"]["login"], issue["state_reason"]) == (
        "closed",
        "alice",
        None,  # a closed pull request has no state_reason
    )


# --- issues -----------------------------------------------------------------------------------


def logins(users: list[dict[str, Any]]) -> list[str]:
    return [user["login"] for user in users]


def numbers(reply: httpx.Response) -> list[int]:
    assert reply.status_code == 200, reply.text
    return [item["number"] for item in reply.json()]


def event_summary(fake: FakeGitHub, number: int) -> list[tuple[str, str, str | None]]:
    """``(event, actor, label / assignee / state_reason)`` of every event of ``number``."""
    summary = []
    for event in fake.events("acme", "flags", number):
        detail = (event.get("label") or {}).get("name") or (event.get("assignee") or {}).get(
            "login"
        )
        summary.append(
            (event["event"], event["actor"]["login"], detail or event.get("state_reason"))
        )
    return summary


def test_create_issue_assigns_and_creates_missing_labels(
    fake: FakeGitHub, client: httpx.Client
) -> None:
    flags_label = client.get(f"{REPO}/pulls/7").json()["labels"][0]
    body = {
        "title": "Follow up INC-7",
        "labels": ["incident", {"name": "FLAGS"}],  # names or objects; names ignore case
        "assignees": ["alice", "dave", "alice"],
    }
    created = client.post(f"{REPO}/issues", json=body)
    assert created.status_code == 201, created.text
    issue = created.json()
    assert created.headers["location"] == issue["url"] == f"{fake.url}{REPO}/issues/8"
    assert issue["assignee"]["login"] == "alice"
    assert logins(issue["assignees"]) == ["alice", "dave"]
    assert [label["name"] for label in issue["labels"]] == ["incident", "flags"]
    assert issue["labels"][1]["id"] == flags_label["id"]  # the existing label, not a new one
    assert (issue["state"], issue["closed_at"], issue["state_reason"]) == ("open", None, None)
    listed = fake.issues("acme", "flags")
    assert [logins(i["assignees"]) for i in listed] == [["alice", "dave"]]
    assert fake.issue("acme", "flags", 8) == client.get(f"{REPO}/issues/8").json()
    bot = "github-actions[bot]"
    assert event_summary(fake, 8) == [
        ("labeled", bot, "incident"),
        ("labeled", bot, "flags"),
        ("assigned", bot, "alice"),
        ("assigned", bot, "dave"),
    ]
    assigned = fake.events("acme", "flags", 8)[2]
    assert assigned["assigner"]["login"] == bot

    single = client.post(f"{REPO}/issues", json={"title": "Old client", "assignee": "erin"})
    assert (single.json()["assignee"]["login"], logins(single.json()["assignees"])) == (
        "erin",
        ["erin"],
    )
    plain = client.post(f"{REPO}/issues", json={"title": "Nobody"}).json()
    assert (plain["assignee"], plain["assignees"], plain["labels"]) == (None, [], [])
    for bad in ({"title": "x", "assignees": "alice"}, {"title": "x", "labels": "a"}, {"body": "x"}):
        assert client.post(f"{REPO}/issues", json=bad).status_code == 422


def test_list_issues_filters_and_sorts_like_github(fake: FakeGitHub, client: httpx.Client) -> None:
    fake.add_issue(
        "acme",
        "flags",
        "INC-1 follow-up",
        labels=["incident", "sev1"],
        assignees=["alice"],
        created_at="2026-01-06T09:00:00Z",
    )
    fake.add_issue(
        "acme",
        "flags",
        "INC-0 follow-up",
        labels=["incident"],
        state="closed",
        created_at="2026-01-07T09:00:00Z",
    )
    fake.add_issue("acme", "flags", "Chore", author="erin", created_at="2026-01-08T09:00:00Z")
    url = f"{REPO}/issues"
    default = client.get(url)
    assert numbers(default) == [10, 8, 7]  # open only, newest first, pull requests included
    items = {item["number"]: item for item in default.json()}
    assert "pull_request" in items[7] and "pull_request" not in items[8]
    assert all("closed_by" not in item for item in default.json())  # single issues only
    assert numbers(client.get(url, params={"state": "closed"})) == [9, 6]
    assert numbers(client.get(url, params={"state": "all"})) == [10, 9, 8, 7, 6]
    assert numbers(client.get(url, params={"state": "all", "direction": "asc"})) == [
        6,
        7,
        8,
        9,
        10,
    ]
    assert numbers(client.get(url, params={"labels": "incident"})) == [8]
    assert numbers(client.get(url, params={"labels": "incident", "state": "all"})) == [9, 8]
    assert numbers(client.get(url, params={"labels": "incident,sev1", "state": "all"})) == [8]
    assert numbers(client.get(url, params={"labels": "INCIDENT, sev1"})) == [8]
    assert numbers(client.get(url, params={"labels": "incident,missing"})) == []
    assert numbers(client.get(url, params={"labels": "flags", "state": "all"})) == [7]
    assert numbers(client.get(url, params={"assignee": "alice"})) == [8]
    assert numbers(client.get(url, params={"assignee": "*"})) == [8]
    assert numbers(client.get(url, params={"assignee": "none"})) == [10, 7]
    assert numbers(client.get(url, params={"creator": "erin"})) == [10]
    since = {"state": "all", "since": "2026-01-07T00:00:00Z"}
    assert numbers(client.get(url, params=since)) == [10, 9]
    assert client.get("/repos/acme/nope/issues").status_code == 404


def test_list_issues_paginates(fake: FakeGitHub, client: httpx.Client) -> None:
    start = datetime(2026, 2, 1, tzinfo=UTC)
    for i in range(65):
        fake.add_issue(
            "acme",
            "flags",
            f"Follow-up {i}",
            labels=["follow-up"],
            created_at=start + timedelta(minutes=i),
        )
    url = f"{fake.url}{REPO}/issues"
    first_page = client.get(f"{REPO}/issues", params={"labels": "follow-up"})
    assert numbers(first_page) == list(range(72, 42, -1))
    assert first_page.headers["link"] == (
        f'<{url}?labels=follow-up&page=2>; rel="next", <{url}?labels=follow-up&page=3>; rel="last"'
    )
    walked: list[int] = []
    next_url: str | None = f"{url}?labels=follow-up&per_page=20"
    while next_url:
        reply = client.get(next_url)
        walked += numbers(reply)
        next_url = reply.links.get("next", {}).get("url")
    assert walked == list(range(72, 7, -1))
    last = client.get(f"{REPO}/issues", params={"labels": "follow-up", "page": 3})
    assert len(last.json()) == 5
    assert 'rel="next"' not in last.headers["link"]

    gh = pygithub(fake, per_page=50, lazy=True)
    fake.reset_calls()
    issues = list(gh.get_repo("acme/flags").get_issues(state="all", labels=["follow-up"]))
    assert [i.number for i in issues] == list(range(72, 7, -1))
    assert len(fake.calls) == 2
    everything = list(gh.get_repo("acme/flags").get_issues(state="all"))
    assert len(everything) == 67
    assert [i.number for i in everything[-2:]] == [7, 6]
    assert everything[-1].pull_request is not None


def test_update_issue_edits_closes_and_reopens(fake: FakeGitHub, client: httpx.Client) -> None:
    fake.add_issue("acme", "flags", "INC-7", labels=["incident"], assignees=["alice"])
    url = f"{REPO}/issues/8"
    before = client.get(url).json()
    edit = {"title": "INC-7 review", "body": "Done", "labels": ["incident", "resolved"]}
    edited = client.patch(url, json={**edit, "assignees": ["dave"]})
    assert edited.status_code == 200, edited.text
    issue = edited.json()
    assert (issue["title"], issue["body"], issue["assignee"]["login"]) == (
        "INC-7 review",
        "Done",
        "dave",
    )
    assert [label["name"] for label in issue["labels"]] == ["incident", "resolved"]
    assert issue["updated_at"] >= before["updated_at"]
    bot = "github-actions[bot]"
    assert event_summary(fake, 8) == [
        ("labeled", bot, "resolved"),
        ("unassigned", bot, "alice"),
        ("assigned", bot, "dave"),
    ]

    closed = client.patch(url, json={"state": "closed"}).json()
    assert (closed["state"], closed["state_reason"], closed["closed_by"]["login"]) == (
        "closed",
        "completed",
        bot,
    )
    assert closed["closed_at"] is not None
    assert event_summary(fake, 8)[-1] == ("closed", bot, "completed")
    again = client.patch(url, json={"state": "closed", "state_reason": "not_planned"}).json()
    assert (again["state_reason"], len(fake.events("acme", "flags", 8))) == ("completed", 4)
    assert client.patch(url, json={"state_reason": "not_planned"}).json()["state_reason"] == (
        "completed"  # ignored without a change of state
    )

    reopened = client.patch(url, json={"state": "open"}).json()
    assert (reopened["state"], reopened["closed_at"], reopened["closed_by"]) == ("open", None, None)
    assert reopened["state_reason"] == "reopened"
    assert event_summary(fake, 8)[-1] == ("reopened", bot, "reopened")
    not_planned = client.patch(url, json={"state": "closed", "state_reason": "not_planned"})
    assert not_planned.json()["state_reason"] == "not_planned"
    assert [e["event"] for e in fake.events("acme", "flags", 8)][-3:] == [
        "closed",
        "reopened",
        "closed",
    ]
    timeline = [item["event"] for item in client.get(f"{url}/timeline").json()]
    assert timeline[-3:] == ["closed", "reopened", "closed"]
    assert client.get(url).json() == not_planned.json()
    cleared = client.patch(url, json={"labels": [], "assignees": []}).json()
    assert (cleared["labels"], cleared["assignee"], cleared["assignees"]) == ([], None, [])

    for bad in ({"state": "done"}, {"title": ""}, {"labels": "x"}, {"state_reason": "later"}):
        reply = client.patch(url, json=bad)
        assert (reply.status_code, reply.json()["message"]) == (422, "Validation Failed"), bad
    assert client.patch(f"{REPO}/issues/99", json={"state": "closed"}).status_code == 404
    closed_pull = client.patch(f"{REPO}/issues/7", json={"state": "closed"}).json()
    assert (closed_pull["state"], closed_pull["state_reason"]) == ("closed", None)
    assert client.get(f"{REPO}/pulls/7").json()["state"] == "closed"


def test_close_issue_and_issue_helpers(fake: FakeGitHub, client: httpx.Client) -> None:
    added = fake.add_issue("acme", "flags", "INC-9", number=20, author="erin", body="Why?")
    assert (added["number"], added["user"]["login"], fake.events("acme", "flags", 20)) == (
        20,
        "erin",
        [],
    )
    with pytest.raises(ValueError):
        fake.add_issue("acme", "flags", "Again", number=20)
    closed = fake.close_issue("acme", "flags", 20, actor="paula", state_reason="not_planned")
    assert (closed["state"], closed["state_reason"], closed["closed_by"]["login"]) == (
        "closed",
        "not_planned",
        "paula",
    )
    assert fake.issue("acme", "flags", 20) == client.get(f"{REPO}/issues/20").json() == closed
    assert event_summary(fake, 20) == [("closed", "paula", "not_planned")]
    fake.close_issue("acme", "flags", 20)  # closed already: nothing changes
    assert len(fake.events("acme", "flags", 20)) == 1
    with pytest.raises(ValueError):
        fake.close_issue("acme", "flags", 20, state_reason="later")
    pull = fake.close_issue("acme", "flags", 7)
    assert (pull["state"], pull["state_reason"], "pull_request" in pull) == ("closed", None, True)
    assert event_summary(fake, 7)[-1] == ("closed", "github-actions[bot]", None)
    old = fake.add_issue("acme", "flags", "Old", state="closed", created_at="2026-01-01T00:00:00Z")
    assert (old["number"], old["closed_at"], old["state_reason"]) == (
        21,
        "2026-01-01T00:00:00Z",
        "completed",
    )


def test_pygithub_files_and_closes_a_follow_up_issue(fake: FakeGitHub) -> None:
    repo = pygithub(fake, lazy=True).get_repo("acme/flags")
    issue = repo.create_issue(
        "Follow up INC-7", "Remove the kill switch", labels=["incident"], assignees=["alice"]
    )
    assert [u.login for u in issue.assignees] == ["alice"]
    assert issue.raw_data["assignee"]["login"] == "alice"  # PyGithub deprecates .assignee
    assert [i.number for i in repo.get_issues(labels=["incident"])] == [issue.number]
    issue.edit(state="closed", state_reason="not_planned")
    assert (issue.state, issue.state_reason) == ("closed", "not_planned")
    assert issue.closed_by is not None and issue.closed_by.login == "github-actions[bot]"
    assert list(repo.get_issues(labels=["incident"])) == []
    closed = repo.get_issues(state="closed", labels=["incident"])
    assert [i.number for i in closed] == [issue.number]
    assert [e.event for e in repo.get_issue(issue.number).get_events()] == [
        "labeled",
        "assigned",
        "closed",
    ]
    issue.edit(state="open")
    assert (issue.state, issue.state_reason) == ("open", "reopened")
    assert issue.closed_at is None


def test_github_quirks(fake: FakeGitHub, client: httpx.Client) -> None:
    fake.add_pull("acme", "flags", 9, "bob", "main", BASE, "big", HEAD, body="")
    assert client.get(f"{REPO}/pulls/9").json()["body"] is None  # never ""
    fake.set_commits("acme", "flags", 9, [(f"{i:040x}", "bob", "bob") for i in range(260)])
    commits = client.get(f"{REPO}/pulls/9/commits?per_page=100&page=3").json()
    assert len(commits) == 50  # the endpoint lists at most 250 commits
    review = fake.add_review("acme", "flags", 9, "alice", "CHANGES_REQUESTED", HEAD)
    fake.dismiss_review("acme", "flags", 9, review["id"])
    assert [r["state"] for r in client.get(f"{REPO}/pulls/9/reviews").json()] == ["DISMISSED"]
    bad = client.post(f"{REPO}/pulls/9/requested_reviewers", json={"reviewers": "alice"})
    assert bad.status_code == 422


# --- faults ---------------------------------------------------------------------------------


def test_fail_queues_errors_then_answers_normally(fake: FakeGitHub, client: httpx.Client) -> None:
    fake.fail("GET", r"/pulls/7$", 502, times=2)
    statuses = [client.get(f"{REPO}/pulls/7").status_code for _ in range(3)]
    assert statuses == [502, 502, 200]
    assert client.get(f"{REPO}/pulls/7/reviews").status_code == 200  # the regex did not match


def test_pygithub_retries_through_two_502s(fake: FakeGitHub) -> None:
    fake.fail("GET", r"/pulls/7$", 502, times=2)
    retry = Retry(total=3, status_forcelist=[502], backoff_factor=0)
    pull = pygithub(fake, retry=retry, lazy=True).get_repo("acme/flags").get_pull(7)
    assert pull.title == "Change flags (feature)"
    assert fake.calls == [("GET", f"{REPO}/pulls/7")] * 3


def test_pygithub_waits_out_a_403_with_retry_after(fake: FakeGitHub) -> None:
    fake.fail("GET", r"/pulls/7$", 403, headers={"Retry-After": "1"})
    gh = pygithub(fake, retry=github.GithubRetry(total=2))
    assert gh.get_repo("acme/flags").get_pull(7).number == 7
    assert fake.calls == [("GET", REPO)] + [("GET", f"{REPO}/pulls/7")] * 2


def test_a_403_with_retry_after_reads_as_a_secondary_rate_limit(
    fake: FakeGitHub, client: httpx.Client
) -> None:
    fake.fail("GET", r"/pulls/7$", 403, headers={"Retry-After": "1"})
    reply = client.get(f"{REPO}/pulls/7")
    assert (reply.status_code, reply.headers["retry-after"]) == (403, "1")
    assert reply.json()["message"] == SECONDARY_RATE_LIMIT


def test_a_403_without_retry_after_is_final(fake: FakeGitHub) -> None:
    fake.fail("GET", r"/pulls/7$", 403)
    gh = pygithub(fake, retry=github.GithubRetry(total=2))
    with pytest.raises(github.GithubException) as error:
        gh.get_repo("acme/flags").get_pull(7)
    assert (error.value.status, error.value.data["message"]) == (403, NOT_ACCESSIBLE)
    assert fake.calls == [("GET", REPO), ("GET", f"{REPO}/pulls/7")]


def test_fault_body_headers_and_any_method(fake: FakeGitHub, client: httpx.Client) -> None:
    fake.fail("*", r"/comments$", 404, body={"message": "gone"}, headers={"X-Custom": "1"})
    reply = client.post(f"{REPO}/issues/7/comments", json={"body": "x"})
    assert (reply.status_code, reply.json(), reply.headers["x-custom"]) == (
        404,
        {"message": "gone"},
        "1",
    )
    assert client.post(f"{REPO}/issues/7/comments", json={"body": "x"}).status_code == 201


def test_bad_token_is_401(fake: FakeGitHub) -> None:
    gh = github.Github(auth=github.Auth.Token("wrong"), base_url=fake.url, retry=None, lazy=False)
    with pytest.raises(github.BadCredentialsException) as error:
        gh.get_repo("acme/flags")
    assert error.value.data["message"] == BAD_CREDENTIALS
    assert httpx.get(f"{fake.url}{REPO}").status_code == 401
    bearer = httpx.get(f"{fake.url}{REPO}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200


def test_dropped_connection(fake: FakeGitHub, client: httpx.Client) -> None:
    fake.drop_connection("GET", r"/pulls/7$")
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(f"{REPO}/pulls/7")
    assert client.get(f"{REPO}/pulls/7").status_code == 200


# --- recorded calls ---------------------------------------------------------------------------


def test_calls_are_recorded_in_order_with_query_and_body(
    fake: FakeGitHub, client: httpx.Client
) -> None:
    client.get(f"{REPO}/pulls/7")
    client.get(f"{REPO}/pulls/7/reviews", params={"per_page": 100})
    client.post(f"{REPO}/statuses/{HEAD}", json={"state": "success", "context": "flaggate"})
    client.get("/nowhere")
    assert fake.calls == [
        ("GET", f"{REPO}/pulls/7"),
        ("GET", f"{REPO}/pulls/7/reviews?per_page=100"),
        ("POST", f"{REPO}/statuses/{HEAD}"),
        ("GET", "/nowhere"),
    ]
    assert fake.requests[2].json() == {"state": "success", "context": "flaggate"}
    assert fake.requests[2].headers["authorization"] == f"token {TOKEN}"
    fake.reset_calls()
    assert fake.calls == []


def test_calls_from_many_threads_are_all_recorded(fake: FakeGitHub) -> None:
    def fetch(_: int) -> int:
        with httpx.Client(base_url=fake.url, headers={"Authorization": f"token {TOKEN}"}) as c:
            return sum(c.get(f"{REPO}/pulls/7/reviews").status_code == 200 for _ in range(10))

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(fetch, range(8))) == 80
    assert fake.calls == [("GET", f"{REPO}/pulls/7/reviews")] * 80


# --- the samples loader ------------------------------------------------------------------------


def test_replay_records_keep_empty_headers_and_bodies() -> None:
    post = samples.load_replay("pulls-request-reviewers")[0]
    assert (post.method, post.status, post.response_headers, post.json()) == ("POST", 201, [], None)
    assert json.loads(post.request_body or "") == {
        "reviewers": ["sfdye"],
        "team_reviewers": ["pygithub-owners"],
    }
    get = samples.load_replay("checks-list-for-ref")[0]
    assert get.port is None
    assert 'rel="next"' in (get.header("link") or "")


def test_samples_loader_parses_every_replay_file() -> None:
    for path in sorted(samples.REST_DIR.glob("*.PyGithub-replay.txt")):
        records = samples.load_replay(path.name.removesuffix(".PyGithub-replay.txt"))
        lines = len(path.read_text().split("\n"))
        assert len(records) == (lines + 1) // 11, path.name
        for record in records:
            assert record.method in {"GET", "POST", "PATCH", "PUT", "DELETE"}
            assert record.path.startswith("/")
            record.json()  # every body is JSON or empty
