"""Prometheus metrics of the API, in a registry owned by one ``ServiceMetrics`` object.

Why an owned registry rather than prometheus_client's default global one: tests and several app
instances in one process (e.g. the test suite creating many apps) then never collide with
"Duplicated timeseries" errors, and nothing leaks between them.

Why every label value is checked against a fixed set: a label value becomes a time series
that is scraped, stored and shown on dashboards for months. If any code path ever passed a
name, a birth date, a raw URL path (which for staff calls contains a token) or an exception
message as a label, personal data would leak into monitoring — and unbounded label values would
also blow up the time-series database. So only enumerated values are accepted, anything else
raises ``ValueError`` (whose message does not repeat the rejected value, as it might be exactly
such data). Enumerated series are created at zero up front so dashboards and ``rate()`` see
them before the first event.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final, Literal, get_args

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

__all__ = [
    "BACKEND_ERROR_KINDS",
    "CHECK_OUTCOMES",
    "DEFAULT_ROUTES",
    "METRICS_CONTENT_TYPE",
    "REQUEST_SECONDS_BUCKETS",
    "TOKEN_RESOLUTION_RESULTS",
    "UNMATCHED_ROUTE",
    "BackendErrorKind",
    "CheckOutcome",
    "ServedIndexState",
    "ServiceMetrics",
    "TokenResolutionResult",
]

CHANNELS: Final[tuple[str, ...]] = ("web", "municipal", "welfare", "pension_office")
"""The channel label's values (``search_api.partners.CHANNELS``): the kinds, never an office."""

CheckOutcome = Literal["found", "not_found", "unavailable", "invalid", "rate_limited"]
BackendErrorKind = Literal["timeout", "unreachable", "shard_failure", "unservable_index", "other"]
TokenResolutionResult = Literal[
    "ok", "unknown", "mistyped", "expired", "unauthorized", "rate_limited"
]

CHECK_OUTCOMES: Final[tuple[str, ...]] = get_args(CheckOutcome)
BACKEND_ERROR_KINDS: Final[tuple[str, ...]] = get_args(BackendErrorKind)
TOKEN_RESOLUTION_RESULTS: Final[tuple[str, ...]] = get_args(TokenResolutionResult)

UNMATCHED_ROUTE: Final = "unmatched"
"""Route label for requests that matched no route (scanners, typos): one series, not one per
path."""

DEFAULT_ROUTES: Final[tuple[str, ...]] = (
    "/v1/existence-checks",
    "/v1/reference-tokens/{token}",
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/",
    UNMATCHED_ROUTE,
)
"""Route *templates*. Never the concrete path: for the staff endpoint that would be the token."""

REQUEST_SECONDS_BUCKETS: Final[tuple[float, ...]] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
)
"""Dense from 5 ms to 500 ms, where the existence checks are expected to land, with a few wider
buckets above so timeouts and slow cluster answers stay visible instead of piling into +Inf."""

METRICS_CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
"""Content type to serve ``render()`` with."""


@dataclass
class ServedIndexState:
    """What the monitoring is told about the index being served, refreshed at each scrape.

    ``None`` means unknown (the cluster has not answered yet): the series is then left out of
    the scrape rather than exported as 0, which an alert would read as an index built in 1970.
    """

    ready: bool | None = None
    built_at: float | None = None
    """Unix time the served index was built (the newest one, when the alias serves several)."""
    records: int | None = None


class _ServedIndexCollector(Collector):
    def __init__(self, namespace: str, state: ServedIndexState) -> None:
        self.namespace = namespace
        self.state = state

    def collect(self) -> Iterator[Metric]:
        n = self.namespace
        if self.state.ready is not None:
            yield GaugeMetricFamily(
                f"{n}_ready",
                "1 when checks can be answered now (what /readyz says), else 0.",
                value=1.0 if self.state.ready else 0.0,
            )
        if self.state.built_at is not None:
            yield GaugeMetricFamily(
                f"{n}_served_index_build_timestamp_seconds",
                "Unix time the index behind the alias was built.",
                value=self.state.built_at,
            )
        if self.state.records is not None:
            yield GaugeMetricFamily(
                f"{n}_served_index_records",
                "Records in the index behind the alias.",
                value=float(self.state.records),
            )


class ServiceMetrics:
    """The service's counters and histograms, registered in a registry this object owns."""

    def __init__(
        self, namespace: str = "mochinushi", routes: Iterable[str] = DEFAULT_ROUTES
    ) -> None:
        self._routes = frozenset(routes)
        if UNMATCHED_ROUTE not in self._routes:
            self._routes |= {UNMATCHED_ROUTE}
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "requests",
            "HTTP requests handled, by route template and status code.",
            labelnames=("route", "status"),
            namespace=namespace,
            registry=self.registry,
        )
        self._request_seconds = Histogram(
            "request_seconds",
            "Time to handle an HTTP request, by route template.",
            labelnames=("route",),
            namespace=namespace,
            buckets=REQUEST_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self._checks = Counter(
            "checks",
            "Existence checks, by outcome.",
            labelnames=("outcome",),
            namespace=namespace,
            registry=self.registry,
        )
        self._backend_errors = Counter(
            "backend_errors",
            "Failed or partial searches against the cluster, by kind.",
            labelnames=("kind",),
            namespace=namespace,
            registry=self.registry,
        )
        self._token_resolutions = Counter(
            "token_resolutions",
            "Reference-token resolutions by staff, by result.",
            labelnames=("result",),
            namespace=namespace,
            registry=self.registry,
        )
        self._channel_checks = Counter(
            "channel_checks",
            "Existence checks, by channel (web or a partner office's kind; never an office) and "
            "outcome.",
            labelnames=("channel", "outcome"),
            namespace=namespace,
            registry=self.registry,
        )
        for outcome in CHECK_OUTCOMES:
            self._checks.labels(outcome=outcome)
            for channel in CHANNELS:
                self._channel_checks.labels(channel=channel, outcome=outcome)
        for kind in BACKEND_ERROR_KINDS:
            self._backend_errors.labels(kind=kind)
        for result in TOKEN_RESOLUTION_RESULTS:
            self._token_resolutions.labels(result=result)
        self.served_index = ServedIndexState()
        self.registry.register(_ServedIndexCollector(namespace, self.served_index))

    @property
    def routes(self) -> frozenset[str]:
        return self._routes

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        """Count one HTTP request and record its duration.

        ``route`` must be one of the configured templates (use ``UNMATCHED_ROUTE`` for paths
        that matched none); ``status`` an HTTP status code.
        """
        if route not in self._routes:
            raise ValueError("route label must be a configured route template")
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError("status label must be an HTTP status code (100-599)")
        if seconds < 0:
            raise ValueError("request duration must not be negative")
        self._requests.labels(route=route, status=str(status)).inc()
        self._request_seconds.labels(route=route).observe(seconds)

    def count_check(self, outcome: CheckOutcome) -> None:
        _require_member(outcome, CHECK_OUTCOMES, "outcome")
        self._checks.labels(outcome=outcome).inc()

    def count_channel_check(self, channel: str, outcome: CheckOutcome) -> None:
        _require_member(channel, CHANNELS, "channel")
        _require_member(outcome, CHECK_OUTCOMES, "outcome")
        self._channel_checks.labels(channel=channel, outcome=outcome).inc()

    def count_backend_error(self, kind: BackendErrorKind) -> None:
        _require_member(kind, BACKEND_ERROR_KINDS, "kind")
        self._backend_errors.labels(kind=kind).inc()

    def count_token_resolution(self, result: TokenResolutionResult) -> None:
        _require_member(result, TOKEN_RESOLUTION_RESULTS, "result")
        self._token_resolutions.labels(result=result).inc()

    def render(self) -> bytes:
        """All metrics in the Prometheus text exposition format."""
        return generate_latest(self.registry)


def _require_member(value: object, allowed: tuple[str, ...], label: str) -> None:
    # The rejected value is not echoed: it may be precisely the personal data being kept out.
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{label} label must be one of: {', '.join(allowed)}")
