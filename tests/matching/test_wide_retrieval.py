"""Retrieval paths beyond the date blocking, on the real node: a record under a maiden name the
person did not declare, found through the employer they remember; a birth date remembered
months off, found because the whole name agrees; and a sibling that these paths must not find."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from analyzers.dates import parse_user_date
from analyzers.readings import default_reading_dictionary
from matching.checks import Check
from matching.config import MatchingConfig
from matching.finder import Finder, load_name_stats
from tests.conftest import built_alias

pytestmark = pytest.mark.opensearch

MAIDEN = {  # keyed under her maiden name アズマ, with the era code swapped (3 = 大正)
    "record_id": "R-MAIDEN",
    "name_kana": "アズマ トシコ",
    "name_kanji": "東 敏子",
    "birth_date": "3-140912",
    "gender": "F",
    "pension_type": "kosei",
    "employer_name": "(株)渡辺工務店",
}
LATE = {  # the koseki date, four months before the date the person knows
    "record_id": "R-LATE",
    "name_kana": "ミナカタ ヨシエ",
    "name_kanji": "南方 芳枝",
    "birth_date": "1937-01-20",
    "gender": "F",
}
BROTHER = {  # a sibling: same surname, another given name, born two years later
    "record_id": "R-BROTHER",
    "name_kana": "タチバナ ヒデオ",
    "name_kanji": "橘 秀雄",
    "birth_date": "1941-03-15",
    "gender": "M",
}
CROWD = [
    {
        "record_id": f"R-C{n}",
        "name_kana": f"{s} {g}",
        "birth_date": f"1939-0{1 + n % 9}-1{n % 10}",
        "gender": "F" if n % 2 else "M",
        "pension_type": "kosei",
        "employer_name": f"{s}商店",
    }
    for n, (s, g) in enumerate(
        (s, g)
        for s in ("サトウ", "スズキ", "タカハシ", "タナカ", "ワタナベ", "イトウ")
        for g in ("トシコ", "カズコ", "ヒロシ", "マサオ", "ヨシエ")
    )
]


@pytest.fixture(scope="module")
def finder(os_client: OpenSearch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Finder]:
    alias = f"test-wide-{uuid.uuid4().hex[:8]}"
    folder: Path = tmp_path_factory.mktemp("wide")
    with built_alias(os_client, alias, [MAIDEN, LATE, BROTHER, *CROWD], folder) as served:
        yield Finder(
            alias=served,
            config=MatchingConfig.load(),
            readings=default_reading_dictionary(),
            stats=load_name_stats(os_client, served),
            request_timeout=30,
        )


def _check(**values: str) -> Check:
    birth = parse_user_date(values.pop("birth_date"))
    return Check(birth_date=birth, **values)  # type: ignore[arg-type]


def test_an_undeclared_maiden_name_is_found_through_the_employer(
    os_client: OpenSearch, finder: Finder
) -> None:
    check = _check(
        surname_kana="ワタナベ",
        given_name_kana="トシコ",
        surname_kanji="渡部",
        given_name_kanji="敏子",
        birth_date="昭和14年9月12日",
        gender="F",
        employer_name="渡辺工務店",
    )
    decision = finder.find(os_client, check)
    assert decision.found and decision.record_ids[0] == "R-MAIDEN"
    assert decision.best is not None and decision.best.reference_agrees
    assert not decision.best.surname_agrees


def test_without_the_employer_the_maiden_name_record_is_not_found(
    os_client: OpenSearch, finder: Finder
) -> None:
    check = _check(
        surname_kana="ワタナベ",
        given_name_kana="トシコ",
        birth_date="昭和14年9月12日",
        gender="F",
    )
    assert "R-MAIDEN" not in finder.find(os_client, check).record_ids


def test_a_date_months_off_is_retrieved_when_the_whole_name_agrees(
    os_client: OpenSearch, finder: Finder
) -> None:
    check = _check(
        surname_kana="ミナカタ",
        given_name_kana="ヨシエ",
        surname_kanji="南方",
        given_name_kanji="芳枝",
        birth_date="1937-05-18",
        gender="F",
    )
    keys, body = finder.body(check)
    hits = os_client.search(index=finder.alias, body=body)["hits"]["hits"]
    assert [h["_source"]["record_id"] for h in hits] == ["R-LATE"]
    decision = finder.decide(
        keys, {"hits": {"hits": hits}, "_shards": {"total": 1, "successful": 1}}
    )
    assert decision.best is not None
    assert [c.level for c in decision.best.contributions if c.feature == "birth_date"] == [
        "within_1_year"
    ]


def test_a_date_months_off_is_not_retrieved_on_the_given_name_alone(
    os_client: OpenSearch, finder: Finder
) -> None:
    check = _check(
        surname_kana="ヤマモト", given_name_kana="ヨシエ", birth_date="1937-05-18", gender="F"
    )
    _keys, body = finder.body(check)
    hits = os_client.search(index=finder.alias, body=body)["hits"]["hits"]
    assert "R-LATE" not in [h["_source"]["record_id"] for h in hits]


def test_a_sibling_with_a_year_digit_slip_is_not_found(
    os_client: OpenSearch, finder: Finder
) -> None:
    # The sister: same surname, born 1943-03-15 (one year digit from her brother's 1941),
    # a given name that shares nothing with his.
    check = _check(
        surname_kana="タチバナ",
        given_name_kana="ヒデコ",
        surname_kanji="橘",
        given_name_kanji="英子",
        birth_date="1943-03-15",
        gender="F",
    )
    assert not finder.find(os_client, check).found


def test_an_owner_keyed_with_the_own_date_outranks_namesakes_months_off(
    os_client: OpenSearch, tmp_path: Path, unique_name: str
) -> None:
    """A crowd: the same common whole name every few weeks of the year around the person's
    date, and the owner's record keyed with one kana mistyped but on the person's own date.
    The whole-name path brings the namesakes in; the date tiers must keep the owner first."""
    namesakes = [
        {
            "record_id": f"R-N{n:02d}",
            "name_kana": "スズキ マサオ",
            "birth_date": f"19{39 + n // 12}-{1 + n % 12:02d}-2{n % 9}",
            "gender": "M",
        }
        for n in range(24)
    ]
    owner = {
        "record_id": "R-OWNER",
        "name_kana": "スズキ マプオ",
        "birth_date": "1940-03-28",
        "gender": "M",
    }
    with built_alias(os_client, unique_name, [*namesakes, owner], tmp_path) as alias:
        finder = Finder(
            alias=alias,
            config=MatchingConfig.load(),
            readings=default_reading_dictionary(),
            stats=load_name_stats(os_client, alias),
            request_timeout=30,
        )
        check = _check(
            surname_kana="スズキ", given_name_kana="マサオ", birth_date="1940-03-28", gender="M"
        )
        _, body = finder.body(check)
        body["size"] = 3
        hits = os_client.search(index=alias, body=body)["hits"]["hits"]
        assert hits[0]["_source"]["record_id"] == "R-OWNER"
