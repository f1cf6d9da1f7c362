"""Hypothesis fuzzing of every parser an untrusted byte or character reaches.

tests/analyzers and tests/indexer already fuzz the parsers with ``st.text()`` and with
well-formed extract lines. ``st.text()`` almost never produces a string that gets past the first
regex of a date parser or that is mostly kana, so the strategies here are built from the
alphabets and tokens the parsers look for (era names, full-width digits, 元, 年月日, half-width
kana, voicing marks, iteration marks, variant kanji, CSV quoting) and from raw bytes. What is
new here:

* date parsers: error messages come from a fixed catalogue (never the input), full-width and
  half-width spellings parse alike, and a successful parse is a real, past date;
* kana and kanji: properties on kana- and kanji-heavy text (not only ``st.text()``);
* the request model ``ExistenceCheckIn``: any JSON-like value gives a model or a
  ``ValidationError``, never another exception; error messages never contain submitted values;
  a valid model always yields a ``Check`` and a JSON-serialisable ``as_submitted()``;
* ``read_extract`` on random bytes and random CSV (random headers, quoting, both encodings,
  delta mode): only ``ExtractFormatError`` escapes, and ``read == records + quarantined``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jaconv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from analyzers.dates import DateFormatError, InvalidDateError, parse_ledger_date, parse_user_date
from analyzers.kana import is_kana, normalize_kana
from analyzers.kanji import KANJI_VARIANTS, fold_kanji, is_kanji_name
from indexer.sources import (
    ExtractFormatError,
    Quarantined,
    ReadSummary,
    Record,
    count_records,
    read_extract,
)
from matching.checks import Check
from search_api.models import ExistenceCheckIn
from tests.security.support import FULL_WIDTH, render_date

TODAY = dt.date(2026, 11, 27)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- dates -----------------------------------------------------------------------------------

ERA_TOKENS = ["明治", "大正", "昭和", "平成", "令和", *"明大昭平令MTSHRmtshrX", "慶応"]
DATE_SEPARATORS = ["-", "/", ".", "年", "月", "日", " ", "\u3000", "－", "ー", "‐", ""]
digits = st.text(alphabet="0123456789０１２３４５６７８９", min_size=1, max_size=5)
date_token = st.one_of(
    digits,
    st.sampled_from(ERA_TOKENS),
    st.sampled_from(DATE_SEPARATORS),
    st.just("元"),
    st.characters(codec="utf-8"),
)


def _slip(text: str, at: int, digit: str) -> str:
    """One keyed digit replaced: the typo that makes a real date impossible or another era's."""
    places = [i for i, char in enumerate(text) if char.isdigit()]
    if not places:
        return text
    i = places[at % len(places)]
    return text[:i] + digit + text[i + 1 :]


rendered_date = st.builds(
    render_date, st.dates(dt.date(1868, 1, 25), dt.date(2026, 11, 27)), st.integers(0, 19)
)
date_like = st.one_of(
    rendered_date,
    rendered_date.map(lambda text: text.translate(FULL_WIDTH)),
    st.builds(_slip, rendered_date, st.integers(0, 12), st.sampled_from("0123456789")),
    st.lists(date_token, max_size=9).map("".join),
    # The accepted shapes with arbitrary numbers: reaches range and era checks.
    st.builds(
        lambda era, y, m, d, sep: f"{era}{y}{sep[0]}{m}{sep[1]}{d}{sep[2]}",
        st.sampled_from(["", *ERA_TOKENS]),
        st.one_of(st.integers(0, 9999).map(str), st.just("元")),
        st.integers(0, 99),
        st.integers(0, 99),
        st.sampled_from([("-", "-", ""), ("/", "/", ""), (".", ".", ""), ("年", "月", "日")]),
    ),
    st.builds(
        lambda code, sep, body: f"{code}{sep}{body}",
        st.sampled_from("0123456789"),
        st.sampled_from(["", "-", "ー", "－"]),
        st.text(alphabet="0123456789", min_size=4, max_size=8),
    ),
)


def _date_messages() -> frozenset[str]:
    """Every message the two parsers can raise, found by triggering each on known input."""
    messages = set()
    for text in ("x", "昭和0年1月1日", "1938-02-30", "大正1年1月1日", "2999-01-01"):
        for parse in (parse_ledger_date, lambda t: parse_user_date(t, today=TODAY)):
            try:
                parse(text)
            except (DateFormatError, InvalidDateError) as error:
                messages.add(str(error))
    return frozenset(messages)


DATE_MESSAGES = _date_messages()


def _outcome(parse: Any, text: str) -> object:
    try:
        return parse(text)
    except (DateFormatError, InvalidDateError) as error:
        return type(error)


@pytest.mark.parametrize(
    ("text", "ledger", "error", "phrase"),
    [
        ("x", True, DateFormatError, "expected a ledger date"),
        ("x", False, DateFormatError, "expected a date such as"),
        ("昭和0年1月1日", False, InvalidDateError, "era year starts at 1"),
        ("1938-02-30", False, InvalidDateError, "not a real calendar date"),
        ("大正1年1月1日", False, InvalidDateError, "outside the era given"),
        ("2999-01-01", False, InvalidDateError, "cannot be in the future"),
    ],
)
def test_date_message_catalogue_holds_each_refusal(
    text: str, ledger: bool, error: type[Exception], phrase: str
) -> None:
    """Each trigger raises its own kind of refusal, and its message is in the catalogue."""
    with pytest.raises(error) as raised:
        parse_ledger_date(text) if ledger else parse_user_date(text, today=TODAY)
    assert phrase in str(raised.value)
    assert str(raised.value) in DATE_MESSAGES


def test_date_message_catalogue_has_one_message_per_refusal() -> None:
    assert len(DATE_MESSAGES) == 6, sorted(DATE_MESSAGES)


@FUZZ
@given(date_like)
def test_date_parsers_raise_only_catalogued_messages(text: str) -> None:
    for parse in (parse_ledger_date, lambda t: parse_user_date(t, today=TODAY)):
        try:
            parse(text)
        except (DateFormatError, InvalidDateError) as error:
            assert str(error) in DATE_MESSAGES


@FUZZ
@given(date_like)
def test_user_date_is_real_and_past_and_width_does_not_matter(text: str) -> None:
    outcome = _outcome(lambda t: parse_user_date(t, today=TODAY), text)
    wide = _outcome(lambda t: parse_user_date(t, today=TODAY), text.translate(FULL_WIDTH))
    assert wide == outcome
    if not isinstance(outcome, type):
        day = outcome.as_date()  # type: ignore[attr-defined]
        assert day is not None and day <= TODAY
        assert parse_user_date(day.isoformat(), today=TODAY) == outcome


@FUZZ
@given(date_like)
def test_ledger_date_keys_fit_and_width_does_not_matter(text: str) -> None:
    outcome = _outcome(parse_ledger_date, text)
    assert _outcome(parse_ledger_date, text.translate(FULL_WIDTH)) == outcome
    if not isinstance(outcome, type):
        key = outcome.key  # type: ignore[attr-defined]
        assert len(key) == 8 and key.isdigit()


# ---- kana ------------------------------------------------------------------------------------

HIRAGANA = "".join(chr(c) for c in range(0x3041, 0x3097)) + "ゝゞ゛゜"
KATAKANA = "".join(chr(c) for c in range(0x30A1, 0x30FB)) + "ーヽヾ"
HALF_WIDTH = "".join(chr(c) for c in range(0xFF66, 0xFFA0))
KANA_NOISE = " \u3000\t・-－‐—〜~\u3099\u309a\u200bｰ-_山A1"
kana_heavy = st.text(alphabet=HIRAGANA + KATAKANA + HALF_WIDTH + KANA_NOISE, max_size=16)
KATAKANA_OR_SPACE = re.compile(r"[ァ-ヺㇰ-ㇿー ]*")


@FUZZ
@given(kana_heavy)
def test_normalized_kana_is_stable_and_clean(text: str) -> None:
    normalized = normalize_kana(text)
    assert normalize_kana(normalized) == normalized
    assert normalized == normalized.strip() and "  " not in normalized
    assert is_kana(normalized) == is_kana(text)
    if is_kana(text):
        assert KATAKANA_OR_SPACE.fullmatch(normalized), normalized


@FUZZ
@given(st.text(alphabet=KATAKANA[:-3] + " ", max_size=12))
def test_hiragana_and_half_width_spellings_normalise_alike(katakana: str) -> None:
    reference = normalize_kana(katakana)
    assert normalize_kana(jaconv.kata2hira(katakana)) == reference
    assert normalize_kana(jaconv.z2h(katakana, kana=True, ascii=False, digit=False)) == reference


# ---- kanji -----------------------------------------------------------------------------------

VARIANT_CHARS = "".join(KANJI_VARIANTS) + "".join(set(KANJI_VARIANTS.values()))
KANJI_NOISE = "々〻ヶ山田佐藤髙﨑𠮷\U00020bb7\ufa11\uf900 \u3000\U000e0100\u200bAｱ"
kanji_heavy = st.text(alphabet=VARIANT_CHARS + KANJI_NOISE, max_size=12)


@FUZZ
@given(kanji_heavy)
def test_fold_kanji_on_kanji_heavy_text(text: str) -> None:
    folded = fold_kanji(text)
    assert fold_kanji(folded) == folded
    assert not any(char.isspace() for char in folded)
    assert not any(char in KANJI_VARIANTS for char in folded)
    if is_kanji_name(text):
        assert is_kanji_name(folded)


@FUZZ
@given(st.lists(st.sampled_from(sorted(KANJI_VARIANTS)), min_size=1, max_size=6))
def test_a_variant_spelling_folds_to_its_common_spelling(chars: list[str]) -> None:
    variant = "".join(chars)
    common = "".join(KANJI_VARIANTS[char] for char in chars)
    assert fold_kanji(variant) == fold_kanji(common)


# ---- the request model -----------------------------------------------------------------------

FIELD_NAMES = [
    "surname_kana", "given_name_kana", "surname_kanji", "given_name_kanji",
    "former_surnames", "birth_date", "gender", "reference",
]  # fmt: skip
NESTED_NAMES = ["kana", "kanji", "employer_name", "address"]
names_and_dates = st.one_of(
    kana_heavy,
    kanji_heavy,
    date_like,
    st.text(max_size=45),
    st.sampled_from(["M", "F", "m", "f", "", " ", "男", "女"]),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    names_and_dates,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=7),
        st.dictionaries(
            st.one_of(st.sampled_from(NESTED_NAMES), st.text(max_size=8)), inner, max_size=4
        ),
    ),
    max_leaves=12,
)
request_like = st.dictionaries(
    st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=10)), json_values, max_size=10
)
# Bodies that get past most validators, so the field validators (not "Field required") run.
plausible_request = st.fixed_dictionaries(
    {
        "surname_kana": kana_heavy,
        "given_name_kana": kana_heavy,
        "birth_date": date_like,
        "gender": st.sampled_from(["M", "F", "X"]),
    },
    optional={
        "surname_kanji": st.one_of(st.none(), kanji_heavy),
        "given_name_kanji": st.one_of(st.none(), kanji_heavy),
        "former_surnames": st.lists(
            st.fixed_dictionaries({"kana": kana_heavy}, optional={"kanji": kanji_heavy}),
            max_size=6,
        ),
        "reference": st.fixed_dictionaries(
            {}, optional={"employer_name": names_and_dates, "address": st.text(max_size=210)}
        ),
    },
)

MIN_ECHO_CHARS = 4


def _string_values(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _string_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _string_values(item)


def _validate(data: object) -> ExistenceCheckIn | ValidationError:
    try:
        return ExistenceCheckIn.model_validate(data)
    except ValidationError as error:
        return error


def _assert_model_contract(data: object) -> None:
    outcome = _validate(data)
    if isinstance(outcome, ExistenceCheckIn):
        check = outcome.to_check()
        assert isinstance(check, Check)
        submitted = outcome.as_submitted()
        assert json.loads(json.dumps(submitted, ensure_ascii=False)) == submitted
        assert submitted["gender"] in ("M", "F")
        return
    values = {v.strip() for v in _string_values(data) if len(v.strip()) >= MIN_ECHO_CHARS}
    for item in outcome.errors(include_url=False, include_input=False, include_context=False):
        message = str(item["msg"])
        if _shape(message) in KNOWN_MODEL_MESSAGES:
            continue  # fixed text ("must be written in kana"); a value may coincide with a word
        for value in values:
            assert value not in message, (value, message)


def _learn_model_messages() -> frozenset[str]:
    """Messages of the model for short, value-free inputs: the catalogue echoes are judged by."""
    base: dict[str, Any] = {
        "surname_kana": "ア",
        "given_name_kana": "イ",
        "birth_date": "1950-1-1",
        "gender": "M",
    }
    probes: list[object] = [None, [], {}, "", {"x": 1}]
    short_values: list[object] = [None, 0, 1.5, True, [], {}, "", "A", "\x00", "ア" * 41]
    short_values += ["ア" * 201, "1-1", "山", "x" * 41, "x" * 201]
    for name in FIELD_NAMES:
        probes.extend({**base, name: value} for value in short_values)
    for value in short_values:
        probes.append({**base, "former_surnames": [{"kana": value}]})
        probes.append({**base, "former_surnames": [{"kana": "ア", "kanji": value}]})
        probes.append({**base, "former_surnames": [value]})
        probes.append({**base, "reference": {"address": value, "employer_name": value}})
    probes.append({**base, "former_surnames": [{"kana": "ア"}] * 6})
    for text in ("0-1-1", "昭和0年1月1日", "1938-02-30", "大正1年1月1日", "2999-01-01"):
        probes.append({**base, "birth_date": text})
    messages: set[str] = set()
    for probe in probes:
        outcome = _validate(probe)
        if isinstance(outcome, ValidationError):
            found = {str(item["msg"]) for item in outcome.errors(include_url=False)}
            for value in _string_values(probe):
                assert len(value) < MIN_ECHO_CHARS or not any(value in m for m in found)
            messages.update(_shape(message) for message in found)
    return frozenset(messages)


def _shape(message: str) -> str:
    """Pydantic's "at most 5 items after validation, not 7" is one sentence for every count."""
    return re.sub(r", not [0-9]+$", ", not N", message)


KNOWN_MODEL_MESSAGES = _learn_model_messages()


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(request_like)
def test_any_json_object_gives_a_model_or_a_validation_error(data: dict[str, Any]) -> None:
    _assert_model_contract(data)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(plausible_request)
def test_plausible_requests_give_a_model_or_a_validation_error(data: dict[str, Any]) -> None:
    _assert_model_contract(data)


@FUZZ
@given(json_values)
def test_any_json_value_gives_a_model_or_a_validation_error(data: object) -> None:
    _assert_model_contract(data)


def test_model_echo_guard_would_catch_an_echo() -> None:
    """The guard above is not vacuous: pydantic's own text does carry the input."""
    outcome = _validate({"surname_kana": "Yamada-Secret", "given_name_kana": "ア"})
    assert isinstance(outcome, ValidationError)
    assert "Yamada-Secret" in str(outcome)  # why the app builds its 422 from ``msg`` only
    assert all("Yamada-Secret" not in str(item["msg"]) for item in outcome.errors())
    assert "must be written in kana" in " ".join(KNOWN_MODEL_MESSAGES)


# ---- extracts --------------------------------------------------------------------------------

EXTRACT_COLUMNS = [
    "record_id", "name_kana", "name_kanji", "birth_date", "gender",
    "pension_type", "employer_name", "address", "op",
]  # fmt: skip
csv_cell = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n"), max_size=12),
    kana_heavy,
    date_like,
    st.sampled_from(["1", "2", "M", "F", "kosei", "delete", "upsert", '"', '""', ",", "\r"]),
)


def _csv_line(cells: list[str], quote: bool) -> str:
    if quote:
        return ",".join('"' + cell.replace('"', '""') + '"' for cell in cells)
    return ",".join(cells)


csv_text = st.builds(
    lambda header, rows, quote: "\n".join(
        [_csv_line(header, False), *(_csv_line(row, quote) for row in rows)]
    ),
    st.one_of(
        st.permutations(EXTRACT_COLUMNS).map(list),
        st.lists(st.sampled_from([*EXTRACT_COLUMNS, "X", " Gender ", ""]), max_size=10),
    ),
    st.lists(st.lists(csv_cell, max_size=10), max_size=20),
    st.booleans(),
)
newline = st.sampled_from([b"\n", b"\r\n"])


def _read_all(
    raw: bytes, suffix: str, encoding: str, delta: bool
) -> tuple[ReadSummary, list[Record | Quarantined]]:
    """Read ``raw`` as an extract; check the accounting invariants; raise ExtractFormatError."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"extract{suffix}"
        path.write_bytes(raw)
        summary = ReadSummary()
        items = list(
            count_records(
                read_extract(path, encoding=encoding, delta=delta),  # type: ignore[arg-type]
                summary,
            )
        )
    lines = raw.count(b"\n") + (not raw.endswith(b"\n") and bool(raw))
    assert summary.balanced
    assert summary.read == summary.records + summary.quarantined == len(items)
    numbers = [item.line_number for item in items]
    assert numbers == sorted(set(numbers)), "one item per line, in file order"
    assert all(1 <= number <= lines for number in numbers)
    record_ids = [item.record_id for item in items if isinstance(item, Record)]
    assert len(record_ids) == len(set(record_ids))
    for item in items:
        if isinstance(item, Quarantined):
            assert re.fullmatch(r"[a-z_]+(:[a-z_]+)?", item.reason), item.reason
    return summary, items


def _read_tolerating_format_errors(raw: bytes, suffix: str, encoding: str, delta: bool) -> None:
    try:
        _read_all(raw, suffix, encoding, delta)
    except ExtractFormatError as error:
        # File-level refusals never quote the file: each is one of these fixed sentences.
        assert FORMAT_ERROR_SHAPES.fullmatch(str(error)), str(error)


_COLUMN = r"(?:record_id|name_kana|birth_date|gender|op)"
_COLUMN_LIST = rf"{_COLUMN}(?:, {_COLUMN})*"
FORMAT_ERROR_SHAPES = re.compile(
    "|".join(
        [
            r"the CSV header row cannot be parsed",
            r"the CSV header row names a column twice",
            rf"the CSV header row lacks required column\(s\) {_COLUMN_LIST} "
            r"\(the first non-blank line must be the header\)",
            r"the CSV header row is not valid (?:utf-8|cp932)",
            r"the extract is UTF-16; export it as UTF-8 or CP932",
            r"the extract starts with a UTF-8 byte-order mark; use utf-8",
        ]
    )
)


EXTRACT_FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))


@EXTRACT_FUZZ
@given(
    raw=st.binary(max_size=400),
    suffix=st.sampled_from([".csv", ".jsonl"]),
    encoding=st.sampled_from(["utf-8", "cp932"]),
    delta=st.booleans(),
)
def test_read_extract_on_random_bytes(raw: bytes, suffix: str, encoding: str, delta: bool) -> None:
    _read_tolerating_format_errors(raw, suffix, encoding, delta)


@EXTRACT_FUZZ
@given(
    text=csv_text,
    eol=newline,
    encoding=st.sampled_from(["utf-8", "cp932"]),
    delta=st.booleans(),
    bom=st.booleans(),
)
def test_read_extract_on_random_csv(
    text: str, eol: bytes, encoding: str, delta: bool, bom: bool
) -> None:
    raw = text.replace("\n", eol.decode()).encode(encoding, errors="replace")
    if bom and encoding == "utf-8":
        raw = b"\xef\xbb\xbf" + raw
    _read_tolerating_format_errors(raw, ".csv", encoding, delta)


jsonl_object = st.dictionaries(
    st.one_of(st.sampled_from(EXTRACT_COLUMNS), st.text(max_size=6)), json_values, max_size=9
)


@EXTRACT_FUZZ
@given(
    lines=st.lists(
        st.one_of(jsonl_object.map(json.dumps), json_values.map(json.dumps)), max_size=20
    ),
    eol=newline,
    delta=st.booleans(),
)
def test_read_extract_on_random_jsonl(lines: list[str], eol: bytes, delta: bool) -> None:
    raw = eol.join(line.encode() for line in lines)
    _read_tolerating_format_errors(raw, ".jsonl", "utf-8", delta)


def test_a_valid_csv_line_survives_the_fuzzers_invariants() -> None:
    """The invariant checker accepts a good file and counts its record (not vacuous)."""
    good = "record_id,name_kana,birth_date,gender\nR1,ヤマダ ハナコ,5-130503,2\nR1,ヤマダ,x,9\n"
    summary, items = _read_all(good.encode(), ".csv", "utf-8", False)
    assert (summary.read, summary.records, summary.quarantined) == (2, 1, 1)
    record, refused = items
    assert isinstance(record, Record) and record.record_id == "R1" and record.line_number == 2
    assert isinstance(refused, Quarantined) and refused.line_number == 3
    with pytest.raises(ExtractFormatError) as refused:
        _read_all(b"name_kana\nR1\n", ".csv", "utf-8", False)
    assert FORMAT_ERROR_SHAPES.fullmatch(str(refused.value)), str(refused.value)
    assert not FORMAT_ERROR_SHAPES.fullmatch("the CSV header row is not valid ヤマダ")


def test_width_translation_maps_ascii_to_full_width() -> None:
    assert "S13.5.3".translate(FULL_WIDTH) == "Ｓ１３．５．３"
    assert unicodedata.normalize("NFKC", "Ｓ１３．５．３") == "S13.5.3"
