"""Metric gates against a real Prometheus server scraping fixed counters (tests/prometheus.py).

The counters (`tests.prometheus.SERIES`): checkout-redesign errs on 23 of 1000 staging
requests (2.3%), search-ranking on 5 of 1000 (0.5%); onboarding-flow has requests but no
error series; idle-flag has zero of both. One server is shared by the whole module.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.prometheus
from flaggate.gates.metrics import (
    URL_ENV,
    MetricsUnavailable,
    PrometheusClient,
    metric_gate,
    render_query,
)
from flaggate.model.policy import MetricGate
from flaggate.model.settings import Prometheus
from flaggate.policy.result import Decision, Evaluation, GateResult, GateStatus
from flaggate.publish.comment import next_action
from flaggate.publish.status import status_state
from tests.gitrepo import CliResult, GitRepo, edit
from tests.prometheus import (
    LoopbackServer,
    PrometheusServer,
    Reply,
    closed_port,
    running_prometheus,
    silent_port,
)

TOKEN_ENV = "FLAGGATE_PROMETHEUS_TOKEN"
ERROR_RATE = (
    'sum(http_errors_total{flag="{flag}",env="{from}"})'
    ' / sum(http_requests_total{flag="{flag}",env="{from}"})'
)
TRAFFIC = 'sum(http_requests_total{flag="{flag}",env="{from}"})'


def error_rate(flag: str, env: str = "staging") -> str:
    """`ERROR_RATE` as rendered for ``flag`` and ``env``."""
    return (
        f'sum(http_errors_total{{flag="{flag}",env="{env}"}})'
        f' / sum(http_requests_total{{flag="{flag}",env="{env}"}})'
    )


def gate(
    query: str = ERROR_RATE,
    max: float | None = 0.01,
    min: float | None = None,
    name: str = "error-rate",
) -> MetricGate:
    return MetricGate(name=name, query=query, max=max, min=min)


def one_value(value: str) -> dict[str, object]:
    """A Prometheus answer holding one sample with ``value``."""
    sample = {"metric": {}, "value": [1795838353.0, value]}
    return {"status": "success", "data": {"resultType": "vector", "result": [sample]}}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """One real Prometheus for the module, its counters already scraped."""
    with running_prometheus(tmp_path_factory.mktemp("prometheus")) as server:
        yield server
    assert server.process.poll() is not None, "prometheus is still running after teardown"


@pytest.fixture
def client(prometheus: PrometheusServer) -> PrometheusClient:
    return PrometheusClient(prometheus.url, None, 10.0)


@pytest.fixture(autouse=True)
def _no_prometheus_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI subprocesses inherit os.environ: no URL or token leaks in from outside."""
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv(TOKEN_ENV, raising=False)


def test_a_missing_prometheus_fails_instead_of_skipping(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tests.prometheus, "BINARY", tmp_path / "no-prometheus")
    with (
        pytest.raises(pytest.fail.Exception, match=r"\.ci/run installs Debian's `prometheus`"),
        running_prometheus(tmp_path),
    ):
        pass


# --- the client and the gate against the real server -------------------------------------


def test_query_returns_the_values(client: PrometheusClient) -> None:
    assert client.query(error_rate("checkout-redesign")) == [0.023]
    assert client.query(error_rate("search-ranking")) == [0.005]
    # a scalar gives one value too
    assert client.query('scalar(sum(http_errors_total{flag="search-ranking"}))') == [5.0]
    # one value per series; none for no series
    assert sorted(client.query('http_requests_total{env="staging"}')) == [0, 400, 1000, 1000]
    assert client.query('http_requests_total{flag="no-such-flag"}') == []


def test_gate_passes_within_max(client: PrometheusClient) -> None:
    result = metric_gate(client, gate(), "search-ranking", "production", "staging")
    assert result == GateResult(
        "production: metric error-rate (search-ranking)",
        GateStatus.PASSED,
        "error-rate 0.005 within ≤ 0.01",
        kind="metric",
        environment="production",
    )


def test_gate_fails_over_max_naming_value_bound_and_query(client: PrometheusClient) -> None:
    result = metric_gate(client, gate(), "checkout-redesign", "production", "staging")
    assert result.name == "production: metric error-rate (checkout-redesign)"
    assert result.status is GateStatus.FAILED
    assert (result.kind, result.environment) == ("metric", "production")
    assert result.message == (
        f"error-rate 0.023 > 0.01 (query {error_rate('checkout-redesign', 'staging')})"
    )


def test_from_falls_back_to_the_environment_itself(client: PrometheusClient) -> None:
    # Without a promotion `{from}` is production: checkout-redesign has 0 errors in 200 there.
    result = metric_gate(client, gate(), "checkout-redesign", "production", None)
    assert (result.status, result.message) == (GateStatus.PASSED, "error-rate 0 within ≤ 0.01")


@pytest.mark.parametrize(
    ("bounds", "status", "message"),
    [
        (
            {"min": 5000.0},
            GateStatus.FAILED,
            'traffic 1000 < 5000 (query sum(http_requests_total{flag="search-ranking",'
            'env="staging"}))',
        ),
        ({"min": 100.0, "max": 5000.0}, GateStatus.PASSED, "traffic 1000 within ≥ 100 and ≤ 5000"),
        ({"min": 1000.0}, GateStatus.PASSED, "traffic 1000 within ≥ 1000"),
        (
            {"max": 999.5},
            GateStatus.FAILED,
            'traffic 1000 > 999.5 (query sum(http_requests_total{flag="search-ranking",'
            'env="staging"}))',
        ),
    ],
)
def test_min_and_max_bounds(
    client: PrometheusClient, bounds: dict[str, float], status: GateStatus, message: str
) -> None:
    traffic = MetricGate(name="traffic", query=TRAFFIC, **bounds)
    result = metric_gate(client, traffic, "search-ranking", "production", "staging")
    assert (result.status, result.message) == (status, message)


@pytest.mark.parametrize("flag", ["onboarding-flow", "api-rate-limit"])
def test_no_data_fails_showing_the_query(client: PrometheusClient, flag: str) -> None:
    # onboarding-flow has requests but no error series; api-rate-limit has no series at all.
    result = metric_gate(client, gate(), flag, "production", "staging")
    assert result.status is GateStatus.FAILED
    assert result.message == f"no data for query {error_rate(flag)}"


def test_several_series_fail(client: PrometheusClient) -> None:
    per_env = gate(query='http_requests_total{flag="{flag}"}', max=1e9, name="requests")
    result = metric_gate(client, per_env, "checkout-redesign", "production", "staging")
    assert result.status is GateStatus.FAILED
    assert result.message == (
        '2 series for query http_requests_total{flag="checkout-redesign"}; it must return one'
    )


@pytest.mark.parametrize(
    ("query", "rendered"),
    [
        (ERROR_RATE, error_rate("idle-flag")),  # 0 errors / 0 requests: a vector of NaN
        ("0 / 0", "0 / 0"),  # a scalar NaN
    ],
)
def test_nan_fails(client: PrometheusClient, query: str, rendered: str) -> None:
    for bounds in ({"max": 0.01}, {"min": 0.0}):
        nan_gate = MetricGate(name="error-rate", query=query, **bounds)
        result = metric_gate(client, nan_gate, "idle-flag", "production", "staging")
        assert result.status is GateStatus.FAILED
        assert result.message == f"error-rate is nan (no traffic?) (query {rendered})"


@pytest.mark.parametrize(
    ("bounds", "query", "shown"),
    [
        ({"min": 0.99}, "vector(5) / 0", "inf"),  # no requests: a ratio of +Inf
        ({"max": 0.01}, "-1 * (vector(5) / 0)", "-inf"),
    ],
)
def test_infinite_values_fail_even_on_the_open_side(
    client: PrometheusClient, bounds: dict[str, float], query: str, shown: str
) -> None:
    infinite = MetricGate(name="ratio", query=query, **bounds)
    result = metric_gate(client, infinite, "idle-flag", "production", "staging")
    assert result.status is GateStatus.FAILED
    assert result.message == f"ratio is {shown} (no traffic?) (query {query})"


def test_malformed_promql_is_an_error_with_prometheus_text(
    client: PrometheusClient, prometheus: PrometheusServer
) -> None:
    broken = 'sum(http_errors_total{flag="{flag}"}'
    rendered = 'sum(http_errors_total{flag="search-ranking"}'
    answer = prometheus.query(rendered)
    assert answer["status"] == "error" and answer["errorType"] == "bad_data"
    with pytest.raises(MetricsUnavailable) as raised:
        client.query(rendered)
    assert str(raised.value) == f"{prometheus.url} answered HTTP 400: {answer['error']}"
    assert "parse error" in answer["error"]

    result = metric_gate(client, gate(query=broken), "search-ranking", "production", "staging")
    assert result.status is GateStatus.ERROR
    assert result.message == (
        f"{prometheus.url} answered HTTP 400: {answer['error']} (query {rendered})"
    )


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ('http_requests_total{flag="{flag}",env="{from}"}[5m]', "matrix"),
        ('"{flag}"', "string"),
    ],
)
def test_results_other_than_vector_or_scalar_are_errors(
    client: PrometheusClient, query: str, kind: str
) -> None:
    result = metric_gate(client, gate(query=query), "search-ranking", "production", "staging")
    assert result.status is GateStatus.ERROR
    rendered = render_query(query, "search-ranking", "production", "staging")
    assert result.message == (
        f"{client.url} answered a {kind} result; metric gates need an instant vector or scalar "
        f"(query {rendered})"
    )


@pytest.mark.parametrize("flag", ['x"}) or vector(0) #', "back\\slash", 'search-ranking",flag!="'])
def test_escaped_values_stay_inside_the_label_value(client: PrometheusClient, flag: str) -> None:
    # Unescaped, the first would add a series (`#` starts a PromQL comment), the second would
    # not parse and the third would select search-ranking; escaped, each is a label value
    # no series has.
    sums = gate(query='sum(http_requests_total{flag="{flag}"})', min=0.0, max=None)
    result = metric_gate(client, sums, flag, "production", "staging")
    assert result.status is GateStatus.FAILED
    assert (
        result.message
        == f"no data for query {render_query(sums.query, flag, 'production', 'staging')}"
    )


# --- render_query ----------------------------------------------------------------------


def test_render_fills_the_placeholders_and_leaves_promql_alone() -> None:
    query = (
        'sum by (le) (rate(latency_bucket{flag="{flag}",env=~"{environment}|{from}",job!=""}[5m]))'
        " / on() group_left {from}{flag}"
    )
    assert render_query(query, "checkout-redesign", "production", "staging") == (
        'sum by (le) (rate(latency_bucket{flag="checkout-redesign",'
        'env=~"production|staging",job!=""}[5m]))'
        " / on() group_left stagingcheckout-redesign"
    )


def test_render_from_defaults_to_the_environment() -> None:
    assert render_query('x{a="{from}",b="{environment}"}', "f", "production", None) == (
        'x{a="production",b="production"}'
    )


def test_render_leaves_unknown_placeholders_and_braces() -> None:
    query = 'x{flag="{flag}"} + {other} + {{flag}} + {Flag} + { flag }'
    assert render_query(query, "f", "e", "l") == 'x{flag="f"} + {other} + {f} + {Flag} + { flag }'


def test_render_escapes_quotes_and_backslashes() -> None:
    assert render_query('x{flag="{flag}"}', 'a"b\\c', "e", None) == 'x{flag="a\\"b\\\\c"}'
    assert render_query('x{env="{environment}",from="{from}"}', "f", 'e"', "l\\") == (
        'x{env="e\\"",from="l\\\\"}'
    )


# --- unreachable, silent and odd servers -------------------------------------------------


def test_unreachable_server_is_an_error() -> None:
    with closed_port() as url:
        started = time.monotonic()
        result = metric_gate(
            PrometheusClient(url, None, 2.0), gate(), "search-ranking", "production", "staging"
        )
        elapsed = time.monotonic() - started
    assert result.status is GateStatus.ERROR
    assert result.message.startswith(f"cannot reach {url}: ")
    assert "Connection refused" in result.message
    assert result.message.endswith(f"(query {error_rate('search-ranking')})")
    # connection failures are retried twice, with a 0.5 s back-off before the second retry
    assert elapsed >= 0.4


def test_silent_server_times_out_as_an_error() -> None:
    with silent_port() as url:
        started = time.monotonic()
        result = metric_gate(
            PrometheusClient(url, None, 0.5), gate(), "search-ranking", "production", "staging"
        )
        elapsed = time.monotonic() - started
    assert result.status is GateStatus.ERROR
    assert result.message == (f"{url} timed out after 0.5s (query {error_rate('search-ranking')})")
    assert 0.45 <= elapsed < 5


def test_a_trickling_server_is_cut_off_at_the_timeout() -> None:
    """httpx times each read; the client enforces the timeout over the whole answer."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"

        def trickle() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                conn.sendall(head + b"Content-Length: 200\r\n\r\n")
                for _ in range(12):
                    time.sleep(0.3)
                    try:
                        conn.sendall(b" ")
                    except OSError:
                        return

        server = threading.Thread(target=trickle, daemon=True)
        server.start()
        started = time.monotonic()
        result = metric_gate(
            PrometheusClient(url, None, 0.5), gate(query="up"), "f", "production", None
        )
        elapsed = time.monotonic() - started
        server.join(timeout=10)
    assert result.status is GateStatus.ERROR
    assert result.message == f"{url} timed out after 0.5s (query up)"
    assert elapsed < 1.5


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(200, b"<html>hello</html>", "text/html"), "answered HTTP 200"),
        (Reply(502, b"<html>Bad Gateway</html>", "text/html"), "answered HTTP 502"),
        (Reply(200, b'{"status": "succ'), "answered HTTP 200"),
        (Reply.json(["not", "an", "object"]), "answered HTTP 200"),
        (
            Reply.json({"status": "error", "error": "too many samples"}, 422),
            "answered HTTP 422: too many samples",
        ),
        (Reply.json({"status": "success"}), "answered an answer without data"),
        (
            Reply.json({"status": "success", "data": {"resultType": "vector", "result": [{}]}}),
            "answered a malformed result",
        ),
        (Reply.json(one_value("not a number")), "answered a malformed result"),
    ],
)
def test_answers_that_are_not_prometheus_results_are_errors(reply: Reply, message: str) -> None:
    with LoopbackServer(lambda path: reply) as server:
        result = metric_gate(
            PrometheusClient(server.url, None, 5.0), gate(query="up"), "f", "production", None
        )
    assert result.status is GateStatus.ERROR
    assert result.message == f"{server.url} {message} (query up)"


# --- settings, URL and bearer token ------------------------------------------------------


def test_from_settings_reads_url_and_token() -> None:
    assert PrometheusClient.from_settings(Prometheus(), env={}) is None
    assert PrometheusClient.from_settings(Prometheus(), env={URL_ENV: ""}) is None

    from_env = PrometheusClient.from_settings(
        Prometheus(), env={URL_ENV: "http://127.0.0.1:9/", TOKEN_ENV: "t0k"}
    )
    assert from_env == PrometheusClient("http://127.0.0.1:9", "t0k", 10.0)

    configured = Prometheus(url="http://127.0.0.1:8/prom/", tokenEnv="MY_TOKEN", timeoutSeconds=2.5)
    from_file = PrometheusClient.from_settings(
        configured, env={URL_ENV: "http://127.0.0.1:9", TOKEN_ENV: "ignored", "MY_TOKEN": ""}
    )
    # the settings' URL wins over the environment; an empty token is no token
    assert from_file == PrometheusClient("http://127.0.0.1:8/prom", None, 2.5)


def test_from_settings_defaults_to_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(URL_ENV, "http://127.0.0.1:7")
    monkeypatch.setenv(TOKEN_ENV, "from-os")
    assert PrometheusClient.from_settings(Prometheus()) == PrometheusClient(
        "http://127.0.0.1:7", "from-os", 10.0
    )


@pytest.mark.parametrize(
    ("settings", "env", "authorization"),
    [
        (Prometheus(), {TOKEN_ENV: "s3cret"}, "Bearer s3cret"),
        (Prometheus(tokenEnv="PROM_TOKEN"), {"PROM_TOKEN": "abc", TOKEN_ENV: "no"}, "Bearer abc"),
        (Prometheus(), {}, None),
        (Prometheus(), {TOKEN_ENV: ""}, None),
        (Prometheus(tokenEnv="PROM_TOKEN"), {TOKEN_ENV: "not-this-one"}, None),
    ],
)
def test_bearer_token_is_sent_only_when_set(
    settings: Prometheus, env: dict[str, str], authorization: str | None
) -> None:
    with LoopbackServer(lambda path: Reply.json(one_value("0.5"))) as server:
        client = PrometheusClient.from_settings(settings, env={URL_ENV: server.url + "/", **env})
        assert client is not None
        result = metric_gate(client, gate(), "search-ranking", "production", "staging")
    assert (result.status, result.message) == (
        GateStatus.FAILED,
        "error-rate 0.5 > 0.01 (query " + error_rate("search-ranking") + ")",
    )
    [request] = server.requests
    assert request.path.startswith("/api/v1/query?")
    assert request.query == {"query": [error_rate("search-ranking")]}
    assert request.headers.get("Authorization") == authorization
    assert request.headers.get("Accept") == "application/json"


def test_gate_without_a_client_names_the_setting() -> None:
    result = metric_gate(None, gate(), "search-ranking", "production", "staging")
    assert result == GateResult(
        "production: metric error-rate (search-ranking)",
        GateStatus.ERROR,
        "no Prometheus URL: set settings gates.prometheus.url or FLAGGATE_PROMETHEUS_URL",
        kind="metric",
        environment="production",
    )


# --- end to end: `flaggate plan` in a real git repository ---------------------------------

STAGING_ERROR_RATE = error_rate("{flag}")
BOTH_APPROVALS = ("--approve", "alice:tech-lead", "--approve", "bob:product-owner")
CHECKOUT = "flags/checkout/checkout-redesign.yaml"
CHECKOUT_OFF = "production:\n      enabled: false\n      variant: off"
CHECKOUT_ON = "production:\n      enabled: true\n      variant: on"
SEARCH = "flags/growth/search-ranking.yaml"
SEARCH_PROD = "      enabled: true\n      rollout: {classic: 90, ml-v2: 10}"
SEARCH_HALF = "      enabled: true\n      rollout: {classic: 50, ml-v2: 50}"
SEARCH_OFF = "      enabled: false\n      rollout: {classic: 90, ml-v2: 10}"


def with_metric_gate(repo: GitRepo, query: str = STAGING_ERROR_RATE, extra: str = "") -> None:
    """Give production an `error-rate` metric gate (and ``extra`` lines), committed on main."""
    path = repo.root / "policies/environments.yaml"
    text = path.read_text()
    assert text.count("riskLevel: critical\n") == 1
    block = (
        "riskLevel: critical\n"
        f"{extra}"
        "      metrics:\n"
        "        - name: error-rate\n"
        f"          query: '{query}'\n"
        "          max: 0.01\n"
    )
    path.write_text(text.replace("riskLevel: critical\n", block))
    repo.commit("metric gate on production")


def on_branch(repo: GitRepo, change: str) -> None:
    """Commit one of the named flag changes on a branch `change` off main."""
    repo.branch("change")
    if change == "checkout-on":
        edit(repo, CHECKOUT, CHECKOUT_OFF, CHECKOUT_ON)
    elif change == "search-half":
        edit(repo, SEARCH, SEARCH_PROD, SEARCH_HALF)
    elif change == "search-off":
        edit(repo, SEARCH, SEARCH_PROD, SEARCH_OFF)
    else:
        raise AssertionError(change)
    repo.commit(change)


def plan(repo: GitRepo, *args: str, url: str | None = None) -> CliResult:
    env = {URL_ENV: url} if url is not None else {}
    result = repo.flaggate(
        "plan",
        "--base",
        "main",
        "--head",
        "change",
        "--format",
        "json",
        *BOTH_APPROVALS,
        *args,
        env=env,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_plan_online_fails_checkout_on_its_error_rate(
    repo: GitRepo, prometheus: PrometheusServer
) -> None:
    with_metric_gate(repo)
    on_branch(repo, "checkout-on")
    result = plan(repo, "--online", url=prometheus.url)
    assert result.code == 1, result.stderr
    data = result.json()
    assert data["decision"] == "failed"
    message = f"error-rate 0.023 > 0.01 (query {error_rate('checkout-redesign')})"
    assert data["gates"] == [
        {
            "name": "production: metric error-rate (checkout-redesign)",
            "kind": "metric",
            "environment": "production",
            "status": "failed",
            "message": message,
        }
    ]
    assert data["summary"] == f"gate production: metric error-rate (checkout-redesign): {message}"
    # the approvals themselves were enough
    assert [s["status"] for s in data["stages"]] == ["approved", "approved"]


def test_plan_online_passes_a_flag_under_the_threshold(
    repo: GitRepo, prometheus: PrometheusServer
) -> None:
    with_metric_gate(repo)
    on_branch(repo, "search-half")
    result = plan(repo, "--online", url=prometheus.url)
    assert result.code == 0, result.stdout + result.stderr
    data = result.json()
    assert data["decision"] == "approved"
    assert [(g["name"], g["status"], g["message"]) for g in data["gates"]] == [
        (
            "production: metric error-rate (search-ranking)",
            "passed",
            "error-rate 0.005 within ≤ 0.01",
        )
    ]


def test_plan_offline_leaves_the_metric_gate_pending(
    repo: GitRepo, prometheus: PrometheusServer
) -> None:
    with_metric_gate(repo)
    on_branch(repo, "checkout-on")
    result = plan(repo, url=prometheus.url)
    assert result.code == 1
    data = result.json()
    assert data["decision"] == "pending"
    assert [(g["kind"], g["status"], g["message"]) for g in data["gates"]] == [
        ("metric", "pending", "not queried offline (flaggate plan --online queries it)")
    ]


def test_plan_online_with_an_unreachable_server_fails_with_an_error(repo: GitRepo) -> None:
    with_metric_gate(repo)
    on_branch(repo, "search-half")
    with closed_port() as url:
        result = plan(repo, "--online", url=url)
    assert result.code == 1
    data = result.json()
    assert data["decision"] == "failed"
    [metric] = data["gates"]
    assert (metric["kind"], metric["status"]) == ("metric", "error")
    assert metric["message"].startswith(f"cannot reach {url}: ")
    assert data["summary"].startswith(
        "gate production: metric error-rate (search-ranking) could not be checked: "
    )


def test_plan_online_without_any_url_is_an_error(repo: GitRepo) -> None:
    with_metric_gate(repo)
    on_branch(repo, "search-half")
    result = plan(repo, "--online")
    assert result.code == 1
    [metric] = result.json()["gates"]
    assert (metric["status"], metric["message"]) == (
        "error",
        "no Prometheus URL: set settings gates.prometheus.url or FLAGGATE_PROMETHEUS_URL",
    )


def test_turning_a_flag_off_skips_the_metric_gate(repo: GitRepo) -> None:
    with_metric_gate(repo)
    on_branch(repo, "search-off")
    # an unreachable server would make any query an error: none is made
    with closed_port() as url:
        result = plan(repo, "--online", url=url)
    assert result.code == 0, result.stdout + result.stderr
    data = result.json()
    assert data["decision"] == "approved"
    assert [(c["flag"], c["environment"], c["type"]) for c in data["changes"]] == [
        ("search-ranking", "production", "toggled")
    ]
    assert data["gates"] == []


def test_plan_fills_from_with_the_promotion_environment(
    repo: GitRepo, prometheus: PrometheusServer
) -> None:
    with_metric_gate(
        repo, query=ERROR_RATE, extra="      promotion: {from: staging, minSoakHours: 0}\n"
    )
    on_branch(repo, "search-half")
    result = plan(repo, "--online", url=prometheus.url)
    assert result.code == 0, result.stdout + result.stderr
    assert [(g["kind"], g["status"], g["message"]) for g in result.json()["gates"]][1:] == [
        ("metric", "passed", "error-rate 0.005 within ≤ 0.01")
    ]


def test_plan_reads_the_url_from_the_settings(repo: GitRepo, prometheus: PrometheusServer) -> None:
    settings = repo.root / "policies/settings.yaml"
    settings.write_text(
        settings.read_text() + f"  gates:\n    prometheus: {{url: '{prometheus.url}'}}\n"
    )
    with_metric_gate(repo)
    on_branch(repo, "checkout-on")
    result = plan(repo, "--online")
    assert result.code == 1
    [metric] = result.json()["gates"]
    assert (metric["status"], metric["message"]) == (
        "failed",
        f"error-rate 0.023 > 0.01 (query {error_rate('checkout-redesign')})",
    )


# --- how an unreachable gate service is reported ---------------------------------------------


def test_an_unreachable_service_is_an_error_status_not_a_failure() -> None:
    down = GateResult("production: metric error-rate (f)", GateStatus.ERROR, "timed out")
    failed = GateResult("production: freeze 'x'", GateStatus.FAILED, "frozen")
    only_down = Evaluation(Decision.FAILED, "gate could not be checked", gates=(down,))
    assert status_state(only_down) == "error"
    assert "could not be asked" in next_action(only_down, {})
    both = Evaluation(Decision.FAILED, "gate failed", gates=(down, failed))
    assert status_state(both) == "failure"
    assert next_action(both, {}) == "the failed gates above must pass before this can merge."
