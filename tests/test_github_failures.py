"""`flaggate github` when GitHub fails: answers that stay 5xx, connections dropped, a 404
GitHub may not have caught up on. Each failure is one line on stderr (nothing from PyGithub
or urllib3), exit code 2, an ``error`` status where one can still be written, never
``success``, and no secret. The CLI runs as a subprocess against the fake GitHub over HTTP."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests import github_env
from tests.fakes.github import FakeGitHub
from tests.github_env import NAME, OWNER, ActionRun, app_key_pair, run_action
from tests.gitrepo import GitRepo, edit
from tests.test_github_action import NUMBER, open_pull, turn_on

REPO_PATH = f"/repos/{OWNER}/{NAME}"
PULL = rf"^{REPO_PATH}/pulls/{NUMBER}$"
GRAPHQL = "^/graphql$"
READING = f"reading pull request #{NUMBER} (GraphQL)"
"""What a failure of the evaluation's one read is called."""
FAST = {"FLAGGATE_RETRIES": "2", "FLAGGATE_NOT_FOUND_PAUSE": "0.01"}
"""3 attempts per call; a 404 is read again after 10 ms."""
COULD_NOT = "flaggate could not evaluate: "


def one_error(result: ActionRun) -> str:
    """The one line a failed run prints on stderr (after checking it failed closed)."""
    assert result.code == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("flaggate: error: "), result.stderr
    assert result.outputs.get("decision", "error") == "error"
    return lines[0]


def calls(fake: FakeGitHub, method: str, path: str) -> int:
    """How many requests ``method path`` (the query left aside) the fake received."""
    return sum(1 for m, p in fake.calls if m == method and p.split("?", 1)[0] == path)


def never_success(fake: FakeGitHub, sha: str) -> None:
    assert all(s["state"] != "success" for s in fake.statuses(OWNER, NAME, sha))


# --- 1 and 3: the pull request cannot be read ---------------------------------------------


def test_a_pull_request_answering_5xx_is_one_line_and_an_error_status_on_the_head(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on)
    fake.fail("POST", GRAPHQL, 502, times=100)
    result = pr.run(extra_env=FAST)
    reason = f"{READING}: HTTP 502 after 3 attempts (POST /graphql)"
    assert one_error(result) == f"flaggate: error: {reason}"
    assert calls(fake, "POST", "/graphql") == 3
    [status] = fake.statuses(OWNER, NAME, pr.head)
    assert status["state"] == "error"
    assert status["context"] == "flaggate"
    assert status["description"] == COULD_NOT + reason
    assert status["target_url"] == "https://github.com/acme/flags/actions/runs/4242"
    assert result.outputs["decision"] == "error"
    assert "flaggate could not evaluate" in result.summary


def test_a_dropped_connection_reading_the_pull_request_is_one_line_and_an_error_status(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on)
    fake.drop_connection("POST", GRAPHQL, times=100)
    result = pr.run(extra_env=FAST)
    reason = f"{READING}: connection dropped after 3 attempts (POST /graphql)"
    assert one_error(result) == f"flaggate: error: {reason}"
    assert pr.status()["state"] == "error"
    assert pr.status()["description"] == COULD_NOT + reason


def custom_context(repo: GitRepo) -> None:
    edit(repo, "policies/settings.yaml", "statusContext: flaggate", "statusContext: flags/gate")
    repo.commit("own status context")


def test_the_error_status_takes_the_base_policies_status_context(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    custom_context(repo)
    pr = open_pull(repo, fake, turn_on)
    fake.fail("POST", GRAPHQL, 503, times=100)
    one_error(pr.run(extra_env=FAST))
    assert pr.status()["context"] == "flags/gate"
    assert pr.status()["state"] == "error"


def test_without_the_base_commit_the_error_status_takes_the_default_context(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    custom_context(repo)
    pr = open_pull(repo, fake, turn_on)
    pr.base = "f" * 40  # the event names a base the checkout does not have
    fake.fail("POST", GRAPHQL, 503, times=100)
    one_error(pr.run(extra_env=FAST))
    assert pr.status()["context"] == "flaggate"
    assert pr.status()["state"] == "error"


def test_when_the_status_cannot_be_written_either_both_errors_are_printed(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on)
    fake.fail("POST", GRAPHQL, 502, times=100)
    fake.fail("POST", r"/statuses/", 502, times=100)
    result = pr.run(extra_env=FAST)
    assert result.code == 2
    assert result.stderr.splitlines() == [
        f"flaggate: error: {READING}: HTTP 502 after 3 attempts (POST /graphql)",
        "flaggate: error: writing the commit status: HTTP 502 after 3 attempts "
        f"(POST {REPO_PATH}/statuses/{pr.head})",
    ]
    assert fake.statuses(OWNER, NAME, pr.head) == []
    assert result.outputs["decision"] == "error"


def test_an_unreachable_github_is_said_for_each_call(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = pr.run(extra_env={**FAST, "GITHUB_API_URL": f"http://127.0.0.1:{port}"})
    assert result.code == 2
    assert result.stderr.splitlines() == [
        f"flaggate: error: {READING}: cannot connect (Connection refused) "
        "after 3 attempts (POST /graphql)",
        "flaggate: error: writing the commit status: cannot connect (Connection refused) "
        f"after 3 attempts (POST {REPO_PATH}/statuses/{pr.head})",
    ]
    assert result.outputs["decision"] == "error"


def test_a_github_that_never_answers_is_a_timeout(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        result = pr.run(extra_env={**FAST, "GITHUB_API_URL": url, "FLAGGATE_HTTP_TIMEOUT": "1"})
    assert result.code == 2
    assert result.stderr.splitlines() == [
        f"flaggate: error: {READING}: no answer within 1s after 3 attempts (POST /graphql)",
        "flaggate: error: writing the commit status: no answer within 1s after 3 attempts "
        f"(POST {REPO_PATH}/statuses/{pr.head})",
    ]


def test_a_dry_run_that_cannot_read_the_pull_request_writes_nothing(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on)
    fake.fail("POST", GRAPHQL, 502, times=100)
    line = one_error(pr.run(extra_env=FAST, args=("--dry-run",)))
    assert line.startswith(f"flaggate: error: {READING}: HTTP 502")
    assert {c for c in fake.calls if c[0] != "GET"} == {("POST", "/graphql")}  # reads only


def test_a_merged_pull_request_that_cannot_be_read_gets_no_status(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on)
    fake.fail("GET", PULL, 500, times=100)
    line = one_error(pr.run("pull_request", "closed", extra_env=FAST))
    assert line == (
        f"flaggate: error: reading pull request #{NUMBER}: HTTP 500 after 3 attempts "
        f"(GET {REPO_PATH}/pulls/{NUMBER})"
    )
    assert fake.statuses(OWNER, NAME, pr.head) == []


# --- 1: a connection dropped on any call ------------------------------------------------


def test_a_dropped_connection_while_evaluating_names_the_request(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on)
    pr.review("alice")
    fake.drop_connection("POST", GRAPHQL, times=100)
    result = pr.run("pull_request_review", "submitted", extra_env=FAST)
    reason = f"{READING}: connection dropped after 3 attempts (POST /graphql)"
    assert one_error(result) == f"flaggate: error: {reason}"
    assert calls(fake, "POST", "/graphql") == 3
    assert pr.status()["state"] == "error"
    assert pr.status()["description"] == COULD_NOT + reason


def test_a_dropped_connection_writing_the_status_is_one_line(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on)
    fake.drop_connection("POST", r"/statuses/", times=100)
    result = pr.run(extra_env=FAST)
    assert one_error(result) == (
        "flaggate: error: writing the commit status: connection dropped after 3 attempts "
        f"(POST {REPO_PATH}/statuses/{pr.head})"
    )
    assert fake.statuses(OWNER, NAME, pr.head) == []


def test_a_dropped_connection_writing_the_comment_after_the_status_is_a_warning(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    """The status is published first; the comment is a follow-up, retried next run."""
    pr = open_pull(repo, fake, turn_on)
    fake.drop_connection("POST", rf"^{REPO_PATH}/issues/{NUMBER}/comments$", times=100)
    result = pr.run(extra_env=FAST)
    assert result.code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "flaggate: warning: writing the pull request comment: connection dropped after 3 "
        f"attempts (POST {REPO_PATH}/issues/{NUMBER}/comments)"
    ]
    assert pr.status()["state"] == "pending"


def test_a_failure_no_caller_explains_is_still_one_line(repo: GitRepo, fake: FakeGitHub) -> None:
    """The sweep lists the open pull requests with nothing around the call for an answer
    that never comes: the top level says what failed."""
    fake.fail("GET", rf"^{REPO_PATH}/pulls$", 502, times=100)
    result = run_action(repo, fake, "schedule", {}, extra_env=FAST)
    assert one_error(result) == (
        "flaggate: error: calling the GitHub API: HTTP 502 after 3 attempts "
        f"(GET {REPO_PATH}/pulls)"
    )


# --- 2: the libraries' own log lines ------------------------------------------------------


def transient_faults(fake: FakeGitHub) -> None:
    """A dropped connection and a secondary rate limit on the one read, each once."""
    fake.drop_connection("POST", GRAPHQL)
    fake.fail("POST", GRAPHQL, 403, headers={"Retry-After": "0"})


def test_retries_leave_nothing_on_stderr(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    pr.review("alice")
    transient_faults(fake)
    result = pr.run("pull_request_review", "submitted", extra_env=FAST)
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    assert pr.status()["description"].startswith("needs business-review")
    assert calls(fake, "POST", "/graphql") == 3


def test_a_rate_limit_that_outlasts_the_retries_is_one_line(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on)
    pr.review("alice")
    fake.fail("POST", GRAPHQL, 403, times=100, headers={"Retry-After": "0"})
    result = pr.run("pull_request_review", "submitted", extra_env=FAST)
    assert one_error(result) == (
        f"flaggate: error: {READING}: HTTP 403 (rate limited) after 3 attempts (POST /graphql)"
    )
    assert pr.status()["state"] == "error"


@pytest.fixture
def debug() -> Iterator[None]:
    """`flaggate --debug github` instead of `flaggate github` (run_action has no place for a
    global option)."""
    real = github_env.run_cli

    def with_debug(argv: list[str], **kwargs: Any) -> Any:
        return real(["--debug", *argv], **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(github_env, "run_cli", with_debug)
        yield


@pytest.mark.usefixtures("debug")
def test_with_debug_the_libraries_log_their_retries(repo: GitRepo, fake: FakeGitHub) -> None:
    pr = open_pull(repo, fake, turn_on)
    pr.review("alice")
    transient_faults(fake)
    result = pr.run("pull_request_review", "submitted", extra_env=FAST)
    assert result.code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines, "nothing logged"
    assert all(line.startswith("flaggate: debug: ") for line in lines), result.stderr
    assert (
        "flaggate: debug: github.GithubRetry: Request POST /graphql failed with 403: Forbidden"
        in lines
    )
    assert any(
        line.startswith("flaggate: debug: urllib3.connectionpool: Retrying") for line in lines
    )
    assert fake.token not in result.stderr


# --- 4: a 404 GitHub may not have caught up on --------------------------------------------


def not_found(fake: FakeGitHub, times: int = 1) -> None:
    """GitHub's answer for a pull request it does not know (yet): HTTP 200, an error."""
    answer = {
        "data": {"viewer": {"login": "github-actions[bot]"}, "repository": {"pullRequest": None}},
        "errors": [
            {
                "type": "NOT_FOUND",
                "path": ["repository", "pullRequest"],
                "locations": [{"line": 13, "column": 5}],
                "message": f"Could not resolve to a PullRequest with the number of {NUMBER}.",
            }
        ],
    }
    fake.fail("POST", GRAPHQL, 200, body=answer, times=times)


def test_a_pull_request_github_does_not_know_yet_is_read_again(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on)
    pr.review("alice")
    not_found(fake)
    result = pr.run("pull_request_review", "submitted", extra_env=FAST)
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    assert pr.status()["description"].startswith("needs business-review")
    assert calls(fake, "POST", "/graphql") == 2


def test_a_pull_request_github_never_knows_fails_closed_naming_the_permission(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on)
    pr.review("alice")
    not_found(fake, times=100)
    result = pr.run("pull_request_review", "submitted", extra_env=FAST)
    reason = f"{READING}: Could not resolve to a PullRequest with the number of {NUMBER}."
    assert one_error(result) == (
        f"flaggate: error: {reason} (the token needs 'Pull requests: read' and 'Issues: read')"
    )
    assert calls(fake, "POST", "/graphql") == 2
    assert pr.status()["state"] == "error"
    assert pr.status()["description"] == COULD_NOT + reason


def test_a_team_the_token_cannot_see_fails_closed_naming_the_permission(
    repo: GitRepo, fake: FakeGitHub
) -> None:
    pr = open_pull(repo, fake, turn_on)
    pr.review("alice")
    pr.review("bob")
    del fake._teams[(OWNER, "tech-leads")]  # GitHub answers such a team as null
    result = pr.run("pull_request_review", "submitted", extra_env=FAST)
    line = one_error(result)
    assert line == (
        f"flaggate: error: reading alice's membership of team {OWNER}/tech-leads: no such team, "
        "or not visible to the token (the token needs organization 'Members: read' (a GitHub "
        "App installation token or a token with read:org); the workflow's GITHUB_TOKEN cannot "
        "read team membership)"
    )
    assert calls(fake, "POST", "/graphql") == 1
    assert pr.status()["state"] == "error"
    never_success(fake, pr.head)


# --- 5: no secret in any message ----------------------------------------------------------


@pytest.fixture
def app(fake: FakeGitHub) -> dict[str, str]:
    """The run's environment for a GitHub App installation token and a state key."""
    private_pem, public_pem = app_key_pair()
    fake.enable_app("123456", public_pem)
    return {
        **FAST,
        "GITHUB_TOKEN": "",
        "FLAGGATE_APP_ID": "123456",
        "FLAGGATE_APP_PRIVATE_KEY": private_pem,
        "FLAGGATE_STATE_KEY": secrets.token_hex(32),
    }


def break_pull(fake: FakeGitHub) -> None:
    fake.fail("POST", GRAPHQL, 502, times=100)


def drop_pull(fake: FakeGitHub) -> None:
    fake.drop_connection("POST", GRAPHQL, times=100)


def break_installation(fake: FakeGitHub) -> None:
    fake.fail("GET", rf"^{REPO_PATH}/installation$", 502, times=100)


def drop_token(fake: FakeGitHub) -> None:
    fake.drop_connection("POST", r"^/app/installations/\d+/access_tokens$", times=100)


def forbid_team(fake: FakeGitHub) -> None:
    fake.set_team_forbidden(OWNER, "tech-leads")


def hide_reviews(fake: FakeGitHub) -> None:
    not_found(fake, times=100)


@pytest.mark.parametrize(
    "fault", [break_pull, drop_pull, break_installation, drop_token, forbid_team, hide_reviews]
)
@pytest.mark.parametrize("debugging", [False, True])
def test_no_secret_in_any_message(
    repo: GitRepo,
    fake: FakeGitHub,
    app: dict[str, str],
    fault: Any,
    debugging: bool,
    request: pytest.FixtureRequest,
) -> None:
    if debugging:
        request.getfixturevalue("debug")
    pr = open_pull(repo, fake, turn_on)
    pr.review("alice")
    fault(fake)
    result = pr.run("pull_request_review", "submitted", extra_env=app)
    assert result.code != 0, result.stderr  # with --debug, a traceback's 1 is possible
    if not debugging:
        assert result.code == 2
        lines = result.stderr.splitlines()
        assert lines, "no error printed"
        assert all(line.startswith("flaggate: error: ") for line in lines), result.stderr
    never_success(fake, pr.head)
    key = app["FLAGGATE_APP_PRIVATE_KEY"]
    hidden = [
        key,
        *(line for line in key.splitlines() if "PRIVATE KEY" not in line),
        app["FLAGGATE_STATE_KEY"],
        fake.token,  # the installation token
    ]
    for text in (result.stdout, result.stderr, result.summary, *result.outputs.values()):
        for secret in hidden:
            assert secret not in text
    for status in fake.statuses(OWNER, NAME, pr.head):
        for secret in hidden:
            assert secret not in status["description"]
