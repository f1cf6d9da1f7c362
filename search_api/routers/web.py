"""The web page: server-rendered HTML forms over the same code path as the JSON API.

The handlers here hold no check or token logic of their own. A form becomes an
``ExistenceCheckIn`` (the JSON API's request model, so validation is identical) and goes to
``Service.check``, behind ``POST /v1/existence-checks`` too, and a staff request goes to
``Service.resolve_token``, behind ``GET /v1/reference-tokens/{token}`` (the key typed into the
form is presented to it exactly as the JSON API's ``Authorization: Bearer`` header). The
service arrives through ``Depends(get_service)``, which tests override with a fake.

What the pages promise:

* Personal data never enters a URL: every form is POSTed to a fixed path and the answer is
  rendered straight from the POST response (no redirect carrying data), so neither browser
  history nor server and proxy access logs see it. Every HTML answer is ``Cache-Control:
  no-store``, so the back button or a shared counter PC cannot bring the page back from a cache.
* Busy (429) or unavailable (503) is said as such, never as "no record", and what was typed is
  kept so trying again is one press of a button.
* Everything works without JavaScript; the script only reveals more former-surname rows and
  offers a print button. Nothing is loaded from another origin (the CSP says so too).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from search_api.logs import log_event
from search_api.service import Service, client_key, get_service
from search_api.web import pages
from search_api.web.forms import (
    REFERENCE_FIELDS,
    STAFF_FIELDS,
    FormError,
    parse_form,
    validate,
)
from search_api.web.render import read_static

WEB_ROUTES: Final[tuple[str, ...]] = ("/", "/check", "/staff", "/staff/resolve", "/static/{name}")
"""Route templates of the web page, for the metrics' fixed route label set."""

MAX_FORM_BYTES: Final = 16 * 1024

HTML_HEADERS: Final[Mapping[str, str]] = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}

STATIC_FILES: Final[Mapping[str, str]] = {
    "site.css": "text/css; charset=utf-8",
    "site.js": "text/javascript; charset=utf-8",
}

STAFF_MESSAGES: Final[Mapping[int, tuple[str, str]]] = {
    401: ("staff_key", "職員キーが正しくありません。"),
    404: (
        "token",
        "この照会番号は発行されていないか、有効期限後に削除されています。"
        "入力の形式は正しいため、打ち間違いではありません。"
        "このサービスが発行したものではない可能性があります。",
    ),
    410: (
        "token",
        "この照会番号は有効期限が切れています。お客さまに、もう一度検索して"
        "印刷していただくか、通常の手続きで記録をお調べください。",
    ),
    429: (
        "token",
        "この職員キーでの照会が短時間に多すぎます。しばらく待ってから、もう一度お試しください。",
    ),
    503: (
        "token",
        "ただいま照会番号を確認できません。時間をおいて、もう一度お試しください。"
        "照会番号が無効という意味ではありません。",
    ),
}
"""What the staff page says for each status of ``GET /v1/reference-tokens/{token}``."""
STAFF_MISTYPED: Final = (
    "token",
    "照会番号の入力に誤りがあります（最後の確認用の文字が合いません）。"
    "印刷物と1文字ずつ見比べてください。照会番号に 0・O・1・I・L は使われていません。",
)
"""404 ``mistyped``: told apart from a number that was never issued (404 ``unknown_token``)."""


def _html(page: str, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return HTMLResponse(page, status_code=status, headers={**HTML_HEADERS, **(headers or {})})


async def _read_form(request: Request, fields: tuple[str, ...] | None = None) -> dict[str, str]:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise FormError("not a form post")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise FormError("form too large")
        chunks.append(chunk)
    body = b"".join(chunks)
    return parse_form(body) if fields is None else parse_form(body, fields)


def _request_id(request: Request) -> str:
    """The id the app's middleware gave this request (a fresh one if there is none)."""
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) and value else uuid.uuid4().hex


router = APIRouter(include_in_schema=False)
ServiceDep = Annotated[Service, Depends(get_service)]


@router.get("/")
async def check_form_page() -> Response:
    return _html(pages.form_page({}))


@router.post("/check")
async def check_submit(request: Request, service: ServiceDep) -> Response:
    try:
        values = await _read_form(request)
    except FormError:
        return _html(pages.error_page(400), 400)
    step = "reference" if values.get("step") == "reference" else "check"
    validated = validate(values, with_reference=step == "reference")
    if validated.check is None:
        service.count_check("invalid")
        only_reference = all(name in REFERENCE_FIELDS for name in validated.errors)
        page = (
            pages.reference_page(values, validated.errors)
            if step == "reference" and only_reference
            else pages.form_page(values, validated.errors)
        )
        return _html(page, 422)
    try:
        # The first step shows no number: only the printable (after step 3) needs one stored.
        answer = await service.check(
            validated.check,
            client_key(request, service.trusted_proxies),
            _request_id(request),
            issue=step == "reference",
        )
    except Exception as error:  # an answer page is still owed; never a "no record"
        log_event(
            service.logger,
            "web.check_failed",
            level=logging.ERROR,
            request_id=_request_id(request),
            error_kind=type(error).__name__,
        )
        return _html(pages.error_page(500), 500)
    status = answer.status
    if status in (429, 503):
        retry = answer.headers.get("Retry-After")
        headers = {"Retry-After": retry} if retry else None
        return _html(pages.busy_page(values, step=step), status, headers)
    if status != 200:
        return _html(pages.error_page(status), 500 if status >= 500 else 400)
    submitted = validated.check.as_submitted()
    token = answer.body.get("reference_token")
    if answer.body.get("found") is not True:
        return _html(pages.not_found_page(values, submitted))
    if step == "check":
        return _html(pages.found_page(values, submitted))
    if not isinstance(token, str) or not token:  # found needs a number; never a "no" either
        return _html(pages.error_page(500), 500)
    issued = service.clock()
    expires = issued + dt.timedelta(days=service.settings.token_ttl_days)
    return _html(pages.printable_page(submitted, token, issued, expires))


@router.get("/check")
async def check_by_get() -> Response:  # a bookmark or a typed URL: start again
    return RedirectResponse("/", status_code=303, headers={"Cache-Control": "no-store"})


@router.get("/staff/resolve")
async def staff_resolve_by_get() -> Response:
    return RedirectResponse("/staff", status_code=303, headers={"Cache-Control": "no-store"})


@router.get("/staff")
async def staff_form_page() -> Response:
    return _html(pages.staff_page())


@router.post("/staff/resolve")
async def staff_resolve(request: Request, service: ServiceDep) -> Response:
    try:
        values = await _read_form(request, STAFF_FIELDS)
    except FormError:
        return _html(pages.error_page(400), 400)
    token = " ".join(values["token"].split())  # the service ignores spaces and hyphens
    key = values["staff_key"].strip()
    errors = {}
    if not key:
        errors["staff_key"] = "職員キーを入力してください。"
    if not token:
        errors["token"] = "照会番号を入力してください。"
    if errors:
        return _html(pages.staff_page(errors, token=token), 422)
    answer = await service.resolve_token(token, f"Bearer {key}", _request_id(request))
    status = answer.status
    if status == 200:
        return _html(pages.staff_page(result=pages.staff_result(answer.body)))
    mistyped = answer.body.get("error") == "mistyped"
    known = STAFF_MISTYPED if mistyped else STAFF_MESSAGES.get(status)
    if known is not None:
        field, message = known
        retry = answer.headers.get("Retry-After")
        headers = {"Retry-After": retry} if retry else None
        return _html(pages.staff_page({field: message}, token=token), status, headers)
    return _html(pages.error_page(status), 500 if status >= 500 else 400)


@router.get("/static/{name}")
async def static_file(name: str) -> Response:
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        return Response(status_code=404)
    return Response(
        read_static(name),
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
