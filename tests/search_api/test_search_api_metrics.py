"""Service metrics: own registry, fixed label sets, valid Prometheus text output."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from search_api.metrics import (
    BACKEND_ERROR_KINDS,
    CHECK_OUTCOMES,
    DEFAULT_ROUTES,
    METRICS_CONTENT_TYPE,
    REQUEST_SECONDS_BUCKETS,
    TOKEN_RESOLUTION_RESULTS,
    UNMATCHED_ROUTE,
    ServiceMetrics,
)

PERSONAL_VALUES = ["ヤマダ キョウコ", "1938-05-03", "山田商店", "found ", "FOUND", "", "R0000123"]


def samples(metrics: ServiceMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Parse the rendered text back, proving it is valid exposition format."""
    parsed: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(metrics.render().decode("utf-8")):
        for sample in family.samples:
            parsed[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return parsed


def value(metrics: ServiceMetrics, name: str, **labels: str) -> float:
    return samples(metrics)[(name, frozenset(labels.items()))]


@pytest.mark.parametrize(
    ("family", "label", "enumeration", "expected"),
    [
        (
            "mochinushi_checks_total",
            "outcome",
            CHECK_OUTCOMES,
            {"found", "not_found", "unavailable", "invalid", "rate_limited"},
        ),
        (
            "mochinushi_backend_errors_total",
            "kind",
            BACKEND_ERROR_KINDS,
            {"timeout", "unreachable", "shard_failure", "unservable_index", "other"},
        ),
        (
            "mochinushi_token_resolutions_total",
            "result",
            TOKEN_RESOLUTION_RESULTS,
            {"ok", "unknown", "mistyped", "expired", "unauthorized", "rate_limited"},
        ),
    ],
)
def test_each_enumeration_is_exactly_the_series_exposed_at_zero(
    family: str, label: str, enumeration: tuple[str, ...], expected: set[str]
) -> None:
    """The documented label values, each once; and a fresh registry exposes exactly one series
    per value, at zero, before the first event (dashboards and ``rate()`` see them all)."""
    assert sorted(enumeration) == sorted(expected), "each value once, and no other"
    exposed = {
        dict(labels)[label]: sample_value
        for (name, labels), sample_value in samples(ServiceMetrics()).items()
        if name == family
    }
    assert exposed == dict.fromkeys(expected, 0.0)


def test_uses_its_own_registry_not_the_global_one() -> None:
    first = ServiceMetrics()
    second = ServiceMetrics()  # would raise "Duplicated timeseries" on a shared registry
    assert first.registry is not second.registry
    assert first.registry is not REGISTRY
    first.count_check("found")
    assert value(first, "mochinushi_checks_total", outcome="found") == 1
    assert value(second, "mochinushi_checks_total", outcome="found") == 0
    assert b"mochinushi_checks_total" not in _global_text()


def _global_text() -> bytes:
    from prometheus_client import generate_latest

    return generate_latest(REGISTRY)


def test_request_counter_and_histogram() -> None:
    metrics = ServiceMetrics()
    metrics.observe_request("/v1/existence-checks", 200, 0.042)
    metrics.observe_request("/v1/existence-checks", 200, 0.3)
    metrics.observe_request("/v1/existence-checks", 503, 2.0)
    route = "/v1/existence-checks"
    assert value(metrics, "mochinushi_requests_total", route=route, status="200") == 2
    assert value(metrics, "mochinushi_requests_total", route=route, status="503") == 1
    assert value(metrics, "mochinushi_request_seconds_count", route=route) == 3
    assert value(metrics, "mochinushi_request_seconds_sum", route=route) == pytest.approx(2.342)
    assert value(metrics, "mochinushi_request_seconds_bucket", route=route, le="0.05") == 1
    assert value(metrics, "mochinushi_request_seconds_bucket", route=route, le="0.5") == 2
    assert value(metrics, "mochinushi_request_seconds_bucket", route=route, le="+Inf") == 3


def test_buckets_cover_5_to_500_ms_densely() -> None:
    assert tuple(sorted(REQUEST_SECONDS_BUCKETS)) == REQUEST_SECONDS_BUCKETS
    assert REQUEST_SECONDS_BUCKETS[0] == 0.005
    assert 0.5 in REQUEST_SECONDS_BUCKETS
    assert sum(1 for b in REQUEST_SECONDS_BUCKETS if 0.005 <= b <= 0.5) >= 8


def test_enumerated_series_exist_at_zero_before_any_event() -> None:
    metrics = ServiceMetrics()
    for outcome in CHECK_OUTCOMES:
        assert value(metrics, "mochinushi_checks_total", outcome=outcome) == 0
    for kind in BACKEND_ERROR_KINDS:
        assert value(metrics, "mochinushi_backend_errors_total", kind=kind) == 0
    for result in TOKEN_RESOLUTION_RESULTS:
        assert value(metrics, "mochinushi_token_resolutions_total", result=result) == 0


def test_each_counter_counts() -> None:
    metrics = ServiceMetrics()
    metrics.count_check("not_found")
    metrics.count_check("not_found")
    metrics.count_check("rate_limited")
    metrics.count_backend_error("shard_failure")
    metrics.count_token_resolution("expired")
    assert value(metrics, "mochinushi_checks_total", outcome="not_found") == 2
    assert value(metrics, "mochinushi_checks_total", outcome="rate_limited") == 1
    assert value(metrics, "mochinushi_backend_errors_total", kind="shard_failure") == 1
    assert value(metrics, "mochinushi_token_resolutions_total", result="expired") == 1


@pytest.mark.parametrize("bad", PERSONAL_VALUES)
def test_check_outcome_outside_the_set_is_rejected_without_echo(bad: str) -> None:
    metrics = ServiceMetrics()
    with pytest.raises(ValueError) as excinfo:
        metrics.count_check(bad)  # type: ignore[arg-type]
    if bad.strip():
        assert bad not in str(excinfo.value)


@pytest.mark.parametrize("bad", PERSONAL_VALUES)
def test_backend_error_kind_outside_the_set_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="kind label"):
        ServiceMetrics().count_backend_error(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", PERSONAL_VALUES)
def test_token_result_outside_the_set_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="result label"):
        ServiceMetrics().count_token_resolution(bad)  # type: ignore[arg-type]


def test_non_string_label_values_are_rejected() -> None:
    metrics = ServiceMetrics()
    with pytest.raises(ValueError):
        metrics.count_check(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        metrics.count_backend_error(1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "route",
    [
        "/v1/reference-tokens/AQJrMun-KZLKl-phtcYyrBPDKB2XEx5p",  # concrete path with a token
        "/v1/existence-checks?surname=ヤマダ",
        "/wp-admin",
        "",
    ],
)
def test_unknown_routes_are_rejected(route: str) -> None:
    metrics = ServiceMetrics()
    with pytest.raises(ValueError, match="route label") as excinfo:
        metrics.observe_request(route, 200, 0.01)
    if route:
        assert route not in str(excinfo.value)
    assert b"AQJrMun" not in metrics.render()


def test_all_default_routes_and_unmatched_are_accepted() -> None:
    metrics = ServiceMetrics()
    for route in DEFAULT_ROUTES:
        metrics.observe_request(route, 200, 0.001)
    metrics.observe_request(UNMATCHED_ROUTE, 404, 0.001)
    assert value(metrics, "mochinushi_requests_total", route="unmatched", status="404") == 1
    assert "/v1/reference-tokens/{token}" in metrics.routes


def test_custom_routes_always_include_unmatched() -> None:
    metrics = ServiceMetrics(routes=["/only"])
    assert metrics.routes == {"/only", UNMATCHED_ROUTE}
    metrics.observe_request("/only", 200, 0.01)
    with pytest.raises(ValueError):
        metrics.observe_request("/healthz", 200, 0.01)


@pytest.mark.parametrize("status", [99, 600, -1, 0])
def test_status_must_be_an_http_code(status: int) -> None:
    with pytest.raises(ValueError, match="status"):
        ServiceMetrics().observe_request("/healthz", status, 0.01)


@pytest.mark.parametrize("status", ["200", True, 200.0])
def test_status_must_be_an_int(status: object) -> None:
    with pytest.raises(ValueError, match="status"):
        ServiceMetrics().observe_request("/healthz", status, 0.01)  # type: ignore[arg-type]


def test_negative_duration_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        ServiceMetrics().observe_request("/healthz", 200, -0.1)


def test_rejected_calls_create_no_series() -> None:
    metrics = ServiceMetrics()
    before = metrics.render()
    for bad in PERSONAL_VALUES:
        with pytest.raises(ValueError):
            metrics.observe_request(bad, 200, 0.1)
        with pytest.raises(ValueError):
            metrics.count_check(bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            metrics.count_backend_error(bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            metrics.count_token_resolution(bad)  # type: ignore[arg-type]
    assert metrics.render() == before


def test_namespace_is_configurable() -> None:
    metrics = ServiceMetrics(namespace="other")
    metrics.count_check("found")
    assert value(metrics, "other_checks_total", outcome="found") == 1


def test_render_is_prometheus_text() -> None:
    metrics = ServiceMetrics()
    metrics.observe_request("/healthz", 200, 0.002)
    text = metrics.render()
    assert isinstance(text, bytes)
    assert b"# TYPE mochinushi_requests_total counter" in text
    assert b"# TYPE mochinushi_request_seconds histogram" in text
    assert METRICS_CONTENT_TYPE.startswith("text/plain")
