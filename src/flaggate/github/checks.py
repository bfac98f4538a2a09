"""Reading a commit's check runs and commit statuses for the required-checks gate."""

from __future__ import annotations

from typing import Any

from github.CheckRun import CheckRun
from github.GithubException import GithubException
from github.PaginatedList import PaginatedList
from github.Repository import Repository

from flaggate.github.api import explain, request_json
from flaggate.pull.checks import CheckReport, from_check_run, from_status


def commit_checks(repo: Repository, sha: str) -> list[CheckReport]:
    """The latest check run of each name and the latest status of each context on ``sha``.

    Two API calls for up to 100 of each (check runs page further; the combined status
    holds the latest of up to 100 contexts). Raises
    :class:`flaggate.github.api.GitHubError` naming the permission when one is missing.
    """
    reports: list[CheckReport] = []
    runs = PaginatedList(
        CheckRun,
        repo.requester,
        f"{repo.url}/commits/{sha}/check-runs",
        {"filter": "latest", "per_page": 100},
        list_item="check_runs",
    )
    try:
        for run in runs:
            reports.append(from_check_run(run.name, run.status, run.conclusion, run.html_url))
    except GithubException as exc:
        raise explain(exc, f"reading check runs of {sha[:7]}", "'Checks: read'") from None
    except Exception as exc:  # connection errors after retries
        raise explain(exc, f"reading check runs of {sha[:7]}") from None
    for status in combined_statuses(repo, sha):
        reports.append(
            from_status(
                status["context"],
                status["state"],
                status.get("description"),
                status.get("target_url"),
            )
        )
    return reports


def combined_statuses(repo: Repository, sha: str) -> list[dict[str, Any]]:
    """The latest status of each context on ``sha`` (GitHub's combined status, up to 100)."""
    try:
        combined = request_json(
            repo.requester, "GET", f"{repo.url}/commits/{sha}/status?per_page=100"
        )
    except GithubException as exc:
        raise explain(
            exc, f"reading commit statuses of {sha[:7]}", "'Commit statuses: read'"
        ) from None
    except Exception as exc:  # connection errors after retries
        raise explain(exc, f"reading commit statuses of {sha[:7]}") from None
    return list(combined.get("statuses") or ())
