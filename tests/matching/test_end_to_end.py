"""End to end against the real node: a crafted extract with one record per error pattern.

Each case is (check as a person would type it, expected owner record or None, why). The
records were keyed the way DOMAIN.md says they went wrong; the checks are typed correctly.
"""

from __future__ import annotations

from typing import Any

import pytest
from opensearchpy import OpenSearch

from matching.finder import Finder
from search_api.models import ExistenceCheckIn

pytestmark = pytest.mark.opensearch


def _check(surname: str, given: str, date: str, gender: str = "F", **extra: Any) -> dict[str, Any]:
    return {
        "surname_kana": surname,
        "given_name_kana": given,
        "birth_date": date,
        "gender": gender,
        **extra,
    }


CASES: list[tuple[str, dict[str, Any], str | None, str]] = [
    (
        "small_kana",
        _check("ヤマダ", "キョウコ", "昭和13年5月3日"),
        "R-SMALL",
        "キヨウコ keyed with a large ヨ",
    ),
    (
        "small_kana_sokuon",
        _check("はっとり", "まさお", "1931-02-11", "M"),
        "R-SOKUON",
        "ハツトリ keyed with a large ツ, hiragana input",
    ),
    (
        "voicing",
        _check("ナカジマ", "ハルコ", "S5.7.21"),
        "R-VOICING",
        "ナカシマ keyed without 濁点",
    ),
    (
        "long_vowel",
        _check("オオノ", "イチロウ", "1940-01-15", "M"),
        "R-LONG",
        "オーノ イチロー keyed with 長音 marks",
    ),
    (
        "old_kana",
        _check("スズキ", "シズオ", "1935-09-09", "M"),
        "R-OLDKANA",
        "シヅオ keyed with ヅ",
    ),
    (
        "confusable",
        _check("ソノダ", "ミツコ", "1942-03-30"),
        "R-CONF",
        "ンノダ ミシコ read back from handwriting",
    ),
    (
        "alt_reading",
        _check("コウノ", "サチコ", "1938-08-08", surname_kanji="河野", given_name_kanji="幸子"),
        "R-READING",
        "the record reads 河野 幸子 as カワノ ユキコ",
    ),
    ("kana_typo", _check("ワタナベ", "ヨシエ", "1933-04-04"), "R-TYPO", "ワタナメ: one kana wrong"),
    (
        "confusable_shi_tsu",
        _check("タカハシ", "ヨシエ", "1933-04-14"),
        "R-SHITSU",
        "タカハツ: シ read back as ツ",
    ),
    ("halfwidth", _check("サトウ", "ハナコ", "1929-12-01"), "R-HALF", "ｻﾄｳ ﾊﾅｺ half-width"),
    (
        "no_space",
        _check("イノウエ", "タケシ", "1937-06-06", "M"),
        "R-NOSPACE",
        "イノウエタケシ keyed without a space",
    ),
    (
        "kanji_variant",
        _check("タカハシ", "セツコ", "1934-10-10", surname_kanji="高橋", given_name_kanji="節子"),
        "R-KANJI",
        "髙橋 keyed with the old form",
    ),
    (
        "maiden_name",
        _check("ヤマモト", "フミコ", "1936-02-02", former_surnames=[{"kana": "イシカワ"}]),
        "R-MAIDEN",
        "the work record carries the maiden name イシカワ",
    ),
    (
        "era_swap",
        _check("モリタ", "ヨシオ", "昭和13年11月20日", "M"),
        "R-ERA",
        "keyed 大正13年 (3-131120) instead of 昭和13年",
    ),
    ("day_month_swap", _check("キムラ", "トシコ", "1941-03-04"), "R-SWAP", "keyed 1941-04-03"),
    (
        "date_digit_typo",
        _check("ハヤシ", "カズオ", "1932-02-20", "M"),
        "R-DIGIT",
        "keyed 1932-02-30: an impossible date, still findable",
    ),
    (
        "date_off_days",
        _check("シミズ", "ミチコ", "1939-07-01"),
        "R-DAYS",
        "koseki date 12 days after the declared one",
    ),
    (
        "gender_swapped",
        _check("ヤマグチ", "ヒロミ", "1945-05-05", "F"),
        "R-GENDER",
        "unisex ヒロミ keyed as male",
    ),
    ("clean", _check("マツモト", "キヨシ", "1930-01-30", "M"), "R-CLEAN", "exact record"),
    # Hard negatives: no record of theirs exists.
    (
        "sibling",
        _check("マツモト", "タダシ", "1932-01-30", "M"),
        None,
        "same surname, other given name, born two years apart",
    ),
    (
        "namesake",
        _check("ナカムラ", "キョウコ", "昭和13年5月3日"),
        None,
        "same given name and birth date as R-SMALL, other surname",
    ),
    ("random", _check("ワタナベ", "ススム", "1950-10-10", "M"), None, "nobody like this"),
    (
        "same_name_far_date",
        _check("ヤマダ", "キョウコ", "1958-09-21"),
        None,
        "same name as R-SMALL, birth date 20 years off",
    ),
]


def test_each_error_pattern_is_found_and_negatives_are_not(
    os_client: OpenSearch, crafted_finder: Finder
) -> None:
    failures = []
    for tag, request, expected, why in CASES:
        check = ExistenceCheckIn.model_validate(request).to_check()
        decision = crafted_finder.find(os_client, check)
        if expected is None:
            ok = not decision.found
        else:
            ok = decision.found and expected in decision.record_ids
        if not ok:
            best = decision.best
            failures.append(
                f"{tag} ({why}): found={decision.found} ids={decision.record_ids} "
                f"best={best.record_id if best else None} total={best.total if best else None} "
                f"{[(c.feature, c.level, c.weight) for c in best.contributions] if best else ''}"
            )
    assert not failures, "\n".join(failures)


def test_given_name_and_date_alone_do_not_say_found(
    os_client: OpenSearch, crafted_finder: Finder
) -> None:
    request = _check("フジタ", "フミコ", "1936-02-02")
    decision = crafted_finder.find(os_client, ExistenceCheckIn.model_validate(request).to_check())
    assert not decision.found, "given name + birth date without surname agreement is not enough"


def test_maiden_name_not_given_is_found_with_matching_employer(
    os_client: OpenSearch, crafted_finder: Finder
) -> None:
    request = _check(
        "ヤマモト", "フミコ", "1936-02-02", reference={"employer_name": "株式会社石川織物"}
    )
    decision = crafted_finder.find(os_client, ExistenceCheckIn.model_validate(request).to_check())
    assert decision.found and "R-MAIDEN" in decision.record_ids
