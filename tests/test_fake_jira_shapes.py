"""The fake Jira answers in Jira's shapes: its responses carry every key of Atlassian's
examples (the v3 OpenAPI document) and jira-cli's fixtures, with the same JSON types; and the
Jira client reads those example documents themselves, served verbatim."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from flaggate.integrations.jira import JiraTickets
from flaggate.integrations.tickets import TicketComment, TicketError
from flaggate.model.settings import Tickets
from tests.fakes.jira import API, FakeJira, adf_problems, samples
from tests.test_fake_github import json_type

KNOWN_DIFFERENCES = {
    "fields.updated": "the swagger example has 1; Jira sends a timestamp (as jira-cli's fixture)",
    "fields.comment[].visibility": "Jira sends visibility only for a restricted comment",
    "comments[].visibility": "Jira sends visibility only for a restricted comment",
    "visibility": "Jira sends visibility only for a restricted comment",
    "transitions[].fields.summary": "screen fields come only with expand=transitions.fields",
}
"""Paths (``[]``: any list element) where the fake rightly differs from an example."""


def differences(
    reference: Any, actual: Any, path: str = "", skip: frozenset[str] = frozenset()
) -> list[str]:
    """Where ``actual`` lacks a key of ``reference`` or has another JSON type (recursively;
    a list is compared by its first elements when both have one)."""
    if path in KNOWN_DIFFERENCES or path in skip:
        return []
    if json_type(reference) != json_type(actual):
        return [f"{path or '<root>'}: {json_type(actual)}, not {json_type(reference)}"]
    found: list[str] = []
    if isinstance(reference, dict):
        for key, value in reference.items():
            here = f"{path}.{key}" if path else key
            if here in KNOWN_DIFFERENCES or here in skip:
                continue
            if key not in actual:
                found.append(f"{here}: missing")
            else:
                found += differences(value, actual[key], here, skip)
    elif isinstance(reference, list) and reference and actual:
        found += differences(reference[0], actual[0], f"{path}[]", skip)
    return found


@pytest.fixture(scope="module")
def jira() -> Iterator[FakeJira]:
    with FakeJira() as fake:
        fake.add_issue(
            "FEAT-1",
            "Roll out the new checkout",
            labels=["flags"],
            description="Turn on checkout-v2 for everyone.",
            fields={"Feature Flag": "checkout-v2", "Rollout Percentage": 25},
        )
        fake.add_comment("FEAT-1", "Looks good to me.")
        yield fake
        assert fake.errors == []


def get(fake: FakeJira, path: str, **params: str) -> Any:
    response = httpx.get(
        f"{fake.url}{path}", params=params, auth=(fake.email, fake.token), timeout=5
    )
    assert response.status_code == 200, response.text
    return response.json()


# --- the fake's shapes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reference"),
    [("swagger ED-1", samples().issue), ("jira-cli issue.json", samples().cli_issue)],
)
def test_issue_carries_the_example_keys(jira: FakeJira, name: str, reference: Any) -> None:
    issue = get(jira, f"{API}/issue/FEAT-1")
    assert differences(reference, issue) == []
    assert set(reference["fields"]) <= set(issue["fields"])


def test_issue_status_is_jira_s_status_object(jira: FakeJira) -> None:
    status = get(jira, f"{API}/issue/FEAT-1")["fields"]["status"]
    assert differences(samples().transitions["transitions"][0]["to"], status) == []
    sub_task_status = samples().issue["fields"]["sub-tasks"][0]["outwardIssue"]["fields"]["status"]
    assert differences(sub_task_status, status) == []


def test_issue_honours_fields(jira: FakeJira) -> None:
    issue = get(jira, f"{API}/issue/FEAT-1", fields="summary,status,customfield_10044,nosuch")
    assert set(issue) >= {"id", "self", "key", "fields"}
    assert set(issue["fields"]) == {"summary", "status", "customfield_10044"}
    assert issue["fields"]["customfield_10044"] == 25.0
    everything = get(jira, f"{API}/issue/FEAT-1", fields="*all,-comment")
    assert "comment" not in everything["fields"]
    assert "summary" in everything["fields"]


@pytest.mark.parametrize(
    ("name", "reference"),
    [("swagger", samples().transitions), ("jira-cli", samples().cli_transitions)],
)
def test_transitions_carry_the_example_keys(jira: FakeJira, name: str, reference: Any) -> None:
    listed = get(jira, f"{API}/issue/FEAT-1/transitions")
    assert differences(reference, listed) == []
    for transition in listed["transitions"]:
        assert differences(reference["transitions"][0], transition, "transitions[]") == []


def test_comment_page_carries_the_example_keys(jira: FakeJira) -> None:
    page = get(jira, f"{API}/issue/FEAT-1/comment")
    assert differences(samples().comments, page) == []
    assert page["total"] == 1 and page["startAt"] == 0
    assert "visibility" not in page["comments"][0]


def test_created_comment_carries_the_example_keys(jira: FakeJira) -> None:
    body = {"body": {"type": "doc", "version": 1, "content": []}}
    response = httpx.post(
        f"{jira.url}{API}/issue/FEAT-1/comment",
        json=body,
        auth=(jira.email, jira.token),
        timeout=5,
    )
    assert response.status_code == 201
    assert differences(samples().comment_created, response.json()) == []


def test_fields_carry_the_example_keys(jira: FakeJira) -> None:
    listed = get(jira, f"{API}/field")
    assert {"summary", "description", "customfield_10042"} <= {f["id"] for f in listed}
    for reference in samples().fields:
        for found in listed:
            # A custom field's schema names its type plugin (custom, customId), not a system id.
            skip = frozenset({"schema.system"}) if found["custom"] else frozenset()
            assert differences(reference, found, skip=skip) == [], found["id"]
    custom = next(f for f in listed if f["id"] == "customfield_10044")
    assert custom["schema"] == {
        "type": "number",
        "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float",
        "customId": 10044,
    }
    assert custom["clauseNames"] == ["cf[10044]", "Rollout Percentage"]


def test_errors_are_jira_s(jira: FakeJira) -> None:
    missing = httpx.get(f"{jira.url}{API}/issue/NOPE-1", auth=(jira.email, jira.token))
    assert missing.status_code == 404
    assert missing.json() == {
        "errorMessages": ["Issue does not exist or you do not have permission to see it."],
        "errors": {},
    }
    unauthenticated = httpx.get(f"{jira.url}{API}/issue/FEAT-1", auth=(jira.email, "wrong"))
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["message"] == (
        "Client must be authenticated to access this resource."
    )
    bearer = httpx.get(
        f"{jira.url}{API}/issue/FEAT-1", headers={"Authorization": f"Bearer {jira.token}"}
    )
    assert bearer.status_code == 200


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"type": "doc", "version": 1, "content": []}, None),
        ({"type": "doc", "content": []}, "root"),
        (
            {"type": "doc", "version": 1, "content": [{"type": "text", "text": "x"}]},
            "not a block node",
        ),
        (
            {
                "type": "doc",
                "version": 1,
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": ""}]}],
            },
            "empty text",
        ),
        (
            {
                "type": "doc",
                "version": 1,
                "content": [
                    {
                        "type": "paragraph",
                        "content": [{"type": "text", "text": "x", "marks": [{"type": "link"}]}],
                    }
                ],
            },
            "href",
        ),
        (
            {
                "type": "doc",
                "version": 1,
                "content": [
                    {
                        "type": "paragraph",
                        "content": [
                            {
                                "type": "text",
                                "text": "x",
                                "marks": [{"type": "code"}, {"type": "strong"}],
                            }
                        ],
                    }
                ],
            },
            "code combined",
        ),
        (
            {"type": "doc", "version": 1, "content": [{"type": "bulletList", "content": []}]},
            "empty list",
        ),
    ],
)
def test_the_fake_checks_adf(document: Any, problem: str | None) -> None:
    problems = adf_problems(document)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


# --- the client reads the example documents --------------------------------------------------


@pytest.fixture
def verbatim() -> Iterator[FakeJira]:
    with FakeJira() as fake:
        fake.serve("GET", f"{API}/field", samples().fields)
        fake.serve("GET", f"{API}/issue/ED-1", samples().issue)
        fake.serve("GET", f"{API}/issue/ED-1/transitions", samples().transitions)
        fake.serve("POST", f"{API}/issue/ED-1/transitions", None, 204)
        fake.serve("GET", f"{API}/issue/ED-1/comment", samples().comments)
        fake.serve("POST", f"{API}/issue/ED-1/comment", samples().comment_created, 201)
        fake.serve("GET", f"{API}/issue/TEST-1", samples().cli_issue)
        fake.serve("GET", f"{API}/issue/TEST-2", samples().cli_issue_v2)
        fake.serve("GET", f"{API}/issue/TEST-1/transitions", samples().cli_transitions)
        fake.serve("POST", f"{API}/issue/TEST-1/transitions", None, 204)
        yield fake
        assert fake.errors == []


def client(fake: FakeJira) -> JiraTickets:
    return JiraTickets.from_settings(Tickets(provider="jira", url=fake.url), fake.env)


@pytest.mark.parametrize(
    ("asked", "key", "title", "status", "description"),
    [
        ("ED-1", "ED-1", "", "", "Main order flow broken"),
        ("TEST-1", "TEST-1", "Bug summary", "To Do", "Test description"),
        # issue-2.json (served for TEST-2) is TEST-1 with a v2 plain-text description.
        ("TEST-2", "TEST-1", "Bug summary", "To Do", "Test description"),
    ],
)
def test_client_reads_example_issues(
    verbatim: FakeJira, asked: str, key: str, title: str, status: str, description: str
) -> None:
    ticket = client(verbatim).fetch(asked, ["Description", "summary"])
    assert ticket is not None
    assert (ticket.key, ticket.title, ticket.status, ticket.closed) == (key, title, status, False)
    assert ticket.fields == {"Description": description, "summary": title}
    assert ticket.labels == ()
    assert ticket.url == f"{verbatim.url}/browse/{key}"


@pytest.mark.parametrize(
    ("key", "name", "posted", "reached"),
    [
        ("ED-1", "Closed", "711", "Closed"),
        ("ED-1", "close issue", "2", "In Progress"),
        ("ED-1", "QA Review", "711", "Closed"),
        ("TEST-1", "in progress", "21", "In Progress"),
        ("TEST-1", "To Do", None, "To Do"),
    ],
)
def test_client_reads_example_transitions(
    verbatim: FakeJira, key: str, name: str, posted: str | None, reached: str
) -> None:
    assert client(verbatim).transition(key, name) == reached
    posts = verbatim.calls("POST", "/transitions$")
    assert [p.body for p in posts] == ([{"transition": {"id": posted}}] if posted else [])


def test_client_skips_unavailable_example_transitions(verbatim: FakeJira) -> None:
    with pytest.raises(TicketError) as caught:
        client(verbatim).transition("TEST-1", "Done")
    assert caught.value.kind == "config"
    assert caught.value.message == "TEST-1 has no transition 'Done' (available: To Do, In Progress)"
    assert verbatim.count("POST") == 0


def test_client_reads_example_comments(verbatim: FakeJira) -> None:
    tickets = client(verbatim)
    assert tickets.has_comment("ED-1", "Pellentesque eget venenatis elit")
    assert not tickets.has_comment("ED-1", "flaggate acme/flags#1 requested 0123")
    tickets.comment("ED-1", TicketComment("Heading", (), None, "marker"))
    assert verbatim.count("POST", "/comment$") == 1


def test_example_field_list_maps_names(verbatim: FakeJira) -> None:
    tickets = client(verbatim)
    with pytest.raises(TicketError, match="Jira has no field named 'Feature Flag'"):
        tickets.fetch("TEST-1", ["Feature Flag"])
    ticket = tickets.fetch("TEST-1", ["SUMMARY"])
    assert ticket is not None and ticket.fields == {"SUMMARY": "Bug summary"}
    assert verbatim.count("GET", "/field$") == 1
