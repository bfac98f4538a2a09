"""Tests of the fake GitHub's GraphQL endpoint (``POST /graphql``): it answers flaggate's
pull request query (``pull_query.graphql``) and its follow-up page and team queries from the
state REST serves, in GitHub's shapes (bot logins, node ids, edit histories, deleted comments,
co-authors, statuses, team members, errors), and REST answers as before."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import github
import httpx
import pytest
from graphql import FragmentDefinitionNode, parse, print_ast, validate

from tests.fakes.github import FakeGitHub, MemberState
from tests.fakes.github_graphql import SCHEMA, co_authors

TOKEN = "t0ken"
BASE, FIRST, HEAD, FORCED = "b" * 40, "c" * 40, "a" * 40, "e" * 40
REPO = "/repos/acme/flags"
BOT = "github-actions[bot]"
PULL_QUERY = (
    Path(__file__).resolve().parents[1] / "src/flaggate/github/pull_query.graphql"
).read_text()
PROVENANCE = (
    "query FlaggateProvenance($owner: String!, $name: String!, $number: Int!, "
    "$comments: [ID!]!) {\n"
    """  viewer { login }
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      lastEditedAt
      editor { login }
      timelineItems(itemTypes: [COMMENT_DELETED_EVENT], last: 100) {
        totalCount
        nodes {
          ... on CommentDeletedEvent {
            createdAt
            actor { login }
            deletedCommentAuthor { __typename login }
          }
        }
      }
      commits(last: 100) {
        totalCount
        nodes { commit { oid authors(first: 20) { nodes { email name user { login } } } } }
      }
    }
  }
  nodes(ids: $comments) {
    ... on IssueComment {
      id
      author { __typename login }
      editor { login }
      userContentEdits(first: 100) { totalCount nodes { editedAt editor { login } } }
    }
  }
}
"""
)
"""The provenance query flaggate sent before ``pull_query.graphql`` (comments by node id)."""

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


def ask(client: httpx.Client, document: str, /, **variables: Any) -> Any:
    """POST ``document`` to ``/graphql``; the decoded answer (GitHub answers 200 also for
    errors)."""
    response = client.post("/graphql", json={"query": document, "variables": variables})
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


# --- the pull request query (pull_query.graphql) -----------------------------------------------

LEADS: dict[str, MemberState] = {
    "alice": "active",
    "carl": "pending",
    "dave": "active",
    "Alina": "active",
}
TEAM_FIELD = (
    "  t{i}: organization(login: $o{i}) {{ team(slug: $s{i}) "
    "{{ members(first: 100) {{ ...TeamMembers }} }} }}\n"
)


def pull_query(teams: int) -> str:
    """``pull_query.graphql`` with ``teams`` team aliases (``t0``, ``t1``, ...), added as
    :mod:`flaggate.github.snapshot` adds them (where the file's comments say, if it has them);
    without teams, without the ``TeamMembers`` fragment (GitHub rejects an unused one)."""
    if teams == 0:
        [unused] = [
            d
            for d in parse(PULL_QUERY).definitions
            if isinstance(d, FragmentDefinitionNode) and d.name.value == "TeamMembers"
        ]
        assert unused.loc is not None
        return PULL_QUERY[: unused.loc.start] + PULL_QUERY[unused.loc.end :]
    declared = "".join(f"  $o{i}: String!\n  $s{i}: String!\n" for i in range(teams))
    fields = "".join(TEAM_FIELD.format(i=i) for i in range(teams))
    if "# team fields" in PULL_QUERY:
        return PULL_QUERY.replace("  # team variables\n", declared).replace(
            "  # team fields\n", fields
        )
    header = re.search(r"query FlaggatePull\((.*?)\)\s*\{\n", PULL_QUERY, re.S)
    assert header is not None
    return (
        PULL_QUERY[: header.end(1)]
        + "\n"
        + declared
        + PULL_QUERY[header.end(1) : header.end()]
        + fields
        + PULL_QUERY[header.end() :]
    )


def fragment(name: str) -> str:
    """Fragment ``name`` of ``pull_query.graphql``."""
    [found] = [
        d
        for d in parse(PULL_QUERY).definitions
        if isinstance(d, FragmentDefinitionNode) and d.name.value == name
    ]
    return print_ast(found)


def ask_pull(client: httpx.Client, teams: list[tuple[str, str]]) -> Any:
    variables: dict[str, Any] = {"owner": "acme", "name": "flags", "number": 7, "head": FORCED}
    for i, (org, slug) in enumerate(teams):
        variables |= {f"o{i}": org, f"s{i}": slug}
    return ask(client, pull_query(len(teams)), **variables)


def page_of(client: httpx.Client, node_id: str, name: str, arguments: str, cursor: str) -> Any:
    """One follow-up page of a connection of the pull request, as flaggate asks for it."""
    fragments = {"timelineItems": "Timeline"}
    spread = fragments.get(name, name[:1].upper() + name[1:])
    query = (
        "query FlaggatePullPage($id: ID!, $cursor: String) {\n"
        f"  node(id: $id) {{ ... on PullRequest {{ {name}({arguments}) {{ ...{spread} }} }} }}\n"
        "}\n\n" + fragment(spread)
    )
    answer = ask(client, query, id=node_id, cursor=cursor)
    assert "errors" not in answer, answer
    return answer["data"]["node"][name]


def rest_login(actor: dict[str, Any]) -> str:
    """A GraphQL actor's login as REST writes it (a ``Bot``'s with ``[bot]``)."""
    login = str(actor["login"])
    return f"{login}[bot]" if actor["__typename"] == "Bot" else login


@pytest.fixture
def busy(fake: FakeGitHub, client: httpx.Client) -> FakeGitHub:
    """Pull request 7 as flaggate meets it: labels, a user and a team asked to review, three
    reviews (one by a bot, one dismissed), a comment edited by someone else and one deleted,
    label/ready/force-push events, the force-pushed head with co-authors and statuses, and
    two teams (``secret`` unreadable by the token)."""
    fake.add_team("acme", "leads", LEADS, maintainers=["dave"])
    fake.add_team("acme", "secret", {"eve": "active"}, forbidden=True)
    fake.add_label_event("acme", "flags", 7, "emergency", "erin", created_at="2026-01-05T09:10:00Z")
    fake.add_label_event("acme", "flags", 7, "Backend", "bob", created_at="2026-01-05T09:11:00Z")
    fake.add_pull_event("acme", "flags", 7, "ready_for_review", "bob", "2026-01-05T09:12:00Z")
    fake.add_pull_event(
        "acme", "flags", 7, "head_ref_force_pushed", "bob", "2026-01-05T09:13:00Z", head_sha=FORCED
    )
    fake.set_commits("acme", "flags", 7, [(FIRST, "bob", "bob"), (FORCED, "bob", None, TRAILERS)])
    fake.add_review("acme", "flags", 7, "carol", "APPROVED", FORCED, "2026-01-05T09:20:00Z")
    fake.add_review(
        "acme", "flags", 7, "renovate[bot]", "COMMENTED", HEAD, "2026-01-05T09:21:00Z", body="ok"
    )
    blocked = fake.add_review(
        "acme", "flags", 7, "mallory", "CHANGES_REQUESTED", HEAD, "2026-01-05T09:22:00Z"
    )
    fake.dismiss_review("acme", "flags", 7, blocked["id"])
    asked = {"reviewers": ["zed"], "team_reviewers": ["leads"]}
    assert client.post(f"{REPO}/pulls/7/requested_reviewers", json=asked).status_code == 201
    ledger, report = comment_ids(fake)
    fake.edit_comment(
        "acme", "flags", ledger, "forged", "mallory", edited_at="2026-01-05T10:00:00Z"
    )
    fake.delete_comment("acme", "flags", report, "mallory", deleted_at="2026-01-05T10:01:00Z")
    fake.add_comment("acme", "flags", 7, "lgtm", "carol", created_at="2026-01-05T10:02:00Z")
    status = {"state": "pending", "context": "flaggate", "description": "Checking"}
    assert client.post(f"{REPO}/statuses/{FORCED}", json=status).status_code == 201
    status |= {"state": "success", "description": "All good"}
    assert client.post(f"{REPO}/statuses/{FORCED}", json=status).status_code == 201
    fake.add_status(
        "acme", "flags", FORCED, "failure", "lint", "2 problems", "https://ci/1", creator="ci[bot]"
    )
    fake.add_status("acme", "flags", HEAD, "success", "lint")  # an older head's
    return fake


def test_the_pull_query_is_valid_against_the_schema() -> None:
    assert validate(SCHEMA, parse(pull_query(2))) == []


def test_the_pull_query_answers_what_rest_serves(busy: FakeGitHub, client: httpx.Client) -> None:
    busy.reset_calls()
    answer = ask_pull(client, [("acme", "leads"), ("acme", "secret")])
    assert busy.calls == [("POST", "/graphql")]  # one request, recorded once
    data = answer["data"]
    assert data["viewer"] == {"login": BOT}

    pull = data["repository"]["pullRequest"]
    rest = client.get(f"{REPO}/pulls/7").json()
    assert (pull["id"], pull["databaseId"], pull["number"]) == (rest["node_id"], rest["id"], 7)
    assert (pull["title"], pull["body"], pull["url"]) == (
        rest["title"],
        rest["body"],
        rest["html_url"],
    )
    assert (pull["state"], pull["merged"], pull["isDraft"]) == ("OPEN", False, rest["draft"])
    assert pull["createdAt"] == rest["created_at"] == "2026-01-05T09:00:00Z"
    assert pull["lastEditedAt"] is None
    assert pull["author"] == {"__typename": "User", "login": rest["user"]["login"]}
    assert (pull["baseRefName"], pull["baseRefOid"]) == (rest["base"]["ref"], rest["base"]["sha"])
    assert (pull["headRefName"], pull["headRefOid"]) == (rest["head"]["ref"], FORCED)
    assert rest["head"]["sha"] == FORCED

    assert pull["labels"] == {
        "totalCount": 2,
        "nodes": [{"name": label["name"]} for label in rest["labels"]],
    }
    assert [n["name"] for n in pull["labels"]["nodes"]] == ["emergency", "Backend"]

    requested = client.get(f"{REPO}/pulls/7/requested_reviewers").json()
    assert pull["reviewRequests"] == {
        "totalCount": 2,
        "nodes": [
            {"requestedReviewer": {"__typename": "User", "login": requested["users"][0]["login"]}},
            {
                "requestedReviewer": {
                    "__typename": "Team",
                    "slug": requested["teams"][0]["slug"],
                    "organization": {"login": "acme"},
                }
            },
        ],
    }

    reviews = pull["reviews"]
    rest_reviews = client.get(f"{REPO}/pulls/7/reviews").json()
    assert reviews["totalCount"] == len(rest_reviews) == 3
    assert reviews["pageInfo"]["hasNextPage"] is False
    assert [
        (
            r["databaseId"],
            r["state"],
            r["submittedAt"],
            r["body"],
            rest_login(r["author"]),
            r["commit"]["oid"],
        )
        for r in reviews["nodes"]
    ] == [
        (r["id"], r["state"], r["submitted_at"], r["body"], r["user"]["login"], r["commit_id"])
        for r in rest_reviews
    ]
    assert [r["state"] for r in reviews["nodes"]] == ["APPROVED", "COMMENTED", "DISMISSED"]
    assert reviews["nodes"][1]["author"] == {"__typename": "Bot", "login": "renovate"}

    comments = pull["comments"]
    rest_comments = client.get(f"{REPO}/issues/7/comments").json()
    assert comments["totalCount"] == len(rest_comments) == 2
    assert [
        (c["id"], c["databaseId"], c["body"], rest_login(c["author"])) for c in comments["nodes"]
    ] == [(c["node_id"], c["id"], c["body"], c["user"]["login"]) for c in rest_comments]
    edited, fresh = comments["nodes"]
    assert edited["editor"] == {"__typename": "User", "login": "mallory"}
    assert [e["editor"]["login"] for e in edited["userContentEdits"]["nodes"]] == [
        "mallory",
        "github-actions",
    ]
    assert fresh["editor"] is None
    assert fresh["userContentEdits"] == {"totalCount": 0, "nodes": []}

    timeline = pull["timelineItems"]
    rest_events = {e["event"]: e for e in reversed(busy.events("acme", "flags", 7))}  # firsts
    second_label = [e for e in busy.events("acme", "flags", 7) if e["event"] == "labeled"][1]
    assert timeline["totalCount"] == 5
    assert timeline["pageInfo"]["hasPreviousPage"] is False
    erin, bob = {"__typename": "User", "login": "erin"}, {"__typename": "User", "login": "bob"}
    labeled = rest_events["labeled"]
    assert timeline["nodes"] == [
        {
            "__typename": "LabeledEvent",
            "id": labeled["node_id"],
            "createdAt": labeled["created_at"],
            "actor": erin,
            "label": {"name": "emergency"},
        },
        {
            "__typename": "LabeledEvent",
            "id": second_label["node_id"],
            "createdAt": second_label["created_at"],
            "actor": bob,
            "label": {"name": "Backend"},
        },
        {
            "__typename": "ReadyForReviewEvent",
            "createdAt": rest_events["ready_for_review"]["created_at"],
            "actor": bob,
        },
        {
            "__typename": "HeadRefForcePushedEvent",
            "createdAt": rest_events["head_ref_force_pushed"]["created_at"],
            "actor": bob,
            "afterCommit": {"oid": FORCED},
        },
        {
            "__typename": "CommentDeletedEvent",
            "createdAt": "2026-01-05T10:01:00Z",
            "actor": {"__typename": "User", "login": "mallory"},
            "deletedCommentAuthor": {"__typename": "Bot", "login": "github-actions"},
        },
    ]

    commits = pull["commits"]
    rest_commits = client.get(f"{REPO}/pulls/7/commits").json()
    assert commits["totalCount"] == len(rest_commits) == 2
    assert commits["pageInfo"]["hasPreviousPage"] is False

    def user(account: dict[str, Any] | None) -> dict[str, str] | None:
        return {"login": account["login"]} if account is not None else None

    assert [
        (
            c["commit"]["oid"],
            c["commit"]["message"],
            c["commit"]["author"]["user"],
            c["commit"]["committer"]["user"],
        )
        for c in commits["nodes"]
    ] == [
        (c["sha"], c["commit"]["message"], user(c["author"]), user(c["committer"]))
        for c in rest_commits
    ]
    assert [a["user"] for a in commits["nodes"][1]["commit"]["authors"]["nodes"]] == [
        {"login": "bob"},
        {"login": "carol"},
        None,
        {"login": "alice"},
        None,
    ]

    combined = client.get(f"{REPO}/commits/{FORCED}/status").json()
    head = data["repository"]["object"]
    assert head["oid"] == FORCED
    contexts = head["status"]["contexts"]
    assert [(c["context"], c["state"], c["description"]) for c in contexts] == [
        (s["context"], s["state"].upper(), s["description"]) for s in combined["statuses"]
    ]
    assert [(c["context"], c["state"]) for c in contexts] == [
        ("lint", "FAILURE"),
        ("flaggate", "SUCCESS"),  # the newest of its context
    ]
    if "creator" in contexts[0]:
        assert [c["creator"] for c in contexts] == [
            {"__typename": "Bot", "login": "ci"},
            {"__typename": "Bot", "login": "github-actions"},
        ]

    leads = client.get("/orgs/acme/teams/leads/members").json()
    assert data["t0"] == {
        "team": {
            "members": {
                "totalCount": 3,
                "pageInfo": {
                    "hasNextPage": False,
                    "endCursor": data["t0"]["team"]["members"]["pageInfo"]["endCursor"],
                },
                "nodes": [{"login": m["login"]} for m in leads],
            }
        }
    }
    assert [m["login"] for m in leads] == ["alice", "dave", "Alina"]  # not the pending carl
    assert client.get("/orgs/acme/teams/secret/members").status_code == 403
    assert data["t1"] == {"team": None}
    [error] = answer["errors"]
    assert error == {
        "type": "FORBIDDEN",
        "path": ["t1", "team"],
        "extensions": {"saml_failure": False},
        "locations": error["locations"],
        "message": "Resource not accessible by integration",
    }
    [where] = error["locations"]
    line = pull_query(2).splitlines()[where["line"] - 1]
    assert line[where["column"] - 1 :].startswith("team(slug: $s1)")


def test_an_unused_fragment_is_githubs_validation_error(client: httpx.Client) -> None:
    query = "query Q {\n  viewer { login }\n}\n\nfragment Unused on User { login }\n"
    assert ask(client, query) == {
        "errors": [
            {
                "path": ["fragment Unused"],
                "extensions": {"code": "useAndDefineFragment", "fragmentName": "Unused"},
                "locations": [{"line": 5, "column": 1}],
                "message": "Fragment Unused was defined, but not used",
            }
        ]
    }


def test_pages_past_100_with_the_cursors(fake: FakeGitHub, client: httpx.Client) -> None:
    for i in range(105):
        at = f"2026-01-06T{i // 60:02d}:{i % 60:02d}:00Z"
        fake.add_review("acme", "flags", 7, f"r{i}", "COMMENTED", HEAD, at)
        fake.add_comment("acme", "flags", 7, f"c{i}", created_at=at)
        fake.add_label_event("acme", "flags", 7, f"l{i}", "erin", created_at=at)
    shas = [f"{i:040x}" for i in range(130)]
    fake.set_commits("acme", "flags", 7, [(sha, "bob", "bob") for sha in shas])
    fake.update_pull("acme", "flags", 7, head_sha=shas[-1])

    pull = ask_pull(client, [])
    assert "errors" not in pull, pull
    first = pull["data"]["repository"]["pullRequest"]
    node_id = first["id"]

    reviews = first["reviews"]
    assert (reviews["totalCount"], len(reviews["nodes"])) == (105, 100)
    assert reviews["pageInfo"]["hasNextPage"] is True
    more = page_of(
        client, node_id, "reviews", "first: 100, after: $cursor", reviews["pageInfo"]["endCursor"]
    )
    assert more["pageInfo"]["hasNextPage"] is False
    logins = [r["author"]["login"] for r in reviews["nodes"] + more["nodes"]]
    assert logins == [r["user"]["login"] for r in fake.reviews("acme", "flags", 7)]
    assert len(logins) == 105

    comments = first["comments"]
    assert (comments["totalCount"], len(comments["nodes"])) == (107, 100)
    more = page_of(
        client, node_id, "comments", "first: 100, after: $cursor", comments["pageInfo"]["endCursor"]
    )
    bodies = [c["body"] for c in comments["nodes"] + more["nodes"]]
    assert bodies == [c["body"] for c in fake.comments("acme", "flags", 7)]
    assert more["pageInfo"] == {"hasNextPage": False, "endCursor": more["pageInfo"]["endCursor"]}

    types = "[LABELED_EVENT, READY_FOR_REVIEW_EVENT, HEAD_REF_FORCE_PUSHED_EVENT, "
    types += "COMMENT_DELETED_EVENT]"
    timeline = first["timelineItems"]
    assert (timeline["totalCount"], len(timeline["nodes"])) == (105, 100)
    assert timeline["nodes"][0]["label"] == {"name": "l5"}  # the last 100
    assert timeline["pageInfo"]["hasPreviousPage"] is True
    earlier = page_of(
        client,
        node_id,
        "timelineItems",
        f"itemTypes: {types}, last: 100, before: $cursor",
        timeline["pageInfo"]["startCursor"],
    )
    assert earlier["pageInfo"]["hasPreviousPage"] is False
    labels = [n["label"]["name"] for n in earlier["nodes"] + timeline["nodes"]]
    assert labels == [f"l{i}" for i in range(105)]

    commits = first["commits"]
    assert (commits["totalCount"], len(commits["nodes"])) == (130, 100)
    assert commits["nodes"][-1]["commit"]["oid"] == shas[-1]
    earlier = page_of(
        client, node_id, "commits", "last: 100, before: $cursor", commits["pageInfo"]["startCursor"]
    )
    assert earlier["pageInfo"]["hasPreviousPage"] is False
    oids = [c["commit"]["oid"] for c in earlier["nodes"] + commits["nodes"]]
    assert oids == [
        c["sha"] for c in client.get(f"{REPO}/pulls/7/commits?per_page=100&page=1").json()
    ] + [c["sha"] for c in client.get(f"{REPO}/pulls/7/commits?per_page=100&page=2").json()]
    assert oids == shas


MEMBERS = """query($org: String!, $slug: String!, $query: String,
  $role: TeamMemberRole, $order: TeamMemberOrder) {
  organization(login: $org) {
    login
    team(slug: $slug) {
      slug name combinedSlug databaseId
      organization { login }
      members(first: 100, query: $query, role: $role, orderBy: $order) {
        ...TeamMembers
        edges { role node { login } }
      }
    }
  }
}
"""


def members(client: httpx.Client, **variables: Any) -> Any:
    answer = ask(client, MEMBERS + fragment("TeamMembers"), **variables)
    assert "errors" not in answer, answer
    return answer["data"]["organization"]["team"]


def test_team_members(busy: FakeGitHub, client: httpx.Client) -> None:
    rest = client.get(f"{REPO}/pulls/7/requested_reviewers").json()["teams"][0]
    team = members(client, org="ACME", slug="Leads")  # logins and slugs are case-insensitive
    assert (team["slug"], team["name"], team["combinedSlug"], team["databaseId"]) == (
        rest["slug"],
        rest["name"],
        "acme/leads",
        rest["id"],
    )
    assert team["organization"] == {"login": "acme"}
    every = team["members"]
    assert every["totalCount"] == 3
    assert every["edges"] == [
        {"role": "MEMBER", "node": {"login": "alice"}},
        {"role": "MAINTAINER", "node": {"login": "dave"}},
        {"role": "MEMBER", "node": {"login": "Alina"}},
    ]
    named = members(client, org="acme", slug="leads", query="AL")["members"]
    assert [n["login"] for n in named["nodes"]] == ["alice", "Alina"]
    assert named["totalCount"] == 2
    assert members(client, org="acme", slug="leads", query="carl")["members"]["nodes"] == []
    exact = members(client, org="acme", slug="leads", query="dave")["members"]
    assert exact["nodes"] == [{"login": "dave"}]
    heads = members(client, org="acme", slug="leads", role="MAINTAINER")["members"]
    assert heads["nodes"] == [{"login": "dave"}]
    order = {"field": "LOGIN", "direction": "DESC"}
    ordered = members(client, org="acme", slug="leads", order=order)["members"]
    assert [n["login"] for n in ordered["nodes"]] == ["dave", "Alina", "alice"]
    assert members(client, org="acme", slug="nope") is None  # no such team: null, no error


def test_several_teams_through_aliases(busy: FakeGitHub, client: httpx.Client) -> None:
    busy.add_team("acme", "ops", {"olga": "active"})
    busy.add_team("other", "leads", {"paul": "active"})
    teams = [("acme", "ops"), ("other", "leads"), ("acme", "leads"), ("acme", "nope")]
    answer = ask_pull(client, teams)
    assert "errors" not in answer, answer
    data = answer["data"]
    assert [
        [
            n["login"]
            for n in (data[f"t{i}"]["team"] or {"members": {"nodes": []}})["members"]["nodes"]
        ]
        for i in range(3)
    ] == [["olga"], ["paul"], ["alice", "dave", "Alina"]]
    assert data["t3"] == {"team": None}


def test_an_unknown_organization(fake: FakeGitHub, client: httpx.Client) -> None:
    fake.add_user("bob")
    for login in ("nope", "bob"):  # bob is a user, no organization
        answer = ask(client, MEMBERS + fragment("TeamMembers"), org=login, slug="leads")
        assert answer == {
            "data": {"organization": None},
            "errors": [
                {
                    "type": "NOT_FOUND",
                    "path": ["organization"],
                    "locations": [{"line": 3, "column": 3}],
                    "message": f"Could not resolve to an Organization with the login of '{login}'.",
                }
            ],
        }


OBJECT = """
query($oid: GitObjectID, $expression: String) {
  repository(owner: "acme", name: "flags") {
    object(oid: $oid, expression: $expression) {
      __typename id oid abbreviatedOid commitUrl
      ... on Commit {
        author { user { login } }
        repository { nameWithOwner }
        status {
          state
          context(name: "lint") { state targetUrl creator { login } }
          contexts { id context state description targetUrl createdAt commit { oid } }
        }
      }
    }
  }
}
"""


def git_object(client: httpx.Client, **variables: Any) -> Any:
    answer = ask(client, OBJECT, **variables)
    assert "errors" not in answer, answer
    return answer["data"]["repository"]["object"]


def test_commits_and_their_statuses(busy: FakeGitHub, client: httpx.Client) -> None:
    head = git_object(client, oid=FORCED)
    assert head["__typename"] == "Commit"
    assert (head["oid"], head["abbreviatedOid"]) == (FORCED, FORCED[:7])
    assert head["commitUrl"] == f"https://github.com/acme/flags/commit/{FORCED}"
    assert head["repository"] == {"nameWithOwner": "acme/flags"}
    assert head["author"] == {"user": {"login": "bob"}}
    status = head["status"]
    assert status["state"] == "FAILURE"  # as REST's combined state
    assert client.get(f"{REPO}/commits/{FORCED}/status").json()["state"] == "failure"
    assert status["context"] == {
        "state": "FAILURE",
        "targetUrl": "https://ci/1",
        "creator": {"login": "ci"},
    }
    rest = client.get(f"{REPO}/commits/{FORCED}/status").json()["statuses"]
    assert [
        (c["id"], c["context"], c["state"], c["description"], c["targetUrl"], c["createdAt"])
        for c in status["contexts"]
    ] == [
        (
            s["node_id"],
            s["context"],
            s["state"].upper(),
            s["description"],
            s["target_url"],
            s["created_at"],
        )
        for s in rest
    ]
    assert {c["commit"]["oid"] for c in status["contexts"]} == {FORCED}
    assert ask(client, NODE, id=status["contexts"][0]["id"])["data"]["node"]["__typename"] == (
        "StatusContext"
    )

    assert git_object(client, expression="feature")["oid"] == FORCED  # the head branch
    assert git_object(client, oid=HEAD)["status"]["state"] == "SUCCESS"  # force-pushed away
    assert git_object(client, oid=FIRST)["status"] is None  # no status
    base = git_object(client, expression="HEAD")  # the default branch
    assert (base["oid"], base["author"]) == (BASE, {"user": None})
    assert git_object(client, oid="f" * 40) is None  # unknown: null, no error
    assert git_object(client, expression=f"{FORCED}:flags.yaml") is None


def test_review_filters_labels_order_and_nodes(busy: FakeGitHub, client: httpx.Client) -> None:
    query = """
    query($states: [PullRequestReviewState!], $author: String, $order: LabelOrder) {
      repository(owner: "acme", name: "flags") {
        pullRequest(number: 7) {
          reviews(first: 10, states: $states, author: $author) {
            totalCount nodes { id databaseId fullDatabaseId state url authorAssociation }
          }
          labels(first: 10, orderBy: $order) { nodes { name } }
          reviewRequests(first: 10) { nodes { id asCodeOwner } }
        }
      }
    }
    """

    def pull(**variables: Any) -> Any:
        answer = ask(client, query, **variables)
        assert "errors" not in answer, answer
        return answer["data"]["repository"]["pullRequest"]

    rest = busy.reviews("acme", "flags", 7)
    dismissed = pull(states=["DISMISSED"])["reviews"]
    assert dismissed["totalCount"] == 1
    assert dismissed["nodes"][0]["id"] == rest[2]["node_id"]
    assert dismissed["nodes"][0]["url"] == rest[2]["html_url"]
    assert dismissed["nodes"][0]["fullDatabaseId"] == str(rest[2]["id"])  # a BigInt: a string
    for author in ("renovate", "renovate[bot]"):
        [bot] = pull(author=author)["reviews"]["nodes"]
        assert (bot["state"], bot["authorAssociation"]) == (
            "COMMENTED",
            rest[1]["author_association"],
        )
    assert pull(states=["PENDING"])["reviews"] == {"totalCount": 0, "nodes": []}
    by_name = pull(order={"field": "NAME", "direction": "ASC"})["labels"]["nodes"]
    assert [n["name"] for n in by_name] == ["Backend", "emergency"]

    for review in pull()["reviews"]["nodes"]:
        assert ask(client, NODE, id=review["id"])["data"]["node"] == {
            "__typename": "PullRequestReview",
            "id": review["id"],
        }
    for request in pull()["reviewRequests"]["nodes"]:
        assert request["asCodeOwner"] is False
        assert ask(client, NODE, id=request["id"])["data"]["node"]["__typename"] == "ReviewRequest"


def test_a_field_github_does_not_have(fake: FakeGitHub, client: httpx.Client) -> None:
    query = pull_query(1).replace("submittedAt", "reviewer { login }", 1)
    variables = {"owner": "acme", "name": "flags", "number": 7, "head": HEAD}
    [error] = ask(client, query, **variables, o0="acme", s0="leads")["errors"]
    assert error["path"] == ["fragment Reviews", "nodes", "reviewer"]
    assert error["extensions"] == {
        "code": "undefinedField",
        "typeName": "PullRequestReview",
        "fieldName": "reviewer",
    }
    assert error["message"] == "Field 'reviewer' doesn't exist on type 'PullRequestReview'"
