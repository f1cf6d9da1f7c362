"""The FastAPI application: the service, its routers, the middleware and the error shape.

Also what operations and front-end developers see of it: the API documentation (``/docs`` and
``/redoc``, served from ``search_api/static_docs`` and only in dev mode), the served index's
gauges refreshed at each scrape, OpenTelemetry spans (off unless ``MOCHINUSHI_TRACING`` says
otherwise) and the CORS allowlist.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from opensearchpy import AsyncOpenSearch
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.util.types import Attributes
from starlette.types import ASGIApp, Receive, Scope, Send

from analyzers.readings import ReadingDictionary, default_reading_dictionary
from matching.config import MatchingConfig
from matching.index_meta import BUILT_AT_KEY
from mochinushi.clients import api_client
from mochinushi.settings import Settings
from search_api.logs import configure_logging
from search_api.metrics import DEFAULT_ROUTES, ServiceMetrics
from search_api.observe import ObserveRequests
from search_api.routers import checks, counter, operations, reports, tokens, web
from search_api.service import (
    CHECK_DEADLINE_SECONDS,
    READINESS_MAX_AGE_SECONDS,
    STATS_TTL_SECONDS,
    ConfigurationError,
    Service,
    service_parts,
    token_ring,
)

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = [
    "CHECK_DEADLINE_SECONDS",
    "READINESS_MAX_AGE_SECONDS",
    "STATS_TTL_SECONDS",
    "ConfigurationError",
    "create_app",
    "refresh_served_index_gauges",
]

STATIC_DOCS: Final = Path(__file__).with_name("static_docs")
"""Swagger UI and ReDoc, copied from their npm packages (``static_docs/README.md``)."""
DOCS_ASSETS: Final = "/docs-assets"
DOCS_CSP: Final = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The documentation pages may load nothing from another host (ReDoc's sidebar would fetch its
maker's logo from a CDN otherwise)."""

SCRAPE_BUDGET_SECONDS: Final = 5.0
"""A scrape of /metrics waits at most this long for the cluster before it answers with what it
knew last (Prometheus gives up on a scrape after 10 s by default)."""


async def _invalid_input(request: Request, error: Exception) -> Response:
    """422 naming each offending field, never echoing what was submitted."""
    assert isinstance(error, RequestValidationError)
    fields = []
    for item in error.errors():
        loc = [str(p) for p in item.get("loc", ()) if p != "body"]
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        fields.append(
            {
                "field": ".".join(loc) or "body",
                "message": message,
                "type": item.get("type", "invalid"),
            }
        )
    if request.url.path == "/v1/existence-checks":
        service: Service = request.app.state.service
        service.count_invalid(request.headers.get("authorization"))
    return JSONResponse(
        {"error": "invalid_input", "message": "Some fields are invalid.", "fields": fields},
        status_code=422,
    )


def create_app(
    settings: Settings | None = None,
    *,
    client: AsyncOpenSearch | None = None,
    readings: ReadingDictionary | None = None,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    log_stream: Any = None,
    freeze_startup_objects: bool = False,
    span_exporter: SpanExporter | None = None,
) -> FastAPI:
    """The application; ``freeze_startup_objects`` is for a serving process (``serve``);
    ``span_exporter`` is where spans go when ``settings.tracing`` is on (default: stdout)."""
    settings = settings or Settings()
    telemetry, tracer_provider = _telemetry(settings, span_exporter)
    ring = token_ring(settings)
    logger = configure_logging(stream=log_stream)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if freeze_startup_objects:
            # The ~90,000 objects of the imported libraries never become garbage, yet every
            # full collection walked them: 30-80 ms of CPU each, about once a second under
            # load, straight into p99. Frozen, a full collection walks only what came later;
            # and a check's garbage is freed by reference counting, so the young generation
            # is collected every 20,000 allocations instead of every 700
            # (bench/api_latency.py: p99 85-127 → 56-91 ms on a busy box).
            gc.collect()
            gc.freeze()
            gc.set_threshold(20_000, 50, 100)
        yield
        await app.state.service.close()
        if tracer_provider is not None:
            tracer_provider.shutdown()

    app = FastAPI(
        title="mochinushi",
        version="1",
        summary="Does an unmatched pension record exist for this person? Only yes/no and a token.",
        lifespan=lifespan,
        telemetry=telemetry,
        # Served below from local copies, and only in dev mode: FastAPI's own pages would load
        # Swagger UI and ReDoc from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    client = client or api_client(settings)
    service = Service(
        settings=settings,
        client=client,
        config=MatchingConfig.load(),
        readings=readings or default_reading_dictionary(),
        ring=ring,
        metrics=ServiceMetrics(
            routes=(*DEFAULT_ROUTES, *web.WEB_ROUTES, *reports.ROUTES, *counter.ROUTES)
        ),
        logger=logger,
        hash_key=uuid.uuid4().bytes,
        clock=clock,
        **service_parts(settings, client),
    )
    app.state.service = service
    # Inside the request observer (added last, so outermost): CORS preflights and scrapes are
    # counted and logged like any request.
    app.add_middleware(ServedIndexGauges, service=lambda: app.state.service)
    if settings.cors_origin_list():
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origin_list()),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
            expose_headers=["X-Request-Id", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(ObserveRequests, service=lambda: app.state.service)
    app.add_exception_handler(RequestValidationError, _invalid_input)
    routers = (checks, tokens, operations, web, reports, counter)
    for router in (module.router for module in routers):
        app.include_router(router)
    if settings.dev_mode:
        _add_api_docs(app)
    return app


# -- API documentation ---------------------------------------------------------------------------


def _add_api_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), every file from this host."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=STATIC_DOCS), name="docs-assets")
    headers = {"Content-Security-Policy": DOCS_CSP}

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        assets = root(request) + DOCS_ASSETS
        page = get_swagger_ui_html(
            openapi_url=root(request) + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
            # Swagger UI would send the whole document to an online validator otherwise.
            swagger_ui_parameters={"validatorUrl": None},
        )
        page.headers.update(headers)
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        assets = root(request) + DOCS_ASSETS
        page = get_redoc_html(
            openapi_url=root(request) + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{assets}/favicon-32x32.png",
            with_google_fonts=False,
        )
        page.headers.update(headers)
        return page


# -- the served index's gauges -------------------------------------------------------------------


class ServedIndexGauges:
    """Before a scrape of ``/metrics`` is answered: refresh the served index's gauges (pure ASGI;
    every other request passes straight through)."""

    def __init__(self, app: ASGIApp, service: Callable[[], Service]) -> None:
        self.app = app
        self.service = service
        self.built_at: dict[str, float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/metrics":
            await refresh_served_index_gauges(self.service(), self.built_at)
        await self.app(scope, receive, send)


async def refresh_served_index_gauges(service: Service, built_at: dict[str, float]) -> None:
    """``mochinushi_ready`` as ``/readyz`` says it, and the build time and record count of the
    index served; what the cluster does not answer keeps its last value. ``built_at`` caches
    each index's build time (it never changes)."""
    state = service.metrics.served_index
    try:
        reason = await asyncio.wait_for(service.readiness(), SCRAPE_BUDGET_SECONDS)
    except TimeoutError:
        reason = "timeout"
    state.ready = reason is None
    if reason is not None:
        return
    try:
        served = await service.served_index()
        newest = served.names.split(",")[-1]
        if newest not in built_at:
            built_at.clear()
            built_at[newest] = await asyncio.wait_for(
                _index_built_at(service.client, newest), SCRAPE_BUDGET_SECONDS
            )
        response = await asyncio.wait_for(
            service.client.count(index=served.names), SCRAPE_BUDGET_SECONDS
        )
    except Exception:
        return
    state.built_at = built_at[newest]
    state.records = int(response["count"])


async def _index_built_at(client: AsyncOpenSearch, index: str) -> float:
    """When the build of ``index`` finished (its ``_meta``); for an index built before builds
    recorded that, when it was created."""
    mapping = await client.indices.get_mapping(
        index=index, params={"filter_path": f"*.mappings._meta.{BUILT_AT_KEY}"}
    )
    for body in mapping.values():
        value = body["mappings"]["_meta"][BUILT_AT_KEY]
        return dt.datetime.fromisoformat(value).timestamp()
    settings = await client.indices.get_settings(index=index, name="index.creation_date")
    return int(settings[index]["settings"]["index"]["creation_date"]) / 1000


# -- OpenTelemetry -------------------------------------------------------------------------------

_TELEMETRY_OFF: Final[TelemetryConfig] = {
    "tracing": False,
    "metrics": False,  # Prometheus (/metrics) is the API's metrics
    "logs": False,  # exception messages could carry what a person typed
    "operation_spans": False,
    "auto_configure": False,
}

_URL_ATTRIBUTES: Final = frozenset({"url.path", "url.query", "url.full", "http.target", "http.url"})
"""Span attributes that would carry the concrete URL: for the staff endpoint, the token."""


def _telemetry(
    settings: Settings, span_exporter: SpanExporter | None
) -> tuple[TelemetryConfig, Any]:
    """FastAPI's own OpenTelemetry, set explicitly: FastAPI would otherwise trace every request
    into whatever tracer provider the process has, with the concrete path as ``url.path``."""
    if settings.tracing == "off":
        return _TELEMETRY_OFF, None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "mochinushi-api"}))
    provider.add_span_processor(
        SimpleSpanProcessor(span_exporter or ConsoleSpanExporter(out=sys.stdout))
    )
    config: TelemetryConfig = {
        **_TELEMETRY_OFF,
        "tracing": True,
        "operation_spans": True,
        "tracer_provider": RouteOnlyTracerProvider(provider),
    }
    return config, provider


def _route_only(attributes: Attributes) -> Attributes:
    if not attributes:
        return attributes
    return {k: v for k, v in attributes.items() if k not in _URL_ATTRIBUTES}


class RouteOnlyTracer(trace.Tracer):
    """Starts spans without the concrete URL; FastAPI then names them by route template
    (``GET /v1/reference-tokens/{token}``, attribute ``http.route``). Exceptions are never
    recorded as span events: their messages may repeat what was submitted."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def start_span(
        self,
        name: str,
        context: otel_context.Context | None = None,
        kind: trace.SpanKind = trace.SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[trace.Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        return self._tracer.start_span(
            name,
            context,
            kind,
            _route_only(attributes),
            links,
            start_time,
            False,
            set_status_on_exception,
        )

    def start_as_current_span(
        self,
        name: str,
        context: otel_context.Context | None = None,
        kind: trace.SpanKind = trace.SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[trace.Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Any:  # the wrapped tracer's context manager (its type is private to opentelemetry)
        return self._tracer.start_as_current_span(
            name,
            context,
            kind,
            _route_only(attributes),
            links,
            start_time,
            False,
            set_status_on_exception,
            end_on_exit,
        )


class RouteOnlyTracerProvider(trace.TracerProvider):
    """A tracer provider whose tracers are ``RouteOnlyTracer``s."""

    def __init__(self, provider: trace.TracerProvider) -> None:
        self._provider = provider

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> trace.Tracer:
        return RouteOnlyTracer(
            self._provider.get_tracer(
                instrumenting_module_name, instrumenting_library_version, schema_url, attributes
            )
        )
