"""The FastAPI application: the service, its routers, the middleware and the error shape."""

from __future__ import annotations

import datetime as dt
import gc
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opensearchpy import AsyncOpenSearch

from analyzers.readings import ReadingDictionary, default_reading_dictionary
from matching.config import MatchingConfig
from mochinushi.clients import api_client
from mochinushi.settings import Settings
from search_api.logs import configure_logging
from search_api.metrics import DEFAULT_ROUTES, ServiceMetrics
from search_api.observe import ObserveRequests
from search_api.ratelimit import SlidingWindowLimiter, parse_rate_limit
from search_api.routers import checks, operations, tokens, web
from search_api.service import (
    CHECK_DEADLINE_SECONDS,
    READINESS_MAX_AGE_SECONDS,
    STATS_TTL_SECONDS,
    ConfigurationError,
    Service,
    service_parts,
    token_ring,
)

__all__ = [
    "CHECK_DEADLINE_SECONDS",
    "READINESS_MAX_AGE_SECONDS",
    "STATS_TTL_SECONDS",
    "ConfigurationError",
    "create_app",
]


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
        service.metrics.count_check("invalid")
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
) -> FastAPI:
    """The application; ``freeze_startup_objects`` is for a serving process (``serve``)."""
    settings = settings or Settings()
    ring = token_ring(settings)
    rate = parse_rate_limit(settings.rate_limit)
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

    app = FastAPI(
        title="mochinushi",
        version="1",
        summary="Does an unmatched pension record exist for this person? Only yes/no and a token.",
        lifespan=lifespan,
    )
    client = client or api_client(settings)
    service = Service(
        settings=settings,
        client=client,
        config=MatchingConfig.load(),
        readings=readings or default_reading_dictionary(),
        ring=ring,
        metrics=ServiceMetrics(routes=(*DEFAULT_ROUTES, *web.WEB_ROUTES)),
        limiter=SlidingWindowLimiter(rate) if rate else None,
        logger=logger,
        hash_key=uuid.uuid4().bytes,
        clock=clock,
        **service_parts(settings, client),
    )
    app.state.service = service
    app.add_middleware(ObserveRequests, service=lambda: app.state.service)
    app.add_exception_handler(RequestValidationError, _invalid_input)
    for router in (checks.router, tokens.router, operations.router, web.router):
        app.include_router(router)
    return app
