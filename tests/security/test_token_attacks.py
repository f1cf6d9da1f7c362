"""Attacks on reference tokens and staff keys through the HTTP layer.

tests/api/test_existence_api.py covers a flipped character, a forged string, a truncated
token, a token past 91 days and key rotation. Added here: replay around the expiry instant,
tokens sealed by another deployment (other secret, even under the same key id), tokens with
URL-special characters, non-canonical spellings and extreme lengths, and proof that a staff key
guesser learns nothing from the 401 (identical for a missing, wrong, malformed or near-miss
key, and identical whatever the token).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import urllib.parse
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search_api.app import create_app
from search_api.service import MISTYPED_BODY, MISTYPED_EXCLUDED_BODY
from search_api.tokens import MAX_TOKEN_CHARS
from tests.security.support import (
    FOUND_CHECK,
    OTHER_DEPLOYMENT_SECRET,
    OTHER_STAFF_KEY,
    STAFF_KEY,
    Clock,
    security_settings,
    staff_headers,
)

pytestmark = pytest.mark.opensearch

TOKENS = "/v1/reference-tokens/"
UNKNOWN_BODY = {"error": "unknown_token", "message": "No such reference token."}
MISTYPED_BODIES = [dict(MISTYPED_BODY), dict(MISTYPED_EXCLUDED_BODY)]  # contract v1.1
UNAUTHORIZED_BODY = {"error": "unauthorized", "message": "A valid staff key is required."}


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def logs() -> io.StringIO:
    return io.StringIO()


@pytest.fixture()
def api(crafted_alias: str, clock: Clock, logs: io.StringIO) -> Iterator[TestClient]:
    app = create_app(security_settings(crafted_alias), clock=clock, log_stream=logs)
    with TestClient(app) as client:
        yield client


def _issue(client: TestClient) -> str:
    response = client.post("/v1/existence-checks", json=FOUND_CHECK)
    assert response.status_code == 200, response.text
    token = response.json()["reference_token"]
    assert isinstance(token, str)
    return token


def _resolve(client: TestClient, token: str, key: str = STAFF_KEY) -> int:
    return int(client.get(TOKENS + token, headers=staff_headers(key)).status_code)


# ---- replay and expiry -----------------------------------------------------------------------


def test_replay_until_the_expiry_instant_then_410_for_good(api: TestClient, clock: Clock) -> None:
    token = _issue(api)
    first = api.get(TOKENS + token, headers=staff_headers())
    assert first.status_code == 200
    expires_at = dt.datetime.fromisoformat(first.json()["expires_at"])
    # Stateless tokens can be replayed (by design; see tokens.py) by any staff key...
    assert _resolve(api, token, OTHER_STAFF_KEY) == 200
    clock.now = expires_at - dt.timedelta(seconds=1)
    assert api.get(TOKENS + token, headers=staff_headers()).json() == first.json()
    # ...but not from the expiry instant on, and expiry never flips back.
    clock.now = expires_at
    statuses = [_resolve(api, token) for _ in range(3)]
    clock.now = expires_at + dt.timedelta(days=3650)
    statuses.append(_resolve(api, token))
    assert statuses == [410, 410, 410, 410]
    expired = api.get(TOKENS + token, headers=staff_headers())
    assert expired.json() == {"error": "expired", "message": "This reference token has expired."}
    assert "R-SMALL" not in expired.text


def test_an_altered_expired_token_is_404_not_410(api: TestClient, clock: Clock) -> None:
    """410 proves authenticity; a tampered expired token must not get it."""
    token = _issue(api)
    clock.now += dt.timedelta(days=400)
    assert _resolve(api, token) == 410
    middle = len(token) // 2
    altered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    assert _resolve(api, altered) == 404


def test_a_token_issued_in_the_future_of_the_clock_still_resolves(
    api: TestClient, clock: Clock
) -> None:
    """A replica whose clock runs behind the issuer's must not reject a fresh token."""
    token = _issue(api)
    clock.now -= dt.timedelta(hours=1)
    assert _resolve(api, token) == 200


# ---- tokens from another deployment ----------------------------------------------------------


@pytest.mark.parametrize(
    "other_secret",
    [
        OTHER_DEPLOYMENT_SECRET,
        "zz:a-completely-different-kid-0001",
        "one-bare-secret-of-enough-chars",
    ],
    ids=["same-kid-other-secret", "unknown-kid", "bare-secret"],
)
def test_a_token_from_another_deployment_is_404(
    crafted_alias: str, api: TestClient, clock: Clock, other_secret: str
) -> None:
    other = create_app(security_settings(crafted_alias, token_secret=other_secret), clock=clock)
    with TestClient(other) as elsewhere:
        foreign = _issue(elsewhere)
        assert _resolve(elsewhere, foreign) == 200
    response = api.get(TOKENS + foreign, headers=staff_headers())
    assert response.status_code == 404
    assert response.json() == UNKNOWN_BODY
    clock.now += dt.timedelta(days=400)
    assert _resolve(api, foreign) == 404, "an expired foreign token is not 'expired' here"


# ---- malformed tokens ------------------------------------------------------------------------


def _accepted_spellings(number: str) -> list[str]:
    """How a person types or a scanner sends a reference number (contract v1.1): all resolve."""
    quote = urllib.parse.quote
    return [
        token
        for token in (
            number.swapcase(),
            number.replace("-", ""),
            quote(number + " ", safe=""),
            quote(" " + number, safe=""),
            quote(number + "\n", safe=""),
            quote(number.replace("-", " "), safe=""),
        )
    ]


def _variants(token: str) -> list[str]:
    """Mangled spellings of a valid number, already URL-encoded where needed."""
    quote = urllib.parse.quote
    return [
        token + "=",
        token + "==",
        token.replace("-", "+"),
        quote(token + "\x00", safe=""),
        token + token,
        token[:-1],
        token + "A",
        quote(token[:10] + "/" + token[10:], safe=""),
        quote(token[:10] + "%" + token[10:], safe=""),
        quote(token, safe="") + "%00",
        quote("ｔｏｋｅｎ" + token, safe=""),
    ]


URL_SPECIAL = [
    "%2F", "a%2Fb", "..%2F..%2Fmetrics", "%2E%2E", ".", "%3F", "a%3Fx%3D1", "%23", "a%23b",
    "%25", "%2525", "%00", "%0D%0A", "%20", "+", "%2B", ";", "a;b=c", "%3B", "%5C", "~",
    "%E2%80%AE", "%F0%9F%98%80", "%FF", "%C0%AE", "*", "'%20OR%20'1'%3D'1", "%3Cscript%3E",
]  # fmt: skip


ROUTE_NOT_FOUND_BODY = {"detail": "Not Found"}  # a decoded "/" leaves the route (Starlette)


def _assert_refused(client: TestClient, path_token: str) -> None:
    """404 with one of two fixed bodies (or a 422 naming no value); never 200 or 5xx."""
    response = client.get(TOKENS + path_token, headers=staff_headers())
    assert response.status_code in (404, 422), (path_token, response.status_code)
    body = response.json()
    if response.status_code == 404:
        assert body in (UNKNOWN_BODY, ROUTE_NOT_FOUND_BODY, *MISTYPED_BODIES), body
    else:
        assert body["error"] == "invalid_input"
        decoded = urllib.parse.unquote(path_token).strip()
        assert len(decoded) < 4 or decoded not in json.dumps(body["fields"], ensure_ascii=False)


def test_non_canonical_and_mangled_spellings_of_a_valid_token(api: TestClient) -> None:
    token = _issue(api)
    resolved = api.get(TOKENS + token, headers=staff_headers())
    assert resolved.status_code == 200
    for spelling in _accepted_spellings(token):
        assert api.get(TOKENS + spelling, headers=staff_headers()).json() == resolved.json()
    for variant in _variants(token):
        _assert_refused(api, variant)


@pytest.mark.parametrize("path_token", URL_SPECIAL)
def test_url_special_characters_are_refused_without_a_500(api: TestClient, path_token: str) -> None:
    _assert_refused(api, path_token)


@pytest.mark.parametrize(
    "length",
    [
        MAX_TOKEN_CHARS - 1,
        MAX_TOKEN_CHARS,
        MAX_TOKEN_CHARS + 1,
        60_000,
    ],  # httpx refuses URLs over 64 KiB
)
def test_very_long_tokens_are_404(api: TestClient, length: int) -> None:
    response = api.get(TOKENS + "A" * length, headers=staff_headers())
    assert response.status_code == 404
    assert response.json() == UNKNOWN_BODY


def test_a_valid_token_padded_to_the_limit_is_refused(api: TestClient) -> None:
    token = _issue(api)
    _assert_refused(api, token + "A" * (MAX_TOKEN_CHARS - len(token)))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.text(min_size=1, max_size=300))
def test_any_text_as_a_token_is_404_or_422(crafted_alias: str, raw: str) -> None:
    app = create_app(security_settings(crafted_alias), log_stream=io.StringIO())
    with TestClient(app) as client:
        _assert_refused(client, urllib.parse.quote(raw, safe=""))


# ---- staff keys ------------------------------------------------------------------------------

NEAR_MISSES = [
    None,
    "",
    "Bearer",
    "Bearer ",
    f"Bearer {STAFF_KEY[:-1]}",
    f"Bearer {STAFF_KEY}x",
    f"Bearer {STAFF_KEY.upper()}",
    f"bearer {STAFF_KEY}",
    f"Basic {STAFF_KEY}",
    STAFF_KEY,
    f"Bearer {STAFF_KEY},{OTHER_STAFF_KEY}",
    f"Bearer {STAFF_KEY[: len(STAFF_KEY) // 2]}",
    "Bearer " + "x" * 10_000,
    f"Token {STAFF_KEY}",
]


def _unauthorized(
    client: TestClient, token: str, authorization: str | None
) -> tuple[bytes, tuple[tuple[str, str], ...]]:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.get(TOKENS + token, headers=headers)
    assert response.status_code == 401, authorization
    kept = sorted((k, v) for k, v in response.headers.items() if k.lower() != "x-request-id")
    return response.content, tuple(kept)


def test_every_wrong_or_missing_staff_key_gets_the_same_401(
    api: TestClient, logs: io.StringIO
) -> None:
    token = _issue(api)
    answers = {_unauthorized(api, t, a) for a in NEAR_MISSES for t in (token, "garbage")}
    assert len(answers) == 1, answers
    ((body, headers),) = answers
    assert body == b'{"error":"unauthorized","message":"A valid staff key is required."}'
    assert ("www-authenticate", "Bearer") in headers
    metrics = api.get("/metrics").text
    assert f'result="unauthorized"}} {2 * len(NEAR_MISSES)}.0' in metrics
    written = logs.getvalue() + metrics
    assert STAFF_KEY not in written and STAFF_KEY[:-1] not in written
    assert STAFF_KEY[: len(STAFF_KEY) // 2] not in written


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(key=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60))
def test_guessed_keys_all_get_the_identical_401(crafted_alias: str, key: str) -> None:
    app = create_app(security_settings(crafted_alias), log_stream=io.StringIO())
    with TestClient(app) as client:
        expected = _unauthorized(client, "garbage", None)
        if key.strip() not in (STAFF_KEY, OTHER_STAFF_KEY):
            assert _unauthorized(client, "garbage", f"Bearer {key}") == expected
            assert _unauthorized(client, "garbage", key) == expected
