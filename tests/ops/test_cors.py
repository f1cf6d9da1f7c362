"""MOCHINUSHI_CORS_ORIGINS: empty by default (no CORS headers at all), else exactly the listed
origins may call the API from a browser."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from mochinushi.settings import Settings
from search_api.app import create_app

ALLOWED = "https://app.example.jp"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type",
}


def _client(**overrides: str) -> TestClient:
    return TestClient(create_app(Settings(alias="test-cors-no-such-alias", **overrides)))


def test_no_cors_headers_by_default() -> None:
    assert Settings().cors_origins == ""
    with _client() as client:
        for origin in (ALLOWED, "https://evil.example"):
            health = client.get("/healthz", headers={"Origin": origin})
            preflight = client.options(
                "/v1/existence-checks", headers={"Origin": origin, **PREFLIGHT}
            )
            for response in (health, preflight):
                assert not [h for h in response.headers if h.startswith("access-control-")]
            assert preflight.status_code == 405


def test_listed_origins_only() -> None:
    with _client(cors_origins=f"{ALLOWED}, http://localhost:5173") as client:
        ok = client.options("/v1/existence-checks", headers={"Origin": ALLOWED, **PREFLIGHT})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == ALLOWED
        assert "POST" in ok.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in ok.headers
        simple = client.get("/healthz", headers={"Origin": "http://localhost:5173"})
        assert simple.headers["access-control-allow-origin"] == "http://localhost:5173"
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
        other = client.options(
            "/v1/existence-checks", headers={"Origin": "https://evil.example", **PREFLIGHT}
        )
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers
        assert (
            "access-control-allow-origin"
            not in client.get("/healthz", headers={"Origin": "https://evil.example"}).headers
        )


@pytest.mark.parametrize("value", ["*", "https://app.example/path", "app.example", "ftp://x"])
def test_only_plain_origins_are_accepted(value: str) -> None:
    with pytest.raises(ValidationError, match="MOCHINUSHI_CORS_ORIGINS"):
        Settings(cors_origins=value)
