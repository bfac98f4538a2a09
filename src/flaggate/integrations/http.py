"""The one way flaggate talks HTTP to ticket trackers, notification targets and the audit
webhook.

A client with a timeout, redirects not followed, and retries (httpx-retries) on connection
errors, 429 and 500/502/503/504, honouring ``Retry-After`` up to a cap. Errors become one line
that names the service and never shows a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

import httpx
from httpx_retries import Retry, RetryTransport

from flaggate import version

TIMEOUT_SECONDS = 10.0
ATTEMPTS = 4
"""Requests in all for one call when the answer is retryable (the first and 3 retries)."""
BACKOFF_FACTOR = 0.5
MAX_WAIT_SECONDS = 30.0
"""The longest single wait, whatever ``Retry-After`` asks for."""
TOTAL_WAIT_SECONDS = 60.0
"""The longest time spent waiting between the attempts of one call."""
RETRY_STATUSES = (429, 500, 502, 503, 504)
LOGGERS = ("httpx", "httpx_retries.transport", "httpx_retries.retry")
"""Loggers that write request URLs (filters apply per logger, not to its children)."""
ALL_METHODS = ("GET", "HEAD", "PUT", "DELETE", "POST", "PATCH")


def client(
    *,
    base_url: str = "",
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
    timeout: float = TIMEOUT_SECONDS,
    attempts: int = ATTEMPTS,
    retry_posts: bool = False,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client with flaggate's timeouts and retries.

    ``retry_posts`` also retries ``POST``/``PATCH``: only for requests a receiver can
    deduplicate (a delivery id, a marker looked up first).
    """
    retry = Retry(
        total=max(attempts - 1, 0),
        allowed_methods=ALL_METHODS if retry_posts else ("GET", "HEAD", "PUT", "DELETE"),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=BACKOFF_FACTOR,
        max_backoff_wait=MAX_WAIT_SECONDS,
        total_timeout=TOTAL_WAIT_SECONDS,
        # Not timeouts: the timeout bounds the whole call, and a silent server stays silent.
        retry_on_exceptions=(httpx.NetworkError, httpx.RemoteProtocolError),
    )
    return httpx.Client(
        base_url=base_url,
        headers={"User-Agent": f"flaggate/{version()}", **(headers or {})},
        auth=auth,
        timeout=timeout,
        follow_redirects=False,
        transport=RetryTransport(transport=transport or httpx.HTTPTransport(), retry=retry),
    )


def sign(body: bytes, secret: str) -> str:
    """``sha256=<hex HMAC-SHA256 of the body, keyed with the secret>`` for a signature header."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def unset(env: Mapping[str, str], *names: str) -> str | None:
    """``A is not set`` / ``A and B are not set`` for the variables without a value."""
    missing = [name for name in names if not env.get(name)]
    if not missing:
        return None
    return f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set"


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL (no credentials, path or query), for messages."""
    try:
        split = urlsplit(url)
        host, port = split.hostname, split.port
    except ValueError:
        return "the server"
    if not split.scheme or not host:
        return "the server"
    if ":" in host:
        host = f"[{host}]"
    return f"{split.scheme}://{host}" + (f":{port}" if port else "")


def url_secrets(url: str) -> list[str]:
    """What a message must not show of a URL: its credentials, path, query and fragment
    (a Slack webhook's path is its secret); all of it when it does not parse."""
    try:
        split = urlsplit(url)
    except ValueError:
        return [url]
    found = []
    for part in (
        split.username,
        split.password,
        split.path.strip("/"),
        split.query,
        split.fragment,
    ):
        if part:
            found += [part, unquote(part)]
    return found


def redact(text: str, secrets: Iterable[str], limit: int = 400) -> str:
    """``text`` on one line with every secret replaced by ``***``, then cut to ``limit``
    characters (after hiding: a cut secret would no longer match)."""
    text = hide(" ".join(text.split()), secrets)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def hide(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***`` (the longest first)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def failure(exc: Exception, where: str, timeout: float = TIMEOUT_SECONDS) -> str:
    """One line for a request that got no answer: a timeout, a connection error, a URL
    that is not one."""
    if isinstance(exc, httpx.TimeoutException):
        return f"{where} timed out after {timeout:g}s"
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return f"{where}: not a valid URL"
    return f"cannot reach {where}: {type(exc).__name__}"


class _HideSecrets(logging.Filter):
    """Rewrites log records that would show a secret (httpx logs each request's URL)."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = hide(message, self.secrets)
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


@contextmanager
def hidden_in_logs(secrets: Sequence[str], loggers: Iterable[str] = LOGGERS) -> Iterator[None]:
    """While inside, the HTTP clients' own log records show ``***`` for each secret."""
    hiding = _HideSecrets([s for s in secrets if s])
    found = [logging.getLogger(name) for name in loggers]
    for logger in found:
        logger.addFilter(hiding)
    try:
        yield
    finally:
        for logger in found:
            logger.removeFilter(hiding)


class Failed(Exception):
    """A delivery failed; the message is its one-line reason (secrets are hidden by
    `attempt`)."""


def attempt(
    action: Callable[[], None], secrets: Sequence[str], loggers: Iterable[str] = LOGGERS
) -> str | None:
    """Run one delivery with its secrets hidden from the clients' logs: None when it worked,
    else why not, in one line without a secret. Never raises for the delivery's failure."""
    try:
        with hidden_in_logs(secrets, loggers):
            action()
    except Failed as exc:
        return redact(str(exc), secrets)
    except Exception as exc:  # a bug or a surprise: still a failed delivery, never a crash
        return redact(f"unexpected {type(exc).__name__}: {exc}", secrets)
    return None
