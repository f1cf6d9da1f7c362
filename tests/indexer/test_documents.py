"""Documents the indexer stores: the memoised, normalise-once path must change nothing.

``record_document`` is optimised (the name is normalised once, while validating; surname and
given-name keys are memoised; JSON lines are parsed with orjson). Every document is compared
byte for byte, key order included, with a plain reference built the way the indexer first did
it: each key computed from the record's raw values, nothing cached, nothing passed along.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from analyzers.kana import kana_key, kana_keys
from analyzers.kanji import fold_kanji
from analyzers.keys import ONE_EDIT_MIN_LENGTH, split_kanji_by_kana
from analyzers.names import given_name_suffixes, split_kana_name, split_kanji_name
from analyzers.readings import ReadingDictionary, default_reading_dictionary
from indexer import sources
from indexer.documents import record_document
from indexer.sources import Quarantined, Record, read_extract
from relevance.synth import SynthConfig, generate, write_synth_set


def _reference_part(
    kana: str, kanji: str | None, readings: frozenset[str] = frozenset()
) -> dict[str, Any]:
    part: dict[str, Any] = dict(kana_keys(kana))
    reading_keys = {kana_key(r, "orthographic") for r in readings if r}
    if reading_keys:
        part["readings"] = sorted(reading_keys)
    if kanji and fold_kanji(kanji):
        part["kanji"] = fold_kanji(kanji)
    return part


def reference_document(record: Record, readings: ReadingDictionary) -> dict[str, Any]:
    """``record_document`` as first written (record_name_keys + _part), without any cache."""
    assert record.name_kana is not None and record.birth_date is not None
    parts = split_kana_name(record.name_kana)
    name_kanji = record.name_kanji
    sur_kanji, given_kanji = split_kanji_name(name_kanji) if name_kanji else (None, None)
    split = parts.surname is not None and parts.given is not None
    if name_kanji and sur_kanji is None and split:
        assert parts.surname is not None and parts.given is not None
        sur_kanji, given_kanji = split_kanji_by_kana(
            name_kanji, parts.surname, parts.given, readings
        )
    full_kanji = name_kanji
    full_readings = (
        readings.full_name_readings(name_kanji) if name_kanji and not split else frozenset()
    )
    full = _reference_part(parts.full, full_kanji, full_readings)
    doc: dict[str, Any] = {
        "record_id": record.record_id,
        "gender": record.gender,
        "birth_key": record.birth_date.key,
        "full": full,
    }
    orthographic = full["orthographic"]
    if len(orthographic) >= ONE_EDIT_MIN_LENGTH:
        deletions = [orthographic[:i] + orthographic[i + 1 :] for i in range(len(orthographic))]
        if deletions:
            full["deletions"] = list(dict.fromkeys(deletions))
    day = record.birth_date.as_date()
    if day is not None:
        doc["birth_date"] = day.isoformat()
    if split:
        assert parts.surname is not None and parts.given is not None
        sur_readings = readings.surname_readings(sur_kanji) if sur_kanji else frozenset()
        given_readings = readings.given_name_readings(given_kanji) if given_kanji else frozenset()
        doc["sur"] = _reference_part(parts.surname, sur_kanji, sur_readings)
        doc["given"] = _reference_part(parts.given, given_kanji, given_readings)
    else:
        suffixes = [kana_key(s, "orthographic") for s in given_name_suffixes(parts.full)]
        if suffixes:
            doc["given_suffixes"] = list(dict.fromkeys(suffixes))
    if record.pension_type:
        doc["pension_type"] = record.pension_type
    if record.employer_name:
        doc["employer"] = record.employer_name
    if record.address:
        doc["address"] = record.address
    return doc


def assert_same_documents(records: list[Record], readings: ReadingDictionary) -> None:
    for record in records:
        if record.op == "upsert":
            expected = orjson.dumps(reference_document(record, readings))
            assert orjson.dumps(record_document(record, readings)) == expected, record


# Names and kanji that exercise every branch: widths, hiragana, U+3000 and runs of spaces,
# no space, long vowels across the surname/given boundary, small and old kana, iteration
# marks, spacing (han)dakuten, dictionary readings, variant kanji, 々 at the start of a given
# name, kanji without a space, and kanji split differently from the kana.
TRICKY_NAMES: list[tuple[str, str | None]] = [
    ("ヤマダ ハナコ", "山田 花子"),
    ("ｻﾄｳ ﾊﾅｺ", None),
    ("さとう　はなこ", "佐藤　花子"),
    ("サトウ  ハナ コ", "佐藤 花 子"),
    ("サトウハナコ", "佐藤花子"),
    ("サトウオサム", None),
    ("サトウ オサム", "佐藤 修"),
    ("オーノ イチロー", "大野 一郎"),
    ("オオノ ユウコ", "大野 優子"),
    ("キョウコ", None),
    ("ハットリ キョウコ", "服部 京子"),
    ("スズキ シヅオ", "鈴木 静雄"),
    ("カワノ ユキコ", "河野 幸子"),
    ("ナガタ サチコ", "長田 幸子"),
    ("タカハシ セツコ", "髙橋 節子"),
    ("ササキ ミスヾ", "佐々木 美鈴"),
    ("ミスヽ ハナ", "々木 花"),
    ("カ゛ク ヒ゜", None),
    ("ヴァイオリン ヲ", None),
    ("ソノダ ツネコ", "園田 恒子"),
    ("ﾔﾏﾀﾞ-ﾀﾛｳ", None),
    ("ヤマダ・タロウ", "山田・太郎"),
    ("イノウエタケシ", "井上武"),
    ("イノウエ タケシ", "井上武"),
    ("ウエノ マサシ", "上野正"),
    ("クニヤ セツコ", "國谷節子"),
    ("ヤマダ タロウ", "山田"),
    ("イノウエタケシ", "井上 武"),
    ("ア イ", "亜 伊"),
    ("ア", None),
    ("ーア ー", None),
    ("ㇰㇱ ㇳ", None),
    ("ワタナベ ケイコ", "渡邉 恵子"),
    ("サイトウ ヨシコ", "齋藤 淑子"),
    ("ヨシダ ハナ", "𠮷田 花"),
]
TRICKY_DATES = ["5-130503", "1938-02-30", "５１３０５０３", "19380503", "3-150230", "1938/5/3"]


def tricky_lines() -> list[str]:
    lines = []
    for i, (kana, kanji) in enumerate(TRICKY_NAMES):
        row = {
            "record_id": f"R{i}",
            "name_kana": kana,
            "name_kanji": kanji,
            "birth_date": TRICKY_DATES[i % len(TRICKY_DATES)],
            "gender": ["1", "2", "M", "f"][i % 4],
            "pension_type": ["kosei", None, "ＫＯＳＥＩ", ""][i % 4],
            "employer_name": ["(株)山田商店", None, "  "][i % 3],
            "address": [None, "埼玉県浦和市"][i % 2],
        }
        lines.append(json.dumps(row, ensure_ascii=i % 2 == 0))
    return lines


def read_records(path: Path) -> list[Record]:
    return [item for item in read_extract(path) if isinstance(item, Record)]


def test_tricky_records_give_the_reference_documents(tmp_path: Path) -> None:
    path = tmp_path / "tricky.jsonl"
    path.write_text("\n".join(tricky_lines()) + "\n", encoding="utf-8")
    records = read_records(path)
    assert len(records) == len(TRICKY_NAMES)
    readings = default_reading_dictionary()
    assert_same_documents(records, readings)
    assert_same_documents(records, readings)  # again, now from the caches


def test_records_made_elsewhere_are_normalised_by_the_document_builder(tmp_path: Path) -> None:
    path = tmp_path / "tricky.jsonl"
    path.write_text("\n".join(tricky_lines()) + "\n", encoding="utf-8")
    records = read_records(path)
    assert all(r.name_kana_normalized is not None for r in records)
    bare = [dataclasses.replace(r, name_kana_normalized=None) for r in records]
    assert bare == records  # the normalised name is derived, not part of a record's identity
    assert_same_documents(bare, default_reading_dictionary())


@pytest.mark.parametrize("extract_format", ["jsonl", "csv"])
def test_synthetic_extract_gives_the_reference_documents(
    tmp_path: Path, extract_format: str
) -> None:
    """20,000 records of the benchmark's generator (the 1M extract was also compared whole)."""
    synth = generate(SynthConfig(records=20_000, checks=0, seed=11, density="uniform"))
    write_synth_set(synth, tmp_path)
    path = tmp_path / f"records.{extract_format}"
    records = read_records(path)
    assert len(records) == len(synth.records)
    assert_same_documents(records, default_reading_dictionary())


# Lines on which orjson and json.loads could disagree; each must come out exactly as the
# standard path (decode + json.loads) makes it.
AWKWARD_LINES = [
    '{"record_id": 99999999999999999999, "name_kana": "ア イ", "birth_date": "19380503", '
    '"gender": 1}',
    '{"record_id": -99999999999999999999, "name_kana": "ア イ", "birth_date": "19380503", '
    '"gender": 1}',
    '{"record_id": 12, "name_kana": "ア イ", "birth_date": "19380503", "gender": 1.0}',
    '{"record_id": "R1", "name_kana": "ア イ", "birth_date": 19380503, "gender": 2}',
    '{"record_id": "R2", "name_kana": "ア イ", "birth_date": "19380503", "gender": NaN}',
    '{"record_id": "R3", "name_kana": "ア イ", "birth_date": "19380503", "gender": 1e400}',
    '{"record_id": "R4", "name_kana": "ア\\ud800", "birth_date": "19380503", "gender": "1"}',
    '{"record_id": "R5", "name_kana": "ア イ", "birth_date": "19380503", "gender": "1", '
    '"address": "\\ud83d\\ude00"}',
    '{"record_id": "R6", "name_kana": "ア イ", "birth_date": "19380503", "gender": "1", '
    '"gender": "2"}',
    '{"record_id": "R7", "name_kana": "ア イ", "birth_date": "19380503", "gender": true}',
    '{"record_id": "R8", "name_kana": "ア イ", "birth_date": "19380503", "gender": "1"}  ',
    '{"record_id": "R9", "name_kana": "ア\x01イ", "birth_date": "19380503", "gender": "1"}',
    '{"record_id": "R10", "name_kana": "ア イ", "birth_date": "19380503", "gender": "1"} x',
    '{"record_id": "R11", "name_kana": ["ア"], "birth_date": "19380503", "gender": "1"}',
    '{"record_id": "R12", "name_kana": "ア イ", "birth_date": "19380503", "gender": "1"',
    '["R13"]',
    "null",
    "\u3000",
    "[" * 2000 + "]" * 2000,
    '{"record_id": "R1", "name_kana": "イ ア", "birth_date": "19380503", "gender": "1"}',
]


def test_fast_json_lines_read_exactly_like_the_standard_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "awkward.jsonl"
    lines = [*tricky_lines(), *AWKWARD_LINES]
    path.write_bytes(
        b"\n".join(line.encode("utf-8", "surrogatepass") for line in lines)
        + b'\n\xff{}\r\n{"record_id": "R14"}\r\n'
    )
    fast = list(read_extract(path))
    monkeypatch.setattr(sources, "_fast_json_row", lambda raw: None)
    standard = list(read_extract(path))
    assert fast == standard
    assert [getattr(i, "name_kana_normalized", None) for i in fast] == [
        getattr(i, "name_kana_normalized", None) for i in standard
    ]
    reasons = {i.reason for i in fast if isinstance(i, Quarantined)}
    assert {"bad_type:gender", "bad_encoding", "unparseable_line"} <= reasons
    assert "99999999999999999999" in {i.record_id for i in fast}


def test_name_stats_list_only_names_borne_by_several_records() -> None:
    from matching.index_meta import STATS_MIN_RECORDS, NameStatsCollector

    collector = NameStatsCollector()
    part = {"exact": "", "orthographic": ""}
    for surname, times in (("サトウ", STATS_MIN_RECORDS), ("ヒトリ", STATS_MIN_RECORDS - 1)):
        for _ in range(times):
            collector.add({"sur": {**part, "orthographic": surname}, "given": part})
    stats = collector.as_meta()["name_stats"]
    assert stats["surnames"] == {"サトウ": STATS_MIN_RECORDS}
    assert stats["total"] == 2 * STATS_MIN_RECORDS - 1
