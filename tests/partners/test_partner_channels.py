"""Partner channels on the real node: a partner key marks a check's channel and office, sealed in
its reference entry; offices have their own limit (one NAT does not throttle them); staff keys
name their office; trusted proxies name the client; metrics carry the channel, never an office;
and (when redis-server is installed) two apps share one redis-backed budget."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import io
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opensearchpy import AsyncOpenSearch, OpenSearch

from mochinushi.settings import Settings
from search_api.app import create_app
from search_api.partners import InvalidPartnerKeys, PartnerRegistry, parse_staff_keys
from search_api.references import ReferenceStore, parse_number
from search_api.tokens import TokenKeyRing, open_token
from tests.conftest import TEST_OPENSEARCH_URL


def run_async(coroutine: Any) -> Any:
    """Run ``coroutine`` on a loop of its own in a worker thread: the browser tests' sync
    Playwright keeps an event loop running in the main thread, where asyncio.run refuses."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


pytestmark = pytest.mark.opensearch

SECRET = "k1:partner-tests-token-secret-0001"
MUNICIPAL_KEY = "municipal-key-for-tests-000001"
WELFARE_KEY = "welfare-key-for-tests-0000002"
OTHER_MUNICIPAL_KEY = "municipal-key-for-tests-000003"
STAFF_KEY = "staff-key-pension-office-00001"
BARE_STAFF_KEY = "bare-staff-key-for-tests-0002"
PARTNER_KEYS = (
    f"city-01:municipal:{MUNICIPAL_KEY},welfare-07:welfare:{WELFARE_KEY},"
    f"city-02:municipal:{OTHER_MUNICIPAL_KEY}"
)
FOUND = {
    "surname_kana": "やまだ",
    "given_name_kana": "キョウコ",
    "birth_date": "昭和13年5月3日",
    "gender": "F",
}
NOT_FOUND = {
    "surname_kana": "ワタナベ",
    "given_name_kana": "ススム",
    "birth_date": "1950-10-10",
    "gender": "M",
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture()
def reference_index(os_client: OpenSearch, unique_name: str) -> Iterator[str]:
    name = f"{unique_name}-refs"
    yield name
    os_client.indices.delete(index=name, ignore_unavailable=True)
    if os_client.indices.exists_index_template(name=name):
        os_client.indices.delete_index_template(name=name)


def settings(alias: str, reference_index: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "opensearch_url": TEST_OPENSEARCH_URL,
        "alias": alias,
        "reference_index": reference_index,
        "staff_api_keys": f"pension-01:{STAFF_KEY},{BARE_STAFF_KEY}",
        "partner_keys": PARTNER_KEYS,
        "token_secret": SECRET,
        "rate_limit": "off",
        "partner_rate_limit": "off",
        "staff_rate_limit": "off",
        "dev_mode": False,
        "opensearch_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


# --- the settings -----------------------------------------------------------------------------


def test_partner_keys_are_parsed_and_errors_never_show_a_key() -> None:
    registry = PartnerRegistry(PARTNER_KEYS)
    assert len(registry) == 3
    partner = registry.authenticate(f"Bearer {WELFARE_KEY}")
    assert partner and (partner.office_id, partner.kind) == ("welfare-07", "welfare")
    assert registry.authenticate(None) is None
    for wrong in ("", "Bearer ", f"Bearer {WELFARE_KEY}x", WELFARE_KEY, f"Basic {WELFARE_KEY}"):
        assert registry.authenticate(wrong) is False
    assert WELFARE_KEY not in repr(registry)
    for bad, message in (
        ("city:mayor:a-long-enough-key-0001", "kind"),
        ("city:municipal:short", "shorter"),
        ("c i t y:municipal:a-long-enough-key-0001", "office id"),
        ("a:municipal:a-long-enough-key-0001,b:welfare:a-long-enough-key-0001", "repeats"),
    ):
        with pytest.raises(InvalidPartnerKeys, match=message) as caught:
            PartnerRegistry(bad)
        assert "a-long-enough-key-0001" not in str(caught.value)


def test_staff_keys_may_name_their_office() -> None:
    parsed = parse_staff_keys((f"pension-01:{STAFF_KEY}", BARE_STAFF_KEY))
    assert [(k.key, k.office_id) for k in parsed] == [
        (STAFF_KEY, "pension-01"),
        (BARE_STAFF_KEY, None),
    ]


# --- channels through the API -----------------------------------------------------------------


def _open_entry(reference_index: str, number: str) -> Any:
    async def run() -> Any:
        client = AsyncOpenSearch(hosts=[TEST_OPENSEARCH_URL], timeout=30)
        try:
            store = ReferenceStore(client, reference_index, timeout=10)
            return await store.get(TokenKeyRing(SECRET), parse_number(number))
        finally:
            await client.close()

    sealed = run_async(run())
    assert isinstance(sealed, str)
    return open_token(TokenKeyRing(SECRET), sealed, dt.datetime.now(dt.UTC))


def test_the_channel_and_office_travel_sealed_never_in_clear(
    os_client: OpenSearch, crafted_alias: str, reference_index: str
) -> None:
    app = create_app(settings(crafted_alias, reference_index), log_stream=io.StringIO())
    with TestClient(app) as client:
        web = client.post("/v1/existence-checks", json=FOUND).json()["reference_token"]
        city = client.post(
            "/v1/existence-checks", json=FOUND, headers=bearer(MUNICIPAL_KEY)
        ).json()["reference_token"]
        welfare = client.post(
            "/v1/existence-checks", json=FOUND, headers=bearer(WELFARE_KEY)
        ).json()["reference_token"]
        # staff see the same resolution whichever channel issued the number
        for number in (web, city, welfare):
            for key in (STAFF_KEY, BARE_STAFF_KEY, f"pension-01:{STAFF_KEY}"):
                resolved = client.get(f"/v1/reference-tokens/{number}", headers=bearer(key))
                assert resolved.status_code == 200, key
                assert set(resolved.json()) == {"record_ids", "issued_at", "expires_at", "check"}
        metrics = client.get("/metrics").text
    web_entry = _open_entry(reference_index, web)
    assert (web_entry.channel, web_entry.office) == ("web", None)
    city_entry = _open_entry(reference_index, city)
    assert (city_entry.channel, city_entry.office) == ("municipal", "city-01")
    welfare_entry = _open_entry(reference_index, welfare)
    assert (welfare_entry.channel, welfare_entry.office) == ("welfare", "welfare-07")
    os_client.indices.refresh(index=reference_index)
    stored = json.dumps(os_client.search(index=reference_index)["hits"])
    for clear in ("city-01", "welfare-07", "municipal", "welfare"):
        assert clear not in stored
    for channel in ("web", "municipal", "welfare"):
        assert f'mochinushi_channel_checks_total{{channel="{channel}",outcome="found"}} 1.0' in (
            metrics
        )
    assert 'channel="pension_office",outcome="found"} 0.0' in metrics
    assert "city-01" not in metrics and "welfare-07" not in metrics


def test_a_bearer_that_is_no_partners_key_is_401(crafted_alias: str, reference_index: str) -> None:
    app = create_app(settings(crafted_alias, reference_index), log_stream=io.StringIO())
    with TestClient(app) as client:
        for header in (f"Bearer {STAFF_KEY}", "Bearer nope", f"Basic {MUNICIPAL_KEY}", "x"):
            response = client.post(
                "/v1/existence-checks", json=FOUND, headers={"Authorization": header}
            )
            assert response.status_code == 401, header
            assert response.json() == {
                "error": "unauthorized",
                "message": "A valid partner key is required.",
            }
            assert response.headers["www-authenticate"] == "Bearer"
        invalid = client.post(
            "/v1/existence-checks", json={"gender": "F"}, headers=bearer(WELFARE_KEY)
        )
        assert invalid.status_code == 422
        metrics = client.get("/metrics").text
    assert 'channel="welfare",outcome="invalid"} 1.0' in metrics
    assert 'outcome="found"} 0.0' in metrics  # no 401 ever ran the search


def test_an_office_behind_one_nat_is_not_throttled_by_the_public_limit(
    crafted_alias: str, reference_index: str
) -> None:
    """Everybody here comes from one address (the test client's): the public budget of 2 is
    spent by the public, each office still has its own 5."""
    limits = {"rate_limit": "2/minute", "partner_rate_limit": "5/minute"}
    app = create_app(settings(crafted_alias, reference_index, **limits), log_stream=io.StringIO())
    with TestClient(app) as client:

        def statuses(n: int, headers: dict[str, str] | None = None) -> list[int]:
            return [
                client.post("/v1/existence-checks", json=NOT_FOUND, headers=headers).status_code
                for _ in range(n)
            ]

        assert statuses(3) == [200, 200, 429]
        assert statuses(6, bearer(MUNICIPAL_KEY)) == [200] * 5 + [429]
        assert statuses(5, bearer(OTHER_MUNICIPAL_KEY)) == [200] * 5  # an office of its own
        assert statuses(1) == [429]  # the public budget is still spent
        limited = client.post("/v1/existence-checks", json=NOT_FOUND, headers=bearer(MUNICIPAL_KEY))
        assert int(limited.headers["retry-after"]) >= 1
        metrics = client.get("/metrics").text
    assert 'channel="municipal",outcome="rate_limited"} 2.0' in metrics
    assert 'channel="web",outcome="rate_limited"} 2.0' in metrics


def test_a_trusted_proxy_names_the_client_the_public_limit_counts(
    crafted_alias: str, reference_index: str
) -> None:
    options = {"rate_limit": "1/minute", "forwarded_allow_ips": "10.0.0.0/8"}
    app = create_app(settings(crafted_alias, reference_index, **options), log_stream=io.StringIO())
    with TestClient(app, client=("10.0.0.5", 40000)) as proxy:

        def check(forwarded_for: str) -> int:
            headers = {"X-Forwarded-For": forwarded_for}
            return proxy.post("/v1/existence-checks", json=NOT_FOUND, headers=headers).status_code

        assert [check("198.51.100.1"), check("198.51.100.2")] == [200, 200]
        assert check("198.51.100.1") == 429
        # a client cannot pick a fresh address: the proxy appended the one it saw
        assert check("203.0.113.77, 198.51.100.1") == 429
    again = create_app(
        settings(crafted_alias, reference_index, **options), log_stream=io.StringIO()
    )
    with TestClient(again, client=("192.0.2.9", 40000)) as direct:
        headers = {"X-Forwarded-For": "198.51.100.3"}
        assert direct.post("/v1/existence-checks", json=NOT_FOUND, headers=headers).status_code == (
            200
        )
        # not a trusted proxy: its header is ignored, so this is 192.0.2.9's second check
        headers = {"X-Forwarded-For": "198.51.100.4"}
        assert direct.post("/v1/existence-checks", json=NOT_FOUND, headers=headers).status_code == (
            429
        )


# --- several replicas sharing a redis ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture()
def redis_url(tmp_path: Any) -> Iterator[str]:
    server = shutil.which("redis-server") or shutil.which("valkey-server")
    if server is None:
        pytest.skip("redis-server not installed (apt-get install redis-server)")
    port = _free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_two_replicas_share_one_budget_in_redis(
    crafted_alias: str, reference_index: str, redis_url: str
) -> None:
    options = {"rate_limit": "3/minute", "partner_rate_limit": "2/minute"}
    shared = settings(crafted_alias, reference_index, rate_limit_storage=redis_url, **options)
    one = create_app(shared, log_stream=io.StringIO())
    two = create_app(shared, log_stream=io.StringIO())
    with TestClient(one) as first, TestClient(two) as second:

        def check(client: TestClient, headers: dict[str, str] | None = None) -> int:
            return client.post("/v1/existence-checks", json=NOT_FOUND, headers=headers).status_code

        assert [check(first), check(second), check(first), check(second)] == [200, 200, 200, 429]
        city = bearer(MUNICIPAL_KEY)
        assert [check(second, city), check(first, city), check(second, city)] == [200, 200, 429]


def test_a_redis_that_does_not_answer_is_503_never_a_no(
    crafted_alias: str, reference_index: str
) -> None:
    down = settings(
        crafted_alias,
        reference_index,
        rate_limit="3/minute",
        rate_limit_storage=f"redis://127.0.0.1:{_free_port()}/0",
    )
    with TestClient(create_app(down, log_stream=io.StringIO())) as client:
        response = client.post("/v1/existence-checks", json=FOUND)
        assert response.status_code == 503
        assert response.json()["error"] == "search_unavailable"
        assert response.headers["retry-after"] == "5"
