"""Readings from the real SudachiPy dictionary: the alternative readings of names that matter.

The dictionary is data that a new release may extend, so each case asserts the readings the
matching relies on (a subset) and the ones a rule must drop, never the dictionary's whole set.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzers.kana import is_kana
from analyzers.readings import ReadingDictionary, default_reading_dictionary


@pytest.fixture(scope="module")
def readings() -> ReadingDictionary:
    return default_reading_dictionary()


@pytest.mark.parametrize(
    ("surname", "needed", "dropped", "why"),
    [
        ("河野", {"カワノ", "コウノ"}, set(), "two 姓 readings"),
        ("中島", {"ナカジマ", "ナカシマ"}, set(), "voiced and unvoiced readings"),
        ("長田", {"ナガタ", "オサダ"}, {"ナガタノ"}, "ナガタ is tagged only as a place name"),
        ("小山", {"コヤマ", "オヤマ"}, set(), "オヤマ is tagged only as a place name"),
        ("小野", {"オノ"}, {"オノノ"}, "classical オノノ dropped next to オノ"),
        ("髙橋", {"タカハシ"}, set(), "variant folded before lookup (髙橋 is out of vocabulary)"),
        ("渡邉", {"ワタナベ"}, set(), "variant 邉"),
        ("山﨑", {"ヤマザキ", "ヤマサキ"}, set(), "variant 﨑"),
    ],
)
def test_surname_readings(
    readings: ReadingDictionary, surname: str, needed: set[str], dropped: set[str], why: str
) -> None:
    found = readings.surname_readings(surname)
    assert needed <= found, why
    assert not dropped & found, why


def test_variant_kanji_read_as_their_standard_form(readings: ReadingDictionary) -> None:
    assert readings.surname_readings("髙橋") == readings.surname_readings("高橋")
    assert readings.surname_readings("渡邉") == readings.surname_readings("渡辺")


@pytest.mark.parametrize(
    ("given_name", "needed", "dropped", "why"),
    [
        ("幸子", {"サチコ", "ユキコ"}, set(), "two 名 readings"),
        ("和子", {"カズコ", "マサコ"}, {"ワコ"}, "common noun ワコ is not a name reading"),
        ("恵子", {"ケイコ"}, set(), "homophone of 啓子"),
        ("啓子", {"ケイコ"}, set(), "homophone of 恵子"),
    ],
)
def test_given_name_readings(
    readings: ReadingDictionary, given_name: str, needed: set[str], dropped: set[str], why: str
) -> None:
    found = readings.given_name_readings(given_name)
    assert needed <= found, why
    assert not dropped & found, why


@pytest.mark.parametrize(
    ("name", "surname", "given_name", "needed", "why"),
    [
        (
            "河野 幸子",
            "河野",
            "幸子",
            {"カワノサチコ", "カワノユキコ", "コウノサチコ", "コウノユキコ"},
            "with space",
        ),
        ("山田花子", "山田", "花子", {"ヤマダハナコ"}, "without space: split points tried"),
    ],
)
def test_full_name_readings(
    readings: ReadingDictionary,
    name: str,
    surname: str,
    given_name: str,
    needed: set[str],
    why: str,
) -> None:
    found = readings.full_name_readings(name)
    assert needed <= found, why
    # Every pairing of a surname reading with a given-name reading, and nothing else.
    pairs = {
        sur + giv
        for sur in readings.surname_readings(surname)
        for giv in readings.given_name_readings(given_name)
    }
    assert pairs <= found, why
    if " " in name:
        assert found == pairs, why


@pytest.mark.parametrize("text", ["", " ", "🙂", "\x00", "山" * 200, "xqzv", "ヲヰヱ"])
def test_unknown_or_odd_input_gives_no_readings_and_no_error(
    readings: ReadingDictionary, text: str
) -> None:
    assert readings.surname_readings(text) == frozenset()
    assert readings.given_name_readings(text) == frozenset()
    assert readings.full_name_readings(text) == frozenset()


@pytest.mark.parametrize("text", ["Yamada", "ヤマダ"])
def test_spellings_the_dictionary_lists_as_a_surname_read_as_that_surname(
    readings: ReadingDictionary, text: str
) -> None:
    """The dictionary has 人名/姓 entries for the romaji and katakana spellings of 山田 too;
    their reading is the kana itself, and they are no given name."""
    assert "ヤマダ" in readings.surname_readings(text)
    assert readings.given_name_readings(text) == frozenset()


def test_default_dictionary_is_shared() -> None:
    assert default_reading_dictionary() is default_reading_dictionary()


@given(st.text(max_size=12))
@settings(deadline=None)
def test_never_raises_on_any_text(text: str) -> None:
    readings = default_reading_dictionary()
    for found in (
        readings.surname_readings(text),
        readings.given_name_readings(text),
        readings.full_name_readings(text),
    ):
        assert all(reading and " " not in reading and is_kana(reading) for reading in found)
