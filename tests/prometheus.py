"""A real Prometheus server for tests, scraping a tiny exporter on the loopback interface.

`running_prometheus` serves fixed counters (`SERIES`) from a Python exporter thread, starts
``/usr/bin/prometheus`` scraping it every second into a temporary TSDB, waits until the
counters can be queried, and stops both afterwards. Nothing leaves 127.0.0.1.

`LoopbackServer`, `closed_port` and `silent_port` stand in for misbehaving servers: one that
answers whatever it is told (and records what it was asked), a port nobody listens on, and a
port that accepts connections but never answers.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

BINARY = Path("/usr/bin/prometheus")
LOOPBACK = "127.0.0.1"
START_DEADLINE_SECONDS = 60.0
STOP_DEADLINE_SECONDS = 15.0

SERIES: dict[str, dict[tuple[str, str], int]] = {
    "http_requests_total": {
        ("checkout-redesign", "staging"): 1000,
        ("checkout-redesign", "production"): 200,
        ("search-ranking", "staging"): 1000,
        ("onboarding-flow", "staging"): 400,
        ("idle-flag", "staging"): 0,
    },
    "http_errors_total": {
        ("checkout-redesign", "staging"): 23,
        ("checkout-redesign", "production"): 0,
        ("search-ranking", "staging"): 5,
        ("idle-flag", "staging"): 0,
    },
}
"""Counter values by (flag, env): checkout-redesign fails 2.3% in staging, search-ranking 0.5%;
onboarding-flow has requests but no errors series; idle-flag has neither requests nor errors
(so its error rate is 0/0)."""


def exposition() -> str:
    """`SERIES` in the Prometheus text exposition format (version 0.0.4)."""
    lines: list[str] = []
    for metric, values in SERIES.items():
        lines += [f"# HELP {metric} Test counter by flag and env.", f"# TYPE {metric} counter"]
        lines += [
            f'{metric}{{flag="{flag}",env="{env}"}} {value}'
            for (flag, env), value in values.items()
        ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, content type and body."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Reply:
        return cls(status, json.dumps(data).encode())


@dataclass(frozen=True)
class Request:
    """What a `LoopbackServer` was asked: the path with its query string, and the headers."""

    path: str
    headers: dict[str, str]

    @property
    def query(self) -> dict[str, list[str]]:
        """The decoded query-string parameters."""
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)


@dataclass
class LoopbackServer:
    """An HTTP server on 127.0.0.1 (a free port) answering GETs with ``answer(path)``."""

    answer: Callable[[str], Reply]
    requests: list[Request] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "the server is not running"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def __enter__(self) -> LoopbackServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(Request(self.path, dict(self.headers.items())))
                reply = owner.answer(self.path)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def exporter() -> LoopbackServer:
    """A server exposing `SERIES` on ``/metrics``."""

    def answer(path: str) -> Reply:
        if urllib.parse.urlsplit(path).path != "/metrics":
            return Reply(404, b"not found\n", "text/plain")
        return Reply(200, exposition().encode(), "text/plain; version=0.0.4; charset=utf-8")

    return LoopbackServer(answer)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@contextmanager
def closed_port() -> Iterator[str]:
    """The URL of a port that is bound (so nobody else takes it) but refuses connections."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((LOOPBACK, 0))
        yield f"http://{LOOPBACK}:{sock.getsockname()[1]}"


@contextmanager
def silent_port() -> Iterator[str]:
    """The URL of a port that accepts connections (the kernel completes the handshake) but
    never reads a request nor answers one."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen(16)
        yield f"http://{LOOPBACK}:{sock.getsockname()[1]}"


@dataclass(frozen=True)
class PrometheusServer:
    """A running Prometheus: its base URL, its process and where it logs."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    exporter_url: str

    def query(self, promql: str) -> dict[str, Any]:
        """The decoded ``/api/v1/query`` answer (errors included), read without flaggate."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
        data: dict[str, Any] = json.loads(body)
        return data

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log, for failure messages."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def config_yaml(target: str) -> str:
    """A configuration scraping ``target`` (host:port) every second."""
    return (
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: flags\n"
        "    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )


@contextmanager
def running_prometheus(
    directory: Path, deadline_seconds: float = START_DEADLINE_SECONDS
) -> Iterator[PrometheusServer]:
    """Serve `SERIES`, start Prometheus scraping it, and yield once the counters are queryable.

    Fails (never skips) when the Prometheus binary is missing: the metric-gate tests must run
    against a real server. Both the exporter and the server are stopped on exit.
    """
    if not (BINARY.is_file() and os.access(BINARY, os.X_OK)):
        pytest.fail(
            f"{BINARY} not found: the metric-gate tests need a real Prometheus server; "
            ".ci/run installs Debian's `prometheus` package "
            "(apt-get install --no-install-recommends prometheus)",
            pytrace=False,
        )
    directory.mkdir(parents=True, exist_ok=True)
    with exporter() as metrics:
        config = directory / "prometheus.yml"
        config.write_text(config_yaml(f"{LOOPBACK}:{metrics.port}"))
        log = directory / "prometheus.log"
        port = free_port()
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    str(BINARY),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={directory / 'data'}",
                    f"--web.listen-address={LOOPBACK}:{port}",
                    "--log.level=warn",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=directory,
            )
        server = PrometheusServer(f"http://{LOOPBACK}:{port}", process, log, metrics.url)
        try:
            _wait_for_data(server, deadline_seconds)
            yield server
        finally:
            _stop(process)


def _wait_for_data(server: PrometheusServer, deadline_seconds: float) -> None:
    """Poll until both counters have been scraped, or fail with the server's log."""
    deadline = time.monotonic() + deadline_seconds
    problem = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"prometheus exited with code {server.process.returncode} while starting:\n"
                f"{server.log_tail()}",
                pytrace=False,
            )
        try:
            counts = [
                server.query(metric)["data"]["result"]
                for metric in ("http_requests_total", "http_errors_total")
            ]
        except (OSError, ValueError, KeyError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if [len(c) for c in counts] == [len(v) for v in SERIES.values()]:
                return
            problem = f"{[len(c) for c in counts]} series so far"
        time.sleep(0.2)
    pytest.fail(
        f"prometheus at {server.url} had no data after {deadline_seconds:g}s ({problem}):\n"
        f"{server.log_tail()}",
        pytrace=False,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the server (SIGTERM, then SIGKILL) and reap it."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_DEADLINE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_DEADLINE_SECONDS)
