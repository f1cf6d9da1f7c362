"""The FastAPI application: existence checks, staff token resolution, operations endpoints."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import hmac
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError
from orjson import dumps as json_dumps

from analyzers.readings import ReadingDictionary, default_reading_dictionary
from mochinushi.settings import Settings
from search_api.cluster_json import OrjsonSerializer
from search_api.finder import (
    Finder,
    SearchUnavailable,
    ServedIndex,
    resolve_served_index,
)
from search_api.logs import configure_logging, keyed_hash, log_event, log_request_event
from search_api.metrics import (
    DEFAULT_ROUTES,
    METRICS_CONTENT_TYPE,
    BackendErrorKind,
    CheckOutcome,
    ServiceMetrics,
    TokenResolutionResult,
)
from search_api.models import (
    EXISTENCE_CHECK_RESPONSES,
    READINESS_RESPONSES,
    TOKEN_RESOLUTION_RESPONSES,
    ExistenceCheckIn,
    ExistenceCheckOut,
    ReadinessOut,
    TokenResolutionOut,
)
from search_api.observe import ObserveRequests
from search_api.ratelimit import SlidingWindowLimiter, parse_rate_limit
from search_api.scoring import Decision, MatchingConfig
from search_api.tokens import TokenExpired, TokenInvalid, TokenKeyRing, issue_token, open_token
from search_api.web_routes import WEB_ROUTES, add_web_routes

RETRY_AFTER_SECONDS = 5
RESPONSE_SIZE_CLASS = 2048
CHECK_DEADLINE_SECONDS = 4.0
STATS_TTL_SECONDS = 60.0


class ConfigurationError(RuntimeError):
    """The service is configured in a way it must not start with."""


@dataclass
class ServiceState:
    settings: Settings
    client: AsyncOpenSearch
    config: MatchingConfig
    readings: ReadingDictionary
    ring: TokenKeyRing
    metrics: ServiceMetrics
    limiter: SlidingWindowLimiter | None
    logger: logging.Logger
    hash_key: bytes
    clock: Callable[[], dt.datetime]
    _served: ServedIndex | None = None
    _served_at: float = 0.0
    _finder: Finder | None = None
    _served_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def _served_stale(self, max_age: float) -> bool:
        return self._served is None or time.monotonic() - self._served_at > max_age

    def forget_served_index(self) -> None:
        """The next check resolves the alias again (its index is gone, or was never found)."""
        self._served = None

    async def served_index(self, max_age: float = STATS_TTL_SECONDS) -> ServedIndex:
        """The indices the alias serves, resolved again when the last answer is older than
        ``max_age`` seconds (readiness probes ask for a fresher one)."""
        if self._served_stale(max_age):
            async with self._served_lock:
                # Checked again under the lock: the checks (or probes) that queued behind the
                # one reload must not each reload again (that stalled every check once a minute).
                if self._served_stale(max_age):
                    try:
                        self._served = await resolve_served_index(
                            self.client, self.settings.alias, self._served
                        )
                    except SearchUnavailable:
                        # An index this code cannot query is never searched, not even the one
                        # served before it: the alias says it is no longer the one to serve.
                        self._served = None
                        raise
                    except CLUSTER_DID_NOT_ANSWER as error:
                        # Keep searching the index already checked: it is still the one served
                        # as far as anyone can tell.
                        if self._served is None:
                            raise SearchUnavailable("unreachable", type(error).__name__) from error
                    except Exception as error:
                        # Anything else is no reason to trust the old answer.
                        self._served = None
                        raise SearchUnavailable("other", type(error).__name__) from error
                    self._served_at = time.monotonic()
        assert self._served is not None
        return self._served

    async def finder(self) -> Finder:
        served = await self.served_index()
        if self._finder is None or self._finder.stats is not served.stats:
            self._finder = Finder(
                alias=served.names,
                config=self.config,
                readings=self.readings,
                stats=served.stats,
                request_timeout=self.settings.opensearch_timeout_seconds,
            )
        return self._finder


READINESS_MAX_AGE_SECONDS = 1.0
"""A probe trusts an answer about the alias this recent: a flood of probes costs the cluster one
lookup a second and never queues the checks behind it."""

CLUSTER_DID_NOT_ANSWER = (
    OSConnectionError,
    ConnectionTimeout,
    TransportError,
    OSError,
    TimeoutError,
)
"""Errors after which the alias is taken to still serve what it served at the last answer."""

READINESS_REASONS = {
    "mapping_version": "index mapping version not supported",
    "bad_meta": "index statistics unreadable",
    "unreachable": "cluster unreachable",
}
"""What ``/readyz`` says for each kind of unservable index (anything else: alias missing)."""


def token_ring(settings: Settings) -> TokenKeyRing:
    if settings.token_secret:
        return TokenKeyRing(settings.token_secret)
    if not settings.dev_mode:
        raise ConfigurationError(
            "MOCHINUSHI_TOKEN_SECRET is required outside dev mode (MOCHINUSHI_DEV_MODE=false)"
        )
    return TokenKeyRing.generate_dev()


def opensearch_client(settings: Settings) -> AsyncOpenSearch:
    return AsyncOpenSearch(
        hosts=settings.opensearch_hosts(),
        http_auth=settings.opensearch_auth(),
        verify_certs=settings.opensearch_verify_certs,
        timeout=settings.opensearch_timeout_seconds,
        max_retries=0,
        # The default pool of 10 would queue checks behind each other at peak concurrency.
        maxsize=64,
        serializer=OrjsonSerializer(),
    )


async def _find_with_retry(state: ServiceState, request: ExistenceCheckIn) -> Decision:
    """One or two attempts inside a total deadline; transient failures only."""
    check = request.to_check()
    deadline = time.monotonic() + CHECK_DEADLINE_SECONDS
    last: SearchUnavailable | None = None
    for attempt in range(2):
        if time.monotonic() >= deadline:
            break
        try:
            # Resolving the alias is part of the check's time too.
            finder = await asyncio.wait_for(
                state.finder(), timeout=max(0.1, deadline - time.monotonic())
            )
            return await asyncio.wait_for(
                finder.find_async(state.client, check),
                timeout=max(0.1, deadline - time.monotonic()),
            )
        except TimeoutError:
            last = SearchUnavailable("timeout")
        except SearchUnavailable as error:
            last = error
            if error.kind == "no_index":
                # The index resolved earlier was deleted (an old version pruned after a
                # swap): resolve the alias again and retry once.
                state.forget_served_index()
            elif error.kind not in ("timeout", "unreachable", "shard_failure"):
                break
        if attempt == 0:
            await asyncio.sleep(0.05)
    raise last or SearchUnavailable("timeout")


@dataclass(frozen=True)
class ApiResult:
    """An endpoint's outcome, shared by the JSON API and the server-rendered web page."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    pad_to: int = 0
    """Pad the JSON with trailing spaces to a multiple of this many bytes (0: no padding)."""

    def response(self) -> Response:
        content = json_dumps(self.body)
        if self.pad_to:
            # Found (a long token) and not found would otherwise differ in size on the wire,
            # telling an eavesdropper the answer; JSON ignores trailing whitespace.
            content += b" " * (-len(content) % self.pad_to)
        return Response(
            content, status_code=self.status, headers=self.headers, media_type="application/json"
        )


UNAVAILABLE = ApiResult(
    503,
    {
        "error": "search_unavailable",
        "message": "The record search is temporarily unavailable. Please try again later; "
        "this is not a 'no record' answer.",
    },
    {"Retry-After": str(RETRY_AFTER_SECONDS)},
)


async def run_existence_check(
    state: ServiceState, body: ExistenceCheckIn, client_key: str, request_id: str
) -> ApiResult:
    """The existence check behind POST /v1/existence-checks (and the web form)."""
    if state.limiter is not None:
        decision = state.limiter.hit(keyed_hash(state.hash_key, client_key), time.monotonic())
        if not decision.allowed:
            state.metrics.count_check("rate_limited")
            return ApiResult(
                429,
                {"error": "rate_limited", "message": "Too many checks. Please try again later."},
                {"Retry-After": str(decision.retry_after_seconds)},
            )
    try:
        result = await _find_with_retry(state, body)
    except SearchUnavailable as error:
        state.metrics.count_check("unavailable")
        kind: BackendErrorKind = "other"
        if error.kind == "timeout":
            kind = "timeout"
        elif error.kind == "unreachable":
            kind = "unreachable"
        elif error.kind == "shard_failure":
            kind = "shard_failure"
        elif error.kind in ("mapping_version", "bad_meta"):
            kind = "unservable_index"
        state.metrics.count_backend_error(kind)
        log_request_event(
            state.logger,
            "check.unavailable",
            level=logging.WARNING,
            request_id=request_id,
            error_kind=error.kind,
        )
        return UNAVAILABLE
    token = None
    if result.found:
        token, _ = issue_token(
            state.ring,
            result.record_ids,
            body.as_submitted(),
            state.clock(),
            dt.timedelta(days=state.settings.token_ttl_days),
        )
    outcome: CheckOutcome = "found" if result.found else "not_found"
    state.metrics.count_check(outcome)
    log_request_event(
        state.logger,
        "check.completed",
        request_id=request_id,
        outcome=outcome,
        candidates=len(result.scores),
    )
    return ApiResult(
        200,
        {"found": result.found, "reference_token": token},
        pad_to=RESPONSE_SIZE_CLASS,
    )


def resolve_reference_token(
    state: ServiceState, token: str, authorization: str, request_id: str
) -> ApiResult:
    """Staff resolution of a token: 401 without a valid key, 404 unknown, 410 expired."""
    presented = (
        authorization.removeprefix("Bearer ").strip() if authorization.startswith("Bearer ") else ""
    )
    staff_key = next(
        (
            k
            for k in state.settings.staff_keys()
            if presented and hmac.compare_digest(k.encode(), presented.encode())
        ),
        None,
    )
    if staff_key is None:
        state.metrics.count_token_resolution("unauthorized")
        return ApiResult(
            401,
            {"error": "unauthorized", "message": "A valid staff key is required."},
            {"WWW-Authenticate": "Bearer"},
        )
    staff_key_id = keyed_hash(b"staff-key-id", staff_key)

    def audit(result: TokenResolutionResult, token_id: str | None) -> None:
        state.metrics.count_token_resolution(result)
        log_event(
            state.logger,
            "token.resolved",
            request_id=request_id,
            staff_key_id=staff_key_id,
            token_id=token_id,
            outcome=result,
        )

    try:
        payload = open_token(state.ring, token, state.clock())
    except TokenExpired as expired:
        audit("expired", expired.token_id)
        return ApiResult(410, {"error": "expired", "message": "This reference token has expired."})
    except TokenInvalid:
        audit("unknown", None)
        return ApiResult(404, {"error": "unknown_token", "message": "No such reference token."})
    audit("ok", payload.token_id)
    return ApiResult(
        200,
        {
            "record_ids": list(payload.record_ids),
            "issued_at": payload.issued_at.isoformat(),
            "expires_at": payload.expires_at.isoformat(),
            "check": payload.check,
        },
    )


def _client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


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
        await app.state.service.client.close()

    app = FastAPI(
        title="mochinushi",
        version="1",
        summary="Does an unmatched pension record exist for this person? Only yes/no and a token.",
        lifespan=lifespan,
    )
    app.state.service = ServiceState(
        settings=settings,
        client=client or opensearch_client(settings),
        config=MatchingConfig.load(),
        readings=readings or default_reading_dictionary(),
        ring=ring,
        metrics=ServiceMetrics(routes=(*DEFAULT_ROUTES, *WEB_ROUTES)),
        limiter=SlidingWindowLimiter(rate) if rate else None,
        logger=logger,
        hash_key=uuid.uuid4().bytes,
        clock=clock,
    )

    def service() -> ServiceState:
        state: ServiceState = app.state.service
        return state

    app.add_middleware(ObserveRequests, service=service)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
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
            service().metrics.count_check("invalid")
        return JSONResponse(
            {"error": "invalid_input", "message": "Some fields are invalid.", "fields": fields},
            status_code=422,
        )

    @app.post(
        "/v1/existence-checks",
        response_model=ExistenceCheckOut,
        responses=EXISTENCE_CHECK_RESPONSES,
    )
    async def existence_check(body: ExistenceCheckIn, request: Request) -> Response:
        """Whether a matching unmatched record exists, plus an opaque reference token."""
        result = await run_existence_check(
            service(), body, _client_key(request), request.state.request_id
        )
        return result.response()

    @app.get(
        "/v1/reference-tokens/{token}",
        response_model=TokenResolutionOut,
        responses=TOKEN_RESOLUTION_RESPONSES,
    )
    async def resolve_token(token: str, request: Request) -> Response:
        """For pension-office staff: the candidate records and the submitted check."""
        result = resolve_reference_token(
            service(), token, request.headers.get("authorization", ""), request.state.request_id
        )
        return result.response()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", response_model=ReadinessOut, responses=READINESS_RESPONSES)
    async def readyz() -> Response:
        state = service()
        try:
            exists = await state.client.indices.exists_alias(name=state.settings.alias)
        except Exception:
            return JSONResponse({"ready": False, "reason": "cluster unreachable"}, status_code=503)
        if not exists:
            return JSONResponse({"ready": False, "reason": "alias missing"}, status_code=503)
        try:
            await state.served_index(max_age=READINESS_MAX_AGE_SECONDS)
        except SearchUnavailable as error:
            reason = READINESS_REASONS.get(error.kind, "alias missing")
            return JSONResponse({"ready": False, "reason": reason}, status_code=503)
        except Exception:
            return JSONResponse({"ready": False, "reason": "cluster unreachable"}, status_code=503)
        try:
            # A closed or red index still has its alias; only a search proves it answers.
            await state.client.count(index=state.settings.alias)
        except Exception:
            return JSONResponse({"ready": False, "reason": "index not searchable"}, status_code=503)
        return JSONResponse({"ready": True})

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        return Response(service().metrics.render(), media_type=METRICS_CONTENT_TYPE)

    add_web_routes(
        app,
        service=service,
        run_check=run_existence_check,
        resolve=resolve_reference_token,
        client_key=_client_key,
    )

    return app
