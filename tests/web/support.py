"""Test doubles for the web pages: a service that answers as the JSON endpoints do.

The fakes answer exactly as the JSON endpoints do (status, body, headers) and issue and open
*real* reference numbers (real sealed tokens, real numbers with their check character), so a
number printed by the page really resolves on the staff page. The search and the reference
index are faked: a check is "found" when its surname (or a former surname) normalises to one of
``present_surnames``, and numbers are kept in a dict (the real store is tested against the node
in tests/search_api/test_references.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI

from analyzers.kana import normalize_kana
from mochinushi.settings import Settings
from search_api.metrics import DEFAULT_ROUTES, CheckOutcome, ServiceMetrics
from search_api.models import ExistenceCheckIn
from search_api.ratelimit import TrustedProxies
from search_api.references import NumberMistyped, format_number, new_number, parse_number
from search_api.routers import web
from search_api.service import (
    MISTYPED_BODY,
    UNKNOWN_TOKEN_BODY,
    ApiResult,
    get_service,
    resolution_body,
)
from search_api.tokens import TokenExpired, TokenInvalid, TokenKeyRing, issue_token, open_token

STAFF_KEY = "staff-key-for-tests-0123456789"
RECORD_IDS = ("R0000123", "R0000456")
FIXED_NOW = dt.datetime(2025, 11, 27, 1, 30, tzinfo=dt.UTC)  # 10:30 in Japan

FOUND_FORM: dict[str, str] = {
    "step": "check",
    "surname_kana": "やまだ",
    "given_name_kana": "きょうこ",
    "surname_kanji": "山田",
    "given_name_kanji": "京子",
    "former_kana_1": "さとう",
    "former_kanji_1": "佐藤",
    "birth_era": "昭和",
    "birth_year": "13",
    "birth_month": "5",
    "birth_day": "3",
    "gender": "F",
}
NOT_FOUND_FORM: dict[str, str] = {
    **FOUND_FORM,
    "surname_kana": "たなか",
    "surname_kanji": "田中",
    "former_kana_1": "",
    "former_kanji_1": "",
}


@dataclass
class FakeService:
    """Answers as ``search_api.service.Service`` does, plus the knobs the tests turn."""

    settings: Settings = field(default_factory=lambda: Settings(staff_api_keys=STAFF_KEY))
    metrics: ServiceMetrics = field(
        default_factory=lambda: ServiceMetrics(routes=(*DEFAULT_ROUTES, *web.WEB_ROUTES))
    )
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("mochinushi.test"))
    now: dt.datetime = FIXED_NOW
    ring: TokenKeyRing = field(default_factory=TokenKeyRing.generate_dev)
    present_surnames: frozenset[str] = frozenset({"ヤマダ"})
    down: bool = False
    rate_limited: bool = False
    explode: bool = False
    received: list[ExistenceCheckIn] = field(default_factory=list)
    client_keys: list[str] = field(default_factory=list)
    trusted_proxies: TrustedProxies = field(default_factory=lambda: TrustedProxies(""))
    numbers: dict[str, str] = field(default_factory=dict)
    """Canonical reference number → sealed token (the fake's reference index)."""

    def clock(self) -> dt.datetime:
        return self.now

    def count_check(self, outcome: CheckOutcome, channel: str = "web") -> None:
        self.metrics.count_check(outcome)

    def issue(self, check: dict[str, Any], now: dt.datetime | None = None) -> str:
        """A number for ``check`` as the real service issues one (grouped for printing)."""
        sealed, _payload = issue_token(
            self.ring,
            RECORD_IDS,
            check,
            now or self.clock(),
            dt.timedelta(days=self.settings.token_ttl_days),
        )
        number = new_number()
        self.numbers[number] = sealed
        return format_number(number)

    async def check(
        self, body: ExistenceCheckIn, client_key: str, request_id: str, *, issue: bool = True
    ) -> ApiResult:
        self.received.append(body)
        self.client_keys.append(client_key)
        if self.explode:
            raise RuntimeError("boom")
        if self.rate_limited:
            self.metrics.count_check("rate_limited")
            return ApiResult(429, {"error": "rate_limited"}, {"Retry-After": "7"})
        if self.down:
            self.metrics.count_check("unavailable")
            return ApiResult(503, {"error": "search_unavailable"}, {"Retry-After": "5"})
        surnames = {normalize_kana(body.surname_kana)} | {
            normalize_kana(f.kana) for f in body.former_surnames
        }
        if not surnames & self.present_surnames:
            self.metrics.count_check("not_found")
            return ApiResult(200, {"found": False, "reference_token": None})
        token = self.issue(body.as_submitted()) if issue else None
        self.metrics.count_check("found")
        return ApiResult(200, {"found": True, "reference_token": token})

    async def resolve_token(self, token: str, authorization: str, request_id: str) -> ApiResult:
        if authorization.removeprefix("Bearer ") not in self.settings.staff_keys():
            return ApiResult(401, {"error": "unauthorized"}, {"WWW-Authenticate": "Bearer"})
        try:
            sealed = self.numbers.get(parse_number(token))
        except NumberMistyped:
            return ApiResult(404, dict(MISTYPED_BODY))
        if sealed is None:
            return ApiResult(404, dict(UNKNOWN_TOKEN_BODY))
        try:
            payload = open_token(self.ring, sealed, self.clock())
        except TokenExpired:
            return ApiResult(410, {"error": "expired"})
        except TokenInvalid:
            return ApiResult(404, dict(UNKNOWN_TOKEN_BODY))
        return ApiResult(200, resolution_body(payload))


def make_app(state: FakeService) -> FastAPI:
    app = FastAPI()
    app.include_router(web.router)
    app.dependency_overrides[get_service] = lambda: state
    return app


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on a free loopback port; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
