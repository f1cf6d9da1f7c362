"""Readings from the real SudachiPy dictionary: the alternative readings DOMAIN.md lists."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzers.readings import ReadingDictionary, default_reading_dictionary


@pytest.fixture(scope="module")
def readings() -> ReadingDictionary:
    return default_reading_dictionary()


@pytest.mark.parametrize(
    ("surname", "expected", "why"),
    [
        ("河野", {"カワノ", "コウノ"}, "two 姓 readings"),
        ("中島", {"ナカジマ", "ナカシマ"}, "voiced and unvoiced readings"),
        ("長田", {"ナガタ", "オサダ"}, "ナガタ is tagged only as a place name"),
        ("小山", {"コヤマ", "オヤマ"}, "オヤマ is tagged only as a place name"),
        ("小野", {"オノ"}, "classical オノノ dropped next to オノ"),
        ("髙橋", {"タカハシ"}, "variant folded before lookup (髙橋 is out of vocabulary)"),
        ("渡邉", {"ワタナベ"}, "variant 邉"),
        ("山﨑", {"ヤマザキ", "ヤマサキ"}, "variant 﨑"),
    ],
)
def test_surname_readings(
    readings: ReadingDictionary, surname: str, expected: set[str], why: str
) -> None:
    assert readings.surname_readings(surname) == expected, why


@pytest.mark.parametrize(
    ("given_name", "expected", "why"),
    [
        ("幸子", {"サチコ", "ユキコ"}, "two 名 readings"),
        ("和子", {"カズコ", "マサコ"}, "common noun ワコ is not a name reading"),
        ("恵子", {"ケイコ"}, "homophone of 啓子"),
        ("啓子", {"ケイコ"}, "homophone of 恵子"),
    ],
)
def test_given_name_readings(
    readings: ReadingDictionary, given_name: str, expected: set[str], why: str
) -> None:
    assert readings.given_name_readings(given_name) == expected, why


@pytest.mark.parametrize(
    ("name", "expected", "why"),
    [
        (
            "河野 幸子",
            {"カワノサチコ", "カワノユキコ", "コウノサチコ", "コウノユキコ"},
            "with space",
        ),
        ("山田花子", {"ヤマダハナコ"}, "without space: split points tried"),
    ],
)
def test_full_name_readings(
    readings: ReadingDictionary, name: str, expected: set[str], why: str
) -> None:
    assert readings.full_name_readings(name) == expected, why


@pytest.mark.parametrize("text", ["", " ", "Yamada", "ヤマダ", "🙂", "\x00", "山" * 200])
def test_unknown_or_odd_input_gives_no_readings_and_no_error(
    readings: ReadingDictionary, text: str
) -> None:
    assert isinstance(readings.surname_readings(text), frozenset)
    assert isinstance(readings.given_name_readings(text), frozenset)


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
        assert all(reading and " " not in reading for reading in found)
