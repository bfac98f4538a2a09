"""Extra destinations for audit records: a PostgreSQL table and a signed webhook (a SIEM).

A sink failure never loses a record (the git log is written first) and never stops the
others; it is reported with a one-line reason that holds no secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx

from flaggate.audit.record import Record
from flaggate.model.settings import AuditSink, PostgresSink, WebhookSink

TIMEOUT_SECONDS = 10.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_ATTEMPTS = 3
MAX_RETRY_AFTER = 30.0


@dataclass(frozen=True)
class SinkResult:
    """How sending to one sink went."""

    sink: str
    ok: bool
    reason: str = ""


def send(
    records: Sequence[Record], sinks: Sequence[AuditSink], env: Mapping[str, str] | None = None
) -> list[SinkResult]:
    """Send ``records`` to every sink; never raises for a sink's failure."""
    env = os.environ if env is None else env
    results: list[SinkResult] = []
    if not records:
        return results
    for sink in sinks:
        if sink.postgres is not None:
            results.append(_to_postgres(records, sink.postgres, env))
        elif sink.webhook is not None:
            results.append(_to_webhook(records, sink.webhook, env))
    return results


def _to_postgres(
    records: Sequence[Record], sink: PostgresSink, env: Mapping[str, str]
) -> SinkResult:
    import psycopg
    from psycopg import sql

    name = f"postgres {sink.table}"
    dsn = env.get(sink.dsnEnv)
    if not dsn:
        return SinkResult(name, False, f"{sink.dsnEnv} is not set")
    table = sql.Identifier(sink.table)
    create = sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} (id text PRIMARY KEY, ts timestamptz NOT NULL, "
        "event_type text NOT NULL, repository text, pull_request integer, flag text, "
        "environment text, actor text, record jsonb NOT NULL, hash text NOT NULL, "
        "prev_hash text NOT NULL)"
    ).format(table)
    index = sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (ts)").format(
        sql.Identifier(f"{sink.table}_ts"), table
    )
    insert = sql.SQL(
        "INSERT INTO {} (id, ts, event_type, repository, pull_request, flag, environment, "
        "actor, record, hash, prev_hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (id) DO NOTHING"
    ).format(table)
    rows = [
        (
            r["id"],
            r["timestamp"],
            r["eventType"],
            r["context"].get("repository"),
            r["context"].get("pullRequest"),
            r["resource"].get("id") if r["resource"].get("type") == "flag" else None,
            r["resource"].get("environment"),
            r["actor"].get("login"),
            json.dumps(r, sort_keys=True),
            r["hash"],
            r["prevHash"],
        )
        for r in records
    ]
    try:
        with (
            psycopg.connect(dsn, connect_timeout=int(TIMEOUT_SECONDS)) as conn,
            conn.transaction(),
            conn.cursor() as cursor,
        ):
            cursor.execute(create)
            cursor.execute(index)
            cursor.executemany(insert, rows)
    except psycopg.Error as exc:
        return SinkResult(name, False, _without(str(exc).splitlines()[0], dsn))
    return SinkResult(name, True)


def _to_webhook(records: Sequence[Record], sink: WebhookSink, env: Mapping[str, str]) -> SinkResult:
    name = "webhook"
    url, secret = env.get(sink.urlEnv), env.get(sink.secretEnv)
    if not url or not secret:
        return SinkResult(name, False, f"{sink.urlEnv} and {sink.secretEnv} must be set")
    body = json.dumps({"records": list(records)}, sort_keys=True).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Flaggate-Signature": f"sha256={signature}",
        "X-Flaggate-Delivery": str(records[0]["id"]),
    }
    reason = ""
    with httpx.Client(timeout=TIMEOUT_SECONDS, transport=httpx.HTTPTransport(retries=2)) as client:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                return SinkResult(name, False, _without(f"cannot reach the webhook: {exc}", secret))
            if response.is_success:
                return SinkResult(name, True)
            reason = f"the webhook answered HTTP {response.status_code}"
            if response.status_code not in RETRY_STATUSES or attempt == MAX_ATTEMPTS:
                break
            time.sleep(_retry_after(response.headers.get("Retry-After"), attempt))
    return SinkResult(name, False, reason)


def _retry_after(header: str | None, attempt: int) -> float:
    try:
        return min(float(header), MAX_RETRY_AFTER) if header else 0.5 * attempt
    except ValueError:
        return 0.5 * attempt


def _without(text: str, secret: str) -> str:
    """``text`` with the secret (or a DSN's password) blanked out."""
    text = text.replace(secret, "***")
    if "password=" in secret:
        password = secret.split("password=", 1)[1].split()[0]
        text = text.replace(password, "***")
    if "://" in secret and "@" in secret:
        credentials = secret.split("://", 1)[1].split("@", 1)[0]
        if ":" in credentials:
            text = text.replace(credentials.split(":", 1)[1], "***")
    return text
