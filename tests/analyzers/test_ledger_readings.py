"""analyzers.ledger_readings: which keyed readings are learned, and what they do to a check."""

from __future__ import annotations

from collections import Counter

from analyzers.keys import check_name_keys
from analyzers.ledger_readings import (
    MAX_CO_READINGS,
    MIN_RECORDS,
    LedgerReadingCounter,
    LedgerReadings,
    learned_table,
)
from analyzers.readings import default_reading_dictionary


def test_a_reading_needs_enough_records_and_share() -> None:
    pairs = Counter(
        {
            ("幸子", "サチコ"): 60,
            ("幸子", "ユキコ"): 30,
            ("幸子", "サチユ"): 2,  # a slip: too few records
            ("正", "タダシ"): 400,
            ("正", "マサシ"): 19,  # 4.5 % of 正: below the share
            ("正", "タダス"): 21,  # 4.8 %: below it too
            ("稀", "マレ"): MIN_RECORDS - 1,
        }
    )
    assert learned_table(pairs) == {"正": ["タダシ"], "幸子": ["サチコ", "ユキコ"]}


def test_most_frequent_kanji_are_kept_first() -> None:
    pairs = Counter({("甲", "コウ"): 5, ("乙", "オツ"): 9, ("丙", "ヘイ"): 7})
    assert list(learned_table(pairs, top=2)) == ["乙", "丙"]


def test_counter_reads_document_parts_with_kanji_only() -> None:
    counter = LedgerReadingCounter()
    for _ in range(3):
        counter.add({"orthographic": "カワノ", "kanji": "河野"}, {"orthographic": "ユキコ"})
        counter.add(
            {"orthographic": "コウノ", "kanji": "河野"}, {"orthographic": "サチコ", "kanji": "幸子"}
        )
    meta = counter.as_meta()
    assert meta == {
        "ledger_readings": {
            "surnames": {"河野": ["カワノ", "コウノ"]},
            "given_names": {"幸子": ["サチコ"]},
        }
    }
    learned = LedgerReadings.from_meta(meta)
    assert learned.surname_readings("河野") == {"カワノ", "コウノ"}
    assert learned.surname_co_readings("コウノ") == {"カワノ"}
    assert learned.given_name_co_readings("サチコ") == frozenset()  # one reading: no co-reading


def test_co_readings_are_bounded() -> None:
    readings = [f"マサ{chr(ord('ア') + i)}" for i in range(MAX_CO_READINGS + 5)]
    learned = LedgerReadings.from_tables({}, {"正子": readings})
    assert len(learned.given_name_co_readings(readings[0])) == MAX_CO_READINGS


def test_an_index_without_learned_readings_changes_nothing() -> None:
    learned = LedgerReadings.from_meta({"name_stats": {"total": 3}})
    assert learned == LedgerReadings.from_tables({}, {})
    readings = default_reading_dictionary()
    plain = check_name_keys("ウエノ", "マサシ", "上野", "正", readings)
    assert check_name_keys("ウエノ", "マサシ", "上野", "正", readings, learned) == plain


def test_check_keys_take_the_ledger_readings() -> None:
    readings = default_reading_dictionary()
    learned = LedgerReadings.from_tables(
        {}, {"正": ["タダシ", "マサシ"], "幸子": ["サチコ", "ユキコ"]}
    )
    assert "マサシ" not in readings.given_name_readings("正")  # the dictionary lacks it
    with_kanji = check_name_keys("ウエノ", "タダシ", "上野", "正", readings, learned)
    assert with_kanji.given is not None and "マサシ" in with_kanji.given.readings
    without_kanji = check_name_keys("ノハマ", "サチコ", None, None, readings, learned)
    assert without_kanji.given is not None
    assert without_kanji.given.composed == {"ユキコ"}  # compared like a composed reading
    assert without_kanji.given.readings == frozenset()


def test_counter_memory_is_bounded_and_frequent_pairs_survive() -> None:
    counter = LedgerReadingCounter(max_pairs=100)
    for _ in range(MIN_RECORDS):
        counter.add({"orthographic": "カワノ", "kanji": "河野"}, {"orthographic": "ユキコ"})
    for i in range(1000):  # a long tail of pairs seen once
        counter.add({"orthographic": f"ア{i}", "kanji": f"甲{i}"}, {"orthographic": "ユキコ"})
        assert len(counter.surnames) + len(counter.given_names) <= 100
    for _ in range(MIN_RECORDS):
        counter.add({"orthographic": "コウノ", "kanji": "河野"}, {"orthographic": "ユキコ"})
    assert counter.as_meta()["ledger_readings"]["surnames"] == {"河野": ["カワノ", "コウノ"]}
