"""Every HTTP request's id, body-size gate, metrics and log line, as one pure ASGI middleware.

Why not ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware`` runs the rest of the app
in a task group and relays the request and response through memory streams, which cost a
measurable share of the API's CPU per check. This class only wraps ``send``.

Why a caller's request id must be a plain token: it is written to the logs, so anything else
(free text that might be a name) is replaced with a fresh random id.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Final, Protocol

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from search_api.logs import RequestLog, request_log
from search_api.metrics import UNMATCHED_ROUTE, ServiceMetrics

__all__ = ["MAX_BODY_BYTES", "REQUEST_ID", "REQUEST_ID_HEADER", "ObserveRequests", "Observed"]

MAX_BODY_BYTES: Final = 16 * 1024
REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
REQUEST_ID_HEADER: Final = b"x-request-id"


class Observed(Protocol):
    """What the middleware needs of the service state (``search_api.service.Service``)."""

    @property
    def metrics(self) -> ServiceMetrics: ...

    @property
    def logger(self) -> logging.Logger: ...


class ObserveRequests:
    """Gives each request an id (``scope["state"]["request_id"]``, so ``request.state`` has it,
    and the ``x-request-id`` response header), refuses bodies over ``MAX_BODY_BYTES`` with 413
    (declared or chunked), and counts and logs the request under its route template."""

    def __init__(self, app: ASGIApp, service: Callable[[], Observed]) -> None:
        self.app = app
        # Looked up per request, as the routes look it up, so both always see the same state.
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.service()
        offered, length = _request_headers(scope)
        request_id = offered if REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        id_header = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                kept = [h for h in message.get("headers", ()) if h[0].lower() != REQUEST_ID_HEADER]
                message = {**message, "headers": [*kept, id_header]}
            await send(message)

        started = time.perf_counter()
        with request_log() as line:
            try:
                too_large = bool(length and (not length.isdigit() or int(length) > MAX_BODY_BYTES))
                if length is None:
                    # A chunked body declares no length: count it as it arrives instead.
                    receive, too_large = await _read_capped_body(receive)
                if too_large:
                    refusal = JSONResponse(
                        {"error": "body_too_large", "message": "The request body is too large."},
                        status_code=413,
                    )
                    await refusal(scope, receive, send_with_id)
                else:
                    await self.app(scope, receive, send_with_id)
            except Exception:
                # Counted as the 500 that the server error handler outside will answer.
                _observe(state, scope, line, request_id, status or 500, started)
                raise
            _observe(state, scope, line, request_id, status or 500, started)


async def _read_capped_body(receive: Receive) -> tuple[Receive, bool]:
    """Read a body of undeclared length up to ``MAX_BODY_BYTES``.

    Returns a ``receive`` that hands the app the messages read, then the rest of the
    connection's messages, and whether the body was over the limit (then it is left unread).
    """
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break  # the client went away: the app sees that as it would have
        size += len(message.get("body", b""))
        if size > MAX_BODY_BYTES:
            return receive, True
        if not message.get("more_body", False):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay, False


def _observe(
    state: Observed, scope: Scope, line: RequestLog, request_id: str, status: int, started: float
) -> None:
    seconds = time.perf_counter() - started
    # The template, never the concrete path: for the staff endpoint that holds the token.
    route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
    if route not in state.metrics.routes:
        route = UNMATCHED_ROUTE
    state.metrics.observe_request(route, status, seconds)
    line.write(
        state.logger,
        request_id=request_id,
        route=route,
        status=status,
        duration_ms=round(seconds * 1000, 2),
    )


def _request_headers(scope: Scope) -> tuple[str, bytes | None]:
    """The first ``x-request-id`` (latin-1, as Starlette decodes it) and ``content-length``."""
    offered: str | None = None
    length: bytes | None = None
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER and offered is None:
            offered = value.decode("latin-1")
        elif name == b"content-length" and length is None:
            length = value
    return offered or "", length
