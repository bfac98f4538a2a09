"""Extra destinations for audit records: a PostgreSQL table and a signed webhook (a SIEM).

A sink failure never loses a record (the git log is written first) and never stops the
others; it is reported with a one-line reason that holds no secret (neither the DSN's
password nor the webhook's secret or URL credentials).

PostgreSQL: the DSN comes from the environment variable ``dsnEnv`` names. The table is
created when missing (``id`` is its primary key, ``ts`` is indexed) and each batch is
inserted in one transaction with ``ON CONFLICT (id) DO NOTHING``, so sending the same
records again stores nothing twice.

Webhook: ``POST`` of ``{"records": [...]}`` (UTF-8 JSON) to the URL from ``urlEnv``, with
``X-Flaggate-Signature: sha256=<hex HMAC-SHA256 of the body bytes, keyed with the secret from
secretEnv>`` and ``X-Flaggate-Delivery: <id of the first record>`` (the same batch always has
the same delivery id, so a receiver can drop repeats). Any 2xx is success; connection errors,
429 and 5xx answers are retried a bounded number of times, honouring ``Retry-After`` up to a
cap; redirects are not followed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from flaggate.audit.record import Record
from flaggate.integrations import http
from flaggate.model.settings import AuditSink, PostgresSink, WebhookSink

TIMEOUT_SECONDS = 10.0
"""Webhook: the limit on connecting, sending and each read (httpx's timeout)."""
CONNECT_TIMEOUT_SECONDS = 10
"""PostgreSQL: ``connect_timeout`` (libpq counts whole seconds, at least 2)."""
STATEMENT_TIMEOUT_MS = 30_000
"""PostgreSQL: no statement of the sink waits longer (a locked table, a stuck server)."""
MAX_ATTEMPTS = 3
"""Webhook: requests in all when the answer is 429 or a retryable 5xx."""
SIGNATURE_HEADER = "X-Flaggate-Signature"
DELIVERY_HEADER = "X-Flaggate-Delivery"
LOGGERS = (*http.LOGGERS, "psycopg")
"""The loggers whose records are filtered for secrets while a sink is being sent to."""


@dataclass(frozen=True)
class SinkResult:
    """How sending to one sink went: ``reason`` says why it failed (one line, no secret)."""

    sink: str
    ok: bool
    reason: str = ""


def send(
    records: Sequence[Record], sinks: Sequence[AuditSink], env: Mapping[str, str] | None = None
) -> list[SinkResult]:
    """Send ``records`` to every sink, in order; never raises for a sink's failure.

    Secrets are read from ``env`` (default: the process environment). Nothing is sent (and
    nothing is returned) when there are no records.
    """
    env = os.environ if env is None else env
    if not records:
        return []
    results: list[SinkResult] = []
    for sink in sinks:
        name, secrets = _describe(sink, env)
        reason = http.attempt(partial(_deliver, records, sink, env), secrets, LOGGERS)
        results.append(SinkResult(name, reason is None, reason or ""))
    return results


def _deliver(records: Sequence[Record], sink: AuditSink, env: Mapping[str, str]) -> None:
    if sink.postgres is not None:
        _to_postgres(records, sink.postgres, env)
    elif sink.webhook is not None:
        _to_webhook(records, sink.webhook, env)


def _describe(sink: AuditSink, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """The sink's name in results, and the secrets its reasons must never show."""
    if sink.postgres is not None:
        return f"postgres {sink.postgres.table}", _dsn_secrets(env.get(sink.postgres.dsnEnv) or "")
    if sink.webhook is not None:
        secrets = http.url_secrets(env.get(sink.webhook.urlEnv) or "")
        return f"webhook {sink.webhook.urlEnv}", [*secrets, env.get(sink.webhook.secretEnv) or ""]
    return "sink", []


def _to_postgres(records: Sequence[Record], sink: PostgresSink, env: Mapping[str, str]) -> None:
    dsn = env.get(sink.dsnEnv)
    if not dsn:
        raise http.Failed(f"{sink.dsnEnv} is not set")
    try:
        conninfo_to_dict(dsn)
    except psycopg.Error:
        # libpq's message quotes the text around the mistake: it may hold the password.
        raise http.Failed(f"{sink.dsnEnv} is not a valid PostgreSQL connection string") from None
    rows = [_row(index, record) for index, record in enumerate(records)]
    table = sql.Identifier(sink.table)
    insert = sql.SQL(
        "INSERT INTO {} (id, ts, event_type, repository, pull_request, flag, environment, "
        "actor, record, hash, prev_hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (id) DO NOTHING"
    ).format(table)
    try:
        with psycopg.connect(
            dsn,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            autocommit=True,
            application_name="flaggate",
        ) as conn:
            _create_table(conn, sink.table)
            with conn.transaction(), conn.cursor() as cursor:
                _statement_timeout(cursor)
                cursor.executemany(insert, rows)
    except psycopg.Error as exc:
        raise http.Failed(_one_line(exc) or type(exc).__name__) from None


def _create_table(conn: psycopg.Connection[Any], name: str) -> None:
    """Create the table and its ``ts`` index unless the table exists: then the role needs
    no more than ``INSERT`` and ``SELECT (id)`` (for ``ON CONFLICT (id)``) on a table made by
    someone else."""
    table = sql.Identifier(name)
    with conn.transaction(), conn.cursor() as cursor:
        _statement_timeout(cursor)
        cursor.execute("SELECT to_regclass(%s)", (table.as_string(conn),))
        found = cursor.fetchone()
        if found is not None and found[0] is not None:
            return
        cursor.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (id text PRIMARY KEY, ts timestamptz NOT NULL, "
                "event_type text NOT NULL, repository text, pull_request integer, flag text, "
                "environment text, actor text, record jsonb NOT NULL, hash text NOT NULL, "
                "prev_hash text NOT NULL)"
            ).format(table)
        )
        cursor.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (ts)").format(
                sql.Identifier(f"{name[:59]}_ts"), table
            )
        )


def _statement_timeout(cursor: psycopg.Cursor[Any]) -> None:
    cursor.execute(
        sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(STATEMENT_TIMEOUT_MS))
    )


def _row(index: int, record: Record) -> tuple[Any, ...]:
    """The table's columns for one record; a malformed record fails the batch, saying which."""
    try:
        context, resource, actor = (
            _mapping(record.get(key)) for key in ("context", "resource", "actor")
        )
        stamp = datetime.fromisoformat(str(record["timestamp"]))
        pull_request = context.get("pullRequest")
        if pull_request is not None and (
            not isinstance(pull_request, int) or isinstance(pull_request, bool)
        ):
            raise ValueError("context.pullRequest is not a number")
        return (
            str(record["id"]),
            stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC),
            str(record["eventType"]),
            context.get("repository"),
            pull_request,
            resource.get("id") if resource.get("type") == "flag" else None,
            resource.get("environment"),
            actor.get("login"),
            Jsonb(record),
            str(record["hash"]),
            str(record["prevHash"]),
        )
    except KeyError as exc:
        raise http.Failed(f"record {index + 1} has no {exc.args[0]}") from None
    except (TypeError, ValueError) as exc:
        raise http.Failed(f"record {index + 1} is malformed: {_one_line(exc)}") from None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _to_webhook(records: Sequence[Record], sink: WebhookSink, env: Mapping[str, str]) -> None:
    missing = http.unset(env, sink.urlEnv, sink.secretEnv)
    if missing is not None:
        raise http.Failed(missing)
    url, secret = env[sink.urlEnv], env[sink.secretEnv]
    where = http.origin(url)
    body = json.dumps(
        {"records": list(records)}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: http.sign(body, secret),
        DELIVERY_HEADER: str(records[0].get("id", "")),
    }
    # Retried POSTs are safe: the same batch has the same delivery id.
    with http.client(timeout=TIMEOUT_SECONDS, attempts=MAX_ATTEMPTS, retry_posts=True) as client:
        try:
            status = client.post(url, content=body, headers=headers).status_code
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise http.Failed(http.failure(exc, where, TIMEOUT_SECONDS)) from None
    if not 200 <= status < 300:
        retried = f" (after {MAX_ATTEMPTS} attempts)" if status in http.RETRY_STATUSES else ""
        raise http.Failed(f"{where} answered HTTP {status}{retried}")


def _dsn_secrets(dsn: str) -> list[str]:
    """What a reason must not show of a DSN: itself and its password (decoded or not)."""
    found = [dsn]
    try:
        password = conninfo_to_dict(dsn).get("password")
    except psycopg.Error:
        password = None
    if password:
        found.append(str(password))
    if "://" in dsn:
        try:
            encoded = urlsplit(dsn).password
        except ValueError:
            encoded = None
        if encoded:
            found += [encoded, unquote(encoded)]
    return found


def _one_line(exc: BaseException) -> str:
    """The exception's message on one line (`http.redact` hides secrets and shortens it)."""
    return " ".join(str(exc).split())
