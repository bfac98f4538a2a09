"""Metric gates: PromQL instant queries against a Prometheus-compatible HTTP API.

The query is templated with the flag key (``{flag}``), the changed environment
(``{environment}``) and the promotion's lower environment (``{from}``); nothing else in the
query is touched, so PromQL's own braces stay as written. No data fails the gate (a metric
that cannot be seen cannot vouch for a change); an unreachable server is an ``error``.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from flaggate.model.policy import MetricGate
from flaggate.model.settings import Prometheus
from flaggate.policy.result import GateResult, GateStatus

URL_ENV = "FLAGGATE_PROMETHEUS_URL"
MAX_ANSWER_BYTES = 8 << 20


class MetricsUnavailable(Exception):
    """The metrics server could not be asked or did not answer usefully."""


@dataclass(frozen=True)
class PrometheusClient:
    """Instant queries (``GET /api/v1/query``) with an optional bearer token."""

    url: str
    token: str | None
    timeout: float
    transport: httpx.BaseTransport | None = None

    @classmethod
    def from_settings(
        cls, settings: Prometheus, env: Mapping[str, str] | None = None
    ) -> PrometheusClient | None:
        """The client the settings describe, or None when no URL is configured."""
        env = os.environ if env is None else env
        url = settings.url or env.get(URL_ENV)
        if not url:
            return None
        return cls(url.rstrip("/"), env.get(settings.tokenEnv) or None, settings.timeoutSeconds)

    def query(self, promql: str) -> list[float]:
        """The values of an instant query: one per series (a scalar gives one value)."""
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        transport = self.transport or httpx.HTTPTransport(retries=2)
        deadline = time.monotonic() + self.timeout
        try:
            with (
                httpx.Client(
                    timeout=self.timeout, transport=transport, follow_redirects=False
                ) as client,
                client.stream(
                    "GET", f"{self.url}/api/v1/query", params={"query": promql}, headers=headers
                ) as response,
            ):
                # httpx's timeout applies to each read: a server trickling bytes must not
                # hold the gate past the configured time.
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("answer too slow")
                    if size > MAX_ANSWER_BYTES:
                        raise MetricsUnavailable(f"{self.url} answered more than 8 MiB")
                content = b"".join(chunks)
        except httpx.TimeoutException:
            raise MetricsUnavailable(f"{self.url} timed out after {self.timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise MetricsUnavailable(f"cannot reach {self.url}: {exc}") from None
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else None
            raise MetricsUnavailable(
                f"{self.url} answered HTTP {response.status_code}" + (f": {error}" if error else "")
            )
        try:
            return _values(body.get("data"))
        except (KeyError, IndexError, TypeError, ValueError):
            raise MetricsUnavailable(f"{self.url} answered a malformed result") from None
        except MetricsUnavailable as exc:
            raise MetricsUnavailable(f"{self.url} answered {exc}") from None


def _values(data: object) -> list[float]:
    if not isinstance(data, dict):
        raise MetricsUnavailable("an answer without data")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return [float(result[1])]
    if kind == "vector" and isinstance(result, list):
        return [float(sample["value"][1]) for sample in result]
    raise MetricsUnavailable(f"a {kind} result; metric gates need an instant vector or scalar")


def render_query(query: str, flag: str, environment: str, lower: str | None) -> str:
    """The query with ``{flag}``, ``{environment}`` and ``{from}`` filled in, escaped."""
    values = {"flag": flag, "environment": environment, "from": lower or environment}
    for key, value in values.items():
        query = query.replace("{" + key + "}", value.replace("\\", "\\\\").replace('"', '\\"'))
    return query


def metric_gate(
    client: PrometheusClient | None,
    gate: MetricGate,
    flag: str,
    environment: str,
    lower: str | None,
) -> GateResult:
    """Run one metric gate for one changed flag."""
    name = f"{environment}: metric {gate.name} ({flag})"
    query = render_query(gate.query, flag, environment, lower)

    def result(status: GateStatus, message: str) -> GateResult:
        return GateResult(name, status, message, kind="metric", environment=environment)

    if client is None:
        return result(
            GateStatus.ERROR,
            f"no Prometheus URL: set settings gates.prometheus.url or {URL_ENV}",
        )
    try:
        values = client.query(query)
    except MetricsUnavailable as exc:
        return result(GateStatus.ERROR, f"{exc} (query {query})")
    if not values:
        return result(GateStatus.FAILED, f"no data for query {query}")
    if len(values) > 1:
        return result(
            GateStatus.FAILED, f"{len(values)} series for query {query}; it must return one"
        )
    value = values[0]
    bound = _bounds(gate)
    if not math.isfinite(value):
        return result(
            GateStatus.FAILED, f"{gate.name} is {_num(value)} (no traffic?) (query {query})"
        )
    if gate.max is not None and value > gate.max:
        return result(
            GateStatus.FAILED, f"{gate.name} {_num(value)} > {_num(gate.max)} (query {query})"
        )
    if gate.min is not None and value < gate.min:
        return result(
            GateStatus.FAILED, f"{gate.name} {_num(value)} < {_num(gate.min)} (query {query})"
        )
    return result(GateStatus.PASSED, f"{gate.name} {_num(value)} within {bound}")


def _bounds(gate: MetricGate) -> str:
    parts = []
    if gate.min is not None:
        parts.append(f"≥ {_num(gate.min)}")
    if gate.max is not None:
        parts.append(f"≤ {_num(gate.max)}")
    return " and ".join(parts)


def _num(value: float) -> str:
    return f"{value:.4g}"
