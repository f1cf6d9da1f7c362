"""One-kana slips are retrieved by the deletion keys alone (real node)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from analyzers.dates import parse_user_date
from analyzers.readings import default_reading_dictionary
from matching import query
from matching.checks import Check
from matching.config import MatchingConfig
from matching.finder import Finder, load_name_stats
from tests.conftest import built_alias

pytestmark = pytest.mark.opensearch

# Keyed without a space and with one kana wrong: no surname, given-name or suffix key of the
# check can reach it; only a shared deletion key (タカツキヨシ) can.
RECORDS = [
    {"record_id": "SLIP", "name_kana": "タカツキヨシユ", "birth_date": "1941-03-09", "gender": "F"},
    {
        "record_id": "OTHER",
        "name_kana": "イノウエ ハルコ",
        "birth_date": "1941-03-09",
        "gender": "F",
    },
]
CHECK = Check(
    surname_kana="タカツキ",
    given_name_kana="ヨシコ",
    birth_date=parse_user_date("1941-03-09"),
    gender="F",
)


@pytest.fixture()
def alias(os_client: OpenSearch, unique_name: str, tmp_path: Path) -> Iterator[str]:
    with built_alias(os_client, unique_name, RECORDS, tmp_path) as name:
        yield name


def _retrieved(client: OpenSearch, alias: str) -> set[str]:
    finder = Finder(
        alias, MatchingConfig.load(), default_reading_dictionary(), load_name_stats(client, alias)
    )
    return {score.record_id for score in finder.find(client, CHECK).scores}


def test_a_slip_in_an_unsplit_record_is_retrieved_by_its_deletion_keys(
    os_client: OpenSearch, alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _retrieved(os_client, alias) == {"SLIP"}
    monkeypatch.setattr(query, "one_edit_keys", lambda _: ())
    assert _retrieved(os_client, alias) == set(), "nothing else in the query reaches it"
