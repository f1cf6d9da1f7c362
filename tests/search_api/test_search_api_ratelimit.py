"""Rate limiting: parsing MOCHINUSHI_RATE_LIMIT and the sliding-window limiter (fake clock)."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search_api.ratelimit import RateDecision, RateLimit, SlidingWindowLimiter, parse_rate_limit

# --- parse_rate_limit -----------------------------------------------------------------------


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


# --- SlidingWindowLimiter -------------------------------------------------------------------

T0 = 1_000.0


def limiter(limit: int = 3, window: int = 60, max_clients: int = 1000) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(RateLimit(limit, window), max_clients=max_clients)


def test_allows_up_to_the_limit_then_denies() -> None:
    lim = limiter(limit=3)
    assert [lim.hit("a", T0 + i).allowed for i in range(4)] == [True, True, True, False]


def test_allowed_decision_has_zero_retry_after() -> None:
    assert limiter().hit("a", T0) == RateDecision(allowed=True, retry_after_seconds=0)


def test_denied_decision_says_when_to_retry() -> None:
    lim = limiter(limit=3, window=60)
    for _ in range(3):
        lim.hit("a", T0)
    decision = lim.hit("a", T0 + 10)
    assert not decision.allowed
    # The window turns over at T0 + 60; exactly then the estimate still equals the limit, so
    # the first moment of admission is just after it.
    assert decision.retry_after_seconds == 51


def test_retry_after_is_honest() -> None:
    """Waiting retry_after seconds is enough, and waiting less is not."""
    lim = limiter(limit=3, window=60)
    for _ in range(3):
        lim.hit("a", T0)
    decision = lim.hit("a", T0 + 10)
    assert not lim.hit("a", T0 + 10 + decision.retry_after_seconds - 1.5).allowed
    assert lim.hit("a", T0 + 10 + decision.retry_after_seconds).allowed


def test_clients_are_independent() -> None:
    lim = limiter(limit=1)
    assert lim.hit("a", T0).allowed
    assert not lim.hit("a", T0).allowed
    assert lim.hit("b", T0).allowed


def test_previous_window_is_weighted_down_gradually() -> None:
    lim = limiter(limit=3, window=60)
    for _ in range(3):
        assert lim.hit("a", T0).allowed
    # Next window starts at T0 + 60 with previous = 3. At T0 + 60 + 20 the estimate is
    # 3 * (40 / 60) = 2 < 3: one more is admitted, then 2 + 1 = 3 is the limit again.
    assert not lim.hit("a", T0 + 60).allowed
    assert lim.hit("a", T0 + 80).allowed
    assert not lim.hit("a", T0 + 80).allowed


def test_everything_is_forgotten_after_two_windows() -> None:
    lim = limiter(limit=3, window=60)
    for _ in range(3):
        lim.hit("a", T0)
    assert [lim.hit("a", T0 + 120).allowed for _ in range(4)] == [True, True, True, False]


def test_denied_hits_are_not_counted() -> None:
    lim = limiter(limit=2, window=10)
    lim.hit("a", T0)
    lim.hit("a", T0)
    for i in range(100):
        assert not lim.hit("a", T0 + i * 0.05).allowed
    assert [lim.hit("a", T0 + 20).allowed for _ in range(3)] == [True, True, False]


def test_per_second_limit() -> None:
    lim = limiter(limit=5, window=1)
    assert sum(lim.hit("a", T0 + i * 0.01).allowed for i in range(20)) == 5
    assert lim.hit("a", T0 + 2).allowed


def test_clock_stepping_back_does_not_crash_or_reset() -> None:
    lim = limiter(limit=2, window=60)
    lim.hit("a", T0)
    lim.hit("a", T0)
    decision = lim.hit("a", T0 - 30)
    assert not decision.allowed
    assert decision.retry_after_seconds >= 1


def test_idle_clients_are_evicted() -> None:
    lim = limiter(limit=3, window=60)
    for n in range(50):
        lim.hit(f"client-{n}", T0)
    assert lim.tracked_clients() == 50
    lim.hit("late", T0 + 119)
    assert lim.tracked_clients() == 51
    lim.hit("later", T0 + 120)
    assert lim.tracked_clients() == 2


def test_active_clients_are_not_evicted_as_idle() -> None:
    lim = limiter(limit=3, window=60)
    lim.hit("steady", T0)
    lim.hit("steady", T0)
    lim.hit("steady", T0 + 100)
    lim.hit("other", T0 + 150)
    assert lim.tracked_clients() == 2
    # "steady" keeps its state. At T0 + 101 its window (from T0 + 60) holds 1 hit and the
    # previous one 2, weighted 19/60: 1.63, then 2.63 are below 3, the next is not. A forgotten
    # client would have been admitted three times.
    assert [lim.hit("steady", T0 + 101).allowed for _ in range(3)] == [True, True, False]


def test_memory_is_bounded_by_max_clients() -> None:
    lim = limiter(limit=3, window=3600, max_clients=100)
    for n in range(10_000):
        lim.hit(f"client-{n}", T0 + n * 0.001)
    assert lim.tracked_clients() == 100


def test_least_recently_seen_client_is_dropped_first() -> None:
    lim = limiter(limit=1, window=3600, max_clients=2)
    lim.hit("a", T0)
    lim.hit("b", T0 + 1)
    lim.hit("a", T0 + 2)  # denied, but "a" is now the most recently seen
    lim.hit("c", T0 + 3)  # evicts "b"
    assert not lim.hit("a", T0 + 4).allowed  # "a" still remembered
    assert lim.hit("b", T0 + 5).allowed  # "b" was forgotten


def test_invalid_max_clients() -> None:
    with pytest.raises(ValueError):
        SlidingWindowLimiter(RateLimit(1, 1), max_clients=0)


def test_rate_is_exposed() -> None:
    assert limiter(limit=7, window=60).rate == RateLimit(7, 60)


def test_thread_safety_admits_exactly_the_limit() -> None:
    lim = limiter(limit=500, window=60)
    allowed: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        results = [lim.hit("shared", T0).allowed for _ in range(200)]
        with lock:
            allowed.extend(results)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 1600
    assert sum(allowed) == 500


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=20),
    window=st.sampled_from([1, 60, 3600]),
    gaps=st.lists(st.floats(min_value=0, max_value=2, allow_nan=False), max_size=200),
)
def test_never_more_than_twice_the_limit_in_any_window(
    limit: int, window: int, gaps: list[float]
) -> None:
    """The estimate can under-count at most the previous window, so any span of one window
    length holds fewer than 2 * limit admitted hits; and retry_after is always >= 1 when denied."""
    lim = limiter(limit=limit, window=window)
    now = T0
    admitted: list[float] = []
    for gap in gaps:
        now += gap * window / 2
        decision = lim.hit("a", now)
        if decision.allowed:
            assert decision.retry_after_seconds == 0
            admitted.append(now)
        else:
            assert decision.retry_after_seconds >= 1
    for start in admitted:
        in_span = [t for t in admitted if start <= t < start + window]
        assert len(in_span) <= 2 * limit


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=10),
    times=st.lists(st.floats(min_value=0, max_value=200, allow_nan=False), min_size=1),
)
def test_retry_after_always_admits(limit: int, times: list[float]) -> None:
    """Whatever came before, a denied client is admitted after waiting retry_after seconds."""
    lim = limiter(limit=limit, window=60)
    now = T0
    for t in sorted(times):
        now = T0 + t
        lim.hit("a", now)
    decision = lim.hit("a", now)
    if not decision.allowed:
        assert lim.hit("a", now + decision.retry_after_seconds).allowed
