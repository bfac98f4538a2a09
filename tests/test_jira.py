"""The Jira ticket provider against the fake Jira over real HTTP: settings and credentials,
reading tickets and fields, comments in ADF, labels, transitions, fields, and every way a
call fails (with retries where they are safe, and no secret in any message or log)."""

from __future__ import annotations

import base64
import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flaggate.integrations import http
from flaggate.integrations.jira import JiraTickets, adf_comment, text
from flaggate.integrations.tickets import TicketComment, TicketError
from flaggate.model.settings import Tickets
from tests.fakes.jira import API, FakeJira, FakeTransition, adf_problems, adf_text

ISSUE = f"{API}/issue/FEAT-1$"
COMMENTS = f"{API}/issue/FEAT-1/comment$"
TRANSITIONS = f"{API}/issue/FEAT-1/transitions$"
FIELDS = f"{API}/field$"
COMMENT = TicketComment(
    "Feature flag change requested",
    (("checkout-v2 in production", "off → on 25%"), ("Requested by", "@bob"), ("Empty", "")),
    ("Pull request acme/flags#42", "https://github.com/acme/flags/pull/42"),
    "flaggate acme/flags#42 requested 3f2a9c1b4e5d",
)


@pytest.fixture(autouse=True)
def short_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries wait milliseconds, not seconds (a ``Retry-After`` is still honoured in full)."""
    monkeypatch.setattr(http, "BACKOFF_FACTOR", 0.01)


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira() as fake:
        fake.add_issue(
            "FEAT-1",
            "Roll out the new checkout",
            labels=["flags", "flag-approved"],
            fields={"Feature Flag": "checkout-v2"},
        )
        yield fake
        assert fake.errors == []


def tickets(fake: FakeJira, env: dict[str, str] | None = None, **settings: Any) -> JiraTickets:
    return JiraTickets.from_settings(
        Tickets(provider="jira", url=fake.url, **settings), fake.env if env is None else env
    )


def failure(call: Callable[[], object]) -> TicketError:
    with pytest.raises(TicketError) as caught:
        call()
    return caught.value


# --- settings and credentials ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "env", "message"),
    [
        (
            None,
            {"JIRA_API_TOKEN": "t"},
            "no Jira URL: set tickets.url in the settings or the JIRA_BASE_URL environment "
            "variable",
        ),
        ("https://acme.atlassian.net", {}, "no Jira API token: JIRA_API_TOKEN is not set"),
        ("https://acme.atlassian.net", {"JIRA_EMAIL": "a@b.c"}, "JIRA_API_TOKEN is not set"),
        ("https://acme.atlassian.net", {"JIRA_API_TOKEN": "  "}, "JIRA_API_TOKEN is not set"),
        ("acme.atlassian.net", {"JIRA_API_TOKEN": "t"}, "is not an http(s) URL"),
        ("http://[acme", {"JIRA_API_TOKEN": "t"}, "is not an http(s) URL"),
        ("https://acme.atlassian.net:99999", {"JIRA_API_TOKEN": "t"}, "is not an http(s) URL"),
        ("https://", {"JIRA_API_TOKEN": "t"}, "is not an http(s) URL"),
        ("https://acme atlassian.net", {"JIRA_API_TOKEN": "t"}, "is not an http(s) URL"),
    ],
)
def test_missing_settings_are_config_errors(
    url: str | None, env: dict[str, str], message: str
) -> None:
    error = failure(lambda: JiraTickets.from_settings(Tickets(provider="jira", url=url), env))
    assert error.kind == "config"
    assert message in error.message


def test_token_env_is_named_by_the_settings() -> None:
    settings = Tickets(provider="jira", url="https://x.example", tokenEnv="OPS_JIRA_TOKEN")
    error = failure(lambda: JiraTickets.from_settings(settings, {"JIRA_API_TOKEN": "t"}))
    assert error.message == "no Jira API token: OPS_JIRA_TOKEN is not set"


@pytest.mark.parametrize(
    ("env", "scheme"),
    [
        ({"JIRA_EMAIL": "flaggate-bot@example.com", "JIRA_API_TOKEN": "jira-t0ken"}, "Basic"),
        ({"JIRA_API_TOKEN": "jira-t0ken"}, "Bearer"),
        ({"JIRA_EMAIL": "", "JIRA_API_TOKEN": "jira-t0ken"}, "Bearer"),
    ],
)
def test_basic_auth_with_an_email_else_bearer(
    jira: FakeJira, env: dict[str, str], scheme: str
) -> None:
    assert tickets(jira, env).fetch("FEAT-1") is not None
    authorization = jira.requests[-1].headers["authorization"]
    if scheme == "Basic":
        credentials = base64.b64encode(b"flaggate-bot@example.com:jira-t0ken").decode()
        assert authorization == f"Basic {credentials}"
    else:
        assert authorization == "Bearer jira-t0ken"


def test_url_from_the_environment(jira: FakeJira) -> None:
    env = {**jira.env, "JIRA_BASE_URL": jira.url + "/"}
    found = JiraTickets.from_settings(Tickets(provider="jira"), env).fetch("FEAT-1")
    assert found is not None and found.url == f"{jira.url}/browse/FEAT-1"


# --- fetch -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "stored", "asked", "expected"),
    [
        ("Feature Flag", "checkout-v2", "Feature Flag", "checkout-v2"),
        ("Feature Flag", "checkout-v2", "feature flag", "checkout-v2"),
        ("Feature Flag", "checkout-v2", "customfield_10042", "checkout-v2"),
        ("Feature Flag", None, "Feature Flag", ""),
        ("Target Environment", "production", "Target Environment", "production"),
        ("Rollout Percentage", 25, "Rollout Percentage", "25"),
        ("Rollout Percentage", 12.5, "Rollout Percentage", "12.5"),
        ("Rollout Percentage", 0, "Rollout Percentage", "0"),
        ("Flag Owner", "Alice Adams", "Flag Owner", "Alice Adams"),
        (
            "Rollout Plan",
            "Canary first.\nThen everyone.",
            "Rollout Plan",
            "Canary first.\nThen everyone.",
        ),
        (
            "Deploy Environments",
            ["staging", "production"],
            "Deploy Environments",
            "staging, production",
        ),
        ("Deploy Environments", [], "Deploy Environments", ""),
        ("Flag Keys", ["checkout-v2", "search"], "Flag Keys", "checkout-v2, search"),
        ("Release", ["1.4.0", "1.5.0"], "Release", "1.4.0, 1.5.0"),
        ("Launch Date", "2024-05-01", "Launch Date", "2024-05-01"),
        ("Summary", "Roll out search", "Summary", "Roll out search"),
    ],
)
def test_fetch_reads_each_kind_of_field(name: str, stored: Any, asked: str, expected: str) -> None:
    with FakeJira() as fake:
        if name == "Summary":
            fake.add_issue("FEAT-7", stored)
        else:
            fake.add_issue("FEAT-7", fields={name: stored})
        ticket = tickets(fake).fetch("FEAT-7", [asked])
        assert ticket is not None
        assert ticket.fields == {asked: expected}
        ids = fake.calls("GET", "/issue/FEAT-7$")[0].param("fields")
        field_id = fake.field(name).id
        assert ids == "summary,status,labels" + ("" if field_id == "summary" else f",{field_id}")


def test_fetch_reads_the_ticket(jira: FakeJira) -> None:
    ticket = tickets(jira).fetch("feat-1", ["Feature Flag"])
    assert ticket is not None
    assert ticket.key == "FEAT-1"
    assert ticket.url == f"{jira.url}/browse/FEAT-1"
    assert ticket.title == "Roll out the new checkout"
    assert (ticket.status, ticket.closed) == ("In Progress", False)
    assert ticket.labels == ("flags", "flag-approved")
    assert ticket.fields == {"Feature Flag": "checkout-v2"}
    assert not ticket.pull_request


def test_fetch_without_fields_skips_the_field_list(jira: FakeJira) -> None:
    assert tickets(jira).fetch("FEAT-1") is not None
    assert jira.count("GET", FIELDS) == 0


def test_fetch_not_found_is_none(jira: FakeJira) -> None:
    assert tickets(jira).fetch("FEAT-404", ["Feature Flag"]) is None


@pytest.mark.parametrize(
    ("status", "category", "closed"),
    [("Done", "done", True), ("Won't Do", "done", True), ("To Do", "new", False)],
)
def test_closed_is_the_done_category(status: str, category: Any, closed: bool) -> None:
    with FakeJira() as fake:
        fake.add_issue("FEAT-2", status=status, category=category)
        ticket = tickets(fake).fetch("FEAT-2")
        assert ticket is not None and (ticket.status, ticket.closed) == (status, closed)


def test_unknown_field_name(jira: FakeJira) -> None:
    error = failure(lambda: tickets(jira).fetch("FEAT-1", ["Feature Flags"]))
    assert (error.kind, error.message) == ("config", "Jira has no field named 'Feature Flags'")
    assert jira.count("GET", "/issue/") == 0


@pytest.mark.parametrize(
    ("extra", "asked", "message"),
    [
        # Jira has a system field "Environment": a custom field of that name is ambiguous.
        (
            ("customfield_10060", "Environment"),
            "Environment",
            "Jira has 2 fields named 'Environment' (environment, customfield_10060)",
        ),
        (
            ("customfield_10061", "FEATURE FLAG"),
            "feature flag",
            "Jira has 2 fields named 'feature flag' (customfield_10042, customfield_10061)",
        ),
        (("customfield_10062", "Feature Flag"), "Feature Flag", "Jira has 2 fields named"),
    ],
)
def test_ambiguous_field_name(
    jira: FakeJira, extra: tuple[str, str], asked: str, message: str
) -> None:
    jira.add_field(*extra, "text")
    error = failure(lambda: tickets(jira).fetch("FEAT-1", [asked]))
    assert error.kind == "config"
    assert error.message.startswith(message)
    assert error.hint == "name the field by its id instead"


def test_an_exact_name_wins_over_a_case_insensitive_one(jira: FakeJira) -> None:
    jira.add_field("customfield_10061", "FEATURE FLAG", "text")
    ticket = tickets(jira).fetch("FEAT-1", ["Feature Flag", "customfield_10061"])
    assert ticket is not None
    assert ticket.fields == {"Feature Flag": "checkout-v2", "customfield_10061": ""}


def test_the_field_list_is_read_once_per_instance(jira: FakeJira) -> None:
    provider = tickets(jira)
    provider.fetch("FEAT-1", ["Feature Flag"])
    provider.fetch("FEAT-1", ["Rollout Percentage", "Target Environment"])
    provider.set_fields("FEAT-1", {"Rollout Percentage": 50})
    assert jira.count("GET", FIELDS) == 1
    tickets(jira).fetch("FEAT-1", ["Feature Flag"])
    assert jira.count("GET", FIELDS) == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("", ""),
        ([], ""),
        ("text", "text"),
        (3, "3"),
        (3.0, "3"),
        (2.5, "2.5"),
        (True, "true"),
        ({"value": "production", "id": "1"}, "production"),
        ({"displayName": "Alice Adams", "name": "alice"}, "Alice Adams"),
        ({"name": "1.4.0"}, "1.4.0"),
        ({"key": "FEAT-2"}, "FEAT-2"),
        ([{"value": "a"}, None, {"value": "b"}], "a, b"),
        (
            {
                "type": "doc",
                "version": 1,
                "content": [
                    {
                        "type": "paragraph",
                        "content": [
                            {"type": "text", "text": "Hello "},
                            {"type": "text", "text": "world", "marks": [{"type": "strong"}]},
                            {"type": "hardBreak"},
                            {"type": "mention", "attrs": {"id": "1", "text": "@Alice"}},
                        ],
                    },
                    {
                        "type": "bulletList",
                        "content": [
                            {
                                "type": "listItem",
                                "content": [
                                    {
                                        "type": "paragraph",
                                        "content": [{"type": "text", "text": "one"}],
                                    }
                                ],
                            },
                            {
                                "type": "listItem",
                                "content": [
                                    {
                                        "type": "paragraph",
                                        "content": [{"type": "text", "text": "two"}],
                                    }
                                ],
                            },
                        ],
                    },
                    {"type": "paragraph", "content": []},
                    {"type": "paragraph", "content": [{"type": "text", "text": "end"}]},
                ],
            },
            "Hello world\n@Alice\none\ntwo\nend",
        ),
    ],
)
def test_field_values_as_text(value: Any, expected: str) -> None:
    assert text(value) == expected


# --- failures --------------------------------------------------------------------------------

CALLS: dict[str, Callable[[JiraTickets, str], object]] = {
    "fetch": lambda t, key: t.fetch(key, ["Feature Flag"]),
    "has_comment": lambda t, key: t.has_comment(key, "marker"),
    "comment": lambda t, key: t.comment(key, COMMENT),
    "relabel": lambda t, key: t.relabel(key, ["flag-pending"], []),
    "transition": lambda t, key: t.transition(key, "Done"),
    "set_fields": lambda t, key: t.set_fields(key, {"Rollout Percentage": 50}),
}


@pytest.mark.parametrize("call", CALLS)
def test_401_is_an_auth_error(jira: FakeJira, call: str) -> None:
    env = {"JIRA_EMAIL": jira.email, "JIRA_API_TOKEN": "not-the-token"}
    error = failure(lambda: CALLS[call](tickets(jira, env), "FEAT-1"))
    assert error.kind == "auth"
    assert error.message == "Jira rejected the credentials (HTTP 401)"
    assert error.hint == "check JIRA_EMAIL and JIRA_API_TOKEN"


def test_401_with_a_bearer_token_names_the_token_only(jira: FakeJira) -> None:
    error = failure(lambda: tickets(jira, {"JIRA_API_TOKEN": "nope"}).fetch("FEAT-1"))
    assert error.hint == "check JIRA_API_TOKEN"


@pytest.mark.parametrize("call", CALLS)
def test_403_is_forbidden_with_jira_s_message(jira: FakeJira, call: str) -> None:
    jira.add_issue("SEC-1", forbidden=True)
    error = failure(lambda: CALLS[call](tickets(jira), "SEC-1"))
    assert error.kind == "forbidden"
    assert "HTTP 403" in error.message
    assert error.message.endswith("You do not have the permission to see the specified issue.")


@pytest.mark.parametrize("call", [c for c in CALLS if c != "fetch"])
def test_404_outside_fetch_is_invalid(jira: FakeJira, call: str) -> None:
    error = failure(lambda: CALLS[call](tickets(jira), "FEAT-404"))
    assert (error.kind, error.message) == ("invalid", "FEAT-404 not found")


def test_a_404_not_from_jira_s_api_is_no_answer(jira: FakeJira) -> None:
    wrong = JiraTickets.from_settings(Tickets(provider="jira", url=jira.url + "/jira"), jira.env)
    error = failure(lambda: wrong.fetch("FEAT-1"))
    assert error.kind == "unavailable"
    assert "unexpected answer from Jira at http://127.0.0.1" in error.message
    assert error.hint == "check the Jira URL"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda t: t.relabel("FEAT-1", ["flag pending"], []),
            "labelling FEAT-1: Jira refused the request (HTTP 400): labels: The label "
            "'flag pending' contains spaces which is invalid.",
        ),
        (
            lambda t: t.set_fields("FEAT-1", {"Target Environment": "qa"}),
            "setting fields on FEAT-1: Jira refused the request (HTTP 400): customfield_10043: "
            "Option value 'qa' is not valid",
        ),
        (
            lambda t: t.set_fields("FEAT-1", {"Status": "Done"}),
            "setting fields on FEAT-1: Jira refused the request (HTTP 400): status: Field "
            "'status' cannot be set. It is not on the appropriate screen, or unknown.",
        ),
    ],
)
def test_400_is_invalid_with_jira_s_errors(
    jira: FakeJira, call: Callable[[JiraTickets], object], message: str
) -> None:
    error = failure(lambda: call(tickets(jira)))
    assert (error.kind, error.message) == ("invalid", message)


def test_429_honours_retry_after_then_succeeds(jira: FakeJira) -> None:
    jira.fail(429, retry_after=1, method="GET", path=ISSUE)
    started = time.monotonic()
    ticket = tickets(jira).fetch("FEAT-1")
    waited = time.monotonic() - started
    assert ticket is not None and ticket.key == "FEAT-1"
    assert jira.count("GET", ISSUE) == 2
    assert waited >= 0.95


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_is_retried(jira: FakeJira, status: int) -> None:
    jira.fail(status, method="GET", path=ISSUE)
    assert tickets(jira).fetch("FEAT-1") is not None
    assert jira.count("GET", ISSUE) == 2


def test_a_put_is_retried(jira: FakeJira) -> None:
    jira.fail(503, method="PUT", path=ISSUE)
    tickets(jira).relabel("FEAT-1", ["flag-pending"], [])
    assert jira.count("PUT", ISSUE) == 2
    assert "flag-pending" in jira.issue("FEAT-1").labels


@pytest.mark.parametrize("status", [503, 429])
def test_unavailable_after_exactly_four_attempts(jira: FakeJira, status: int) -> None:
    jira.fail(status, times=None, method="GET", path=ISSUE)
    error = failure(lambda: tickets(jira).fetch("FEAT-1"))
    assert error.kind == "unavailable"
    assert error.message == (
        f"reading FEAT-1: Jira at {jira.url} answered HTTP {status} after 4 attempts"
    )
    assert jira.count("GET", ISSUE) == 4


@pytest.mark.parametrize(
    ("call", "path"),
    [
        (lambda t: t.comment("FEAT-1", COMMENT), COMMENTS),
        (lambda t: t.transition("FEAT-1", "Done"), TRANSITIONS),
    ],
)
def test_a_post_is_never_retried(
    jira: FakeJira, call: Callable[[JiraTickets], object], path: str
) -> None:
    jira.fail(503, times=None, method="POST", path=path)
    error = failure(lambda: call(tickets(jira)))
    assert error.kind == "unavailable"
    assert error.message.endswith("answered HTTP 503 after 1 attempt")
    assert jira.count("POST") == 1


def test_a_timeout_is_unavailable(jira: FakeJira) -> None:
    jira.hang(5, times=None, method="GET", path=ISSUE)
    error = failure(lambda: tickets(jira, timeoutSeconds=0.2).fetch("FEAT-1"))
    assert error.kind == "unavailable"
    assert error.message == f"reading FEAT-1: Jira at {jira.url} timed out after 0.2s"
    # A timeout is not retried (http.client): the timeout bounds the whole call.
    assert jira.count("GET", ISSUE) == 1


def test_the_next_call_after_a_timeout_succeeds(jira: FakeJira) -> None:
    provider = tickets(jira, timeoutSeconds=0.3)
    jira.hang(5, method="GET", path=ISSUE)
    assert failure(lambda: provider.fetch("FEAT-1")).kind == "unavailable"
    assert provider.fetch("FEAT-1") is not None
    assert jira.count("GET", ISSUE) == 2


def test_no_server_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Tickets(provider="jira", url=f"http://127.0.0.1:{port}")
    error = failure(
        lambda: JiraTickets.from_settings(settings, {"JIRA_API_TOKEN": "t"}).fetch("FEAT-1")
    )
    assert error.kind == "unavailable"
    assert (
        error.message
        == f"reading FEAT-1: cannot reach Jira at http://127.0.0.1:{port}: ConnectError"
    )


@pytest.mark.parametrize(
    ("path", "body", "call"),
    [
        (f"{API}/issue/FEAT-1", [], lambda t: t.fetch("FEAT-1")),
        (f"{API}/issue/FEAT-1", "FEAT-1", lambda t: t.fetch("FEAT-1")),
        (f"{API}/issue/FEAT-1", {"key": "FEAT-1"}, lambda t: t.fetch("FEAT-1")),
        (
            f"{API}/issue/FEAT-1",
            {"key": "FEAT-1", "fields": {"status": "Open"}},
            lambda t: t.fetch("FEAT-1"),
        ),
        (
            f"{API}/issue/FEAT-1",
            {"key": "FEAT-1", "fields": {"labels": "flags"}},
            lambda t: t.fetch("FEAT-1"),
        ),
        (f"{API}/field", {"fields": []}, lambda t: t.fetch("FEAT-1", ["Feature Flag"])),
        (f"{API}/field", [{"name": "Feature Flag"}], lambda t: t.fetch("FEAT-1", ["Feature Flag"])),
        (f"{API}/issue/FEAT-1/comment", {"comments": []}, lambda t: t.has_comment("FEAT-1", "m")),
        (f"{API}/issue/FEAT-1/transitions", {}, lambda t: t.transition("FEAT-1", "Done")),
    ],
)
def test_an_unexpected_answer_is_unavailable(
    jira: FakeJira, path: str, body: Any, call: Callable[[JiraTickets], object]
) -> None:
    jira.serve("GET", path, body)
    error = failure(lambda: call(tickets(jira)))
    assert error.kind == "unavailable"
    assert error.message.startswith(f"unexpected answer from Jira at {jira.url}")


def test_a_redirect_is_not_followed(jira: FakeJira) -> None:
    jira.serve("GET", f"{API}/issue/FEAT-1", None, 302)
    error = failure(lambda: tickets(jira).fetch("FEAT-1"))
    assert (error.kind, error.hint) == ("config", "check the Jira URL")
    assert "HTTP 302" in error.message


@pytest.mark.parametrize("email", ["ops@example.com", None])
def test_no_secret_in_messages_or_logs(
    jira: FakeJira, caplog: pytest.LogCaptureFixture, email: str | None
) -> None:
    secret = "SeCr3t-jira-T0KEN-8c1f2d"
    env = {"JIRA_API_TOKEN": secret} | ({"JIRA_EMAIL": email} if email else {})
    basic = base64.b64encode(f"{email}:{secret}".encode()).decode()
    caplog.set_level(logging.DEBUG)
    provider = tickets(jira, env)
    errors = [failure(lambda: provider.fetch("FEAT-1", ["Feature Flag"]))]
    jira.fail(503, times=None)
    errors.append(failure(lambda: provider.relabel("FEAT-1", ["x"], [])))
    errors.append(failure(lambda: provider.comment("FEAT-1", COMMENT)))
    assert [e.kind for e in errors] == ["auth", "unavailable", "unavailable"]
    assert "HTTP Request" in caplog.text  # httpx did log the requests
    for where in [caplog.text, *(str(e) for e in errors), *(repr(e) for e in errors)]:
        assert secret not in where
        assert basic not in where
    assert jira.requests[0].headers["authorization"] in (f"Bearer {secret}", f"Basic {basic}")


# --- comments --------------------------------------------------------------------------------


def text_nodes(node: Any) -> list[dict[str, Any]]:
    if not isinstance(node, dict):
        return []
    own = [node] if node.get("type") == "text" else []
    return own + [n for child in node.get("content") or [] for n in text_nodes(child)]


def test_comment_is_valid_adf(jira: FakeJira) -> None:
    tickets(jira).comment("FEAT-1", COMMENT)
    (posted,) = jira.calls("POST", COMMENTS)
    document = posted.body["body"]
    assert set(posted.body) == {"body"}
    assert adf_problems(document) == []
    assert (document["type"], document["version"]) == ("doc", 1)
    heading, rows, link, marker = document["content"]
    assert heading == {
        "type": "paragraph",
        "content": [
            {"type": "text", "text": "Feature flag change requested", "marks": [{"type": "strong"}]}
        ],
    }
    assert rows["type"] == "bulletList"
    assert [item["type"] for item in rows["content"]] == ["listItem"] * 3
    lines = [item["content"][0]["content"] for item in rows["content"]]
    assert lines[0] == [
        {"type": "text", "text": "checkout-v2 in production: "},
        {"type": "text", "text": "off → on 25%", "marks": [{"type": "code"}]},
    ]
    assert lines[1][1]["text"] == "@bob"
    assert lines[2][1] == {"type": "text", "text": "—", "marks": [{"type": "code"}]}
    assert link["content"] == [
        {
            "type": "text",
            "text": "Pull request acme/flags#42",
            "marks": [{"type": "link", "attrs": {"href": "https://github.com/acme/flags/pull/42"}}],
        }
    ]
    assert marker["content"] == [
        {"type": "text", "text": "flaggate acme/flags#42 requested 3f2a9c1b4e5d"}
    ]
    assert all(node["text"] for node in text_nodes(document))
    assert jira.comments("FEAT-1") == [document]


@pytest.mark.parametrize(
    ("comment", "types"),
    [
        (TicketComment("", (), None, "m"), ["paragraph", "paragraph"]),
        (TicketComment("H", (("a", "x\ny"),), None, ""), ["paragraph", "bulletList"]),
        (TicketComment("H", (), ("  ", "https://x"), "m"), ["paragraph"] * 3),
    ],
)
def test_comment_without_parts_stays_valid(comment: TicketComment, types: list[str]) -> None:
    document = adf_comment(comment)
    assert adf_problems(document) == []
    assert [node["type"] for node in document["content"]] == types
    assert all(node["text"].strip() for node in text_nodes(document))
    assert "\n" not in adf_text(document)


def test_comment_is_accepted_by_the_fake_and_found_again(jira: FakeJira) -> None:
    provider = tickets(jira)
    assert not provider.has_comment("FEAT-1", COMMENT.marker)
    provider.comment("FEAT-1", COMMENT)
    assert provider.has_comment("FEAT-1", COMMENT.marker)


@pytest.mark.parametrize(
    ("position", "found", "pages"),
    [
        ("oldest", True, [0, 5]),
        ("newest", True, [0]),
        (None, False, [0, 5]),
    ],
)
def test_has_comment_pages_newest_first(
    position: str | None, found: bool, pages: list[int]
) -> None:
    with FakeJira(comment_page_cap=5) as fake:
        fake.add_issue("FEAT-3")
        marker = "flaggate acme/flags#7 approved 0a1b2c3d4e5f"
        if position == "oldest":
            fake.add_comment("FEAT-3", f"Approved.\n{marker}")
        for number in range(7):
            fake.add_comment("FEAT-3", f"Comment {number}")
        if position == "newest":
            fake.add_comment("FEAT-3", f"Approved.\n{marker}")
        assert tickets(fake).has_comment("FEAT-3", marker) is found
        requests = fake.calls("GET", "/comment$")
        assert [int(r.param("startAt") or -1) for r in requests] == pages
        assert {(r.param("orderBy"), r.param("maxResults")) for r in requests} == {
            ("-created", "100")
        }
        assert fake.errors == []


def test_has_comment_on_no_comments(jira: FakeJira) -> None:
    assert not tickets(jira).has_comment("FEAT-1", "anything")
    assert jira.count("GET", COMMENTS) == 1


# --- labels, transitions, fields -------------------------------------------------------------


@pytest.mark.parametrize(
    ("add", "remove", "operations", "labels"),
    [
        (
            ["flag-pending"],
            ["flag-approved", "flag-rejected"],
            [{"add": "flag-pending"}, {"remove": "flag-approved"}, {"remove": "flag-rejected"}],
            ["flags", "flag-pending"],
        ),
        (["flags"], [], [{"add": "flags"}], ["flags", "flag-approved"]),
        (["a", "a"], ["a"], [{"add": "a"}], ["flags", "flag-approved", "a"]),
        ([], ["flag-approved"], [{"remove": "flag-approved"}], ["flags"]),
    ],
)
def test_relabel_is_one_put(
    jira: FakeJira,
    add: list[str],
    remove: list[str],
    operations: list[dict[str, str]],
    labels: list[str],
) -> None:
    tickets(jira).relabel("FEAT-1", add, remove)
    (put,) = jira.calls("PUT", ISSUE)
    assert put.body == {"update": {"labels": operations}}
    assert jira.issue("FEAT-1").labels == labels


def test_relabel_with_nothing_to_do_sends_nothing(jira: FakeJira) -> None:
    tickets(jira).relabel("FEAT-1", [], [])
    assert jira.requests == []


@pytest.mark.parametrize(
    ("name", "posted", "reached"),
    [
        ("QA Review", "21", "In Review"),
        ("qa review", "21", "In Review"),
        ("In Review", "21", "In Review"),
        ("done", "31", "Done"),
    ],
)
def test_transition(jira: FakeJira, name: str, posted: str, reached: str) -> None:
    assert tickets(jira).transition("FEAT-1", name) == reached
    (post,) = jira.calls("POST", TRANSITIONS)
    assert post.body == {"transition": {"id": posted}}
    assert jira.issue("FEAT-1").status == reached


def test_transition_name_wins_over_a_target_status() -> None:
    with FakeJira() as fake:
        fake.add_issue(
            "FEAT-4",
            transitions=[("5", "Approve", "Review"), ("6", "Review", "In Review")],
        )
        assert tickets(fake).transition("FEAT-4", "Review") == "In Review"
        assert fake.calls("POST")[0].body == {"transition": {"id": "6"}}


@pytest.mark.parametrize("name", ["In Progress", "in progress"])
def test_transition_to_the_current_status_does_nothing(jira: FakeJira, name: str) -> None:
    assert tickets(jira).transition("FEAT-1", name) == "In Progress"
    assert jira.count("POST") == 0
    assert jira.count("GET", TRANSITIONS) == 0
    assert jira.calls("GET", ISSUE)[0].param("fields") == "status"


def test_unknown_transition_lists_the_available_ones() -> None:
    with FakeJira() as fake:
        fake.add_issue(
            "FEAT-1",
            transitions=[
                ("11", "Start", "In Progress"),
                ("21", "QA Review", "In Review"),
            ],
        )
        fake.issue("FEAT-1").transitions.append(
            FakeTransition("41", "Done", "Done", "done", available=False)
        )
        error = failure(lambda: tickets(fake).transition("FEAT-1", "Done"))
        assert error.kind == "config"
        assert error.message == "FEAT-1 has no transition 'Done' (available: Start, QA Review)"
        assert fake.count("POST") == 0


def test_set_fields_maps_names_to_ids_and_shapes_values(jira: FakeJira) -> None:
    tickets(jira).set_fields(
        "FEAT-1",
        {
            "Rollout Percentage": 40.0,
            "Feature Flag": "checkout-v3",
            "Target Environment": "production",
            "Deploy Environments": "staging, production",
            "Flag Keys": "checkout-v2, search",
            "Release": "1.5.0",
            "Rollout Plan": "Canary.\nEveryone.",
        },
    )
    (put,) = jira.calls("PUT", ISSUE)
    fields = put.body["fields"]
    assert fields["customfield_10044"] == 40
    assert isinstance(fields["customfield_10044"], int | float)
    assert fields["customfield_10042"] == "checkout-v3"
    assert fields["customfield_10043"] == {"value": "production"}
    assert fields["customfield_10047"] == [{"value": "staging"}, {"value": "production"}]
    assert fields["customfield_10048"] == ["checkout-v2", "search"]
    assert fields["customfield_10049"] == [{"name": "1.5.0"}]
    assert adf_text(fields["customfield_10046"]) == "Canary.Everyone."
    assert adf_problems(fields["customfield_10046"]) == []
    assert jira.value("FEAT-1", "Rollout Percentage") == 40.0
    assert jira.value("FEAT-1", "Target Environment")["value"] == "production"
    ticket = tickets(jira).fetch("FEAT-1", ["Rollout Percentage", "Deploy Environments"])
    assert ticket is not None
    assert ticket.fields == {
        "Rollout Percentage": "40",
        "Deploy Environments": "staging, production",
    }


@pytest.mark.parametrize(
    ("value", "sent"), [(12.5, 12.5), (100, 100), ("75", 75.0), ("n/a", "n/a")]
)
def test_set_fields_sends_numbers_as_numbers(jira: FakeJira, value: Any, sent: Any) -> None:
    provider = tickets(jira)
    if sent == "n/a":
        error = failure(lambda: provider.set_fields("FEAT-1", {"Rollout Percentage": value}))
        assert error.kind == "invalid"
    else:
        provider.set_fields("FEAT-1", {"Rollout Percentage": value})
    (put,) = jira.calls("PUT", ISSUE)
    assert put.body == {"fields": {"customfield_10044": sent}}
    assert type(put.body["fields"]["customfield_10044"]) is type(sent)


def test_set_fields_with_a_number_for_a_text_field(jira: FakeJira) -> None:
    tickets(jira).set_fields("FEAT-1", {"Feature Flag": 25.0})
    assert jira.calls("PUT", ISSUE)[0].body == {"fields": {"customfield_10042": "25"}}


def test_set_fields_with_nothing_sends_nothing(jira: FakeJira) -> None:
    tickets(jira).set_fields("FEAT-1", {})
    assert jira.requests == []


def test_set_fields_with_an_unknown_name_sends_no_put(jira: FakeJira) -> None:
    error = failure(lambda: tickets(jira).set_fields("FEAT-1", {"Rollout": 5}))
    assert (error.kind, error.message) == ("config", "Jira has no field named 'Rollout'")
    assert jira.count("PUT") == 0


def test_has_comment_pages_by_its_own_count(jira: FakeJira) -> None:
    """A server that ignores startAt (always the first page) cannot loop it forever."""
    page = {"startAt": 0, "maxResults": 1, "total": 3, "comments": [{"body": None}]}
    jira.serve("GET", f"{API}/issue/FEAT-1/comment", page)
    assert not tickets(jira).has_comment("FEAT-1", "marker")
    assert [r.param("startAt") for r in jira.calls("GET", COMMENTS)] == ["0", "1", "2"]
