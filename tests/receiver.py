"""A loopback HTTP receiver for tests: it records every request and answers from a queue.

    with Receiver(Reply(429, headers={"Retry-After": "1"}), Reply(200)) as hook:
        post(hook.url + "/hooks/x")
        [first, second] = hook.requests

Replies are used in order, one per request; once the queue is empty every request gets
``default`` (``200 ok`` as text/plain unless told otherwise). `Receiver.reply` queues more
while it runs. Nothing leaves 127.0.0.1. The `receiver` fixture yields a running one.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import httpx
import pytest

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Reply:
    """An answer: status, body (``str`` is sent as UTF-8), headers, and how long to wait before
    answering (to make a client time out)."""

    status: int = 200
    body: bytes | str = b"ok"
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "text/plain; charset=utf-8"
    delay: float = 0.0

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
        """A JSON answer."""
        return cls(status, json.dumps(data), dict(headers or {}), "application/json")


@dataclass(frozen=True)
class Request:
    """What the receiver was asked: method, path (with query string), headers (names match
    in any case) and the exact body bytes."""

    method: str
    path: str
    headers: httpx.Headers
    body: bytes
    at: float
    """`time.monotonic` when the request arrived."""

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


class Receiver:
    """A threaded HTTP/1.1 server on 127.0.0.1 (a free port), recording every request; a
    context manager."""

    def __init__(self, *replies: Reply, default: Reply | None = None) -> None:
        self.default = default or Reply()
        self._replies: deque[Reply] = deque(replies)
        self._requests: list[Request] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "the receiver is not running"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash): add a path."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def requests(self) -> list[Request]:
        """The requests received so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def reply(self, *replies: Reply) -> None:
        """Queue more replies (after those still queued)."""
        with self._lock:
            self._replies.extend(replies)

    def _record(self, request: Request) -> Reply:
        with self._lock:
            self._requests.append(request)
            return self._replies.popleft() if self._replies else self.default

    def start(self) -> Receiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self) -> None:
                body = self._body()
                request = Request(
                    self.command,
                    self.path,
                    httpx.Headers(list(self.headers.items())),
                    body,
                    time.monotonic(),
                )
                reply = owner._record(request)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body.encode() if isinstance(reply.body, str) else reply.body
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                except OSError:
                    # The client gave up (a timeout test): nobody is left to answer.
                    self.close_connection = True

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_one

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running `Receiver` answering ``200 ok`` (queue other replies with ``reply``)."""
    with Receiver() as running:
        yield running
