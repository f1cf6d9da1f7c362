"""Another reading of the same kanji, found through what the ledger itself was keyed with, and
kanji keyed without a space cut where the kana says (real node)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opensearchpy import OpenSearch

from analyzers.dates import parse_user_date
from analyzers.ledger_readings import MIN_RECORDS
from analyzers.readings import default_reading_dictionary
from matching.checks import Check
from matching.config import MatchingConfig
from matching.finder import Finder, load_name_stats
from matching.index_meta import NameStats
from tests.conftest import built_alias

pytestmark = pytest.mark.opensearch


def _record(record_id: str, kana: str, kanji: str | None, date: str, gender: str) -> dict[str, str]:
    record = {"record_id": record_id, "name_kana": kana, "birth_date": date, "gender": gender}
    if kanji:
        record["name_kanji"] = kanji
    return record


# Other people named 幸子 (read サチコ or ユキコ) and 正 (タダシ or マサシ) teach the index both
# readings; the owners' own records are kana only, or kanji without a space.
TEACHERS = [
    _record(f"T-{i}", kana, kanji, f"1950-01-{i + 1:02d}", gender)
    for i, (kana, kanji, gender) in enumerate(
        [("サトウ サチコ", "佐藤 幸子", "F")] * MIN_RECORDS
        + [("スズキ ユキコ", "鈴木 幸子", "F")] * MIN_RECORDS
        + [("タナカ タダシ", "田中 正", "M")] * MIN_RECORDS
        + [("ヤマダ マサシ", "山田 正", "M")] * MIN_RECORDS
        + [("カワノ ハナコ", "河野 花子", "F")] * MIN_RECORDS
        + [("コウノ ハナコ", "河野 花子", "F")] * MIN_RECORDS
    )
]
OWNERS = [
    _record("NOHAMA", "ノハマ ユキコ", None, "1937-10-22", "F"),
    _record("NAGAMORI", "ナガモリ マサシ", None, "1916-10-16", "M"),
    _record("UENO", "ウエノ マサシ", "上野正", "1958-04-17", "M"),
    # Both names differ from the check below, each only by another reading of some kanji.
    _record("KOUNO-UNSPLIT", "コウノユキコ", None, "1938-05-03", "F"),
    _record("KOUNO", "コウノ ユキコ", None, "1938-05-03", "F"),
]


def _check(
    surname: str, given: str, date: str, gender: str, kanji: tuple[str, str] | None
) -> Check:
    return Check(
        surname_kana=surname,
        given_name_kana=given,
        birth_date=parse_user_date(date),
        gender="F" if gender == "F" else "M",
        surname_kanji=kanji[0] if kanji else None,
        given_name_kanji=kanji[1] if kanji else None,
    )


NOHAMA = _check("ノハマ", "サチコ", "1937-10-22", "F", None)  # no kanji on either side
NAGAMORI = _check(
    "ナガモリ", "タダシ", "1916-10-16", "M", ("長森", "正")
)  # 正 as マサシ: ledger only
UENO = _check("ウエノ", "タダシ", "1958-04-17", "M", ("上野", "正"))  # same kanji, other reading


@pytest.fixture(scope="module")
def alias(os_client: OpenSearch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("ledger")
    with built_alias(os_client, "test-ledger-readings", TEACHERS + OWNERS, folder) as name:
        yield name


def _finder(stats: NameStats, alias: str) -> Finder:
    return Finder(alias, MatchingConfig.load(), default_reading_dictionary(), stats)


@pytest.mark.parametrize(
    ("check", "owner"), [(NOHAMA, "NOHAMA"), (NAGAMORI, "NAGAMORI"), (UENO, "UENO")]
)
def test_found_by_another_reading(
    os_client: OpenSearch, alias: str, check: Check, owner: str
) -> None:
    decision = _finder(load_name_stats(os_client, alias), alias).find(os_client, check)
    assert decision.found and owner in decision.record_ids


@pytest.mark.parametrize(("check", "owner"), [(NOHAMA, "NOHAMA"), (NAGAMORI, "NAGAMORI")])
def test_without_learned_readings_the_same_checks_are_not_found(
    os_client: OpenSearch, alias: str, check: Check, owner: str
) -> None:
    """What the ledger taught is what finds them: an index without it does not."""
    stats = load_name_stats(os_client, alias)
    unlearned = NameStats(
        total=stats.total,
        surnames=stats.surnames,
        given_names=stats.given_names,
        rarest_surname=stats.rarest_surname,
        rarest_given_name=stats.rarest_given_name,
    )
    assert not _finder(unlearned, alias).find(os_client, check).found


def test_unsplit_kanji_is_cut_as_the_kana_is(os_client: OpenSearch, alias: str) -> None:
    hit = os_client.search(index=alias, body={"query": {"ids": {"values": ["UENO"]}}})
    document = hit["hits"]["hits"][0]["_source"]
    assert document["sur"]["kanji"] == "上野"
    assert document["given"]["kanji"] == "正"
    assert document["full"]["kanji"] == "上野正"


def test_co_readings_of_both_names_are_not_found(os_client: OpenSearch, alias: str) -> None:
    """カワノ ユキコ typed without kanji is not コウノ ユキコ: the given name and the birth date
    agree (15 points, over the threshold), but a surname that merely shares a kanji spelling
    does not pass the namesake guard, and whole names take no co-readings."""
    check = _check("カワノ", "ユキコ", "1938-05-03", "F", None)
    decision = _finder(load_name_stats(os_client, alias), alias).find(os_client, check)
    kouno = next(s for s in decision.scores if s.record_id == "KOUNO")
    assert kouno.total >= MatchingConfig.load().threshold and not kouno.surname_agrees
    assert not decision.found
