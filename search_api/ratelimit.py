"""Per-client rate limiting of existence checks.

Why limit at all: each existence check is a yes/no oracle over personal data. Without a limit a
caller could enumerate (name, birth date) combinations and learn who has unmatched pension
records. ``MOCHINUSHI_RATE_LIMIT`` sets the allowance per client; ``off`` hands the job to a
gateway (or lets a load test run).

Algorithm: the *sliding window counter* (as used by Cloudflare and many gateways). Per client
we keep only the count of the current fixed window, the count of the previous one and when the
current one started; the estimated number of hits in the last window length is
``previous * (share of the previous window still inside the sliding window) + current``.
That costs O(1) memory per client whatever the limit (an exact log of timestamps would cost
O(limit) per client: 10 000/hour times many clients adds up), and it smooths the burst that a
plain fixed window allows at window edges. It is an approximation: right after a window turns
over, a client that used its whole allowance is admitted gradually rather than all at once.

Denied hits are not counted, so a client that keeps hammering is admitted again as soon as its
earlier, allowed hits age out.

Scope: the state lives in this process. Several API replicas each count separately, so a
client reaching N replicas gets up to N times the limit. Deployments with several replicas must
enforce the limit in the gateway or a shared store (e.g. Redis) and may set ``off`` here.

Memory is bounded: clients whose state has fully aged out are evicted, and when more than
``max_clients`` are tracked the least recently seen one is dropped (which at worst forgets a
client's past hits; it never blocks anyone wrongly).
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

__all__ = [
    "RateDecision",
    "RateLimit",
    "SlidingWindowLimiter",
    "parse_rate_limit",
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

DEFAULT_MAX_CLIENTS = 100_000


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` allowed hits per client within any ``window_seconds`` span."""

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


def parse_rate_limit(text: str) -> RateLimit | None:
    """Parse the ``MOCHINUSHI_RATE_LIMIT`` setting; ``None`` means no limit (``off``).

    Case and surrounding whitespace are ignored; a plural unit (``30/minutes``) is accepted.
    """
    normalised = text.strip().lower()
    if normalised == "off":
        return None
    shown = text.strip()[:40]  # configuration, not personal data; shortened for the message
    match = _RATE_PATTERN.fullmatch(normalised)
    if match is None:
        raise ValueError(f"{_SETTING}={shown!r} is not a valid rate limit: {_FORMAT_HELP}")
    count, unit = int(match.group(1)), match.group(2)
    window = _UNIT_SECONDS.get(unit)
    if window is None:
        raise ValueError(f"{_SETTING}={shown!r} has an unknown time unit: {_FORMAT_HELP}")
    if count < 1:
        raise ValueError(
            f"{_SETTING}={shown!r} must allow at least 1 request; use 'off' to disable limiting"
        )
    return RateLimit(limit=count, window_seconds=window)


@dataclass
class _ClientWindow:
    window_start: float
    current: int
    previous: int
    last_seen: float


class SlidingWindowLimiter:
    """In-process per-client limiter; see the module docstring for algorithm and scope.

    ``hit`` takes the current time (e.g. ``time.monotonic()``) from the caller, so the limiter
    owns no clock and tests need no sleeping. A lock makes it safe across threads; the critical
    section is short and never awaits, so it is equally fine on an asyncio event loop.
    """

    def __init__(self, rate: RateLimit, max_clients: int = DEFAULT_MAX_CLIENTS) -> None:
        if max_clients < 1:
            raise ValueError("max_clients must be at least 1")
        self._rate = rate
        self._max_clients = max_clients
        self._clients: OrderedDict[str, _ClientWindow] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def rate(self) -> RateLimit:
        return self._rate

    def tracked_clients(self) -> int:
        """How many clients currently hold state (for tests and a gauge)."""
        with self._lock:
            return len(self._clients)

    def hit(self, client_key: str, now: float) -> RateDecision:
        """Count one attempt by ``client_key`` at time ``now`` (seconds, monotonic).

        ``client_key`` should be an opaque identifier (e.g. ``logs.keyed_hash`` of the client
        address), so the limiter never holds raw addresses.
        """
        with self._lock:
            self._evict_idle(now)
            state = self._clients.get(client_key)
            if state is None:
                state = _ClientWindow(window_start=now, current=0, previous=0, last_seen=now)
                self._clients[client_key] = state
                if len(self._clients) > self._max_clients:
                    self._clients.popitem(last=False)
            else:
                self._clients.move_to_end(client_key)
            state.last_seen = max(state.last_seen, now)
            self._roll(state, now)
            decision = self._decide(state, now)
            if decision.allowed:
                state.current += 1
            return decision

    def _roll(self, state: _ClientWindow, now: float) -> None:
        """Advance the client's fixed windows so that ``now`` falls in the current one."""
        window = self._rate.window_seconds
        elapsed = now - state.window_start
        if elapsed < window:
            return  # also covers a clock that stepped back: stay in the current window
        windows_passed = int(elapsed // window)
        state.previous = state.current if windows_passed == 1 else 0
        state.current = 0
        state.window_start += windows_passed * window

    def _decide(self, state: _ClientWindow, now: float) -> RateDecision:
        window = self._rate.window_seconds
        limit = self._rate.limit
        elapsed = min(max(now - state.window_start, 0.0), float(window))
        previous_weight = 1.0 - elapsed / window
        if state.previous * previous_weight + state.current < limit:
            return RateDecision(allowed=True, retry_after_seconds=0)
        return RateDecision(allowed=False, retry_after_seconds=self._retry_after(state, elapsed))

    def _retry_after(self, state: _ClientWindow, elapsed: float) -> int:
        """Seconds until the estimate drops below the limit, assuming no further allowed hits."""
        window = self._rate.window_seconds
        limit = self._rate.limit
        room = limit - state.current
        if room > 0 and state.previous > 0:
            # Still within this window:
            # previous * (1 - t / window) < room  <=>  t > window * (1 - room / previous).
            threshold = window * (1.0 - room / state.previous)
            wait = threshold - elapsed
        else:
            # Only the next window helps: there the current count becomes "previous" and
            # current * (1 - t / window) < limit  <=>  t > window * (1 - limit / current).
            threshold = max(0.0, window * (1.0 - limit / state.current))
            wait = (window - elapsed) + threshold
        # Strict inequalities above: round up and never advise retrying immediately.
        return max(1, math.floor(wait) + 1)

    def _evict_idle(self, now: float) -> None:
        """Drop clients whose hits have aged out completely (two windows after their last hit).

        Clients are kept in least-recently-seen order, so this stops at the first active one.
        """
        horizon = 2 * self._rate.window_seconds
        while self._clients:
            oldest_key, oldest = next(iter(self._clients.items()))
            if now - oldest.last_seen < horizon:
                break
            del self._clients[oldest_key]
