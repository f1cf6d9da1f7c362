"""What the API does, apart from HTTP: an existence check, a staff token resolution, readiness,
and which index is served.

The routers (``search_api/routers``) reach one ``Service`` per application through FastAPI's
``Depends(get_service)``; the JSON endpoints and the web pages call the very same methods, so a
form and the API cannot answer differently.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import Request, Response
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError
from orjson import dumps as json_dumps

from analyzers.readings import ReadingDictionary
from matching.config import MatchingConfig
from matching.finder import Finder, SearchUnavailable, ServedIndex, resolve_served_index
from matching.scoring import Decision
from mochinushi.settings import Settings
from search_api.logs import keyed_hash, log_event, log_request_event
from search_api.metrics import BackendErrorKind, CheckOutcome, ServiceMetrics, TokenResolutionResult
from search_api.models import ExistenceCheckIn
from search_api.partners import Partner, PartnerRegistry, StaffKey, bearer, parse_staff_keys
from search_api.ratelimit import (
    Limiter,
    RateLimitUnavailable,
    TrustedProxies,
    make_storage,
    parse_rate_limit,
)
from search_api.references import (
    NumberCollision,
    NumberMistyped,
    ReferenceStore,
    ReferenceStoreUnavailable,
    format_number,
    looks_like_sealed_token,
    new_number,
    parse_number,
)
from search_api.report import CampaignRecorder
from search_api.tokens import (
    ReferencePayload,
    TokenExpired,
    TokenInvalid,
    TokenKeyRing,
    issue_token,
    open_token,
)
from search_api.web.counter import CounterSessions

RETRY_AFTER_SECONDS = 5
RESPONSE_SIZE_CLASS = 2048
CHECK_DEADLINE_SECONDS = 4.0
STATS_TTL_SECONDS = 60.0
RATE_LIMITED_MESSAGE = "Too many checks. Please try again later."
STAFF_RATE_LIMITED_MESSAGE = "Too many resolutions with this staff key. Please wait a moment."
NUMBER_ATTEMPTS = 3
"""Fresh numbers drawn when the one drawn is taken (2^-84 each): then the store is broken."""

UNKNOWN_TOKEN_BODY: dict[str, str] = {
    "error": "unknown_token",
    "message": "No such reference token.",
}
MISTYPED_BODY: dict[str, str] = {
    "error": "mistyped",
    "message": "This reference number is mistyped: its check character does not match. "
    "Please compare it with the printout again.",
}
MISTYPED_EXCLUDED_BODY: dict[str, str] = {
    "error": "mistyped",
    "message": "This reference number is mistyped: reference numbers never contain "
    "0, O, 1, I or L.",
}

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
    "dictionary_edition": "index built with another reading dictionary edition",
    "bad_meta": "index statistics unreadable",
    "unreachable": "cluster unreachable",
}
"""What ``/readyz`` says for each kind of unservable index (anything else: alias missing)."""


class ConfigurationError(RuntimeError):
    """The service is configured in a way it must not start with."""


def token_ring(settings: Settings) -> TokenKeyRing:
    if settings.token_secret:
        return TokenKeyRing(settings.token_secret.get_secret_value())
    if not settings.dev_mode:
        raise ConfigurationError(
            "MOCHINUSHI_TOKEN_SECRET is required outside dev mode (MOCHINUSHI_DEV_MODE=false)"
        )
    return TokenKeyRing.generate_dev()


def service_parts(settings: Settings, client: AsyncOpenSearch) -> dict[str, Any]:
    """The parts of a ``Service`` built from the settings beyond the core ones ``create_app``
    passes itself: the reference store, partners, trusted proxies and the three limiters (one
    ``limits`` storage: memory, or redis/valkey shared by every worker and replica)."""
    storage = make_storage(settings.rate_limit_storage_url())

    def limiter(text: str, setting: str, namespace: str) -> Limiter | None:
        rate = parse_rate_limit(text, setting)
        return Limiter(rate, storage, namespace) if rate else None

    return {
        "references": ReferenceStore(
            client,
            settings.reference_index,
            timeout=settings.opensearch_timeout_seconds,
            grace=dt.timedelta(days=settings.reference_grace_days),
        ),
        "limiter": limiter(settings.rate_limit, "MOCHINUSHI_RATE_LIMIT", "checks"),
        "partner_limiter": limiter(
            settings.partner_rate_limit, "MOCHINUSHI_PARTNER_RATE_LIMIT", "partner-checks"
        ),
        "staff_limiter": limiter(
            settings.staff_rate_limit, "MOCHINUSHI_STAFF_RATE_LIMIT", "staff-resolutions"
        ),
        "partners": PartnerRegistry(settings.partner_keys_text()),
        "trusted_proxies": TrustedProxies(settings.forwarded_allow_ips),
        "counter": CounterSessions(
            hashlib.sha256(
                b"mochinushi counter sessions\0" + token_ring(settings).lookup_keys()[0][1]
            ).digest(),
            settings.counter_session_minutes * 60.0,
        ),
        "report": CampaignRecorder(
            client,
            settings.report_index,
            flush_seconds=settings.report_flush_seconds,
            timeout=max(settings.opensearch_timeout_seconds, 10.0),
        ),
    }


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

_BACKEND_ERROR_KINDS: dict[str, BackendErrorKind] = {
    "timeout": "timeout",
    "unreachable": "unreachable",
    "shard_failure": "shard_failure",
    "mapping_version": "unservable_index",
    "dictionary_edition": "unservable_index",
    "bad_meta": "unservable_index",
}


@dataclass
class Service:
    """One application's state: cluster client, matching configuration, keys, metrics, and the
    index currently served (resolved from the alias, cached, refreshed when it moves)."""

    settings: Settings
    client: AsyncOpenSearch
    config: MatchingConfig
    readings: ReadingDictionary
    ring: TokenKeyRing
    metrics: ServiceMetrics
    limiter: Limiter | None
    logger: logging.Logger
    hash_key: bytes
    clock: Callable[[], dt.datetime]
    references: ReferenceStore
    staff_limiter: Limiter | None = None
    partner_limiter: Limiter | None = None
    partners: PartnerRegistry = field(default_factory=lambda: PartnerRegistry(""))
    trusted_proxies: TrustedProxies = field(default_factory=lambda: TrustedProxies(""))
    report: CampaignRecorder | None = None
    counter: CounterSessions = field(
        default_factory=lambda: CounterSessions(secrets.token_bytes(32), 1800.0)
    )
    _served: ServedIndex | None = None
    _served_at: float = 0.0
    _finder: Finder | None = None
    _served_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def rate_key(self) -> bytes:
        """Keys the client addresses in the shared limiter storage: the same on every replica
        (derived from the token keys), so redis-shared counts add up, yet no address is kept."""
        return hashlib.sha256(
            b"mochinushi rate-limit key\0" + self.ring.lookup_keys()[0][1]
        ).digest()

    def count_check(
        self, outcome: CheckOutcome, channel: str = "web", office: str | None = None
    ) -> None:
        """One check's outcome: the metrics (channel label, never the office) and the campaign
        report (channel and office)."""
        self.metrics.count_check(outcome)
        self.metrics.count_channel_check(channel, outcome)
        if self.report is not None:
            self.report.check(outcome, channel, office, self.clock())

    def authenticate_partner(self, authorization: str | None) -> Partner | Literal[False] | None:
        """The partner of a check (None: the web channel; False: a key no partner has)."""
        return self.partners.authenticate(authorization)

    def count_invalid(self, authorization: str | None) -> None:
        """A 422 check, counted under the channel its key names (web without or with a bad one)."""
        partner = self.partners.authenticate(authorization)
        if partner:
            self.count_check("invalid", partner.channel, partner.office_id)
        else:
            self.count_check("invalid")

    async def close(self) -> None:
        """At shutdown: let a running cleanup finish, flush the campaign counts, then close the
        cluster client."""
        await self.references.close()
        if self.report is not None:
            await self.report.close()
        await self.client.close()

    # -- the served index ----------------------------------------------------------------------

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

    # -- an existence check --------------------------------------------------------------------

    async def _find_with_retry(self, request: ExistenceCheckIn) -> Decision:
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
                    self.finder(), timeout=max(0.1, deadline - time.monotonic())
                )
                return await asyncio.wait_for(
                    finder.find_async(self.client, check),
                    timeout=max(0.1, deadline - time.monotonic()),
                )
            except TimeoutError:
                last = SearchUnavailable("timeout")
            except SearchUnavailable as error:
                last = error
                if error.kind == "no_index":
                    # The index resolved earlier was deleted (an old version pruned after a
                    # swap): resolve the alias again and retry once.
                    self.forget_served_index()
                elif error.kind not in ("timeout", "unreachable", "shard_failure"):
                    break
            if attempt == 0:
                await asyncio.sleep(0.05)
        raise last or SearchUnavailable("timeout")

    async def issue_reference(
        self,
        record_ids: tuple[str, ...],
        check: dict[str, Any],
        *,
        channel: str = "web",
        office: str | None = None,
    ) -> str:
        """Seal the candidates and the check, store them under a fresh number, return it
        (grouped for reading); ``ReferenceStoreUnavailable`` when it could not be stored."""
        now = self.clock()
        sealed, payload = issue_token(
            self.ring,
            record_ids,
            check,
            now,
            dt.timedelta(days=self.settings.token_ttl_days),
            channel=channel,
            office=office,
        )
        for _ in range(NUMBER_ATTEMPTS):
            number = new_number()
            try:
                await self.references.put(self.ring, number, sealed, payload.expires_at)
            except NumberCollision:
                continue
            self.references.maybe_cleanup(now, on_error=self._cleanup_failed)
            if self.report is not None:
                self.report.issued(channel, office, now)
            return format_number(number)
        raise ReferenceStoreUnavailable("collisions")

    def _cleanup_failed(self, error: Exception) -> None:
        log_event(
            self.logger,
            "references.cleanup_failed",
            level=logging.WARNING,
            error_kind=type(error).__name__,
        )

    async def check(
        self,
        body: ExistenceCheckIn,
        client_key: str,
        request_id: str,
        *,
        partner: Partner | None = None,
        issue: bool = True,
    ) -> ApiResult:
        """The existence check behind POST /v1/existence-checks (and the web form).

        ``partner``: the office whose key came with the check (its channel, its own limit);
        None for the public web channel, limited per client address. ``issue=False`` (the web
        form's first step, which shows no number) answers found or not without storing a
        reference entry."""
        channel = partner.channel if partner is not None else "web"
        office = partner.office_id if partner is not None else None

        def count(outcome: CheckOutcome) -> None:
            self.count_check(outcome, channel, office)

        limiter = self.partner_limiter if partner is not None else self.limiter
        if limiter is not None:
            key = (
                "office:" + partner.office_id
                if partner is not None
                else keyed_hash(self.rate_key, client_key)
            )
            try:
                decision = await limiter.hit(key)
            except RateLimitUnavailable as error:
                count("unavailable")
                log_request_event(
                    self.logger,
                    "check.unavailable",
                    level=logging.WARNING,
                    request_id=request_id,
                    error_kind="rate_limit_storage_" + str(error),
                )
                return UNAVAILABLE
            if not decision.allowed:
                count("rate_limited")
                return ApiResult(
                    429,
                    {"error": "rate_limited", "message": RATE_LIMITED_MESSAGE},
                    {"Retry-After": str(decision.retry_after_seconds)},
                )
        try:
            result = await self._find_with_retry(body)
        except SearchUnavailable as error:
            count("unavailable")
            self.metrics.count_backend_error(_BACKEND_ERROR_KINDS.get(error.kind, "other"))
            log_request_event(
                self.logger,
                "check.unavailable",
                level=logging.WARNING,
                request_id=request_id,
                error_kind=error.kind,
            )
            return UNAVAILABLE
        token = None
        if result.found and issue:
            try:
                token = await self.issue_reference(
                    result.record_ids, body.as_submitted(), channel=channel, office=office
                )
            except ReferenceStoreUnavailable as error:
                # Found, but no number the office could resolve: never "found" without one,
                # and never "not found" either.
                count("unavailable")
                self.metrics.count_backend_error("other")
                log_request_event(
                    self.logger,
                    "check.unavailable",
                    level=logging.WARNING,
                    request_id=request_id,
                    error_kind="reference_store_" + error.kind,
                )
                return UNAVAILABLE
        outcome: CheckOutcome = "found" if result.found else "not_found"
        count(outcome)
        log_request_event(
            self.logger,
            "check.completed",
            request_id=request_id,
            outcome=outcome,
            candidates=len(result.scores),
        )
        return ApiResult(
            200, {"found": result.found, "reference_token": token}, pad_to=RESPONSE_SIZE_CLASS
        )

    # -- a staff resolution --------------------------------------------------------------------

    def _staff_key(self, authorization: str) -> StaffKey | None:
        """The staff key presented (``office_id:key`` entries match on the key; a bare key, or
        the whole entry, matches with no office), compared in constant time with every key."""
        presented = bearer(authorization) or ""
        found: StaffKey | None = None
        for entry, staff in zip(
            self.settings.staff_keys(), parse_staff_keys(self.settings.staff_keys()), strict=True
        ):
            for candidate, office in ((staff.key, staff.office_id), (entry, None)):
                if hmac.compare_digest(candidate.encode(), presented.encode()) and presented:
                    found = found or StaffKey(candidate, office)
        return found

    def staff_key_valid(self, authorization: str) -> bool:
        return self._staff_key(authorization) is not None

    async def resolve_token(self, token: str, authorization: str, request_id: str) -> ApiResult:
        """Staff resolution of a reference number (or a v1.0 sealed token): 401 without a valid
        key, 429 past the staff key's limit, 404 mistyped or unknown, 410 expired, 503 when the
        reference index does not answer."""
        staff_key = self._staff_key(authorization)
        if staff_key is None:
            self.metrics.count_token_resolution("unauthorized")
            return ApiResult(
                401,
                {"error": "unauthorized", "message": "A valid staff key is required."},
                {"WWW-Authenticate": "Bearer"},
            )
        staff_key_id = keyed_hash(b"staff-key-id", staff_key.key)

        def audit(result: TokenResolutionResult, token_id: str | None) -> None:
            self.metrics.count_token_resolution(result)
            log_event(
                self.logger,
                "token.resolved",
                request_id=request_id,
                staff_key_id=staff_key_id,
                token_id=token_id,
                outcome=result,
            )

        if self.staff_limiter is not None:
            try:
                decision = await self.staff_limiter.hit(staff_key_id)
            except RateLimitUnavailable:
                self.metrics.count_backend_error("other")
                return UNAVAILABLE
            if not decision.allowed:
                audit("rate_limited", None)
                return ApiResult(
                    429,
                    {"error": "rate_limited", "message": STAFF_RATE_LIMITED_MESSAGE},
                    {"Retry-After": str(decision.retry_after_seconds)},
                )

        compact = "".join(token.split())
        doc_id: str | None = None
        if looks_like_sealed_token(compact):
            sealed: str | None = compact  # printed before v1.1: the token itself
        else:
            try:
                number = parse_number(token)
            except NumberMistyped as mistyped:
                audit("mistyped", None)
                body = MISTYPED_EXCLUDED_BODY if mistyped.excluded_character else MISTYPED_BODY
                return ApiResult(404, dict(body))
            try:
                found = await self.references.find(self.ring, number)
            except ReferenceStoreUnavailable as error:
                self.metrics.count_backend_error("other")
                log_request_event(
                    self.logger,
                    "token.unavailable",
                    level=logging.WARNING,
                    request_id=request_id,
                    error_kind="reference_store_" + error.kind,
                )
                return UNAVAILABLE
            doc_id, sealed = found if found is not None else (None, None)
        if sealed is None:
            audit("unknown", None)
            return ApiResult(404, dict(UNKNOWN_TOKEN_BODY))
        try:
            payload = open_token(self.ring, sealed, self.clock())
        except TokenExpired as expired:
            audit("expired", expired.token_id)
            return ApiResult(
                410, {"error": "expired", "message": "This reference token has expired."}
            )
        except TokenInvalid:
            audit("unknown", None)
            return ApiResult(404, dict(UNKNOWN_TOKEN_BODY))
        audit("ok", payload.token_id)
        await self._count_resolution(doc_id, payload)
        return ApiResult(200, resolution_body(payload))

    async def _count_resolution(self, doc_id: str | None, payload: ReferencePayload) -> None:
        """The campaign report counts each number's first resolution, under the channel and
        office that issued it (a v1.0 token, which has no entry to mark, every time)."""
        if self.report is None:
            return
        first = True
        if doc_id is not None:
            try:
                first = await self.references.mark_resolved(doc_id)
            except Exception as error:  # the resolution stands; only the count is missed
                first = False
                log_event(
                    self.logger,
                    "report.resolution_not_marked",
                    level=logging.WARNING,
                    error_kind=type(error).__name__,
                )
        if first:
            self.report.resolved(payload.channel, payload.office, payload.issued_at, self.clock())

    # -- readiness -----------------------------------------------------------------------------

    async def readiness(self) -> str | None:
        """None when checks can be answered now; otherwise why not, in a few words."""
        try:
            exists = await self.client.indices.exists_alias(name=self.settings.alias)
        except Exception:
            return "cluster unreachable"
        if not exists:
            return "alias missing"
        try:
            await self.served_index(max_age=READINESS_MAX_AGE_SECONDS)
        except SearchUnavailable as error:
            return READINESS_REASONS.get(error.kind, "alias missing")
        except Exception:
            return "cluster unreachable"
        try:
            # A closed or red index still has its alias; only a search proves it answers.
            await self.client.count(index=self.settings.alias)
        except Exception:
            return "index not searchable"
        return None


def resolution_body(payload: ReferencePayload) -> dict[str, Any]:
    """What staff see: the candidates best first, the validity, the check as submitted."""
    return {
        "record_ids": list(payload.record_ids),
        "issued_at": payload.issued_at.isoformat(),
        "expires_at": payload.expires_at.isoformat(),
        "check": payload.check,
    }


async def get_service(request: Request) -> Service:
    """The application's service, for ``Depends`` (tests override it with a fake).

    A coroutine although it awaits nothing: FastAPI runs a plain function dependency in a
    worker thread, and that hop was 3 % of the API's CPU per check."""
    service: Service = request.app.state.service
    return service


def client_key(request: Request, trusted: TrustedProxies | None = None) -> str:
    """Whom the public rate limit counts: the peer address, or the client a trusted proxy
    named in ``X-Forwarded-For``."""
    peer = request.client.host if request.client else None
    if trusted is None or not trusted:
        return peer or "unknown"
    return trusted.client(peer, request.headers.getlist("x-forwarded-for"))
