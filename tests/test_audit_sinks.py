"""Audit sinks against a real PostgreSQL server and a webhook receiver on the loopback interface."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx_retries.retry
import pytest

from flaggate.audit import sinks
from flaggate.audit.record import Record, chain, record_id
from flaggate.audit.sinks import SinkResult, send
from flaggate.integrations import http
from flaggate.model.settings import AuditSink, PostgresSink, WebhookSink
from tests.postgres import PostgresServer, binaries, running_postgres
from tests.prometheus import closed_port, silent_port
from tests.receiver import Receiver, Reply, Request

DSN_ENV = "FLAGGATE_AUDIT_DSN"
URL_ENV = "FLAGGATE_AUDIT_WEBHOOK_URL"
SECRET_ENV = "FLAGGATE_AUDIT_WEBHOOK_SECRET"
SECRET = "whsec-" + uuid.uuid4().hex
WEBHOOK = AuditSink(webhook=WebhookSink())


def make_records(count: int = 3, pull_request: int | None = 42) -> list[Record]:
    """Chained records like a merge's: flag changes in production, then an approval."""
    base: list[Record] = []
    for index in range(count):
        flag = index < count - 1
        base.append(
            {
                "id": record_id("acme/flags", pull_request, "c0ffee", index),
                "timestamp": f"2026-05-01T12:00:{index:02d}Z",
                "eventType": "flag.updated" if flag else "approval.approved",
                "actor": {"login": "zoë", "id": 7, "name": "Zoë Ünal", "email": None},
                "resource": (
                    {"type": "flag", "id": f"flag-{index}", "name": f"flag-{index}"}
                    | {"environment": "production"}
                    if flag
                    else {"type": "approval", "id": "sre", "name": "sre", "environment": None}
                ),
                "action": {"type": "rollout", "previousState": {"on": False}, "newState": None},
                "context": {"repository": "acme/flags", "pullRequest": pull_request},
                "outcome": {"success": True, "errorCode": None, "errorMessage": None},
            }
        )
    return list(chain(base))


# PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@pytest.fixture
def table() -> str:
    return f"audit_{uuid.uuid4().hex[:12]}"


def pg_sink(table: str) -> AuditSink:
    return AuditSink(postgres=PostgresSink(dsnEnv=DSN_ENV, table=table))


def rows(server: PostgresServer, table: str) -> list[dict[str, Any]]:
    with server.admin() as conn, conn.cursor() as cursor:
        cursor.execute(
            f"SELECT id, ts, event_type, repository, pull_request, flag, environment, actor, "
            f"record, hash, prev_hash FROM {table} ORDER BY ts"
        )
        names = [column.name for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_missing_postgresql_fails_and_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    (tmp_path / "15" / "bin").mkdir(parents=True)
    (tmp_path / "15" / "bin" / "initdb").touch(mode=0o755)  # pg_ctl is missing
    with pytest.raises(pytest.fail.Exception, match=r"\.ci/run installs Debian's `postgresql`"):
        binaries(tmp_path)
    assert [p.name for p in binaries()] == ["initdb", "pg_ctl"]


def test_records_land_once_in_postgres_even_when_sent_twice(
    postgres: PostgresServer, table: str
) -> None:
    records = make_records(3)
    env = {DSN_ENV: postgres.dsn}
    assert send(records[:2], [pg_sink(table)], env) == [SinkResult(f"postgres {table}", True)]
    assert send(records, [pg_sink(table)], env) == [SinkResult(f"postgres {table}", True)]
    assert send(records, [pg_sink(table)], env)[0].ok

    stored = rows(postgres, table)
    assert [row["id"] for row in stored] == [record["id"] for record in records]
    first, last = stored[0], stored[-1]
    assert first["ts"] == datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
    assert first["event_type"] == "flag.updated"
    assert (first["repository"], first["pull_request"]) == ("acme/flags", 42)
    assert (first["flag"], first["environment"], first["actor"]) == ("flag-0", "production", "zoë")
    assert (last["event_type"], last["flag"], last["environment"]) == (
        "approval.approved",
        None,
        None,
    )
    for row, record in zip(stored, records, strict=True):
        assert row["record"] == record
        assert (row["hash"], row["prev_hash"]) == (record["hash"], record["prevHash"])
    assert stored[1]["prev_hash"] == stored[0]["hash"]

    with postgres.admin() as conn:
        indexes = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s", (table,)
        ).fetchall()
        query = conn.execute(
            f"SELECT record->'actor'->>'name' FROM {table} WHERE record @> %s::jsonb",
            (json.dumps({"resource": {"id": "flag-1"}}),),
        ).fetchall()
    assert any("(ts)" in str(definition) for (definition,) in indexes)
    assert query == [("Zoë Ünal",)]


def test_records_without_a_pull_request_are_stored(postgres: PostgresServer, table: str) -> None:
    records = make_records(1, pull_request=None)
    assert send(records, [pg_sink(table)], {DSN_ENV: postgres.dsn})[0].ok
    assert rows(postgres, table)[0]["pull_request"] is None


def test_a_table_made_by_someone_else_needs_only_a_narrow_grant(
    postgres: PostgresServer, table: str
) -> None:
    with postgres.admin() as conn:
        conn.execute(
            f"CREATE TABLE {table} (id text PRIMARY KEY, ts timestamptz NOT NULL, "
            "event_type text NOT NULL, repository text, pull_request integer, flag text, "
            "environment text, actor text, record jsonb NOT NULL, hash text NOT NULL, "
            "prev_hash text NOT NULL)"
        )
        conn.execute(f"GRANT INSERT, SELECT (id) ON {table} TO {postgres.role}")
    records = make_records(2)
    env = {DSN_ENV: postgres.dsn}
    assert send(records, [pg_sink(table)], env) == [SinkResult(f"postgres {table}", True)]
    assert send(records, [pg_sink(table)], env)[0].ok
    assert len(rows(postgres, table)) == 2


def test_a_batch_is_one_transaction(postgres: PostgresServer, table: str) -> None:
    records = make_records(3)
    records[2]["context"]["pullRequest"] = 2**40  # out of the column's range
    [result] = send(records, [pg_sink(table)], {DSN_ENV: postgres.dsn})
    assert not result.ok
    assert "out of range" in result.reason
    assert rows(postgres, table) == []


def test_a_table_name_that_is_a_keyword_is_quoted(postgres: PostgresServer) -> None:
    assert send(make_records(1), [pg_sink("user")], {DSN_ENV: postgres.dsn})[0].ok
    with postgres.admin() as conn:
        assert conn.execute('SELECT count(*) FROM "user"').fetchone() == (1,)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong password", "password authentication failed"),
        ("wrong database", "does not exist"),
        ("closed port", "Connection refused"),
    ],
)
def test_postgres_failures_are_reported_without_the_password(
    postgres: PostgresServer,
    table: str,
    case: str,
    expected: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Hunter2-" + uuid.uuid4().hex
    with closed_port() as url:
        dsn, password = {
            "wrong password": (postgres.dsn_for(wrong), wrong),
            "wrong database": (postgres.dsn_for(postgres.password, database="nowhere"), None),
            "closed port": (postgres.dsn_for(wrong, port=urlsplit(url).port), wrong),
        }[case]
        password = password or postgres.password
        [result] = send(make_records(1), [pg_sink(table)], {DSN_ENV: dsn})
    assert not result.ok
    assert expected in result.reason
    assert "\n" not in result.reason
    assert password not in result.reason
    assert password not in caplog.text


def test_postgres_connect_timeout(
    postgres: PostgresServer, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sinks, "CONNECT_TIMEOUT_SECONDS", 2)
    with silent_port() as url:
        started = time.monotonic()
        [result] = send(
            make_records(1),
            [pg_sink(table)],
            {DSN_ENV: postgres.dsn_for("secret-pw", port=urlsplit(url).port)},
        )
    assert not result.ok
    assert "timeout" in result.reason.lower()
    assert time.monotonic() - started < 15


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        (None, f"{DSN_ENV} is not set"),
        ("", f"{DSN_ENV} is not set"),
        ("host=localhost password='s3cr3t-pw", "not a valid PostgreSQL connection string"),
        ("postgresql://u:s3cr3t-pw@h/db?bogus_option=1", "not a valid PostgreSQL connection"),
    ],
)
def test_a_missing_or_invalid_dsn_is_reported(dsn: str | None, expected: str) -> None:
    env = {} if dsn is None else {DSN_ENV: dsn}
    [result] = send(make_records(1), [pg_sink("audit")], env)
    assert not result.ok
    assert expected in result.reason
    assert "s3cr3t" not in result.reason


def test_a_malformed_record_is_named() -> None:
    record = make_records(1)[0]
    del record["timestamp"]
    env = {DSN_ENV: "postgresql://u:pw@127.0.0.1:1/db"}
    assert send([record], [pg_sink("audit")], env) == [
        SinkResult("postgres audit", False, "record 1 has no timestamp")
    ]


# Webhook ----------------------------------------------------------------------------------


HOOK = "/hooks/audit"


def hook(*replies: tuple[int, dict[str, str]]) -> Receiver:
    """A receiver answering with ``replies`` in order, the last one repeated."""
    *first, (status, headers) = replies
    return Receiver(
        *(Reply(s, headers=h) for s, h in first), default=Reply(status, headers=headers)
    )


def webhook_env(url: str, secret: str = SECRET) -> dict[str, str]:
    return {URL_ENV: url, SECRET_ENV: secret}


def verify(delivery: Request, secret: str) -> bool:
    """What a receiver does: recompute the HMAC of the exact body bytes."""
    expected = "sha256=" + hmac.new(secret.encode(), delivery.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, delivery.headers["X-Flaggate-Signature"])


def test_webhook_delivers_signed_records() -> None:
    records = make_records(3)
    with hook((204, {})) as receiver:
        results = send(records, [WEBHOOK], webhook_env(receiver.url + HOOK))
    assert results == [SinkResult(f"webhook {URL_ENV}", True)]
    [delivery] = receiver.requests
    assert delivery.path == "/hooks/audit"
    assert verify(delivery, SECRET)
    assert not verify(delivery, SECRET + "x")
    assert json.loads(delivery.body) == {"records": records}
    assert delivery.headers["X-Flaggate-Delivery"] == records[0]["id"]
    assert delivery.headers["Content-Type"] == "application/json"
    assert "Zoë Ünal" in delivery.body.decode("utf-8")
    assert SECRET not in delivery.body.decode() and SECRET not in str(delivery.headers)


def test_a_tampered_body_fails_the_signature() -> None:
    with hook((200, {})) as receiver:
        assert send(make_records(1), [WEBHOOK], webhook_env(receiver.url + HOOK))[0].ok
    [delivery] = receiver.requests
    tampered = replace(delivery, body=delivery.body.replace(b"zo", b"ZO"))
    assert tampered.body != delivery.body
    assert not verify(tampered, SECRET)


def test_webhook_retries_503_then_succeeds() -> None:
    with hook((503, {"Retry-After": "0"}), (200, {})) as receiver:
        [result] = send(make_records(2), [WEBHOOK], webhook_env(receiver.url + HOOK))
    assert result.ok
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["X-Flaggate-Signature"] == second.headers["X-Flaggate-Signature"]
    assert first.headers["X-Flaggate-Delivery"] == second.headers["X-Flaggate-Delivery"]


def test_webhook_honours_retry_after_up_to_a_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(httpx_retries.retry.time, "sleep", waits.append)
    replies = [(429, {"Retry-After": "7"}), (503, {"Retry-After": "86400"}), (200, {})]
    with hook(*replies) as receiver:
        assert send(make_records(1), [WEBHOOK], webhook_env(receiver.url + HOOK))[0].ok
    assert len(receiver.requests) == 3
    assert waits == [7.0, http.MAX_WAIT_SECONDS]


def test_retry_after_as_an_http_date(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(httpx_retries.retry.time, "sleep", waits.append)
    later = format_datetime(datetime.fromtimestamp(time.time() + 20, UTC), usegmt=True)
    with hook((503, {"Retry-After": later}), (200, {})) as receiver:
        assert send(make_records(1), [WEBHOOK], webhook_env(receiver.url + HOOK))[0].ok
    [wait] = waits
    assert 15 < wait <= 20


def test_webhook_gives_up_after_bounded_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpx_retries.retry.time, "sleep", lambda seconds: None)
    with hook((502, {})) as receiver:
        [result] = send(make_records(1), [WEBHOOK], webhook_env(receiver.url + HOOK))
    assert not result.ok
    assert len(receiver.requests) == sinks.MAX_ATTEMPTS
    assert result.reason.endswith(f"answered HTTP 502 (after {sinks.MAX_ATTEMPTS} attempts)")


@pytest.mark.parametrize("status", [400, 401, 404, 413, 501, 302])
def test_webhook_client_errors_are_not_retried(status: int) -> None:
    with hook((status, {"Location": "http://example.invalid/"})) as receiver:
        [result] = send(make_records(1), [WEBHOOK], webhook_env(receiver.url + HOOK))
    assert not result.ok
    assert len(receiver.requests) == 1
    origin = receiver.url
    assert result.reason == f"{origin} answered HTTP {status}"


def test_unreachable_webhook() -> None:
    with closed_port() as url:
        [result] = send(make_records(1), [WEBHOOK], webhook_env(url + "/hook?token=tok-123"))
    assert not result.ok
    assert result.reason.startswith(f"cannot reach {url}:")
    assert "tok-123" not in result.reason


def test_silent_webhook_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sinks, "TIMEOUT_SECONDS", 0.5)
    with silent_port() as url:
        started = time.monotonic()
        [result] = send(make_records(1), [WEBHOOK], webhook_env(url))
    assert result == SinkResult(f"webhook {URL_ENV}", False, f"{url} timed out after 0.5s")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, f"{URL_ENV} and {SECRET_ENV} are not set"),
        ({URL_ENV: "http://127.0.0.1:9/"}, f"{SECRET_ENV} is not set"),
        ({SECRET_ENV: SECRET}, f"{URL_ENV} is not set"),
    ],
)
def test_webhook_settings_missing(env: dict[str, str], expected: str) -> None:
    assert send(make_records(1), [WEBHOOK], env) == [
        SinkResult(f"webhook {URL_ENV}", False, expected)
    ]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url", "the server: not a valid URL"),
        ("ftp://127.0.0.1/x", "ftp://127.0.0.1: not a valid URL"),
        ("http://127.0.0.1:99999/", "cannot reach the server: ConnectError"),
    ],
)
def test_an_invalid_webhook_url_is_a_failure(url: str, reason: str) -> None:
    [result] = send(make_records(1), [WEBHOOK], webhook_env(url))
    assert (result.ok, result.reason) == (False, reason)


# Both -------------------------------------------------------------------------------------


def test_one_failing_sink_does_not_stop_the_others(postgres: PostgresServer, table: str) -> None:
    records = make_records(2)
    broken = AuditSink(postgres=PostgresSink(dsnEnv="OTHER_DSN", table=table))
    with hook((200, {})) as receiver:
        env = {
            **webhook_env(receiver.url + HOOK),
            DSN_ENV: postgres.dsn,
            "OTHER_DSN": "host=/nowhere",
        }
        results = send(records, [broken, WEBHOOK, pg_sink(table)], env)
    assert [(r.sink, r.ok) for r in results] == [
        (f"postgres {table}", False),
        (f"webhook {URL_ENV}", True),
        (f"postgres {table}", True),
    ]
    assert len(receiver.requests) == 1
    assert len(rows(postgres, table)) == 2


def test_nothing_to_send() -> None:
    assert send([], [WEBHOOK, pg_sink("audit")], {}) == []


def test_unexpected_errors_are_results_too() -> None:
    record = make_records(1)[0]
    record["action"]["newState"] = {1, 2}  # not JSON
    with hook((200, {})) as receiver:
        [result] = send([record], [WEBHOOK], webhook_env(receiver.url + HOOK))
    assert not result.ok
    assert result.reason.startswith("unexpected TypeError:")
    assert receiver.requests == []


def test_secrets_never_reach_reasons_or_logs(
    postgres: PostgresServer, table: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "pw-" + uuid.uuid4().hex
    token = "tok-" + uuid.uuid4().hex
    results: list[SinkResult] = []
    with (
        hook((500, {"Retry-After": "0"}), (403, {})) as refusing,
        hook((200, {})) as accepting,
        closed_port() as closed,
    ):
        for url in (refusing.url + HOOK, accepting.url + HOOK, closed):
            for dsn in (postgres.dsn_for(password), postgres.dsn_for(password, port=1)):
                env = {**webhook_env(f"{url}?token={token}"), DSN_ENV: dsn}
                results += send(make_records(2), [WEBHOOK, pg_sink(table)], env)
    assert [r.ok for r in results[:2]] == [False, False]
    assert any(r.ok for r in results)
    for secret in (SECRET, password, token):
        assert all(secret not in r.reason for r in results), secret
        assert secret not in caplog.text, secret
    assert all("\n" not in r.reason for r in results)


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        (
            'missing "=" after "postgresql://u:p%40ss@h" in connection info',
            sinks._dsn_secrets("postgresql://u:p%40ss@h/db"),
            'missing "=" after "postgresql://u:***@h" in connection info',
        ),
        (
            "decoded p@ss and encoded p%40ss",
            sinks._dsn_secrets("postgresql://u:p%40ss@h/db"),
            "decoded *** and encoded ***",
        ),
        (
            "user=u password='a b' failed",
            sinks._dsn_secrets("user=u password='a b'"),
            "*** failed",
        ),
        (
            "https://user:pass@siem/x?key=abc\nsecond line",
            http.url_secrets("https://user:pass@siem/x?key=abc"),
            "https://***:***@siem/***?*** second line",
        ),
        (
            "cannot reach http://siem:8080: refused",
            http.url_secrets("http://siem:8080/hook"),
            "cannot reach http://siem:8080: refused",
        ),
    ],
)
def test_redaction(text: str, secrets: list[str], expected: str) -> None:
    assert http.redact(text, secrets) == expected


def test_long_reasons_are_cut_after_hiding_secrets() -> None:
    secret = "s3cr3t-" + "x" * 40
    text = "y" * 380 + secret + " tail"
    reason = http.redact(text, [secret])
    assert reason == "y" * 380 + "*** tail"
    cut = http.redact("z" * 390 + secret, [secret], limit=400)
    assert "s3cr3t" not in cut and len(cut) <= 400
