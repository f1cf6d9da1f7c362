"""Tests of indexer.sources: every extract line comes out as a Record or a Quarantined."""

from __future__ import annotations

import inspect
import json
import re
import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.sources import (
    MAX_LINE_BYTES,
    ExtractFormatError,
    Quarantined,
    QuarantineWriter,
    ReadSummary,
    Record,
    SeenRecordIds,
    count_records,
    infer_format,
    read_extract,
)

GOOD: dict[str, Any] = {
    "record_id": "R0000001",
    "name_kana": "ヤマダ ハナコ",
    "name_kanji": "山田 花子",
    "birth_date": "5-130503",
    "gender": "2",
    "pension_type": "kosei",
    "employer_name": "(株)山田商店",
    "address": "埼玉県浦和市",
}
COLUMNS = list(GOOD)
REASON_SHAPE = re.compile(r"[a-z_]+(:[a-z_]+)?")


def jline(**changes: Any) -> str:
    """A JSONL line: GOOD with ``changes`` applied (a value of ... removes the key)."""
    row = {**GOOD, **changes}
    return json.dumps({k: v for k, v in row.items() if v is not ...}, ensure_ascii=False)


def write_lines(
    path: Path,
    lines: list[str],
    *,
    encoding: str = "utf-8",
    newline: str = "\n",
    bom: bool = False,
) -> Path:
    data = b"".join(line.encode(encoding) + newline.encode() for line in lines)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def read_all(path: Path, **kwargs: Any) -> list[Record | Quarantined]:
    return list(read_extract(path, **kwargs))


def only(items: list[Record | Quarantined]) -> Record | Quarantined:
    assert len(items) == 1, items
    return items[0]


# --------------------------------------------------------------------------------------------
# Good lines


def test_good_jsonl_line_becomes_a_record_with_values_as_keyed(tmp_path: Path) -> None:
    record = only(read_all(write_lines(tmp_path / "x.jsonl", [jline()])))
    assert isinstance(record, Record)
    assert record.record_id == "R0000001"
    assert record.name_kana == "ヤマダ ハナコ"
    assert record.name_kanji == "山田 花子"
    assert record.birth_date is not None
    assert record.birth_date.key == "19380503"
    assert record.birth_date_raw == "5-130503"
    assert record.gender == "F"
    assert record.pension_type == "kosei"
    assert record.employer_name == "(株)山田商店"
    assert record.address == "埼玉県浦和市"
    assert record.line_number == 1
    assert record.op == "upsert"


def test_optional_fields_may_be_absent_null_or_empty(tmp_path: Path) -> None:
    lines = [
        jline(record_id="A", name_kanji=..., pension_type=..., employer_name=..., address=...),
        jline(record_id="B", name_kanji=None, pension_type=None, employer_name="", address=" "),
    ]
    for record in read_all(write_lines(tmp_path / "x.jsonl", lines)):
        assert isinstance(record, Record)
        assert (record.name_kanji, record.pension_type) == (None, None)
        assert (record.employer_name, record.address) == (None, None)


@pytest.mark.parametrize(
    ("keyed", "gender"),
    [("1", "M"), ("2", "F"), ("M", "M"), ("f", "F"), ("１", "M"), ("２", "F"), ("Ｍ", "M"),
     ("ｆ", "F"), (1, "M"), (2, "F"), (" m ", "M")],
)  # fmt: skip
def test_gender_codes(tmp_path: Path, keyed: Any, gender: str) -> None:
    record = only(read_all(write_lines(tmp_path / "x.jsonl", [jline(gender=keyed)])))
    assert isinstance(record, Record)
    assert record.gender == gender


def test_values_are_stripped_but_otherwise_as_keyed(tmp_path: Path) -> None:
    line = jline(
        record_id=" R9 ",
        name_kana="\u3000ﾔﾏﾀﾞ ﾊﾅｺ ",  # half-width kana stays half-width: analyzers fold it later
        name_kanji=" 髙橋　花子 ",
        birth_date=" 1938-05-03 ",
        pension_type="KOKUMIN",
    )
    record = only(read_all(write_lines(tmp_path / "x.jsonl", [line])))
    assert isinstance(record, Record)
    assert record.record_id == "R9"
    assert record.name_kana == "ﾔﾏﾀﾞ ﾊﾅｺ"
    assert record.name_kanji == "髙橋　花子"
    assert record.birth_date_raw == "1938-05-03"
    assert record.pension_type == "kokumin"


@pytest.mark.parametrize(
    "name", ["ヤマダハナコ", "ヤマダ　ハナコ", "ﾔﾏﾀﾞ ﾊﾅｺ", "やまだ はなこ", "ヤマダ・ハナコ"]
)
def test_name_kana_with_or_without_separator_and_in_either_width(tmp_path: Path, name: str) -> None:
    assert isinstance(
        only(read_all(write_lines(tmp_path / "x.jsonl", [jline(name_kana=name)]))), Record
    )


@pytest.mark.parametrize("keyed", ["1938-02-30", "5-130230", "3-160101", "1938-13-01"])
def test_impossible_birth_date_is_kept_as_a_record(tmp_path: Path, keyed: str) -> None:
    record = only(read_all(write_lines(tmp_path / "x.jsonl", [jline(birth_date=keyed)])))
    assert isinstance(record, Record)
    assert record.birth_date is not None
    assert record.birth_date_raw == keyed
    if keyed != "3-160101":  # 大正16年1月1日 is arithmetically 1927-01-01, a real day
        assert record.birth_date.valid is False


def test_integer_record_id_in_json_is_read_as_text(tmp_path: Path) -> None:
    record = only(read_all(write_lines(tmp_path / "x.jsonl", [jline(record_id=12345)])))
    assert isinstance(record, Record)
    assert record.record_id == "12345"


# --------------------------------------------------------------------------------------------
# Bad lines


LONG_KANA = "ア" * 65

BAD_JSONL_LINES: list[tuple[str, str, str | None]] = [
    ("not json at all", "unparseable_line", None),
    ('{"record_id": "R1", ', "unparseable_line", None),
    ("[1, 2, 3]", "unparseable_line", None),
    ('"R1"', "unparseable_line", None),
    ("null", "unparseable_line", None),
    ("[" * 100_000 + "]" * 100_000, "too_long:line", None),
    ("[" * 30_000 + "]" * 30_000, "unparseable_line", None),
    (jline(record_id=...), "missing_field:record_id", None),
    (jline(record_id="   "), "missing_field:record_id", None),
    (jline(record_id=None), "missing_field:record_id", None),
    (jline(record_id="R" * 65), "too_long:record_id", None),
    (jline(record_id=["R1"]), "bad_type:record_id", None),
    (jline(record_id=True), "bad_type:record_id", None),
    (jline(name_kana=...), "missing_field:name_kana", "R0000001"),
    (jline(name_kana=""), "missing_field:name_kana", "R0000001"),
    (jline(name_kana="Yamada Hanako"), "bad_name_kana", "R0000001"),
    (jline(name_kana="山田 花子"), "bad_name_kana", "R0000001"),
    (jline(name_kana="ヤマダ1"), "bad_name_kana", "R0000001"),
    (jline(name_kana="・"), "bad_name_kana", "R0000001"),
    (jline(name_kana=LONG_KANA), "too_long:name_kana", "R0000001"),
    (jline(name_kana=42), "bad_type:name_kana", "R0000001"),
    (jline(name_kanji="山" * 65), "too_long:name_kanji", "R0000001"),
    (jline(birth_date=...), "missing_field:birth_date", "R0000001"),
    (jline(birth_date="yesterday"), "bad_birth_date", "R0000001"),
    (jline(birth_date="2-130503"), "bad_birth_date", "R0000001"),
    (jline(birth_date="昭和13年5月3日"), "bad_birth_date", "R0000001"),
    (jline(birth_date=19380503), "bad_type:birth_date", "R0000001"),
    (jline(gender=...), "missing_field:gender", "R0000001"),
    (jline(gender="X"), "bad_gender", "R0000001"),
    (jline(gender="0"), "bad_gender", "R0000001"),
    (jline(gender=3), "bad_gender", "R0000001"),
    (jline(gender=True), "bad_type:gender", "R0000001"),
    (jline(pension_type="private"), "bad_pension_type", "R0000001"),
    (jline(employer_name="商" * 201), "too_long:employer_name", "R0000001"),
    (jline(address="県" * 201), "too_long:address", "R0000001"),
    (jline(op="delete"), "bad_op", "R0000001"),
    (jline(op="replace"), "bad_op", "R0000001"),
    ('{"record_id": "R1", "name_kana": "\\ud800"}', "bad_encoding", "R1"),
]


@pytest.mark.parametrize(("line", "reason", "record_id"), BAD_JSONL_LINES)
def test_bad_jsonl_line_is_quarantined_with_its_reason(
    tmp_path: Path, line: str, reason: str, record_id: str | None
) -> None:
    path = write_lines(tmp_path / "x.jsonl", [jline(record_id="FIRST"), line, jline(record_id="L")])
    first, bad, last = read_all(path)
    assert isinstance(first, Record)
    assert isinstance(last, Record)
    assert last.line_number == 3
    assert bad == Quarantined(line_number=2, reason=reason, record_id=record_id)


def test_field_limits_are_inclusive(tmp_path: Path) -> None:
    line = jline(
        record_id="R" * 64,
        name_kana="ア" * 64,
        name_kanji="山" * 64,
        employer_name="商" * 200,
        address="県" * 200,
    )
    assert isinstance(only(read_all(write_lines(tmp_path / "x.jsonl", [line]))), Record)


def csv_line(*cells: str) -> str:
    return ",".join(cells)


GOOD_CSV = csv_line(*GOOD.values())

BAD_CSV_LINES: list[tuple[str, str, str | None]] = [
    (GOOD_CSV + ",extra", "unparseable_line", None),
    (csv_line(*list(GOOD.values())[:-1]), "unparseable_line", None),
    ('R2,"ヤマダ ハナコ,山田,5-130503,2,kosei,x,y', "unparseable_line", None),
    ('R2,"ヤマダ" ハナコ",山田,5-130503,2,kosei,x,y', "unparseable_line", None),
    ("R2,ヤマダ,山田,5-130503,2,kosei,x\ry", "unparseable_line", None),
    (csv_line("R2", "ヤマダ", "", "5-130503", "", "", "", ""), "missing_field:gender", "R2"),
    (csv_line("", "ヤマダ", "", "5-130503", "1", "", "", ""), "missing_field:record_id", None),
    (csv_line("R2", "ヤマダ", "", "S13.5.3", "1", "", "", ""), "bad_birth_date", "R2"),
]


@pytest.mark.parametrize(("line", "reason", "record_id"), BAD_CSV_LINES)
def test_bad_csv_line_is_quarantined_with_its_reason(
    tmp_path: Path, line: str, reason: str, record_id: str | None
) -> None:
    lines = [",".join(COLUMNS), GOOD_CSV, line, GOOD_CSV.replace("R0000001", "R3")]
    first, bad, last = read_all(write_lines(tmp_path / "x.csv", lines))
    assert isinstance(first, Record)
    assert first.line_number == 2
    assert isinstance(last, Record)
    assert last.line_number == 4
    assert bad == Quarantined(line_number=3, reason=reason, record_id=record_id)


def test_quoted_field_spanning_two_physical_lines_quarantines_both(tmp_path: Path) -> None:
    """An extract row is one physical line; a multi-line field is not silently glued back."""
    lines = [
        ",".join(COLUMNS),
        'R1,ヤマダ,山田,5-130503,1,kosei,"(株)山田',
        '商店",埼玉県',
        GOOD_CSV,
    ]
    items = read_all(write_lines(tmp_path / "x.csv", lines))
    assert [(i.line_number, type(i).__name__) for i in items] == [
        (2, "Quarantined"),
        (3, "Quarantined"),
        (4, "Record"),
    ]


def test_undecodable_line_costs_that_line_only(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(
        jline(record_id="A").encode() + b"\n"
        + b'{"record_id": "B", "name_kana": "\xff\xfe"}\n'
        + jline(record_id="C").encode()[:40] + b"\xe3\x82\n"  # truncated multi-byte char
        + jline(record_id="D").encode() + b"\n"
    )  # fmt: skip
    items = read_all(path)
    assert [type(i).__name__ for i in items] == ["Record", "Quarantined", "Quarantined", "Record"]
    assert items[1] == Quarantined(2, "bad_encoding", None)
    assert items[2] == Quarantined(3, "bad_encoding", None)


def test_over_long_line_is_skipped_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(
        jline(record_id="A").encode() + b"\n"
        + b"x" * (3 * MAX_LINE_BYTES + 17) + b"\n"
        + jline(record_id="B").encode()  # last line without a newline
    )  # fmt: skip
    items = read_all(path)
    assert items[1] == Quarantined(2, "too_long:line", None)
    assert isinstance(items[2], Record)
    assert (items[2].record_id, items[2].line_number) == ("B", 3)


# --------------------------------------------------------------------------------------------
# Encodings, BOM, line endings, CSV quoting


def test_cp932_csv_with_half_width_kana_and_vendor_characters(tmp_path: Path) -> None:
    rows = [
        ",".join(COLUMNS),
        # Half-width kana name, IBM-extension 髙, NEC special ㈱ and ①, and ソ/表 whose
        # second CP932 byte is 0x5C (backslash): the classic Shift_JIS "5C problem".
        "R1,ﾀｶﾊｼ ｿｳﾀ,髙橋 宗太,5-130503,1,kosei,㈱表参道商会①,東京都",
        "R2,ソウマ ハナコ,相馬 花子,1938-05-03,２,kokumin,,大阪府",
    ]
    path = write_lines(tmp_path / "extract.csv", rows, encoding="cp932", newline="\r\n")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("shift_jis")  # proves the file really needs CP932
    first, second = read_all(path, encoding="cp932")
    assert isinstance(first, Record)
    assert (first.name_kana, first.name_kanji) == ("ﾀｶﾊｼ ｿｳﾀ", "髙橋 宗太")
    assert first.employer_name == "㈱表参道商会①"
    assert isinstance(second, Record)
    assert (second.name_kana, second.gender, second.employer_name) == ("ソウマ ハナコ", "F", None)


def test_cp932_jsonl_and_an_undecodable_cp932_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(
        jline(record_id="A", name_kana="ﾔﾏﾀﾞ").encode("cp932") + b"\r\n"
        + b'{"record_id": "B", "name_kana": "\x83"}\r\n'  # lead byte without its trail byte
        + jline(record_id="C", name_kanji="髙").encode("cp932") + b"\r\n"
    )  # fmt: skip
    a, b, c = read_all(path, encoding="cp932")
    assert isinstance(a, Record)
    assert a.name_kana == "ﾔﾏﾀﾞ"
    assert b == Quarantined(2, "bad_encoding", None)
    assert isinstance(c, Record)
    assert c.name_kanji == "髙"


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_utf8_bom_and_crlf(tmp_path: Path, suffix: str) -> None:
    lines = [",".join(COLUMNS), GOOD_CSV] if suffix == ".csv" else [jline()]
    path = write_lines(tmp_path / f"x{suffix}", lines, newline="\r\n", bom=True)
    record = only(read_all(path))
    assert isinstance(record, Record)
    assert record.record_id == "R0000001"  # no BOM glued to the first column or key
    assert record.address == "埼玉県浦和市"  # no CR glued to the last one


def test_csv_quoting_embedded_commas_and_quotes(tmp_path: Path) -> None:
    lines = [
        ",".join(COLUMNS),
        'R1,ヤマダ ハナコ,"山田, 花子",5-130503,2,kosei,'
        '"(株)山田商店, 浦和支店","埼玉県 ""旧"" 浦和市"',
    ]
    record = only(read_all(write_lines(tmp_path / "x.csv", lines)))
    assert isinstance(record, Record)
    assert record.name_kanji == "山田, 花子"
    assert record.employer_name == "(株)山田商店, 浦和支店"
    assert record.address == '埼玉県 "旧" 浦和市'


def test_csv_header_is_case_and_space_insensitive_and_column_order_free(tmp_path: Path) -> None:
    lines = [" Gender ,BIRTH_DATE,name_kana,record_id", "1,5-130503,ヤマダ,R1"]
    record = only(read_all(write_lines(tmp_path / "x.csv", lines)))
    assert isinstance(record, Record)
    assert (record.record_id, record.gender, record.name_kanji) == ("R1", "M", None)


def test_blank_lines_are_not_records_but_keep_line_numbers_physical(tmp_path: Path) -> None:
    lines = ["", ",".join(COLUMNS), "  ", GOOD_CSV, "\u3000", "", GOOD_CSV.replace("R0", "R1")]
    path = write_lines(tmp_path / "x.csv", lines, newline="\r\n")
    summary = ReadSummary()
    items = list(count_records(read_extract(path), summary))
    assert [i.line_number for i in items] == [4, 7]
    assert (summary.read, summary.records, summary.quarantined) == (2, 2, 0)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["record_id,name_kana,gender", "R1,ヤマダ,1"], "birth_date"),
        ([GOOD_CSV], "record_id"),  # no header row at all
        (["record_id,record_id,name_kana,birth_date,gender"], "twice"),
        (['record_id,"name_kana'], "cannot be parsed"),
    ],
)
def test_unusable_csv_header_stops_the_run(tmp_path: Path, lines: list[str], message: str) -> None:
    with pytest.raises(ExtractFormatError, match=message) as raised:
        read_all(write_lines(tmp_path / "x.csv", lines))
    assert "ヤマダ" not in str(raised.value)


def test_file_level_encoding_mistakes_stop_the_run(tmp_path: Path) -> None:
    utf16 = tmp_path / "utf16.jsonl"
    utf16.write_bytes(jline().encode("utf-16"))
    with pytest.raises(ExtractFormatError, match="UTF-16"):
        read_all(utf16)
    bom = write_lines(tmp_path / "bom.jsonl", [jline()], bom=True)
    with pytest.raises(ExtractFormatError, match="byte-order mark"):
        read_all(bom, encoding="cp932")
    header = tmp_path / "header.csv"
    header.write_bytes(",".join(COLUMNS).encode("utf-16-le") + b"\n")
    with pytest.raises(ExtractFormatError, match="header"):
        read_all(header)


def test_format_and_encoding_are_checked_before_iteration(tmp_path: Path) -> None:
    assert infer_format(Path("a.JSONL")) == "jsonl"
    assert infer_format(Path("a.ndjson")) == "jsonl"
    assert infer_format(Path("a.json")) == "jsonl"
    assert infer_format(Path("a.csv")) == "csv"
    assert infer_format(Path("a.txt")) == "csv"
    with pytest.raises(ValueError, match="format"):
        read_extract(tmp_path / "x.xlsx")
    with pytest.raises(ValueError, match="cp932"):
        read_extract(tmp_path / "x.csv", encoding="shift_jis")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        read_extract(tmp_path / "missing.csv")
    path = write_lines(tmp_path / "x.data", [jline()])
    assert isinstance(only(read_all(path, format="jsonl", encoding="UTF8")), Record)


# --------------------------------------------------------------------------------------------
# Duplicates


def test_duplicate_record_id_first_valid_line_wins(tmp_path: Path) -> None:
    lines = [
        jline(record_id="R1", gender="X"),  # invalid: does not claim R1
        jline(record_id="R1"),
        jline(record_id="R2"),
        jline(record_id="R1", name_kana="ベツジン"),
        jline(record_id=" R2 "),  # same id once stripped
        jline(record_id="r1"),  # ids are case-sensitive
    ]
    items = read_all(write_lines(tmp_path / "x.jsonl", lines))
    assert items[0] == Quarantined(1, "bad_gender", "R1")
    assert isinstance(items[1], Record)
    assert items[1].line_number == 2
    assert isinstance(items[2], Record)
    assert items[3] == Quarantined(4, "duplicate_record_id", "R1")
    assert items[4] == Quarantined(5, "duplicate_record_id", "R2")
    assert isinstance(items[5], Record)


def test_duplicate_on_the_first_line_of_a_bom_file(tmp_path: Path) -> None:
    """The exact check re-reads line 1, which must drop the BOM the same way."""
    path = write_lines(tmp_path / "x.jsonl", [jline(), jline(), jline()], bom=True)
    items = read_all(path)
    assert [type(i).__name__ for i in items] == ["Record", "Quarantined", "Quarantined"]


class CollidingId(str):
    """A record id whose hash() collides with every other CollidingId."""

    def __hash__(self) -> int:
        return 0x5EED_0000_0000_0001


def test_seen_ids_hash_collision_never_makes_a_false_duplicate() -> None:
    ids = [CollidingId(f"R{i}") for i in range(50)]
    lookups: list[int] = []

    def id_at(offset: int) -> str:
        lookups.append(offset)
        return ids[offset]

    seen = SeenRecordIds(expected=10, id_at=id_at)
    assert all(seen.add(record_id, offset) for offset, record_id in enumerate(ids))
    assert lookups  # tags collided, so the exact check ran
    assert not seen.add(CollidingId("R7"), 999)
    assert seen.add(CollidingId("R50"), 50)
    assert len(seen) == 51


def test_seen_ids_grow_beyond_the_expected_count() -> None:
    ids = [f"id-{i}" for i in range(5000)]
    seen = SeenRecordIds(expected=3, id_at=ids.__getitem__)
    assert all(seen.add(record_id, offset) for offset, record_id in enumerate(ids))
    assert not any(seen.add(record_id, 0) for record_id in ids)
    assert len(seen) == 5000


def test_seen_ids_bytes_per_id() -> None:
    """The table's size when every line is a record (the sizing ``read_extract`` uses).

    ``nbytes`` is computed from the table's arrays, not measured, so it cannot flake; what the
    process really allocates is measured by bench/suite_budgets.py."""
    count = 200_000
    ids = [f"R{i:010d}" for i in range(count)]
    seen = SeenRecordIds(expected=count, id_at=ids.__getitem__)
    for offset, record_id in enumerate(ids):
        assert seen.add(record_id, offset)
    assert len(seen) == count
    assert seen.nbytes / count < 11.5


# --------------------------------------------------------------------------------------------
# Delta files


def test_delta_ops(tmp_path: Path) -> None:
    lines = [
        ",".join([*COLUMNS, "op"]),
        GOOD_CSV.replace("R0000001", "U1") + ",upsert",
        "D1,,,,,,,,delete",
        "D2,garbage,,not a date,9,nope,,,DELETE",  # a delete validates nothing but the id
        GOOD_CSV.replace("R0000001", "U2") + ",",
        GOOD_CSV.replace("R0000001", "U3") + ",merge",
        ",,,,,,,,delete",
        "D1,,,,,,,,delete",
    ]
    items = read_all(write_lines(tmp_path / "delta.csv", lines), delta=True)
    assert isinstance(items[0], Record)
    assert items[0].op == "upsert"
    for item, record_id in ((items[1], "D1"), (items[2], "D2")):
        assert item == Record(
            record_id=record_id,
            name_kana=None,
            name_kanji=None,
            birth_date=None,
            birth_date_raw=None,
            gender=None,
            pension_type=None,
            employer_name=None,
            address=None,
            line_number=item.line_number,
            op="delete",
        )
    assert items[3] == Quarantined(5, "missing_field:op", "U2")
    assert items[4] == Quarantined(6, "bad_op", "U3")
    assert items[5] == Quarantined(7, "missing_field:record_id", None)
    assert items[6] == Quarantined(8, "duplicate_record_id", "D1")


def test_delta_jsonl_delete_needs_only_the_id(tmp_path: Path) -> None:
    lines = ['{"record_id": "R1", "op": "delete"}', jline(record_id="R2", op="upsert")]
    first, second = read_all(write_lines(tmp_path / "d.jsonl", lines), delta=True)
    assert isinstance(first, Record)
    assert (first.op, first.name_kana) == ("delete", None)
    assert isinstance(second, Record)
    assert second.op == "upsert"


def test_delta_csv_header_needs_op_column(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "d.csv", [",".join(COLUMNS), GOOD_CSV])
    with pytest.raises(ExtractFormatError, match="op"):
        read_all(path, delta=True)


def test_full_extract_accepts_an_explicit_upsert_op(tmp_path: Path) -> None:
    record = only(read_all(write_lines(tmp_path / "x.jsonl", [jline(op="UPSERT")])))
    assert isinstance(record, Record)
    assert record.op == "upsert"


def test_record_refuses_an_upsert_without_required_fields() -> None:
    with pytest.raises(ValueError, match="upsert"):
        Record("R1", None, None, None, None, None, None, None, None, 1)


# --------------------------------------------------------------------------------------------
# Accounting and quarantine file


MESSY_JSONL = [
    jline(record_id="A"),
    "",
    "garbage",
    jline(record_id="A"),
    jline(record_id="B", birth_date="1938-02-30"),
    jline(record_id="C", gender="9"),
    jline(record_id="D", name_kana="Tanaka"),
    "   ",
    "[]",
    jline(record_id=...),
    jline(record_id="E", birth_date="??"),
]


def test_summary_and_quarantine_file_on_a_messy_file(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "messy.jsonl", MESSY_JSONL)
    summary = ReadSummary()
    with QuarantineWriter(tmp_path / "quarantine.jsonl") as quarantine:
        records = [
            item
            for item in count_records(read_extract(path), summary, quarantine)
            if isinstance(item, Record)
        ]
    assert [r.record_id for r in records] == ["A", "B"]
    assert (summary.read, summary.records, summary.quarantined) == (9, 2, 7)
    assert summary.read == summary.records + summary.quarantined
    assert summary.balanced
    assert summary.by_reason == {
        "unparseable_line": 2,
        "duplicate_record_id": 1,
        "bad_gender": 1,
        "bad_name_kana": 1,
        "missing_field:record_id": 1,
        "bad_birth_date": 1,
    }
    assert quarantine.written == 7
    written = [
        json.loads(line)
        for line in (tmp_path / "quarantine.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert written[0] == {"line": 3, "reason": "unparseable_line", "record_id": None}
    assert written[1] == {"line": 4, "reason": "duplicate_record_id", "record_id": "A"}
    assert [entry["line"] for entry in written] == [3, 4, 6, 7, 9, 10, 11]
    assert all(set(entry) == {"line", "reason", "record_id"} for entry in written)


def test_quarantine_reasons_never_carry_values(tmp_path: Path) -> None:
    lines = [line for line, _, _ in BAD_JSONL_LINES] + MESSY_JSONL
    for item in read_extract(write_lines(tmp_path / "x.jsonl", lines)):
        if isinstance(item, Quarantined):
            assert REASON_SHAPE.fullmatch(item.reason), item.reason


def test_quarantine_writer_refuses_writes_after_close(tmp_path: Path) -> None:
    writer = QuarantineWriter(tmp_path / "q.jsonl")
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write(Quarantined(1, "bad_gender", None))


def _good_json(record_id: str) -> bytes:
    return jline(record_id=record_id).encode()


LINE_KINDS = st.one_of(
    st.sampled_from(["R1", "R2", "R3", "R4"]).map(_good_json),  # duplicates happen
    st.integers(0, 10**6).map(lambda n: _good_json(f"N{n}")),
    st.sampled_from([line.encode() for line, _, _ in BAD_JSONL_LINES if len(line) < 1000]),
    st.sampled_from([b"", b" ", "\u3000".encode(), b"\t", b"\r"]),
    st.text(st.characters(exclude_characters="\n", exclude_categories=["Cs"]), max_size=40).map(
        str.encode
    ),
    # Never valid UTF-8 (a lone continuation byte first), never blank, never a BOM.
    st.binary(max_size=20).map(lambda raw: b"\x80" + raw.replace(b"\n", b"")),
)


def _data_lines(lines: list[bytes]) -> list[int]:
    """Line numbers the reader must account for: all but blank ones (decodable or not)."""
    numbers = []
    for number, line in enumerate(lines, start=1):
        try:
            blank = not line.decode("utf-8").strip()
        except UnicodeDecodeError:
            blank = False
        if not blank:
            numbers.append(number)
    return numbers


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(LINE_KINDS, max_size=40), crlf=st.booleans())
def test_every_data_line_comes_out_exactly_once(lines: list[bytes], crlf: bool) -> None:
    newline = b"\r\n" if crlf else b"\n"
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "x.jsonl"
        path.write_bytes(b"".join(line + newline for line in lines))
        summary = ReadSummary()
        items = list(count_records(read_extract(path), summary))
    assert [item.line_number for item in items] == _data_lines(lines)
    assert summary.read == summary.records + summary.quarantined == len(items)
    assert summary.balanced
    record_ids = [item.record_id for item in items if isinstance(item, Record)]
    assert len(record_ids) == len(set(record_ids))
    for item in items:
        if isinstance(item, Quarantined):
            assert REASON_SHAPE.fullmatch(item.reason), item.reason


CSV_CELLS = st.sampled_from(["R1", "R2", "ヤマダ", "ﾊﾅｺ", "5-130503", "1938-02-30", "1", "F", "x",
                             '"a,b"', '"', "", "kosei", "髙"])  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.lists(CSV_CELLS, min_size=0, max_size=10), max_size=30))
def test_every_csv_data_row_comes_out_exactly_once(rows: list[list[str]]) -> None:
    lines = [",".join(COLUMNS[:5])] + [",".join(row) for row in rows]
    with tempfile.TemporaryDirectory() as directory:
        path = write_lines(Path(directory) / "x.csv", lines, encoding="cp932", newline="\r\n")
        summary = ReadSummary()
        items = list(count_records(read_extract(path, encoding="cp932"), summary))
    assert [item.line_number for item in items] == _data_lines([line.encode() for line in lines])[
        1:
    ]
    assert summary.balanced
    assert summary.read == len(items)


# --------------------------------------------------------------------------------------------
# Streaming


def _generate_extract(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            out.write(
                f'{{"record_id":"R{n:09d}","name_kana":"ヤマダ ハナコ","name_kanji":"山田 花子",'
                f'"birth_date":"5-{n % 60 + 10:02d}0503","gender":"{n % 2 + 1}",'
                f'"employer_name":"(株)山田商店","address":"埼玉県浦和市"}}\n'
            )
            if n % 1000 == 0:
                out.write("broken line\n")


STREAMING_PEAK_BOUND = 12 * 1024 * 1024
"""Reading 50k lines peaks at about 2 MiB (the seen-id table is 0.6 MiB of it; 200k lines:
2.2 MiB, bench/suite_budgets.py); the same records held in a list peak at 35 MiB. tracemalloc
counts the Python allocations themselves, not RSS or time, so machine load cannot move the
figure: the bound is six times the measure, to catch a reader that materialises the extract
and only that."""


def test_reading_50k_lines_streams_in_bounded_memory(tmp_path: Path) -> None:
    count = 50_000
    path = tmp_path / "big.jsonl"
    _generate_extract(path, count)
    items = read_extract(path)
    assert isinstance(items, Iterator)
    is_generator = inspect.isgenerator(items)  # lazy: nothing has been read yet
    assert is_generator
    summary = ReadSummary()
    tracemalloc.start()
    try:
        for _ in count_records(items, summary):
            pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert summary.records == count
    assert summary.by_reason == {"unparseable_line": count // 1000}
    assert peak < STREAMING_PEAK_BOUND, peak
