"""Shared fixtures. Tests run against a REAL OpenSearch node (``make test`` starts it)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from analyzers.readings import default_reading_dictionary
from indexer import lifecycle
from indexer.build import BuildOptions, build_index
from matching.config import MatchingConfig
from matching.finder import Finder, load_name_stats

TEST_OPENSEARCH_URL = os.environ.get("MOCHINUSHI_TEST_OPENSEARCH_URL", "http://127.0.0.1:9200")
NODE_FIXTURE = "opensearch_url"
"""Every fixture that reaches the real node (``os_client``, ``crafted_alias``, …) depends on it."""


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test that reaches the real node must carry the ``opensearch`` marker, so that
    ``-m "not opensearch"`` really runs without a node: one that forgets it fails here."""
    uses_node = NODE_FIXTURE in getattr(item, "fixturenames", ())
    if uses_node and item.get_closest_marker("opensearch") is None:
        pytest.fail(f"{item.nodeid} uses the real node without @pytest.mark.opensearch", False)


@pytest.fixture(scope="session")
def opensearch_url() -> str:
    return TEST_OPENSEARCH_URL


@pytest.fixture(scope="session")
def os_client(opensearch_url: str) -> Iterator[OpenSearch]:
    client = OpenSearch(hosts=[opensearch_url], timeout=30)
    if not client.ping():
        pytest.fail(
            f"no OpenSearch answers at {opensearch_url}: run `make test` (it starts the local "
            "node) or `mochinushi opensearch up`, or set MOCHINUSHI_TEST_OPENSEARCH_URL"
        )
    yield client
    client.close()


@pytest.fixture()
def unique_name() -> str:
    """A fresh lowercase name for an index or alias that no other test uses."""
    return f"test-{uuid.uuid4().hex[:12]}"


CRAFTED_RECORDS = [
    # (record_id, name_kana, name_kanji, birth_date, gender, employer)
    ("R-SMALL", "ヤマダ キヨウコ", "山田 京子", "5-130503", "2", None),
    ("R-SOKUON", "ハツトリ マサオ", None, "1931-02-11", "1", None),
    ("R-VOICING", "ナカシマ ハルコ", "中島 春子", "1930-07-21", "F", None),
    ("R-LONG", "オーノ イチロー", None, "1940-01-15", "M", None),
    ("R-OLDKANA", "スズキ シヅオ", None, "1935-09-09", "M", None),
    ("R-CONF", "ンノダ ミシコ", None, "1942-03-30", "F", None),
    ("R-READING", "カワノ ユキコ", "河野 幸子", "1938-08-08", "F", None),
    ("R-TYPO", "ワタナメ ヨシエ", None, "1933-04-04", "F", None),
    ("R-SHITSU", "タカハツ ヨシエ", None, "1933-04-14", "F", None),
    ("R-HALF", "ｻﾄｳ ﾊﾅｺ", None, "1929-12-01", "F", None),
    ("R-NOSPACE", "イノウエタケシ", None, "1937-06-06", "M", None),
    ("R-KANJI", "タカハシ セツコ", "髙橋 節子", "1934-10-10", "F", None),
    ("R-MAIDEN", "イシカワ フミコ", None, "1936-02-02", "F", "(株)石川織物"),
    ("R-ERA", "モリタ ヨシオ", None, "3-131120", "M", None),
    ("R-SWAP", "キムラ トシコ", None, "1941-04-03", "F", None),
    ("R-DIGIT", "ハヤシ カズオ", None, "1932-02-30", "M", None),
    ("R-DAYS", "シミズ ミチコ", None, "1939-07-13", "F", None),
    ("R-GENDER", "ヤマグチ ヒロミ", None, "1945-05-05", "M", None),
    ("R-CLEAN", "マツモト キヨシ", "松本 清", "1930-01-30", "M", None),
    # Neighbours that must not be confused with the people above.
    ("N-1", "マツモト キヨコ", None, "1930-01-30", "F", None),
    ("N-2", "ヤマダ ハナコ", None, "1938-05-03", "F", None),
    ("N-3", "サトウ キョウコ", None, "1938-05-03", "F", None),
    ("N-4", "フジタ カズコ", None, "1936-02-02", "F", None),
]


@pytest.fixture(scope="session")
def crafted_alias(os_client: OpenSearch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("crafted")
    extract = folder / "records.jsonl"
    with extract.open("w", encoding="utf-8") as out:
        for record_id, kana, kanji, date, gender, employer in CRAFTED_RECORDS:
            line = {"record_id": record_id, "name_kana": kana, "birth_date": date, "gender": gender}
            if kanji:
                line["name_kanji"] = kanji
            if employer:
                line["employer_name"] = employer
                line["pension_type"] = "kosei"
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    alias = f"test-crafted-{uuid.uuid4().hex[:12]}"
    try:
        summary = build_index(
            os_client,
            extract,
            BuildOptions(alias=alias, sample_size=50),
            default_reading_dictionary(),
        )
        assert summary.indexed == len(CRAFTED_RECORDS), summary.to_json()
        yield alias
    finally:
        drop_alias(os_client, alias)


def drop_alias(client: OpenSearch, alias: str) -> None:
    """Every versioned index of ``alias`` (half-built ones included) and its reindex lock."""
    for name in client.indices.get(index=f"{alias}-*", expand_wildcards="all"):
        client.indices.delete(index=name)
    with suppress(NotFoundError):
        client.delete(index=lifecycle.LOCK_INDEX, id=alias, refresh=True)


@contextmanager
def built_alias(
    client: OpenSearch, alias: str, records: list[dict[str, str]], folder: Path
) -> Iterator[str]:
    """``alias`` serving an index built from ``records``; afterwards its indices and lock go."""
    extract = write_extract(folder / "records.jsonl", records)
    try:
        build_index(client, extract, BuildOptions(alias=alias), default_reading_dictionary())
        yield alias
    finally:
        drop_alias(client, alias)


@pytest.fixture(scope="session")
def crafted_finder(os_client: OpenSearch, crafted_alias: str) -> Finder:
    return Finder(
        alias=crafted_alias,
        config=MatchingConfig.load(),
        readings=default_reading_dictionary(),
        stats=load_name_stats(os_client, crafted_alias),
        request_timeout=30,
    )


def write_extract(path: Path, lines: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="session")
def indexed_alias(crafted_alias: str) -> str:
    """An alias with ヤマダ キョウコ, born 1938-05-03, female, on file (record R-SMALL, keyed
    with a large ヨ) and nobody born in 1927 (the web tests' NOBODY)."""
    return crafted_alias
