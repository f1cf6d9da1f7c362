"""analyzers.ledger_readings: which keyed readings are learned, and what they do to a check."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest

from analyzers.keys import check_name_keys
from analyzers.ledger_readings import (
    MAX_CO_READINGS,
    MIN_RECORDS,
    MIN_SHARE,
    LedgerReadingCounter,
    LedgerReadings,
    learned_table,
)
from analyzers.readings import default_reading_dictionary


def _totals(pairs: Counter[tuple[str, str]]) -> Counter[str]:
    totals: Counter[str] = Counter()
    for (kanji, _), count in pairs.items():
        totals[kanji] += count
    return totals


def _learned(pairs: Counter[tuple[str, str]], top: int = 100) -> dict[str, list[str]]:
    return dict(learned_table(pairs, _totals(pairs), top))


def test_a_reading_needs_enough_records_and_share() -> None:
    pairs = Counter(
        {
            ("幸子", "サチコ"): 60,
            ("幸子", "ユキコ"): 30,
            ("幸子", "サチユ"): 2,  # a slip: too few records
            ("正", "タダシ"): 400,
            ("正", "マサシ"): 19,  # 4.3 % of 正: below the share
            ("正", "タダス"): 21,  # 4.8 %: below it too
            ("稀", "マレ"): MIN_RECORDS - 1,
        }
    )
    assert _learned(pairs) == {"正": ["タダシ"], "幸子": ["サチコ", "ユキコ"]}


def test_the_bounds_themselves_pass() -> None:
    others = round(MIN_RECORDS / MIN_SHARE) - MIN_RECORDS  # MIN_RECORDS is exactly MIN_SHARE
    pairs = Counter({("和子", "カズコ"): others, ("和子", "マサコ"): MIN_RECORDS})
    assert _learned(pairs) == {"和子": ["カズコ", "マサコ"]}
    pairs["和子", "カズコ"] += 1  # one record more of the other reading: just below the share
    assert _learned(pairs) == {"和子": ["カズコ"]}


def test_most_frequent_kanji_are_kept_first() -> None:
    pairs = Counter({("甲", "コウ"): 5, ("乙", "オツ"): 9, ("丙", "ヘイ"): 7})
    assert list(_learned(pairs, top=2)) == ["乙", "丙"]


def test_counter_reads_document_parts_with_kanji_only() -> None:
    counter = LedgerReadingCounter()
    for _ in range(MIN_RECORDS):
        counter.add({"orthographic": "カワノ", "kanji": "河野"}, {"orthographic": "ユキコ"})
        counter.add(
            {"orthographic": "コウノ", "kanji": "河野"}, {"orthographic": "サチコ", "kanji": "幸子"}
        )
    meta = json.loads(json.dumps(counter.as_meta()))  # as stored: tuples become lists
    assert meta == {
        "ledger_readings": {
            "surnames": [["河野", ["カワノ", "コウノ"]]],
            "given_names": [["幸子", ["サチコ"]]],
        }
    }
    learned = LedgerReadings.from_meta(meta)
    assert learned.surname_readings("河野") == {"カワノ", "コウノ"}
    assert learned.surname_co_readings("コウノ") == {"カワノ"}
    assert learned.given_name_co_readings("サチコ") == frozenset()  # one reading: no co-reading


def test_co_readings_keep_the_most_frequent_kanji_whatever_the_key_order() -> None:
    """The stored order is the frequency order; OpenSearch may hand objects back reordered, so
    the table is a list and a shuffled JSON object of it would not do."""
    readings = [f"マサ{chr(ord('ア') + i)}" for i in range(MAX_CO_READINGS + 5)]
    # Kanji ranked by frequency, each sharing マサコ with one other reading.
    table = [[f"正{i}", ["マサコ", reading]] for i, reading in enumerate(readings)]
    learned = LedgerReadings.from_meta({"ledger_readings": {"given_names": table}})
    assert learned.given_name_co_readings("マサコ") == set(readings[:MAX_CO_READINGS])
    shuffled = table[:]
    random.Random(7).shuffle(shuffled)
    # The list order is the ranking: a reordered list ranks (and keeps) other kanji.
    others_in_order = [other for _, (_, other) in shuffled if other != "マサコ"]
    kept_after_shuffle = set(others_in_order[:MAX_CO_READINGS])
    assert kept_after_shuffle != set(readings[:MAX_CO_READINGS]), "the shuffle changed the top"
    assert (
        LedgerReadings.from_meta(
            {"ledger_readings": {"given_names": shuffled}}
        ).given_name_co_readings("マサコ")
        == kept_after_shuffle
    )


@pytest.mark.parametrize(
    "stored",
    [
        {"given_names": {"幸子": ["サチコ"]}},  # an object, not a list
        {"given_names": [["幸子", "サチコ"]]},  # a string where the readings go
        {"given_names": [["幸子"]]},
        {"given_names": [[1, ["サチコ"]]]},
        ["幸子"],
    ],
)
def test_malformed_tables_are_refused(stored: Any) -> None:
    with pytest.raises(ValueError):
        LedgerReadings.from_meta({"ledger_readings": stored})


def test_counter_memory_is_bounded_and_frequent_pairs_survive() -> None:
    counter = LedgerReadingCounter(max_pairs=100)
    for _ in range(MIN_RECORDS):
        counter.add({"orthographic": "カワノ", "kanji": "河野"}, {"orthographic": "ユキコ"})
    for i in range(1000):  # a long tail of pairs seen once
        counter.add({"orthographic": f"ア{i}", "kanji": f"甲{i}"}, {"orthographic": "ユキコ"})
        assert len(counter.surnames) + len(counter.given_names) <= 100
    for _ in range(MIN_RECORDS):
        counter.add({"orthographic": "コウノ", "kanji": "河野"}, {"orthographic": "ユキコ"})
    assert dict(counter.as_meta()["ledger_readings"]["surnames"]) == {"河野": ["カワノ", "コウノ"]}


def test_dropping_rare_pairs_never_makes_a_reading_pass() -> None:
    """Shares are of every record of the kanji, pruned or not."""
    unbounded, bounded = LedgerReadingCounter(), LedgerReadingCounter(max_pairs=6)
    for counter in (unbounded, bounded):
        for _ in range(50):
            counter.add({"orthographic": "タダシ", "kanji": "正"}, {})
        for _ in range(MIN_RECORDS):
            counter.add({"orthographic": "マサシ", "kanji": "正"}, {})
        for i in range(40):  # one-off slips of 正, dropped from the bounded counter
            counter.add({"orthographic": f"タ{i}", "kanji": "正"}, {})
    assert bounded.surnames.pairs["正", "マサシ"] == MIN_RECORDS  # kept: only the slips went
    expected = [("正", ["タダシ"])]  # マサシ: 3 of 93 records, not 3 of the 53 left
    assert unbounded.as_meta()["ledger_readings"]["surnames"] == expected
    assert bounded.as_meta()["ledger_readings"]["surnames"] == expected


def test_an_index_without_learned_readings_changes_nothing() -> None:
    learned = LedgerReadings.from_meta({"name_stats": {"total": 3}})
    assert learned == LedgerReadings.from_tables([], [])
    readings = default_reading_dictionary()
    plain = check_name_keys("ウエノ", "マサシ", "上野", "正", readings)
    assert check_name_keys("ウエノ", "マサシ", "上野", "正", readings, learned) == plain


def test_check_keys_take_the_ledger_readings() -> None:
    readings = default_reading_dictionary()
    learned = LedgerReadings.from_tables(
        [], [("正", ("タダシ", "マサシ")), ("幸子", ("サチコ", "ユキコ"))]
    )
    assert "マサシ" not in readings.given_name_readings("正")  # the dictionary lacks it
    with_kanji = check_name_keys("ウエノ", "タダシ", "上野", "正", readings, learned)
    assert with_kanji.given is not None and "マサシ" in with_kanji.given.readings
    without_kanji = check_name_keys("ノハマ", "サチコ", None, None, readings, learned)
    assert without_kanji.given is not None
    assert without_kanji.given.co_readings == {"ユキコ"}  # a level of its own
    assert without_kanji.given.readings == without_kanji.given.composed == frozenset()
    assert without_kanji.full.composed == frozenset()  # never both parts at once
