"""The GitHub REST adapter: PyGithub with retries, and errors turned into one clear line.

Retries (5xx, secondary rate limits with ``Retry-After``, connection errors) are PyGithub's
:class:`github.GithubRetry` (urllib3's Retry underneath); nothing here re-implements them, it
only remembers, when they give up, how many attempts were made. A failure that gets through
them (an answer that is an error, or no answer at all) becomes one line with :func:`explain`.

requests and urllib3, PyGithub's transport, are not flaggate's own dependencies: their
exceptions are recognised by the module that defines them and told apart by class name.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import github
from github import Auth, Github, GithubException, GithubIntegration, GithubRetry
from github.Requester import Requester

from flaggate.errors import FlaggateError

T = TypeVar("T")

DEFAULT_API_URL = "https://api.github.com"


class GitHubError(FlaggateError):
    """GitHub could not be reached or refused a request; the status becomes ``error``."""


class MissingPermission(GitHubError):
    """The token lacks a permission; the message names it."""


REQUEST_ERRORS: tuple[type[Exception], ...] = (GithubException, OSError)
"""What a call through PyGithub raises when GitHub refused it (:class:`GithubException`) or
never answered it usefully (requests' exceptions, all ``OSError``: retries exhausted, the
connection dropped, a timeout). :func:`explain` turns each into one line."""

_TRANSPORT = frozenset({"requests", "urllib3"})


def is_request_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a failed GitHub call: PyGithub's, requests' or urllib3's."""
    return isinstance(exc, GithubException) or bool(_transport_kinds(exc))


def _transport_kinds(exc: BaseException) -> frozenset[str]:
    """The names of ``exc``'s classes that requests or urllib3 define (none: it is not
    theirs)."""
    return frozenset(
        cls.__name__ for cls in type(exc).__mro__ if cls.__module__.partition(".")[0] in _TRANSPORT
    )


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up on GitHub."""

    total: int = 5
    backoff_factor: float = 1.0
    timeout: int = 15
    not_found_pause: float = 2.0
    """Seconds before reading once more what GitHub just said does not exist (see
    :func:`read_again_if_missing`)."""

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """``FLAGGATE_RETRIES``, ``FLAGGATE_RETRY_BACKOFF``, ``FLAGGATE_HTTP_TIMEOUT``,
        ``FLAGGATE_NOT_FOUND_PAUSE``."""
        return cls(
            total=int(os.environ.get("FLAGGATE_RETRIES", cls.total)),
            backoff_factor=float(os.environ.get("FLAGGATE_RETRY_BACKOFF", cls.backoff_factor)),
            timeout=int(os.environ.get("FLAGGATE_HTTP_TIMEOUT", cls.timeout)),
            not_found_pause=float(os.environ.get("FLAGGATE_NOT_FOUND_PAUSE", cls.not_found_pause)),
        )


@dataclass(frozen=True)
class _GaveUp:
    """What the retries saw of a call they gave up on (urllib3's exception does not say)."""

    attempts: int
    status: int | None
    """The last answer's status (None: there was no answer)."""
    rate_limited: bool


_GAVE_UP: weakref.WeakKeyDictionary[BaseException, _GaveUp] = weakref.WeakKeyDictionary()
"""urllib3's exception for a call given up on -> what the retries saw of it."""


class _Retry(GithubRetry):
    """PyGithub's retry, remembering in :data:`_GAVE_UP` how a call it gives up on went."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: TracebackType | None = None,
    ) -> Any:
        try:
            return super().increment(method, url, response, error, _pool, _stacktrace)
        except Exception as exc:
            if _transport_kinds(exc):  # exhausted, or an error it does not retry
                status = getattr(response, "status", None)
                headers = getattr(response, "headers", None) or {}
                seen = _GaveUp(
                    attempts=len(self.history) + 1,  # the failures before this one, and this one
                    status=status,
                    rate_limited=status in (403, 429)
                    and ("Retry-After" in headers or headers.get("X-RateLimit-Remaining") == "0"),
                )
                with contextlib.suppress(TypeError):  # not weakly referable: said with less
                    _GAVE_UP[exc] = seen
            raise


_REQUESTS_MADE = [0]


def requests_made() -> int:
    """How many requests this process has sent to GitHub (each page, each query, each
    write; retries of one request count once)."""
    return _REQUESTS_MADE[0]


def _count_requests() -> None:
    """Count every call through PyGithub's requester. Every request goes through one of
    these three methods, but new requesters are made along the way (lazy objects, app
    installations), so the count sits on the class, once."""
    for name in ("requestJsonAndCheck", "requestMultipartAndCheck", "requestBlobAndCheck"):
        method = getattr(Requester, name)
        if getattr(method, "_flaggate_counted", False):
            continue

        def counted(self: Requester, *args: Any, __method: Any = method, **kwargs: Any) -> Any:
            _REQUESTS_MADE[0] += 1
            return __method(self, *args, **kwargs)

        counted._flaggate_counted = True  # type: ignore[attr-defined]
        setattr(Requester, name, counted)


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
    _count_requests()
    retry = retry or RetryPolicy()
    retries = _Retry(
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
        except REQUEST_ERRORS as exc:
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
    """One clear line for a failed GitHub call (``doing``: what flaggate was doing).

    ``permission`` is what the token needs for the call: named when GitHub refuses it (401,
    403 but a rate limit) or answers 404, which it also does for what the token may not see.
    A call GitHub never answered usefully says what happened, after how many attempts, and
    which request it was (the retries hide it otherwise).
    """
    if isinstance(exc, GithubException):
        status = exc.status
        message = exc.data.get("message") if isinstance(exc.data, dict) else None
        line = _hidden(f"{doing}: HTTP {status}" + (f": {message}" if message else ""))
        rate_limited = isinstance(message, str) and Requester.isRateLimitError(message)
        if status in (401, 403) and permission and not rate_limited:
            return MissingPermission(line, f"the token needs {permission}")
        if status == 404 and permission:
            return MissingPermission(line, f"the token may need {permission}")
        return GitHubError(line)
    failure = _no_answer(exc) or f"{type(exc).__name__}: {_one_line(exc)}"
    return GitHubError(_hidden(f"{doing}: {failure}"))


def _no_answer(exc: BaseException) -> str | None:
    """``exc`` in words when it is requests' or urllib3's (a request that got no useful
    answer): what went wrong, after how many attempts, and the request (method and path,
    without the query); None for any other exception."""
    if not _transport_kinds(exc):
        return None
    cause: BaseException = exc
    first = exc.args[0] if exc.args else None
    if isinstance(first, BaseException) and _transport_kinds(first):
        cause = first  # requests wraps urllib3's exception
    gave_up = _GAVE_UP.get(cause)
    path = getattr(cause, "url", None)
    reason = getattr(cause, "reason", None)
    if "MaxRetryError" in _transport_kinds(cause) and isinstance(reason, BaseException):
        cause = reason
    what = _what_failed(cause, gave_up)
    if gave_up is not None and gave_up.attempts > 1:
        what += f" after {gave_up.attempts} attempts"
    request = getattr(exc, "request", None)
    method = getattr(request, "method", None)
    path = getattr(request, "path_url", None) or path
    if isinstance(path, str) and path:
        where = path.split("?", 1)[0]
        what += f" ({method} {where})" if method else f" ({where})"
    return what


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


_TOO_MANY = re.compile(r"too many (\d{3}) error responses")
_READ_TIMEOUT = re.compile(r"read timeout=([0-9.]+)")


def _what_failed(cause: BaseException, gave_up: _GaveUp | None) -> str:
    kinds = _transport_kinds(cause)
    if "ResponseError" in kinds:  # the answers were errors to the last
        status = gave_up.status if gave_up else None
        if status is None:
            found = _TOO_MANY.search(str(cause))
            status = int(found.group(1)) if found else None
        answer = f"HTTP {status}" if status is not None else "error answers"
        return answer + (" (rate limited)" if gave_up and gave_up.rate_limited else "")
    if "NewConnectionError" in kinds:
        reason = cause.__cause__ or cause.__context__
        why = getattr(reason, "strerror", None) or type(reason or cause).__name__
        return f"cannot connect ({why})"
    if kinds & {"ConnectTimeoutError", "ConnectTimeout"}:
        return "timed out connecting"
    if kinds & {"ReadTimeoutError", "ReadTimeout"}:
        found = _READ_TIMEOUT.search(str(cause))
        return f"no answer within {found.group(1)}s" if found else "timed out waiting for an answer"
    if "SSLError" in kinds:
        return "TLS error"
    if "ProtocolError" in kinds or isinstance(cause, ConnectionError):
        return "connection dropped"  # closed or reset without an answer: it varies
    detail = _one_line(cause)
    return f"{type(cause).__name__}: {detail}" if detail else type(cause).__name__


_SECRET_VARIABLES = (
    "GITHUB_TOKEN",
    "INPUT_TOKEN",
    "FLAGGATE_APP_PRIVATE_KEY",
    "FLAGGATE_STATE_KEY",
)


def _hidden(text: str) -> str:
    """``text`` with the run's credentials (and each line of a private key) as ``***``."""
    secrets: set[str] = set()
    for name in _SECRET_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            secrets.add(value)
            secrets.update(line.strip() for line in value.splitlines() if len(line.strip()) >= 16)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def read_again_if_missing(read: Callable[[], T], pause: float | None = None) -> T:
    """``read()``, and once more after ``pause`` seconds (``FLAGGATE_NOT_FOUND_PAUSE``) when
    GitHub answers 404: right after a pull request is opened or a team changes, the replica
    that answers may not know it yet. A second 404 is raised like any error."""
    try:
        return read()
    except GithubException as exc:
        if exc.status != 404:
            raise
    time.sleep(RetryPolicy.from_env().not_found_pause if pause is None else pause)
    return read()


def _version() -> str:
    from flaggate import version

    return version()


__all__ = [
    "DEFAULT_API_URL",
    "REQUEST_ERRORS",
    "GitHubError",
    "MissingPermission",
    "RetryPolicy",
    "connect",
    "explain",
    "github",
    "is_request_error",
    "read_again_if_missing",
    "request_json",
    "requests_made",
]
