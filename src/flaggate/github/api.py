"""The GitHub REST adapter: PyGithub with retries, and errors turned into one clear line.

Retries (5xx, secondary rate limits with ``Retry-After``, connection errors) are PyGithub's
:class:`github.GithubRetry` (urllib3's Retry underneath); nothing here re-implements them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import github
from github import Auth, Github, GithubException, GithubIntegration, GithubRetry
from github.Requester import Requester

from flaggate.errors import FlaggateError

DEFAULT_API_URL = "https://api.github.com"


class GitHubError(FlaggateError):
    """GitHub could not be reached or refused a request; the status becomes ``error``."""


class MissingPermission(GitHubError):
    """The token lacks a permission; the message names it."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up on GitHub."""

    total: int = 5
    backoff_factor: float = 1.0
    timeout: int = 15

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """``FLAGGATE_RETRIES``, ``FLAGGATE_RETRY_BACKOFF``, ``FLAGGATE_HTTP_TIMEOUT``."""
        return cls(
            total=int(os.environ.get("FLAGGATE_RETRIES", cls.total)),
            backoff_factor=float(os.environ.get("FLAGGATE_RETRY_BACKOFF", cls.backoff_factor)),
            timeout=int(os.environ.get("FLAGGATE_HTTP_TIMEOUT", cls.timeout)),
        )


def connect(
    api_url: str,
    token: str | None,
    app_id: str | None = None,
    app_private_key: str | None = None,
    repository: str | None = None,
    retry: RetryPolicy | None = None,
) -> Github:
    """A PyGithub client for ``api_url`` (GitHub Enterprise Server too), with retries.

    With ``app_id`` and ``app_private_key``, it authenticates as the GitHub App's installation
    on ``repository`` (needed to read team membership in most organisations).
    """
    retry = retry or RetryPolicy()
    retries = GithubRetry(
        total=retry.total,
        backoff_factor=retry.backoff_factor,
        secondary_rate_wait=60,
        max_rate_limit_wait=300,
    )
    auth: Auth.Auth
    if app_id and app_private_key:
        if not repository:
            raise GitHubError("a GitHub App token needs the repository (GITHUB_REPOSITORY)")
        owner, name = repository.split("/", 1)
        app = Auth.AppAuth(app_id, app_private_key)
        try:
            with GithubIntegration(auth=app, base_url=api_url, retry=retries) as integration:
                installation = integration.get_repo_installation(owner, name)
        except GithubException as exc:
            raise explain(exc, f"finding the GitHub App's installation on {repository}") from None
        auth = app.get_installation_auth(installation.id)
    elif token:
        auth = Auth.Token(token)
    else:
        raise GitHubError(
            "no GitHub credentials", "set GITHUB_TOKEN, or app-id and app-private-key"
        )
    return Github(
        auth=auth,
        base_url=api_url,
        retry=retries,
        timeout=retry.timeout,
        per_page=100,
        seconds_between_requests=None,
        seconds_between_writes=None,
        user_agent=f"flaggate/{_version()}",
    )


def request_json(
    requester: Requester, method: str, path: str, body: dict[str, Any] | None = None
) -> Any:
    """A REST call PyGithub has no method for; raises GithubException like PyGithub does."""
    _headers, data = requester.requestJsonAndCheck(method, path, input=body)
    return data


def explain(exc: Exception, doing: str, permission: str | None = None) -> GitHubError:
    """One clear line for a failed GitHub call (``doing``: what flaggate was doing)."""
    if isinstance(exc, GithubException):
        status = exc.status
        message = exc.data.get("message") if isinstance(exc.data, dict) else None
        detail = f"HTTP {status}" + (f": {message}" if message else "")
        if status in (401, 403) and permission:
            return MissingPermission(f"{doing}: {detail}", f"the token needs {permission}")
        return GitHubError(f"{doing}: {detail}")
    return GitHubError(f"{doing}: {type(exc).__name__}: {exc}")


def _version() -> str:
    from flaggate import __version__

    return __version__


__all__ = [
    "DEFAULT_API_URL",
    "GitHubError",
    "MissingPermission",
    "RetryPolicy",
    "connect",
    "explain",
    "github",
    "request_json",
]
