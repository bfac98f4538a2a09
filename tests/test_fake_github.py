"""Tests of the fake GitHub server: its responses have the shape of real GitHub responses,
PyGithub works against it, faults are injected as asked, and calls are recorded in order."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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

pytestmark = pytest.mark.skipif(
    not samples.data_available(), reason=f"GitHub samples not found in {samples.DATA_DIR}"
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
        lambda: [*embedded_issues(pull=False), cassette("Issue_comments", "GET", r"/issues/187$")],
        body={"title": "Post-incident review", "body": "INC-1", "labels": ["incident"]},
        status=201,
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


def test_shape_cases_cover_every_endpoint_served() -> None:
    served = {(method, regex.pattern) for method, regex, _ in ROUTES}
    covered = set()
    for case in SHAPE_CASES:
        path = case.path.split("?")[0].replace("{comment_id}", "1")
        covered |= {(m, r.pattern) for m, r, _ in ROUTES if m == case.method and r.match(path)}
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
