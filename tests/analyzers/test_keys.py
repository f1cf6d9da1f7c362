"""analyzers.keys: the shortcut for parts without readings builds the same PartKeys; unsplit
kanji names are cut where the kana split says."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzers.kana import kana_keys, remove_voicing
from analyzers.kanji import fold_kanji
from analyzers.keys import PartKeys, part_keys, record_name_keys, split_kanji_by_kana
from analyzers.readings import ReadingDictionary, default_reading_dictionary


@given(st.text(max_size=12), st.one_of(st.none(), st.text(max_size=6)))
def test_part_without_readings_is_keyed_as_with_empty_reading_sets(
    kana: str, kanji: str | None
) -> None:
    folded = fold_kanji(kanji) if kanji else None
    empty: frozenset[str] = frozenset()
    expected = PartKeys(
        levels=kana_keys(kana),
        readings=empty,
        kanji=folded or None,
        composed=empty,
        readings_voiceless=frozenset(remove_voicing(r) for r in empty),
    )
    assert part_keys(kana, kanji) == expected
    assert part_keys(kana, kanji, frozenset(), frozenset()) == expected


# An unsplit kanji name is cut where its own kana split is borne out by the dictionary.
KANA_GUIDED_SPLITS = [
    ("上野正", "ウエノ", "マサシ", ("上野", "正"), "both sides read as keyed"),
    ("長森正", "ナガモリ", "タダシ", ("長森", "正"), "the given name's other reading"),
    ("國谷節子", "クニヤ", "セツコ", ("國谷", "節子"), "old form: looked up folded, cut as keyed"),
    ("小山田花子", "オヤマダ", "ハナコ", ("小山田", "花子"), "the longer surname, not 小山"),
    ("佐々木一郎", "ササキ", "イチロウ", ("佐々木", "一郎"), "々 never starts a part"),
    ("山田", "ヤマダ", "タロウ", (None, None), "the given name's kanji is missing"),
    ("木村太郎", "ヤマダ", "ハナコ", (None, None), "no reading agrees anywhere"),
]


@pytest.mark.parametrize(("kanji", "surname", "given", "expected", "why"), KANA_GUIDED_SPLITS)
def test_split_kanji_by_kana(
    kanji: str,
    surname: str,
    given: str,
    expected: tuple[str | None, str | None],
    why: str,
) -> None:
    readings = default_reading_dictionary()
    assert split_kanji_by_kana(kanji, surname, given, readings) == expected, why


def test_unsplit_kanji_record_gets_part_kanji_and_readings() -> None:
    readings = default_reading_dictionary()
    keys = record_name_keys("ウエノ　マサシ", "上野正", readings)
    assert keys.surname is not None and keys.given is not None
    assert keys.surname.kanji == "上野"
    assert keys.given.kanji == "正"
    assert "タダシ" in keys.given.readings  # a check typed タダシ for 正 now agrees by reading
    assert keys.full.kanji == "上野正"


def test_ambiguous_cut_is_left_unsplit() -> None:
    class TwoWays(ReadingDictionary):
        """Every prefix reads as the surname: two cuts agree equally."""

        def __init__(self) -> None:
            pass

        def surname_readings(self, surname_kanji: str) -> frozenset[str]:
            return frozenset({"アベ"})

        def given_name_readings(self, given_name_kanji: str) -> frozenset[str]:
            return frozenset()

    assert split_kanji_by_kana("阿部一", "アベ", "ハジメ", TwoWays()) == (None, None)


def test_unsplit_kanji_name_keeps_its_whole_name_kanji() -> None:
    readings = default_reading_dictionary()
    keys = record_name_keys("ヤマダハナコ", "山田花子", readings)
    assert keys.surname is None and keys.full.kanji == "山田花子"
    keys = record_name_keys("ヤマダ ハナコ", "木村太郎", readings)  # no cut is borne out
    assert keys.surname is not None and keys.surname.kanji is None
    assert keys.full.kanji == "木村太郎"


def test_a_composed_reading_with_other_voicing_is_no_agreement() -> None:
    """春子 read character by character gives シュンコ; a record ジュンコ differs from that guess
    in 濁点 as well, which is no evidence at all (it outscored the composed level itself)."""
    from matching.scoring import part_levels

    readings = default_reading_dictionary()
    check = part_keys("ハルコ", "春子", frozenset(), readings.composed_readings("春子"))
    assert "シユンコ" in {k.replace("ュ", "ユ") for k in check.composed}  # the guess is there
    assert not check.readings_voiceless
    record = {"exact": "ジュンコ", "orthographic": "ジユンコ", "voiceless": "シユンコ"}
    assert "reading_voiceless" not in part_levels(check, record)
    assert part_levels(check, {**record, "orthographic": "シユンコ"}) >= {"composed_reading"}


def test_no_part_starts_with_an_iteration_mark() -> None:
    class Agreeable(ReadingDictionary):
        """Reads 佐 as the surname サ and 々木 as the given name サキ: a cut at 佐|々木 agrees."""

        def __init__(self) -> None:
            pass

        def surname_readings(self, surname_kanji: str) -> frozenset[str]:
            return frozenset({"サ"}) if surname_kanji == "佐" else frozenset()

        def given_name_readings(self, given_name_kanji: str) -> frozenset[str]:
            return frozenset({"サキ"}) if given_name_kanji == "々木" else frozenset()

    assert split_kanji_by_kana("佐々木", "サ", "サキ", Agreeable()) == (None, None)
