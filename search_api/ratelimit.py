"""Rate limiting of existence checks and staff resolutions, on the ``limits`` library.

Why limit at all: each existence check is a yes/no oracle over personal data. Without a limit a
caller could enumerate (name, birth date) combinations and learn who has unmatched pension
records. Three budgets, each its own ``limits`` namespace:

* **public checks**, per client address (``MOCHINUSHI_RATE_LIMIT``); the address is the peer's,
  or the one a *trusted* proxy put in ``X-Forwarded-For`` (``MOCHINUSHI_FORWARDED_ALLOW_IPS`` /
  ``serve --forwarded-allow-ips``; see ``TrustedProxies``);
* **partner checks**, per office (``MOCHINUSHI_PARTNER_RATE_LIMIT``), so a municipal counter
  behind one NAT is not throttled by the public budget;
* **staff resolutions**, per staff key (``MOCHINUSHI_STAFF_RATE_LIMIT``).

Algorithm: ``limits``' *sliding window counter* (the previous fixed window's count weighted by
its share still inside the sliding window, plus the current one's): O(1) memory per client
whatever the limit, no burst at window edges. Denied hits are not counted.

Storage: in memory by default (``memory://``: one process counts alone, so N replicas admit N
times the limit); ``MOCHINUSHI_RATE_LIMIT_STORAGE=redis://host:6379/0`` (or ``valkey://``,
``rediss://``…) shares the counts between workers and replicas. If the storage does not
answer, the request is refused with a 503 (``RateLimitUnavailable``), never waved through:
the limit is what stands between the oracle and an enumeration.

Keys are opaque (``logs.keyed_hash`` of the address, the office id, a hash of the staff key).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from limits import RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

__all__ = [
    "Limiter",
    "RateDecision",
    "RateLimit",
    "RateLimitUnavailable",
    "TrustedProxies",
    "make_storage",
    "parse_rate_limit",
    "storage_uri",
]

_UNIT_SECONDS: dict[str, int] = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
}
"""Accepted units. A bare ``m`` is deliberately absent: it reads as minute, month or milli."""
_RATE_PATTERN = re.compile(r"(\d{1,9})\s*/\s*([a-z]+)", re.ASCII)
_SETTING = "MOCHINUSHI_RATE_LIMIT"
_FORMAT_HELP = "expected N/second, N/minute or N/hour (also N/s, N/min, N/h) with N >= 1, or off"
_STORAGE_SCHEMES: Final = (
    "memory",
    "redis",
    "rediss",
    "redis+unix",
    "valkey",
    "valkeys",
    "valkey+unix",
)


class RateLimitUnavailable(Exception):
    """The shared counter store did not answer: refuse (503), never admit unchecked."""


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` allowed hits per key within any ``window_seconds`` span."""

    limit: int
    window_seconds: int

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError("rate limit must allow at least one request per window")
        if self.window_seconds < 1:
            raise ValueError("rate limit window must be at least one second")


@dataclass(frozen=True)
class RateDecision:
    """Outcome of one hit. ``retry_after_seconds`` is 0 when allowed, else >= 1 (for the
    ``Retry-After`` header, which takes whole seconds)."""

    allowed: bool
    retry_after_seconds: int


def parse_rate_limit(text: str, setting: str = _SETTING) -> RateLimit | None:
    """Parse a rate-limit setting; ``None`` means no limit (``off``).

    Case and surrounding whitespace are ignored; a plural unit (``30/minutes``) is accepted.
    """
    normalised = text.strip().lower()
    if normalised == "off":
        return None
    shown = text.strip()[:40]  # configuration, not personal data; shortened for the message
    match = _RATE_PATTERN.fullmatch(normalised)
    if match is None:
        raise ValueError(f"{setting}={shown!r} is not a valid rate limit: {_FORMAT_HELP}")
    count, unit = int(match.group(1)), match.group(2)
    window = _UNIT_SECONDS.get(unit)
    if window is None:
        raise ValueError(f"{setting}={shown!r} has an unknown time unit: {_FORMAT_HELP}")
    if count < 1:
        raise ValueError(
            f"{setting}={shown!r} must allow at least 1 request; use 'off' to disable limiting"
        )
    return RateLimit(limit=count, window_seconds=window)


def storage_uri(setting: str) -> str:
    """The ``limits`` async storage URI for ``MOCHINUSHI_RATE_LIMIT_STORAGE``.

    The value may hold a password, so an error names the scheme at most."""
    text = setting.strip() or "memory://"
    scheme, sep, _rest = text.partition("://")
    scheme = scheme.lower().removeprefix("async+")
    if not sep or scheme not in _STORAGE_SCHEMES:
        raise ValueError(
            "MOCHINUSHI_RATE_LIMIT_STORAGE must be memory:// or a redis://, rediss:// or "
            "valkey:// URL"
        )
    # Valkey speaks the redis protocol: one client library (coredis) for both.
    scheme = scheme.replace("valkey", "redis")
    return f"async+{scheme}://{_rest}"


def make_storage(setting: str) -> Storage:
    storage = storage_from_string(storage_uri(setting))
    assert isinstance(storage, Storage)
    return storage


class Limiter:
    """One budget (a ``limits`` namespace) over a shared storage."""

    def __init__(self, rate: RateLimit, storage: Storage, namespace: str) -> None:
        self._rate = rate
        self._item = RateLimitItemPerSecond(
            rate.limit, rate.window_seconds, namespace=f"mochinushi-{namespace}"
        )
        self._strategy = SlidingWindowCounterRateLimiter(storage)
        self._storage: Any = storage  # SlidingWindowCounterSupport: memory, redis, valkey

    @property
    def rate(self) -> RateLimit:
        return self._rate

    async def hit(self, key: str) -> RateDecision:
        """Count one attempt by ``key`` (an opaque identifier); raise ``RateLimitUnavailable``
        when the storage does not answer."""
        try:
            if await self._strategy.hit(self._item, key):
                return RateDecision(allowed=True, retry_after_seconds=0)
            window = await self._storage.get_sliding_window(
                self._item.key_for(key), self._item.get_expiry()
            )
        except Exception as error:
            raise RateLimitUnavailable(type(error).__name__) from error
        wait = _wait(*window, limit=self._rate.limit, expiry=float(self._item.get_expiry()))
        # Strictly after the instant the estimate drops (a microsecond covers the float error
        # of the storage's window arithmetic): round up, never "retry now".
        return RateDecision(allowed=False, retry_after_seconds=max(1, math.floor(wait + 1e-6) + 1))


def _wait(
    previous: int,
    previous_ttl: float,
    current: int,
    current_ttl: float,
    *,
    limit: int,
    expiry: float,
) -> float:
    """Seconds until ``floor(previous × ttl / expiry + current) + 1 <= limit`` again, assuming no
    further admitted hits (``limits``' sliding-window-counter admission rule; ``current_ttl`` runs
    one window past the current window's end)."""
    window_end = current_ttl - expiry if current_ttl > expiry else previous_ttl
    window_end = min(max(window_end, 0.0), expiry)
    if current < limit and previous > 0:
        # Still within this window: previous × (ttl − t) / expiry + current < limit.
        within = previous_ttl - expiry * (limit - current) / previous
        if within < window_end:
            return max(0.0, within)
    if current < limit:
        return window_end
    # Only the next window helps: there ``current`` weighs current × (expiry − s) / expiry.
    return window_end + max(0.0, expiry * (1.0 - limit / current))


class TrustedProxies:
    """Which peers may say, in ``X-Forwarded-For``, whom they forward for.

    Built from a comma-separated list of addresses and networks (``10.0.0.0/8,127.0.0.1``) or
    ``*`` (every peer: only behind a gateway that always overwrites the header). The client is
    the right-most address of the chain that is not itself a trusted proxy: each trusted hop
    appends the address it received from, so anything left of the first untrusted one is
    whatever the client chose to send.
    """

    def __init__(self, text: str) -> None:
        entries = [e.strip() for e in text.split(",") if e.strip()]
        self._all = "*" in entries
        networks = []
        for position, entry in enumerate(entries, start=1):
            if entry == "*":
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(
                    f"MOCHINUSHI_FORWARDED_ALLOW_IPS entry {position} is not an address or network"
                ) from None
        self._networks = tuple(networks)

    def __bool__(self) -> bool:
        return self._all or bool(self._networks)

    def trusts(self, address: str) -> bool:
        if self._all:
            return True
        try:
            ip = ipaddress.ip_address(address.strip().strip("[]"))
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def client(self, peer: str | None, forwarded_for: Iterable[str]) -> str:
        """The client address of a request from ``peer`` with these header values."""
        if peer is None:
            return "unknown"
        if not self.trusts(peer):
            return peer
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else peer
