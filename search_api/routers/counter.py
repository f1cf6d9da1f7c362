"""Counter mode, ``/counter``: office staff sign in with their partner key and run the check for
the person in front of them; "次の方" drops that person's data (see ``search_api.web.counter``).

Every POST carries the session's CSRF token (403 without it) and answers with a redirect; every
page is a GET rendered from the server-side session, ``Cache-Control: no-store``. The checks go
to ``Service.check`` with the office as partner: channel, office, the office's own limit and
the campaign report, exactly as a partner's API call.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from search_api.logs import keyed_hash, log_event
from search_api.ratelimit import RateLimitUnavailable
from search_api.routers.web import _html, _read_form, _request_id
from search_api.service import Service, client_key, get_service
from search_api.web import pages
from search_api.web.counter import COOKIE, CounterSession, Visitor, csrf_ok
from search_api.web.forms import KNOWN_FIELDS, FormError, validate

ROUTES: Final[tuple[str, ...]] = (
    "/counter",
    "/counter/sign-in",
    "/counter/check",
    "/counter/result",
    "/counter/next",
    "/counter/sign-out",
)
"""Route templates of the counter, for the metrics' fixed route label set."""
FORM_FIELDS: Final = (*KNOWN_FIELDS, "csrf")
SIGN_IN_FIELDS: Final = ("office_key", "csrf")
WRONG_KEY: Final = "事務所のキーが正しくありません。"

router = APIRouter(include_in_schema=False)
ServiceDep = Annotated[Service, Depends(get_service)]


def _with_cookie(response: Response, service: Service, session: CounterSession | None) -> Response:
    if session is None:
        response.delete_cookie(
            COOKIE, path="/counter", secure=True, httponly=True, samesite="strict"
        )
        return response
    response.set_cookie(
        COOKIE,
        service.counter.cookie_value(session),
        path="/counter",
        secure=True,
        httponly=True,
        samesite="strict",
        max_age=int(service.settings.counter_session_minutes * 60),
    )
    return response


def _redirect(to: str) -> Response:
    return RedirectResponse(to, status_code=303, headers={"Cache-Control": "no-store"})


def _session(request: Request, service: Service) -> CounterSession | None:
    return service.counter.get(request.cookies.get(COOKIE))


async def _posted_session(request: Request, service: Service) -> CounterSession | Response:
    """The session of a form that carries nothing but its CSRF token, or the answer refusing it."""
    session = _session(request, service)
    try:
        values = await _read_form(request, ("csrf",))
    except FormError:
        return _html(pages.error_page(400), 400)
    if session is None or not csrf_ok(session, values["csrf"]):
        return _forbidden()
    return session


def _forbidden() -> Response:
    return _html(pages.error_page(400), 403)


@router.get("/counter")
async def counter_page(request: Request, service: ServiceDep) -> Response:
    session = _session(request, service)
    if session is None or session.partner is None:
        session = session or service.counter.new()
        return _with_cookie(_html(pages.counter_signin_page(session.csrf)), service, session)
    partner = session.partner
    visitor = session.visitor or Visitor()
    page = pages.counter_form_page(
        partner.office_id,
        partner.kind,
        session.csrf,
        visitor.values,
        visitor.errors,
        busy=visitor.busy,
    )
    return _html(page, 422 if visitor.errors else 200)


@router.post("/counter/sign-in")
async def counter_sign_in(request: Request, service: ServiceDep) -> Response:
    session = _session(request, service)
    try:
        values = await _read_form(request, SIGN_IN_FIELDS)
    except FormError:
        return _html(pages.error_page(400), 400)
    if session is None or not csrf_ok(session, values["csrf"]):
        return _forbidden()
    # Guessing keys costs the public per-address budget.
    if service.limiter is not None:
        address = keyed_hash(service.rate_key, client_key(request, service.trusted_proxies))
        try:
            decision = await service.limiter.hit(address)
        except RateLimitUnavailable:
            return _html(pages.error_page(503), 503)
        if not decision.allowed:
            page = pages.counter_signin_page(session.csrf, pages.BUSY_MESSAGE)
            return _html(page, 429, {"Retry-After": str(decision.retry_after_seconds)})
    partner = service.partners.partner_for_key(values["office_key"].strip())
    if partner is None:
        return _html(pages.counter_signin_page(session.csrf, WRONG_KEY), 401)
    signed_in = service.counter.rotate(session)  # a new id: no fixation of a known one
    signed_in.partner = partner
    log_event(
        service.logger,
        "counter.signed_in",
        request_id=_request_id(request),
        staff_key_id=keyed_hash(b"partner-key-id", partner.office_id),
    )
    return _with_cookie(_redirect("/counter"), service, signed_in)


@router.post("/counter/check")
async def counter_check(request: Request, service: ServiceDep) -> Response:
    session = _session(request, service)
    try:
        values = await _read_form(request, FORM_FIELDS)
    except FormError:
        return _html(pages.error_page(400), 400)
    if session is None or session.partner is None or not csrf_ok(session, values.pop("csrf")):
        return _forbidden()
    values.pop("step", None)
    validated = validate(values, with_reference=True)
    if validated.check is None:
        service.count_check("invalid", session.partner.channel, session.partner.office_id)
        session.visitor = Visitor(values=values, errors=dict(validated.errors))
        return _redirect("/counter")
    try:
        answer = await service.check(
            validated.check,
            client_key(request, service.trusted_proxies),
            _request_id(request),
            partner=session.partner,
        )
    except Exception as error:  # never a "no record"
        log_event(
            service.logger,
            "web.check_failed",
            level=logging.ERROR,
            request_id=_request_id(request),
            error_kind=type(error).__name__,
        )
        session.visitor = Visitor(values=values, busy=True)
        return _redirect("/counter")
    if answer.status != 200:
        session.visitor = Visitor(values=values, busy=True)
        return _redirect("/counter")
    token = answer.body.get("reference_token")
    found = answer.body.get("found") is True
    if found and not (isinstance(token, str) and token):
        session.visitor = Visitor(values=values, busy=True)
        return _redirect("/counter")
    issued = service.clock()
    session.visitor = Visitor(
        values=values,
        answer={
            "found": found,
            "token": token if found else None,
            "issued": issued,
            "expires": issued + dt.timedelta(days=service.settings.token_ttl_days),
            "submitted": validated.check.as_submitted(),
        },
    )
    return _redirect("/counter/result")


@router.get("/counter/result")
async def counter_result(request: Request, service: ServiceDep) -> Response:
    session = _session(request, service)
    if session is None or session.partner is None:
        return _redirect("/counter")
    visitor = session.visitor
    if visitor is None or visitor.answer is None:
        return _redirect("/counter")  # after "次の方": nothing of the last person is left
    partner = session.partner
    return _html(
        pages.counter_result_page(partner.office_id, partner.kind, session.csrf, visitor.answer)
    )


@router.post("/counter/next")
async def counter_next(request: Request, service: ServiceDep) -> Response:
    """次の方: the visitor's data is dropped here, and the session id (the cookie) replaced."""
    session = await _posted_session(request, service)
    if isinstance(session, Response):
        return session
    fresh = service.counter.rotate(session)
    return _with_cookie(_redirect("/counter"), service, fresh)


@router.post("/counter/sign-out")
async def counter_sign_out(request: Request, service: ServiceDep) -> Response:
    session = await _posted_session(request, service)
    if isinstance(session, Response):
        return session
    service.counter.drop(session)
    return _with_cookie(_redirect("/counter"), service, None)
