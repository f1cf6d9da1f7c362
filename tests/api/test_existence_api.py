"""The HTTP API as its clients see it, against the real node and the crafted index."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from analyzers.readings import dictionary_edition
from mappings import MAPPING_VERSION
from matching.index_meta import DICTIONARY_EDITION_KEY
from mochinushi.settings import Settings
from search_api.app import READINESS_MAX_AGE_SECONDS, ConfigurationError, create_app

pytestmark = pytest.mark.opensearch

STAFF_KEY = "staff-key-for-tests-0123456789"
FOUND = {
    "surname_kana": "やまだ",
    "given_name_kana": "キョウコ",
    "birth_date": "昭和13年5月3日",
    "gender": "F",
    "reference": {"address": "埼玉県浦和市"},
}
NOT_FOUND = {
    "surname_kana": "ワタナベ",
    "given_name_kana": "ススム",
    "birth_date": "1950-10-10",
    "gender": "M",
}
SECRET_VALUES = [
    "やまだ",
    "キョウコ",
    "昭和13年5月3日",
    "ワタナベ",
    "ススム",
    "1950-10-10",
    "埼玉県浦和市",
    "ヤマダ",
]


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def _settings(alias: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "alias": alias,
        "staff_api_keys": STAFF_KEY,
        "token_secret": "k2:second-secret-for-tests-0001,k1:first-secret-for-tests-00001",
        "rate_limit": "off",
        "dev_mode": False,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture()
def logs() -> io.StringIO:
    return io.StringIO()


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def api(crafted_alias: str, logs: io.StringIO, clock: Clock) -> Iterator[TestClient]:
    app = create_app(_settings(crafted_alias), clock=clock, log_stream=logs)
    with TestClient(app) as client:
        yield client


def _staff(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {STAFF_KEY}"}


def test_found_returns_only_existence_and_an_opaque_token(api: TestClient) -> None:
    response = api.post("/v1/existence-checks", json=FOUND)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"found", "reference_token"}
    assert body["found"] is True
    token = body["reference_token"]
    assert isinstance(token, str) and "R-SMALL" not in token
    for value in SECRET_VALUES:
        assert value not in response.text


def test_found_and_not_found_responses_have_the_same_size(api: TestClient) -> None:
    found = api.post("/v1/existence-checks", json=FOUND)
    not_found = api.post("/v1/existence-checks", json=NOT_FOUND)
    assert found.json()["found"] is True and not_found.json()["found"] is False
    assert len(found.content) == len(not_found.content)


def test_not_found_has_null_token(api: TestClient) -> None:
    response = api.post("/v1/existence-checks", json=NOT_FOUND)
    assert response.status_code == 200
    assert response.json() == {"found": False, "reference_token": None}


def test_staff_resolve_token_gives_records_and_the_check(api: TestClient) -> None:
    token = api.post("/v1/existence-checks", json=FOUND).json()["reference_token"]
    response = api.get(f"/v1/reference-tokens/{token}", headers=_staff(token))
    assert response.status_code == 200
    body = response.json()
    assert body["record_ids"][0] == "R-SMALL"
    assert body["check"]["surname_kana"] == "やまだ"
    assert body["check"]["reference"]["address"] == "埼玉県浦和市"
    assert body["expires_at"] > body["issued_at"]


def test_staff_endpoint_needs_a_valid_key(api: TestClient) -> None:
    token = api.post("/v1/existence-checks", json=FOUND).json()["reference_token"]
    assert api.get(f"/v1/reference-tokens/{token}").status_code == 401
    wrong = {"Authorization": "Bearer not-a-staff-key"}
    assert api.get(f"/v1/reference-tokens/{token}", headers=wrong).status_code == 401


def test_altered_forged_and_expired_tokens(api: TestClient, clock: Clock) -> None:
    token = api.post("/v1/existence-checks", json=FOUND).json()["reference_token"]
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    assert api.get(f"/v1/reference-tokens/{flipped}", headers=_staff(token)).status_code == 404
    assert api.get("/v1/reference-tokens/forged-token", headers=_staff(token)).status_code == 404
    assert api.get(f"/v1/reference-tokens/{token[:-3]}", headers=_staff(token)).status_code == 404
    clock.now += dt.timedelta(days=91)
    assert api.get(f"/v1/reference-tokens/{token}", headers=_staff(token)).status_code == 410


def test_token_survives_key_rotation(crafted_alias: str, clock: Clock) -> None:
    old = _settings(crafted_alias, token_secret="k1:first-secret-for-tests-00001")
    with TestClient(create_app(old, clock=clock)) as client:
        token = client.post("/v1/existence-checks", json=FOUND).json()["reference_token"]
    rotated = _settings(crafted_alias)  # k2 newest, k1 still accepted
    with TestClient(create_app(rotated, clock=clock)) as client:
        assert client.get(f"/v1/reference-tokens/{token}", headers=_staff(token)).status_code == 200
    retired = _settings(crafted_alias, token_secret="k2:second-secret-for-tests-0001")
    with TestClient(create_app(retired, clock=clock)) as client:
        assert client.get(f"/v1/reference-tokens/{token}", headers=_staff(token)).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"surname_kana": "Yamada"}, "surname_kana"),
        ({"given_name_kana": ""}, "given_name_kana"),
        ({"birth_date": "昭和13年2月30日"}, "birth_date"),
        ({"birth_date": "someday"}, "birth_date"),
        ({"gender": "X"}, "gender"),
        ({"surname_kana": "ヤマ\u0000ダ"}, "surname_kana"),
        ({"former_surnames": [{"kana": "サトウ"}] * 6}, "former_surnames"),
        ({"surname_kanji": "abc"}, "surname_kanji"),
    ],
)
def test_invalid_input_names_the_field_and_never_echoes_values(
    api: TestClient, change: dict[str, Any], field: str
) -> None:
    response = api.post("/v1/existence-checks", json={**FOUND, **change})
    assert response.status_code == 422
    body = response.json()
    assert any(f["field"].startswith(field) for f in body["fields"]), body
    for value in [*SECRET_VALUES, "Yamada", "someday", "2月30日"]:
        assert value not in response.text


def test_missing_required_fields_are_named(api: TestClient) -> None:
    response = api.post("/v1/existence-checks", json={"gender": "F"})
    assert response.status_code == 422
    named = {f["field"] for f in response.json()["fields"]}
    assert {"surname_kana", "given_name_kana", "birth_date"} <= named


def _chunks(body: bytes, size: int = 1024) -> Iterator[bytes]:
    """The body sent with ``Transfer-Encoding: chunked``: no Content-Length to trust."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


BODY_TOO_LARGE = {"error": "body_too_large", "message": "The request body is too large."}


def test_body_size_limit(api: TestClient) -> None:
    big = {**FOUND, "reference": {"address": "あ" * 10000}}
    raw = json.dumps(big, ensure_ascii=False).encode()
    assert len(raw) > 30_000
    declared = api.post(
        "/v1/existence-checks", content=raw, headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413, declared.text
    assert declared.json() == BODY_TOO_LARGE
    chunked = api.post(
        "/v1/existence-checks", content=_chunks(raw), headers={"content-type": "application/json"}
    )
    assert chunked.request.headers["transfer-encoding"] == "chunked"
    assert chunked.status_code == 413, chunked.text
    assert chunked.json() == BODY_TOO_LARGE
    # A chunked body within the limit still reaches the check.
    small = json.dumps(FOUND, ensure_ascii=False).encode()
    fine = api.post(
        "/v1/existence-checks",
        content=_chunks(small, 16),
        headers={"content-type": "application/json"},
    )
    assert fine.status_code == 200 and fine.json()["found"] is True


def test_rate_limit_answers_429_with_retry_after(crafted_alias: str) -> None:
    app = create_app(_settings(crafted_alias, rate_limit="2/minute"))
    with TestClient(app) as client:
        statuses = [
            client.post("/v1/existence-checks", json=NOT_FOUND).status_code for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
        limited = client.post("/v1/existence-checks", json=NOT_FOUND)
        assert int(limited.headers["Retry-After"]) >= 1


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_cluster_is_503_never_not_found(crafted_alias: str) -> None:
    settings = _settings(
        crafted_alias,
        opensearch_url=f"http://127.0.0.1:{_closed_port()}",
        opensearch_timeout_seconds=0.5,
    )
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/existence-checks", json=NOT_FOUND)
        assert response.status_code == 503
        assert "Retry-After" in response.headers
        assert "found" not in response.json()
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200


def test_missing_alias_is_503(os_client: Any, unique_name: str) -> None:
    with TestClient(create_app(_settings(unique_name))) as client:
        assert client.post("/v1/existence-checks", json=NOT_FOUND).status_code == 503
        assert client.get("/readyz").json()["ready"] is False


@pytest.mark.parametrize(
    ("meta", "reason"),
    [
        # After a rollback past a mapping change.
        ({"mapping_version": MAPPING_VERSION - 1}, "index mapping version not supported"),
        # Keys read with another reading dictionary would silently miss.
        (
            {
                "mapping_version": MAPPING_VERSION,
                DICTIONARY_EDITION_KEY: "sudachidict-core 20200101, sudachipy 0.5.0",
            },
            "index built with another reading dictionary edition",
        ),
    ],
    ids=["mapping_version", "dictionary_edition"],
)
def test_an_index_this_code_cannot_serve_is_never_searched(
    os_client: Any, unique_name: str, meta: dict[str, Any], reason: str
) -> None:
    """Checks are 503, not silent "not found"s, and /readyz says why."""
    index = f"{unique_name}-unservable"
    os_client.indices.create(
        index=index, body={"mappings": {"_meta": meta}, "aliases": {unique_name: {}}}
    )
    try:
        with TestClient(create_app(_settings(unique_name))) as client:
            response = client.post("/v1/existence-checks", json=NOT_FOUND)
            assert response.status_code == 503 and "found" not in response.json()
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["reason"] == reason
    finally:
        os_client.indices.delete(index=index)


def test_alias_moved_to_another_mapping_version_under_a_running_api(
    os_client: Any, unique_name: str, tmp_path: Any
) -> None:
    """Checks keep to the index they checked; the moved alias is refused at the next reload."""
    from analyzers.readings import default_reading_dictionary
    from indexer.build import BuildOptions, build_index
    from indexer.lifecycle import swap_alias
    from search_api import app as app_module

    extract = tmp_path / "e.jsonl"
    extract.write_text(
        json.dumps(
            {
                "record_id": "R1",
                "name_kana": "ヤマダ ハナコ",
                "birth_date": "1938-05-03",
                "gender": "F",
            },
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    built = build_index(
        os_client, extract, BuildOptions(alias=unique_name), default_reading_dictionary()
    ).index
    old = f"{unique_name}-old"
    os_client.indices.create(
        index=old, body={"mappings": {"_meta": {"mapping_version": MAPPING_VERSION - 1}}}
    )
    check = {
        "surname_kana": "やまだ",
        "given_name_kana": "はなこ",
        "birth_date": "1938-05-03",
        "gender": "F",
    }
    try:
        app = create_app(_settings(unique_name))
        with TestClient(app) as client:
            assert client.post("/v1/existence-checks", json=check).json()["found"] is True
            swap_alias(os_client, unique_name, old)
            # Until the next reload the checked index is searched, not the alias.
            assert client.post("/v1/existence-checks", json=check).json()["found"] is True
            app.state.service._served_at -= app_module.STATS_TTL_SECONDS + 1
            refused = client.post("/v1/existence-checks", json=check)
            assert refused.status_code == 503 and "found" not in refused.json()
            swap_alias(os_client, unique_name, built)
            assert client.post("/v1/existence-checks", json=check).json()["found"] is True
    finally:
        for name in os_client.indices.get(index=f"{unique_name}-*", expand_wildcards="all"):
            os_client.indices.delete(index=name)
        with contextlib.suppress(Exception):
            os_client.delete(index=".mochinushi-locks", id=unique_name, refresh=True)


def test_deleted_index_is_resolved_again(
    os_client: Any, crafted_alias: str, unique_name: str
) -> None:
    """An index pruned after a swap answers 404: the alias is resolved again, no 503."""
    app = create_app(_settings(crafted_alias))
    with TestClient(app) as client:
        assert client.post("/v1/existence-checks", json=NOT_FOUND).status_code == 200
        state = app.state.service
        served = state._served
        assert served is not None
        state._served = dataclasses.replace(served, names=f"{unique_name}-deleted-meanwhile")
        state._finder = None
        response = client.post("/v1/existence-checks", json=NOT_FOUND)
        assert response.status_code == 200
        assert state._served is not None and state._served.names == served.names


SERVABLE_META = {
    "mapping_version": MAPPING_VERSION,
    DICTIONARY_EDITION_KEY: dictionary_edition(),
}
"""The ``_meta`` of an index this code would serve (fakes of the cluster answer with it)."""


class ShardFailureClient:
    """Fault injection: a cluster that answers with a failed shard."""

    class indices:
        @staticmethod
        async def get_alias(index: str) -> dict[str, Any]:
            return {"i": {"aliases": {index: {}}}}

        @staticmethod
        async def get_mapping(index: str) -> dict[str, Any]:
            return {"i": {"mappings": {"_meta": SERVABLE_META}}}

    async def search(self, **_: Any) -> dict[str, Any]:
        return {
            "timed_out": False,
            "_shards": {"total": 2, "successful": 1, "failed": 1},
            "hits": {"hits": []},
        }

    async def close(self) -> None:
        return None


def test_partial_results_are_503_never_not_found(crafted_alias: str) -> None:
    app = create_app(_settings(crafted_alias), client=ShardFailureClient())  # type: ignore[arg-type]
    with TestClient(app) as client:
        response = client.post("/v1/existence-checks", json=NOT_FOUND)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert "found" not in response.json()
        # The shard failure itself was seen, not some earlier error on the way to the search.
        metrics = client.get("/metrics").text
        assert re.search(r'backend_errors_total\{kind="shard_failure"\} [1-9]', metrics), metrics


class MovingAliasClient:
    """Fault injection: a cluster whose alias moves from a good index to one whose ``_meta``
    statistics are malformed; searches answer completely, with no hits."""

    def __init__(self) -> None:
        self.serving = "good"
        outer = self

        class Indices:
            @staticmethod
            async def exists_alias(name: str) -> bool:
                return True

            @staticmethod
            async def get_alias(index: str) -> dict[str, Any]:
                return {outer.serving: {"aliases": {index: {}}}}

            @staticmethod
            async def get_mapping(index: str) -> dict[str, Any]:
                meta: dict[str, Any] = dict(SERVABLE_META)
                if index == "bad":
                    meta["ledger_readings"] = {"given_names": {"幸子": "サチコ"}}
                return {index: {"mappings": {"_meta": meta}}}

        self.indices = Indices()

    async def search(self, **_: Any) -> dict[str, Any]:
        return {
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "failed": 0},
            "hits": {"hits": []},
        }

    async def count(self, **_: Any) -> dict[str, Any]:
        return {"count": 0}

    async def close(self) -> None:
        return None


def test_unreadable_index_statistics_are_503_never_the_older_index(crafted_alias: str) -> None:
    cluster = MovingAliasClient()
    app = create_app(_settings(crafted_alias), client=cluster)  # type: ignore[arg-type]
    with TestClient(app) as client:
        answer = client.post("/v1/existence-checks", json=NOT_FOUND)
        assert answer.status_code == 200 and answer.json()["found"] is False
        assert client.get("/readyz").json() == {"ready": True}
        cluster.serving = "bad"  # the nightly swap, onto an index whose _meta cannot be read
        time.sleep(READINESS_MAX_AGE_SECONDS + 0.1)
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["reason"] == "index statistics unreadable"
        # The check does not quietly go on searching "good".
        assert client.post("/v1/existence-checks", json=NOT_FOUND).status_code == 503


def test_readiness_health_metrics_and_docs(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"ready": True}
    api.post("/v1/existence-checks", json=FOUND)
    metrics = api.get("/metrics").text
    assert "mochinushi_checks_total" in metrics and 'outcome="found"' in metrics
    assert api.get("/docs").status_code == 404, "the docs pages are served in dev mode only"
    schema = api.get("/openapi.json").json()
    assert "/v1/existence-checks" in schema["paths"]


def test_logs_and_metrics_carry_no_personal_data(api: TestClient, logs: io.StringIO) -> None:
    api.post("/v1/existence-checks", json=FOUND)
    api.post("/v1/existence-checks", json=NOT_FOUND)
    api.post("/v1/existence-checks", json={**FOUND, "gender": "X"})
    token = api.post("/v1/existence-checks", json=FOUND).json()["reference_token"]
    api.get(f"/v1/reference-tokens/{token}", headers=_staff(token))
    written = logs.getvalue() + api.get("/metrics").text
    assert "check.completed" in written and "token.resolved" in written
    for value in [*SECRET_VALUES, token, STAFF_KEY]:
        assert value not in written


def test_serve_refuses_to_start_without_secret_outside_dev_mode(crafted_alias: str) -> None:
    with pytest.raises(ConfigurationError, match="MOCHINUSHI_TOKEN_SECRET"):
        create_app(_settings(crafted_alias, token_secret=None, dev_mode=False))


def test_one_log_line_per_check_with_its_outcome_and_latency(
    api: TestClient, logs: io.StringIO
) -> None:
    api.post("/v1/existence-checks", json=FOUND, headers={"x-request-id": "check-1"})
    api.post("/v1/existence-checks", json={**FOUND, "gender": "X"}, headers={"x-request-id": "c-2"})
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    first, second = (line for line in lines if line["request_id"] in ("check-1", "c-2"))
    assert first["event"] == "check.completed" and first["outcome"] == "found"
    assert (first["route"], first["status"]) == ("/v1/existence-checks", 200)
    assert first["duration_ms"] > 0 and first["candidates"] >= 1
    assert (second["event"], second["status"]) == ("http.request", 422)
