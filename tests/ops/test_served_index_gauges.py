"""The served index's build time and record count, and readiness, as Prometheus gauges — what
the alert rules in monitoring/ read — against the real node."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opensearchpy import OpenSearch

from analyzers.readings import default_reading_dictionary
from indexer import lifecycle
from indexer.build import BuildOptions, build_index
from mochinushi.settings import Settings
from search_api.app import create_app
from tests.conftest import write_extract

pytestmark = pytest.mark.opensearch

RECORDS = [
    {"record_id": f"G{i}", "name_kana": name, "birth_date": date, "gender": gender}
    for i, (name, date, gender) in enumerate(
        [
            ("ヤマダ ハナコ", "1938-05-03", "F"),
            ("サトウ イチロウ", "1931-02-11", "M"),
            ("スズキ カズコ", "5-100707", "2"),
            ("タナカ ヒロシ", "1945-12-24", "1"),
        ]
    )
]


def _gauges(client: TestClient) -> dict[str, float]:
    text = client.get("/metrics").text
    return {
        name: float(value)
        for name, value in re.findall(
            r"^(mochinushi_(?:ready|served_index_\w+)) (\S+)$", text, re.M
        )
    }


@pytest.fixture()
def alias(os_client: OpenSearch, unique_name: str) -> Iterator[str]:
    yield unique_name
    for name in os_client.indices.get(index=f"{unique_name}-*", expand_wildcards="all"):
        os_client.indices.delete(index=name)


def test_gauges_follow_the_served_index(os_client: OpenSearch, alias: str, tmp_path: Path) -> None:
    extract = write_extract(tmp_path / "records.jsonl", RECORDS)
    before = dt.datetime.now(dt.UTC).timestamp()
    index = build_index(
        os_client, extract, BuildOptions(alias=alias, sample_size=4), default_reading_dictionary()
    ).index
    after = dt.datetime.now(dt.UTC).timestamp()
    meta = os_client.indices.get_mapping(index=index)[index]["mappings"]["_meta"]
    built_at = dt.datetime.fromisoformat(meta[lifecycle.BUILT_AT_META_KEY]).timestamp()
    assert before <= built_at <= after

    with TestClient(create_app(Settings(alias=alias, rate_limit="off"))) as client:
        gauges = _gauges(client)
        assert gauges == {
            "mochinushi_ready": 1.0,
            "mochinushi_served_index_build_timestamp_seconds": pytest.approx(built_at),
            "mochinushi_served_index_records": 4.0,
        }
        # The alias loses its index: not ready, and the last known index still shown (the
        # staleness alert keeps counting from it).
        os_client.indices.delete(index=index)
        gauges = _gauges(client)
        assert gauges["mochinushi_ready"] == 0.0
        assert gauges["mochinushi_served_index_records"] == 4.0


def test_an_index_built_before_built_at_reports_its_creation_time(
    os_client: OpenSearch, alias: str, tmp_path: Path
) -> None:
    extract = write_extract(tmp_path / "records.jsonl", RECORDS[:2])
    index = build_index(
        os_client, extract, BuildOptions(alias=alias, sample_size=2), default_reading_dictionary()
    ).index
    mapping = os_client.indices.get_mapping(index=index)[index]["mappings"]
    meta = {k: v for k, v in mapping["_meta"].items() if k != lifecycle.BUILT_AT_META_KEY}
    # A mapping update merges _meta keys away only by replacing the whole object.
    os_client.indices.put_mapping(index=index, body={"_meta": meta})
    created = int(
        os_client.indices.get_settings(index=index)[index]["settings"]["index"]["creation_date"]
    )
    with TestClient(create_app(Settings(alias=alias, rate_limit="off"))) as client:
        gauges = _gauges(client)
    assert gauges["mochinushi_served_index_build_timestamp_seconds"] == created / 1000
    assert gauges["mochinushi_served_index_records"] == 2.0


def test_nothing_is_invented_while_the_cluster_never_answered() -> None:
    settings = Settings(alias="test-gauges-none", opensearch_url="http://127.0.0.1:9")
    with TestClient(create_app(settings)) as client:
        assert _gauges(client) == {"mochinushi_ready": 0.0}
