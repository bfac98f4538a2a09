"""Tests of the fake GitHub's GraphQL endpoint (``POST /graphql``): it answers flaggate's
provenance query from the state REST serves, in GitHub's shapes (bot logins, node ids, edit
histories, deleted comments, co-authors, errors), and REST answers as before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import github
import httpx
import pytest
from graphql import parse, validate

from tests.fakes.github import FakeGitHub
from tests.fakes.github_graphql import SCHEMA, co_authors

TOKEN = "t0ken"
BASE, FIRST, HEAD, FORCED = "b" * 40, "c" * 40, "a" * 40, "e" * 40
REPO = "/repos/acme/flags"
BOT = "github-actions[bot]"
PROVENANCE = (
    Path(__file__).resolve().parents[1] / "src/flaggate/github/provenance_query.graphql"
).read_text()

TRAILERS = (
    "Turn on checkout\n"
    "\n"
    "Pairing session.\n"
    "\n"
    "Co-authored-by: Carol C <carol@example.com>\n"
    "co-authored-by: Dan D <dan@example.org>\n"
    "CO-AUTHORED-BY: Alice A <alice@users.noreply.github.com>\n"
    "Co-authored-by: Renovate <29139614+renovate[bot]@users.noreply.github.com>\n"
    "Signed-off-by: Bob <bob@users.noreply.github.com>\n"
)


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    """``acme/flags`` pull request 7 by bob, opened 2026-01-05 09:00, with two commits (the
    second with co-author trailers) and two comments of the token's bot."""
    with FakeGitHub(token=TOKEN) as server:
        server.add_user("carol", emails=["Carol@Example.com"])
        server.add_user("alice")
        server.add_pull(
            "acme",
            "flags",
            7,
            "bob",
            "main",
            BASE,
            "feature",
            HEAD,
            body="Turn on checkout",
            created_at="2026-01-05T09:00:00Z",
        )
        server.set_commits(
            "acme", "flags", 7, [(FIRST, "bob", "bob"), (HEAD, "bob", None, TRAILERS)]
        )
        server.add_comment("acme", "flags", 7, "<!-- ledger -->", created_at="2026-01-05T09:05:00Z")
        server.add_comment("acme", "flags", 7, "<!-- report -->", created_at="2026-01-05T09:06:00Z")
        yield server
        assert server.errors == []


@pytest.fixture
def client(fake: FakeGitHub) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, headers={"Authorization": f"token {TOKEN}"}) as http:
        yield http


def ask(client: httpx.Client, query: str, **variables: Any) -> Any:
    """POST ``query`` to ``/graphql``; the decoded answer (GitHub answers 200 also for errors)."""
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    assert response.headers["X-RateLimit-Resource"] == "graphql"
    return response.json()


def comment_ids(fake: FakeGitHub) -> list[int]:
    return [c["id"] for c in fake.comments("acme", "flags", 7)]


def node_ids(fake: FakeGitHub) -> list[str]:
    return [c["node_id"] for c in fake.comments("acme", "flags", 7)]


def provenance(client: httpx.Client, ids: list[str]) -> Any:
    return ask(client, PROVENANCE, owner="acme", name="flags", number=7, comments=ids)


# --- the provenance query end to end -----------------------------------------------------------


def test_the_provenance_query_is_valid_against_the_schema() -> None:
    assert validate(SCHEMA, parse(PROVENANCE)) == []


def test_provenance_of_an_untouched_pull_request(fake: FakeGitHub, client: httpx.Client) -> None:
    answer = provenance(client, node_ids(fake))
    assert "errors" not in answer
    data = answer["data"]
    assert data["viewer"] == {"login": BOT}
    pull = data["repository"]["pullRequest"]
    assert pull["lastEditedAt"] is None
    assert pull["editor"] is None
    assert pull["timelineItems"] == {"totalCount": 0, "nodes": []}
    unedited = {"totalCount": 0, "nodes": []}
    assert data["nodes"] == [
        {
            "id": node_id,
            "author": {"__typename": "Bot", "login": "github-actions"},
            "editor": None,
            "userContentEdits": unedited,
        }
        for node_id in node_ids(fake)
    ]


def test_provenance_after_edits_deletions_and_co_authors(
    fake: FakeGitHub, client: httpx.Client
) -> None:
    ledger, report = comment_ids(fake)
    ledger_node, report_node = node_ids(fake)
    assert client.patch(f"{REPO}/issues/comments/{ledger}", json={"body": "v2"}).status_code == 200
    fake.edit_comment(
        "acme", "flags", ledger, "forged", "mallory", edited_at="2026-01-05T10:00:00Z"
    )
    assert client.delete(f"{REPO}/issues/comments/{report}").status_code == 204
    fake.update_pull("acme", "flags", 7, body="Turn on more", edited_at="2026-01-05T11:00:00Z")

    answer = provenance(client, [ledger_node, report_node, "bm9wZQ=="])

    data = answer["data"]
    assert data["viewer"] == {"login": BOT}
    pull = data["repository"]["pullRequest"]
    assert pull["lastEditedAt"] == "2026-01-05T11:00:00Z"
    assert pull["editor"] == {"login": "bob"}  # the author, by default
    deleted = pull["timelineItems"]
    assert deleted["totalCount"] == 1
    [event] = deleted["nodes"]
    assert event["actor"] == {"login": "github-actions"}
    assert event["deletedCommentAuthor"] == {"__typename": "Bot", "login": "github-actions"}
    assert event["createdAt"].endswith("Z")

    commits = pull["commits"]
    assert commits["totalCount"] == 2
    assert [c["commit"]["oid"] for c in commits["nodes"]] == [FIRST, HEAD]
    bob = {"email": "bob@users.noreply.github.com", "name": "bob", "user": {"login": "bob"}}
    assert commits["nodes"][0]["commit"]["authors"]["nodes"] == [bob]
    assert commits["nodes"][1]["commit"]["authors"]["nodes"] == [
        bob,
        {"email": "carol@example.com", "name": "Carol C", "user": {"login": "carol"}},
        {"email": "dan@example.org", "name": "Dan D", "user": None},
        {"email": "alice@users.noreply.github.com", "name": "Alice A", "user": {"login": "alice"}},
        {  # linked to a Bot, which GitActor.user (a User) cannot be
            "email": "29139614+renovate[bot]@users.noreply.github.com",
            "name": "Renovate",
            "user": None,
        },
    ]

    edited, gone, unknown = data["nodes"]
    assert edited["id"] == ledger_node
    assert edited["author"] == {"__typename": "Bot", "login": "github-actions"}
    assert edited["editor"] == {"login": "mallory"}
    edits = edited["userContentEdits"]
    assert edits["totalCount"] == 3
    assert [e["editor"] for e in edits["nodes"]] == [  # newest first, the creation last
        {"login": "mallory"},
        {"login": "github-actions"},
        {"login": "github-actions"},
    ]
    assert edits["nodes"][0]["editedAt"] == "2026-01-05T10:00:00Z"
    assert edits["nodes"][2]["editedAt"] == "2026-01-05T09:05:00Z"
    assert gone is None
    assert unknown is None
    assert answer["errors"] == [
        {
            "type": "NOT_FOUND",
            "path": ["nodes", index],
            "locations": [{"line": 23, "column": 3}],
            "message": f"Could not resolve to a node with the global id of '{node_id}'",
        }
        for index, node_id in ((1, report_node), (2, "bm9wZQ=="))
    ]


def test_pygithub_sends_the_query_and_reads_the_answer(fake: FakeGitHub) -> None:
    gh = github.Github(auth=github.Auth.Token(TOKEN), base_url=fake.url, retry=None)
    pull = gh.get_repo("acme/flags").get_pull(7)
    variables = {"owner": "acme", "name": "flags", "number": 7, "comments": node_ids(fake)}
    _, answer = pull.requester.graphql_query(PROVENANCE, variables)
    assert answer["data"]["viewer"]["login"] == BOT
    assert fake.calls[-1] == ("POST", "/graphql")
    # PyGithub raises on any error: a lone NOT_FOUND reads as UnknownObjectException.
    with pytest.raises(github.UnknownObjectException):
        pull.requester.graphql_query(PROVENANCE, {**variables, "comments": ["bm9wZQ=="]})


# --- identities --------------------------------------------------------------------------------

ACTORS = """
query($id: ID!) {
  viewer { __typename id login databaseId }
  node(id: $id) { __typename id ... on Actor { login url resourcePath } }
}
"""


def test_viewer_is_the_token_account_as_github_answers_an_installation(
    fake: FakeGitHub, client: httpx.Client
) -> None:
    rest_bot = fake.add_user(BOT)
    data = ask(client, ACTORS, id=rest_bot["node_id"])["data"]
    # GitHub answers viewer as a User whose login keeps "[bot]"; the same account as an actor
    # elsewhere is a Bot without it.
    assert data["viewer"] == {
        "__typename": "User",
        "id": rest_bot["node_id"],
        "login": BOT,
        "databaseId": rest_bot["id"],
    }
    assert data["node"] == {
        "__typename": "Bot",
        "id": rest_bot["node_id"],
        "login": "github-actions",
        "url": "https://github.com/apps/github-actions",
        "resourcePath": "/apps/github-actions",
    }


def test_a_person_token_and_a_user_node() -> None:
    with (
        FakeGitHub(token=TOKEN, actor="paula") as fake,
        httpx.Client(base_url=fake.url, headers={"Authorization": f"token {TOKEN}"}) as client,
    ):
        alice = fake.add_user("alice")
        data = ask(client, ACTORS, id=alice["node_id"])["data"]
        assert data["viewer"]["login"] == "paula"
        assert data["node"] == {
            "__typename": "User",
            "id": alice["node_id"],
            "login": "alice",
            "url": "https://github.com/alice",
            "resourcePath": "/alice",
        }


NODE = "query($id: ID!) { node(id: $id) { __typename id } }"


def test_node_ids_are_the_rest_node_ids(fake: FakeGitHub, client: httpx.Client) -> None:
    fake.add_label_event("acme", "flags", 7, "emergency", "erin", created_at="2026-01-05T09:10:00Z")
    rest = {
        "PullRequest": fake.issue("acme", "flags", 7)["node_id"],
        "IssueComment": node_ids(fake)[0],
        "User": fake.add_user("bob")["node_id"],
        "Organization": fake.add_user("acme")["node_id"],
        "LabeledEvent": fake.events("acme", "flags", 7)[0]["node_id"],
        "Repository": client.get(REPO).json()["node_id"],
    }
    for typename, node_id in rest.items():
        assert ask(client, NODE, id=node_id)["data"]["node"] == {
            "__typename": typename,
            "id": node_id,
        }


def test_an_unknown_node_is_null_with_not_found(fake: FakeGitHub, client: httpx.Client) -> None:
    for bad in ("MDEyOklzc3VlQ29tbWVudDE=", "not base64!", ""):
        assert ask(client, NODE, id=bad) == {
            "data": {"node": None},
            "errors": [
                {
                    "type": "NOT_FOUND",
                    "path": ["node"],
                    "locations": [{"line": 1, "column": 19}],
                    "message": f"Could not resolve to a node with the global id of '{bad}'",
                }
            ],
        }


def test_a_missing_repository_or_pull_request(fake: FakeGitHub, client: httpx.Client) -> None:
    answer = provenance_of(client, "nope", 7)
    assert answer == {
        "data": {"viewer": {"login": BOT}, "repository": None, "nodes": []},
        "errors": [
            {
                "type": "NOT_FOUND",
                "path": ["repository"],
                "locations": [{"line": 3, "column": 3}],
                "message": "Could not resolve to a Repository with the name 'acme/nope'.",
            }
        ],
    }
    answer = provenance_of(client, "flags", 99)
    assert answer["data"]["repository"] == {"pullRequest": None}
    assert answer["errors"] == [
        {
            "type": "NOT_FOUND",
            "path": ["repository", "pullRequest"],
            "locations": [{"line": 4, "column": 5}],
            "message": "Could not resolve to a PullRequest with the number of 99.",
        }
    ]


def provenance_of(client: httpx.Client, name: str, number: int) -> Any:
    return ask(client, PROVENANCE, owner="acme", name=name, number=number, comments=[])


# --- edit histories ----------------------------------------------------------------------------

COMMENT = """
query($id: ID!) {
  node(id: $id) {
    ... on IssueComment {
      body createdAt updatedAt lastEditedAt includesCreatedEdit databaseId
      editor { login }
      userContentEdits(first: 10) {
        totalCount
        nodes { id editedAt createdAt diff editor { login } }
      }
    }
  }
}
"""


def test_comment_edits_by_the_actor_and_by_others(fake: FakeGitHub, client: httpx.Client) -> None:
    ledger = comment_ids(fake)[0]
    before = client.get(f"{REPO}/issues/7/comments").json()[0]
    patched = client.patch(f"{REPO}/issues/comments/{ledger}", json={"body": "v2"})
    assert patched.status_code == 200
    assert set(patched.json()) == set(before)  # the REST object keeps its shape
    rest = fake.edit_comment(
        "acme", "flags", ledger, "forged", "mallory", edited_at="2026-01-05T10:00:00Z"
    )
    assert rest["body"] == "forged"
    assert rest["updated_at"] == "2026-01-05T10:00:00Z"
    assert set(rest) == set(before)

    node = ask(client, COMMENT, id=node_ids(fake)[0])["data"]["node"]
    assert node["body"] == "forged"
    assert node["databaseId"] == ledger
    assert node["createdAt"] == "2026-01-05T09:05:00Z"
    assert node["updatedAt"] == node["lastEditedAt"] == "2026-01-05T10:00:00Z"
    assert node["includesCreatedEdit"] is True
    assert node["editor"] == {"login": "mallory"}
    edits = node["userContentEdits"]
    assert edits["totalCount"] == 3
    assert [(e["editor"]["login"], e["diff"]) for e in edits["nodes"]] == [
        ("mallory", "forged"),
        ("github-actions", "v2"),
        ("github-actions", "<!-- ledger -->"),
    ]
    assert [e["editedAt"] for e in edits["nodes"]][::2] == [
        "2026-01-05T10:00:00Z",
        "2026-01-05T09:05:00Z",
    ]
    assert all(e["editedAt"] == e["createdAt"] for e in edits["nodes"])
    assert len({e["id"] for e in edits["nodes"]}) == 3
    assert ask(client, NODE, id=edits["nodes"][0]["id"])["data"]["node"]["__typename"] == (
        "UserContentEdit"
    )


def test_an_unedited_comment_and_an_edit_that_changes_nothing(
    fake: FakeGitHub, client: httpx.Client
) -> None:
    ledger = comment_ids(fake)[0]
    fake.edit_comment("acme", "flags", ledger, "<!-- ledger -->", "mallory")
    node = ask(client, COMMENT, id=node_ids(fake)[0])["data"]["node"]
    assert node["editor"] is None
    assert node["lastEditedAt"] is None
    assert node["includesCreatedEdit"] is False
    assert node["userContentEdits"] == {"totalCount": 0, "nodes": []}


PULL = """
query($number: Int!) {
  repository(owner: "acme", name: "flags") {
    pullRequest(number: $number) {
      id number title body lastEditedAt isDraft headRefOid state
      author { login }
      editor { login }
      userContentEdits(last: 10) { totalCount nodes { diff editor { login } } }
    }
  }
}
"""


def test_description_edits(fake: FakeGitHub, client: httpx.Client) -> None:
    pull = ask(client, PULL, number=7)["data"]["repository"]["pullRequest"]
    assert (pull["lastEditedAt"], pull["editor"], pull["userContentEdits"]["totalCount"]) == (
        None,
        None,
        0,
    )
    assert pull["id"] == fake.issue("acme", "flags", 7)["node_id"]
    fake.update_pull("acme", "flags", 7, body="v2", editor="eve", edited_at="2026-01-05T10:00:00Z")
    fake.update_pull("acme", "flags", 7, body="v2")  # the same text: no edit
    assert client.patch(f"{REPO}/issues/7", json={"body": "v3"}).status_code == 200

    pull = ask(client, PULL, number=7)["data"]["repository"]["pullRequest"]
    assert pull["body"] == "v3"
    assert pull["author"] == {"login": "bob"}
    assert pull["editor"] == {"login": "github-actions"}  # REST edits are the token's
    assert pull["lastEditedAt"] != "2026-01-05T10:00:00Z"
    assert [(e["diff"], e["editor"]["login"]) for e in pull["userContentEdits"]["nodes"]] == [
        ("v3", "github-actions"),
        ("v2", "eve"),
        ("Turn on checkout", "bob"),
    ]
    assert client.get(f"{REPO}/pulls/7").json()["body"] == "v3"


# --- deletions ---------------------------------------------------------------------------------

DELETIONS = """
query {
  repository(owner: "acme", name: "flags") {
    pullRequest(number: 7) {
      timelineItems(itemTypes: [COMMENT_DELETED_EVENT], first: 10) {
        totalCount
        nodes {
          __typename
          ... on CommentDeletedEvent {
            id databaseId createdAt
            actor { __typename login }
            deletedCommentAuthor { __typename login }
          }
        }
      }
    }
  }
}
"""


def test_deleting_comments_over_rest_and_by_others(fake: FakeGitHub, client: httpx.Client) -> None:
    ledger, report = comment_ids(fake)
    events_before = client.get(f"{REPO}/issues/7/events").json()
    timeline_before = client.get(f"{REPO}/issues/7/timeline").json()

    deleted = client.delete(f"{REPO}/issues/comments/{report}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    fake.delete_comment("acme", "flags", ledger, "mallory", deleted_at="2026-01-05T12:00:00Z")

    assert client.get(f"{REPO}/issues/7/comments").json() == []
    assert fake.comments("acme", "flags", 7) == []
    assert client.patch(f"{REPO}/issues/comments/{ledger}", json={"body": "x"}).status_code == 404
    assert client.delete(f"{REPO}/issues/comments/{ledger}").status_code == 404
    # REST lists no event for a deletion, and the comment leaves the timeline.
    assert client.get(f"{REPO}/issues/7/events").json() == events_before
    assert [i["event"] for i in client.get(f"{REPO}/issues/7/timeline").json()] == [
        i["event"] for i in timeline_before if i["event"] != "commented"
    ]
    with pytest.raises(KeyError):
        fake.delete_comment("acme", "flags", ledger, "mallory")

    items = ask(client, DELETIONS)["data"]["repository"]["pullRequest"]["timelineItems"]
    assert items["totalCount"] == 2
    assert [n["createdAt"] for n in items["nodes"]] == sorted(
        n["createdAt"] for n in items["nodes"]
    )
    by_actor = {n["actor"]["login"]: n for n in items["nodes"]}
    ours, theirs = by_actor["github-actions"], by_actor["mallory"]
    assert ours["actor"] == {"__typename": "Bot", "login": "github-actions"}
    assert theirs["actor"] == {"__typename": "User", "login": "mallory"}
    assert theirs["createdAt"] == "2026-01-05T12:00:00Z"
    bot = {"__typename": "Bot", "login": "github-actions"}
    for event in (ours, theirs):
        assert event["__typename"] == "CommentDeletedEvent"
        assert event["deletedCommentAuthor"] == bot
        node = {"__typename": "CommentDeletedEvent", "id": event["id"]}
        assert ask(client, NODE, id=event["id"])["data"]["node"] == node


# --- the timeline ------------------------------------------------------------------------------

TIMELINE = """
query($types: [PullRequestTimelineItemsItemType!], $first: Int, $last: Int, $after: String) {
  repository(owner: "acme", name: "flags") {
    pullRequest(number: 7) {
      timelineItems(itemTypes: $types, first: $first, last: $last, after: $after) {
        totalCount filteredCount pageCount
        pageInfo { startCursor endCursor hasNextPage hasPreviousPage }
        edges { cursor }
        nodes {
          __typename
          ... on LabeledEvent { createdAt actor { login } label { name color } }
          ... on UnlabeledEvent { label { name } }
          ... on ReadyForReviewEvent { actor { login } pullRequest { number } url }
          ... on ConvertToDraftEvent { actor { login } }
          ... on HeadRefForcePushedEvent {
            actor { login } beforeCommit { oid } afterCommit { oid }
          }
          ... on IssueComment { body }
          ... on PullRequestCommit { commit { oid messageHeadline } }
        }
      }
    }
  }
}
"""


def timeline(client: httpx.Client, **variables: Any) -> Any:
    answer = ask(client, TIMELINE, **variables)
    assert "errors" not in answer, answer
    return answer["data"]["repository"]["pullRequest"]["timelineItems"]


def test_timeline_items_from_rest_state(fake: FakeGitHub, client: httpx.Client) -> None:
    fake.add_label_event("acme", "flags", 7, "emergency", "erin", created_at="2026-01-05T09:10:00Z")
    fake.add_label_event(
        "acme", "flags", 7, "emergency", "erin", "unlabeled", "2026-01-05T09:20:00Z"
    )
    fake.add_pull_event("acme", "flags", 7, "convert_to_draft", "bob", "2026-01-05T09:30:00Z")
    fake.add_pull_event("acme", "flags", 7, "ready_for_review", "bob", "2026-01-05T09:40:00Z")
    fake.add_pull_event(
        "acme", "flags", 7, "head_ref_force_pushed", "bob", "2026-01-05T09:50:00Z", head_sha=FORCED
    )
    assert fake.issue("acme", "flags", 7)["draft"] is False
    assert client.get(f"{REPO}/pulls/7").json()["head"]["sha"] == FORCED
    rest_events = [e["event"] for e in fake.events("acme", "flags", 7)]
    assert rest_events == [
        "labeled",
        "unlabeled",
        "convert_to_draft",
        "ready_for_review",
        "head_ref_force_pushed",
    ]

    every = timeline(client, first=100)
    assert [n["__typename"] for n in every["nodes"]] == [
        "PullRequestCommit",
        "PullRequestCommit",
        "IssueComment",
        "IssueComment",
        "LabeledEvent",
        "UnlabeledEvent",
        "ConvertToDraftEvent",
        "ReadyForReviewEvent",
        "HeadRefForcePushedEvent",
    ]
    assert every["totalCount"] == every["pageCount"] == 9
    labeled, _, _, ready, forced = every["nodes"][4:]
    assert labeled == {
        "__typename": "LabeledEvent",
        "createdAt": "2026-01-05T09:10:00Z",
        "actor": {"login": "erin"},
        "label": {
            "name": "emergency",
            "color": client.get(f"{REPO}/issues/7/events").json()[0]["label"]["color"],
        },
    }
    assert ready["pullRequest"] == {"number": 7}
    assert ready["url"].startswith("https://github.com/acme/flags/pull/7#event-")
    assert forced["beforeCommit"] == {"oid": HEAD}
    assert forced["afterCommit"] == {"oid": FORCED}
    assert every["nodes"][1]["commit"]["messageHeadline"] == "Turn on checkout"

    types = ["LABELED_EVENT", "READY_FOR_REVIEW_EVENT", "HEAD_REF_FORCE_PUSHED_EVENT"]
    picked = timeline(client, types=types, last=2)
    assert picked["totalCount"] == 3
    assert picked["pageCount"] == 2
    assert [n["__typename"] for n in picked["nodes"]] == [
        "ReadyForReviewEvent",
        "HeadRefForcePushedEvent",
    ]
    assert picked["pageInfo"]["hasPreviousPage"] is True
    assert picked["pageInfo"]["hasNextPage"] is False


def test_timeline_pages_with_cursors(fake: FakeGitHub, client: httpx.Client) -> None:
    page = timeline(client, first=3)
    assert page["totalCount"] == 4
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["hasPreviousPage"] is False
    assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
    rest = timeline(client, first=3, after=page["pageInfo"]["endCursor"])
    assert [n["__typename"] for n in rest["nodes"]] == ["IssueComment"]
    assert rest["nodes"][0]["body"] == "<!-- report -->"
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["pageInfo"]["hasPreviousPage"] is True
    assert rest["filteredCount"] == 1
    empty = timeline(client, types=["READY_FOR_REVIEW_EVENT"], first=5)
    assert empty["nodes"] == []
    assert empty["totalCount"] == 0
    assert empty["pageInfo"] == {
        "startCursor": None,
        "endCursor": None,
        "hasNextPage": False,
        "hasPreviousPage": False,
    }


def test_connections_need_first_or_last_within_100(fake: FakeGitHub, client: httpx.Client) -> None:
    assert ask(client, TIMELINE) == {
        "errors": [
            {
                "type": "MISSING_PAGINATION_BOUNDARIES",
                "path": ["repository", "pullRequest", "timelineItems"],
                "locations": [{"line": 5, "column": 7}],
                "message": "You must provide a `first` or `last` value to properly paginate "
                "the `timelineItems` connection.",
            }
        ]
    }
    [error] = ask(client, TIMELINE, last=101)["errors"]
    assert error["type"] == "EXCESSIVE_PAGINATION"
    assert error["message"] == (
        "Requesting 101 records on the `timelineItems` connection exceeds the `last` limit of "
        "100 records."
    )


# --- co-authors --------------------------------------------------------------------------------


def test_co_authored_by_trailers_follow_gits_rules() -> None:
    assert co_authors(TRAILERS) == [
        ("Carol C", "carol@example.com"),
        ("Dan D", "dan@example.org"),
        ("Alice A", "alice@users.noreply.github.com"),
        ("Renovate", "29139614+renovate[bot]@users.noreply.github.com"),
    ]
    trailer = "Co-authored-by: Carol <carol@example.com>"
    assert co_authors(f"Subject\n\n{trailer}\n\n") == [("Carol", "carol@example.com")]
    assert co_authors(f"Subject\n{trailer}") == []  # no blank line before it
    assert co_authors(f"{trailer}") == []  # the subject is no trailer
    assert co_authors(f"Subject\n\n{trailer}\n\nMore text") == []  # not the last paragraph
    assert co_authors(f"Subject\n\nSee the notes.\n{trailer}") == []  # a paragraph of prose
    assert co_authors("Subject\n\nCo-authored-by: no address") == []


AUTHORS = """
query {
  repository(owner: "acme", name: "flags") {
    pullRequest(number: 7) {
      commits(first: 10) {
        nodes {
          commit {
            oid message
            author { name email user { login } }
            committer { name email user { login } }
            authors(first: 20) { totalCount nodes { name email user { login } } }
          }
        }
      }
    }
  }
}
"""


def test_which_emails_github_links(fake: FakeGitHub, client: httpx.Client) -> None:
    dora = fake.add_user("dora")
    message = "\n".join(
        [
            "Subject",
            "",
            f"Co-authored-by: Dora <{dora['id']}+dora@users.noreply.github.com>",
            "Co-authored-by: Not Dora <999+dora@users.noreply.github.com>",
            "Co-authored-by: Erin <erin@users.noreply.github.com>",
            "Co-authored-by: Carol again <carol@example.com>",
            "Co-authored-by: Bob twice <bob@users.noreply.github.com>",
        ]
    )
    fake.set_commits("acme", "flags", 7, [(HEAD, None, "bob", message)])
    data = ask(client, AUTHORS)["data"]
    [node] = data["repository"]["pullRequest"]["commits"]["nodes"]
    commit = node["commit"]
    assert commit["message"] == message
    assert commit["author"] == {
        "name": "Unknown Author",
        "email": "unknown@example.com",
        "user": None,
    }
    assert commit["committer"]["user"] == {"login": "bob"}
    assert [(a["name"], (a["user"] or {}).get("login")) for a in commit["authors"]["nodes"]] == [
        ("Unknown Author", None),
        ("Dora", "dora"),
        ("Not Dora", None),  # an id that is not dora's
        ("Erin", None),  # no account erin
        ("Carol again", "carol"),
        ("Bob twice", "bob"),
    ]
    assert commit["authors"]["totalCount"] == 6


def test_rest_commits_keep_their_shape(fake: FakeGitHub, client: httpx.Client) -> None:
    commits = client.get(f"{REPO}/pulls/7/commits").json()
    assert [c["commit"]["message"] for c in commits] == [f"Change flags ({FIRST[:7]})", TRAILERS]
    assert set(commits[0]) == set(commits[1])
    assert commits[1]["author"]["login"] == "bob"
    assert commits[1]["committer"] is None


# --- errors as GitHub words them ---------------------------------------------------------------


def test_an_undefined_field_is_githubs_validation_error(client: httpx.Client) -> None:
    query = "query FlaggateProvenance {\n  viewer { login isHireable }\n}"
    assert ask(client, query) == {
        "errors": [
            {
                "path": ["query FlaggateProvenance", "viewer", "isHireable"],
                "extensions": {
                    "code": "undefinedField",
                    "typeName": "User",
                    "fieldName": "isHireable",
                },
                "locations": [{"line": 2, "column": 18}],
                "message": "Field 'isHireable' doesn't exist on type 'User'",
            }
        ]
    }


def test_other_query_errors(client: httpx.Client) -> None:
    missing = ask(client, '{ repository(name: "flags") { id } }')["errors"]
    assert missing == [
        {
            "path": ["query", "repository"],
            "extensions": {
                "code": "missingRequiredArguments",
                "className": "Field",
                "name": "repository",
                "arguments": "owner",
            },
            "locations": [{"line": 1, "column": 3}],
            "message": "Field 'repository' is missing required arguments: owner",
        }
    ]
    assert ask(client, "{ viewer { login } } }") == {
        "errors": [
            {
                "message": 'Parse error on "}" (RCURLY) at [1, 22]',
                "locations": [{"line": 1, "column": 22}],
            }
        ]
    }
    query = 'query($n: Int!) { repository(owner: "acme", name: "flags") { pullRequest(number: $n) '
    query += "{ id } } }"
    assert ask(client, query, n="seven") == {
        "errors": [
            {
                "extensions": {
                    "value": "seven",
                    "problems": [
                        {"path": [], "explanation": 'Could not coerce value "seven" to Int'}
                    ],
                },
                "locations": [{"line": 1, "column": 7}],
                "message": "Variable $n of type Int! was provided invalid value",
            }
        ]
    }
    no_query = client.post("/graphql", json={"variables": {}})
    assert no_query.status_code == 200
    assert no_query.json() == {
        "errors": [{"message": "A query attribute must be specified and must be a string."}]
    }


def test_bad_credentials(fake: FakeGitHub) -> None:
    for headers in ({"Authorization": "token nope"}, {}):
        response = httpx.post(
            f"{fake.url}/graphql", json={"query": "{ viewer { login } }"}, headers=headers
        )
        assert response.status_code == 401
        assert response.json() == {
            "message": "Bad credentials",
            "documentation_url": "https://docs.github.com/graphql",
            "status": "401",
        }


def test_injected_faults(fake: FakeGitHub, client: httpx.Client) -> None:
    fake.fail("POST", "^/graphql$", 502)
    fake.drop_connection("POST", "^/graphql$")
    failed = client.post("/graphql", json={"query": "{ viewer { login } }"})
    assert failed.status_code == 502
    assert failed.json()["message"] == "Server Error"
    with pytest.raises(httpx.TransportError):
        client.post("/graphql", json={"query": "{ viewer { login } }"})
    assert ask(client, "{ viewer { login } }") == {"data": {"viewer": {"login": BOT}}}
    assert [call for call in fake.calls if call[1] == "/graphql"] == [("POST", "/graphql")] * 3


def test_pygithub_retries_a_502_on_graphql(fake: FakeGitHub) -> None:
    from urllib3.util import Retry

    fake.fail("POST", "^/graphql$", 502)
    retry = Retry(total=2, backoff_factor=0, status_forcelist=[502], allowed_methods=None)
    gh = github.Github(auth=github.Auth.Token(TOKEN), base_url=fake.url, retry=retry)
    _, answer = gh.requester.graphql_query("{ viewer { login } }", {})
    assert answer == {"data": {"viewer": {"login": BOT}}}
    assert fake.calls.count(("POST", "/graphql")) == 2
