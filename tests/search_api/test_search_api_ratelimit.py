"""Rate limiting: parsing the settings, the ``limits``-based limiter (in memory, fake clock via
``time.time``), trusted proxies, and the storage setting. A real redis shared by two limiters is
in tests/partners/test_partner_channels.py when redis-server is installed."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search_api.ratelimit import (
    Limiter,
    RateDecision,
    RateLimit,
    RateLimitUnavailable,
    TrustedProxies,
    make_storage,
    parse_rate_limit,
    storage_uri,
)

# --- parse_rate_limit -----------------------------------------------------------------------


def run_async(coroutine: Any) -> Any:
    """Run ``coroutine`` on a loop of its own in a worker thread: the browser tests' sync
    Playwright keeps an event loop running in the main thread, where asyncio.run refuses."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.mark.parametrize(
    ("text", "limit", "window"),
    [
        ("30/minute", 30, 60),
        ("30/min", 30, 60),
        ("30/minutes", 30, 60),
        ("5/second", 5, 1),
        ("5/s", 5, 1),
        ("5/sec", 5, 1),
        ("1000/hour", 1000, 3600),
        ("1000/h", 1000, 3600),
        ("1000/hr", 1000, 3600),
        ("  30 / minute  ", 30, 60),
        ("30/MINUTE", 30, 60),
        ("\t7/Hour\n", 7, 3600),
        ("1/s", 1, 1),
    ],
)
def test_parse_valid_rate_limits(text: str, limit: int, window: int) -> None:
    assert parse_rate_limit(text) == RateLimit(limit=limit, window_seconds=window)


@pytest.mark.parametrize("text", ["off", "OFF", " Off "])
def test_off_disables_limiting(text: str) -> None:
    assert parse_rate_limit(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "30",
        "minute",
        "30/",
        "/minute",
        "30/day",
        "30/m",  # ambiguous: minute, month or milli
        "30/ms",
        "-1/minute",
        "+3/minute",
        "1.5/second",
        "30 per minute",
        "30/minute/extra",
        "３０/minute",  # full-width digits
        "on",
        "none",
    ],
)
def test_bad_rate_limits_name_the_setting(text: str) -> None:
    with pytest.raises(ValueError, match="MOCHINUSHI_RATE_LIMIT"):
        parse_rate_limit(text)


def test_zero_is_rejected_with_a_hint_to_use_off() -> None:
    with pytest.raises(ValueError, match="off"):
        parse_rate_limit("0/minute")


def test_error_message_lists_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match=r"N/second, N/minute or N/hour"):
        parse_rate_limit("lots")


def test_rate_limit_validates_its_fields() -> None:
    with pytest.raises(ValueError):
        RateLimit(limit=0, window_seconds=60)
    with pytest.raises(ValueError):
        RateLimit(limit=1, window_seconds=0)


# --- the limiter (limits' sliding window counter, in memory) --------------------------------

T0 = 1_080_000.0
"""A multiple of every window length: ``limits`` aligns its windows to the epoch."""


class FakeTime:
    """``time.time`` for the limiter and its storage: tests move it instead of sleeping."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTime]:
    fake = FakeTime()
    monkeypatch.setattr("time.time", fake)
    yield fake


def limiter(limit: int = 3, window: int = 60, namespace: str = "test") -> Limiter:
    return Limiter(RateLimit(limit, window), make_storage("memory://"), namespace)


def hits(lim: Limiter, key: str, n: int) -> list[RateDecision]:
    async def run() -> list[RateDecision]:
        return [await lim.hit(key) for _ in range(n)]

    return run_async(run())


def test_allows_up_to_the_limit_then_denies(clock: FakeTime) -> None:
    assert [d.allowed for d in hits(limiter(limit=3), "a", 5)] == [True, True, True, False, False]


def test_allowed_decision_has_zero_retry_after(clock: FakeTime) -> None:
    assert hits(limiter(), "a", 1)[0] == RateDecision(allowed=True, retry_after_seconds=0)


def test_denied_decision_says_when_to_retry(clock: FakeTime) -> None:
    decision = hits(limiter(limit=2, window=60), "a", 3)[-1]
    assert not decision.allowed
    assert 1 <= decision.retry_after_seconds <= 61


def test_retry_after_is_honest(clock: FakeTime) -> None:
    """Waiting what a denial says admits the client again; waiting clearly less does not."""
    lim = limiter(limit=2, window=10)

    async def run() -> None:
        for _ in range(2):
            assert (await lim.hit("a")).allowed
        denied = await lim.hit("a")
        assert not denied.allowed
        clock.now += denied.retry_after_seconds - 2
        assert not (await lim.hit("a")).allowed
        clock.now += 2
        assert (await lim.hit("a")).allowed

    run_async(run())


def test_clients_are_independent(clock: FakeTime) -> None:
    lim = limiter(limit=1)

    async def run() -> list[bool]:
        return [(await lim.hit(k)).allowed for k in ("a", "a", "b", "b")]

    assert run_async(run()) == [True, False, True, False]


def test_budgets_are_independent_namespaces(clock: FakeTime) -> None:
    storage = make_storage("memory://")
    checks = Limiter(RateLimit(1, 60), storage, "checks")
    staff = Limiter(RateLimit(1, 60), storage, "staff")

    async def run() -> list[bool]:
        return [(await lim.hit("same-key")).allowed for lim in (checks, checks, staff, staff)]

    assert run_async(run()) == [True, False, True, False]


def test_previous_window_is_weighted_down_gradually(clock: FakeTime) -> None:
    """A client that used its whole allowance is let back in gradually, not all at once."""
    lim = limiter(limit=10, window=60)

    async def run() -> tuple[int, int]:
        for _ in range(10):
            assert (await lim.hit("a")).allowed
        clock.now += 60 + 15  # a quarter into the next window: ~7.5 of 10 still weigh
        first = sum([(await lim.hit("a")).allowed for _ in range(10)])
        clock.now += 30  # three quarters in
        second = sum([(await lim.hit("a")).allowed for _ in range(10)])
        return first, second

    first, second = run_async(run())
    assert 1 <= first <= 3
    assert second >= 1


def test_everything_is_forgotten_after_two_windows(clock: FakeTime) -> None:
    lim = limiter(limit=2, window=60)

    async def run() -> list[bool]:
        for _ in range(3):
            await lim.hit("a")
        clock.now += 121
        return [(await lim.hit("a")).allowed for _ in range(3)]

    assert run_async(run()) == [True, True, False]


def test_denied_hits_are_not_counted(clock: FakeTime) -> None:
    """Hammering while denied does not push the client's re-admission further away."""
    lim = limiter(limit=2, window=60)

    async def run() -> bool:
        for _ in range(50):
            await lim.hit("a")
        clock.now += 121
        return (await lim.hit("a")).allowed

    assert run_async(run())


def test_per_second_limit(clock: FakeTime) -> None:
    lim = limiter(limit=2, window=1)

    async def run() -> list[bool]:
        result = [(await lim.hit("a")).allowed for _ in range(3)]
        clock.now += 2.5
        result.append((await lim.hit("a")).allowed)
        return result

    assert run_async(run()) == [True, True, False, True]


def test_rate_is_exposed() -> None:
    assert limiter(limit=7, window=60).rate == RateLimit(7, 60)


def test_concurrent_hits_admit_exactly_the_limit(clock: FakeTime) -> None:
    lim = limiter(limit=500, window=60)

    async def run() -> list[bool]:
        decisions = await asyncio.gather(*(lim.hit("shared") for _ in range(1600)))
        return [d.allowed for d in decisions]

    allowed = run_async(run())
    assert len(allowed) == 1600 and sum(allowed) == 500


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=20),
    gaps=st.lists(st.floats(min_value=0, max_value=2, allow_nan=False), max_size=120),
)
def test_never_more_than_twice_the_limit_in_any_window(limit: int, gaps: list[float]) -> None:
    """The estimate can under-count at most the previous window, so any span of one window
    length holds at most 2 * limit admitted hits; retry_after is always >= 1 when denied."""
    window = 60
    fake = FakeTime()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("time.time", fake)
        lim = limiter(limit=limit, window=window)

        async def run() -> list[float]:
            admitted: list[float] = []
            for gap in gaps:
                fake.now += gap * window / 2
                decision = await lim.hit("a")
                if decision.allowed:
                    admitted.append(fake.now)
                else:
                    assert decision.retry_after_seconds >= 1
            return admitted

        admitted = run_async(run())
    for i, start in enumerate(admitted):
        inside = [t for t in admitted[i:] if t < start + window]
        assert len(inside) <= 2 * limit


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=10),
    times=st.lists(st.floats(min_value=0, max_value=200, allow_nan=False), min_size=1),
)
def test_retry_after_always_admits(limit: int, times: list[float]) -> None:
    """Whatever came before, a burst of limit + 1 hits at one instant is denied, and waiting
    the retry_after it says (at most one window, rounded up) admits the client again."""
    fake = FakeTime()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("time.time", fake)
        lim = limiter(limit=limit, window=60)

        async def run() -> None:
            for t in sorted(times):
                fake.now = T0 + t
                await lim.hit("a")
            burst = [await lim.hit("a") for _ in range(limit + 1)]
            denied = [decision for decision in burst if not decision.allowed]
            assert denied, "a burst of limit + 1 hits at one instant must be denied"
            wait = denied[0].retry_after_seconds
            assert 1 <= wait <= 60 + 1
            fake.now += wait
            assert (await lim.hit("a")).allowed

        run_async(run())


def test_a_storage_that_does_not_answer_refuses() -> None:
    """redis down: the hit raises (the API answers 503), it never admits unchecked."""
    lim = Limiter(RateLimit(5, 60), make_storage("redis://127.0.0.1:9/0"), "down")
    with pytest.raises(RateLimitUnavailable):
        hits(lim, "a", 1)


# --- the storage setting ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "uri"),
    [
        ("", "async+memory://"),
        ("memory://", "async+memory://"),
        ("redis://cache:6379/0", "async+redis://cache:6379/0"),
        ("rediss://u:p@cache:6380", "async+rediss://u:p@cache:6380"),
        ("valkey://cache:6379", "async+redis://cache:6379"),
        ("valkeys://cache:6380", "async+rediss://cache:6380"),
        ("async+redis://cache", "async+redis://cache"),
    ],
)
def test_storage_settings(setting: str, uri: str) -> None:
    assert storage_uri(setting) == uri


@pytest.mark.parametrize("setting", ["mysql://u:secret-pass@db", "cache:6379", "file:///tmp"])
def test_a_bad_storage_setting_is_named_without_its_password(setting: str) -> None:
    with pytest.raises(ValueError, match="MOCHINUSHI_RATE_LIMIT_STORAGE") as caught:
        storage_uri(setting)
    assert "secret-pass" not in str(caught.value)


# --- trusted proxies --------------------------------------------------------------------------


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    proxies = TrustedProxies("")
    assert not proxies
    assert proxies.client("203.0.113.9", ["198.51.100.1"]) == "203.0.113.9"


def test_a_trusted_proxy_names_the_client() -> None:
    proxies = TrustedProxies("10.0.0.0/8, 127.0.0.1")
    assert proxies.client("10.1.2.3", ["198.51.100.7"]) == "198.51.100.7"
    # a client cannot pick its address: the trusted hop appended the one it saw, right-most
    assert proxies.client("10.1.2.3", ["6.6.6.6, 198.51.100.7"]) == "198.51.100.7"
    # two trusted hops: the first untrusted address from the right
    assert proxies.client("127.0.0.1", ["6.6.6.6, 198.51.100.7, 10.9.9.9"]) == "198.51.100.7"
    # several header lines are one list
    assert proxies.client("10.1.2.3", ["6.6.6.6", "198.51.100.7"]) == "198.51.100.7"
    # an untrusted peer's header is ignored
    assert proxies.client("198.51.100.50", ["1.2.3.4"]) == "198.51.100.50"
    # a trusted peer without the header is itself the client
    assert proxies.client("10.1.2.3", []) == "10.1.2.3"


def test_ipv6_and_everything_trusted() -> None:
    assert TrustedProxies("::1").client("::1", ["2001:db8::5"]) == "2001:db8::5"
    assert TrustedProxies("*").client("198.51.100.1", ["203.0.113.4"]) == "203.0.113.4"


def test_a_bad_proxy_entry_is_named() -> None:
    with pytest.raises(ValueError, match="MOCHINUSHI_FORWARDED_ALLOW_IPS entry 2"):
        TrustedProxies("10.0.0.1, proxy.example")
