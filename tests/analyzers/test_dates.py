"""Table tests for analyzers.dates: every date shape a ledger or a person writes, and each
era edge (first and last days of 明治, 大正, 昭和, 平成 and 令和)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzers.dates import (
    DATE_DIFFERENCE_LEVELS,
    BirthDate,
    DateFormatError,
    InvalidDateError,
    birth_date_variants,
    classify_date_difference,
    parse_ledger_date,
    parse_user_date,
    to_era,
)

TODAY = dt.date(2026, 11, 27)


@pytest.mark.parametrize(
    ("text", "expected_key", "expected_valid", "why"),
    [
        ("1938-05-03", "19380503", True, "ISO"),
        ("1938/05/03", "19380503", True, "slashes"),
        ("19380503", "19380503", True, "compact gregorian"),
        ("5-130503", "19380503", True, "ledger era code with dash: 昭和13年5月3日"),
        ("5130503", "19380503", True, "ledger era code without dash"),
        ("  5-130503\t", "19380503", True, "surrounding whitespace"),
        ("５－１３０５０３", "19380503", True, "full-width digits and hyphen (CP932 extract)"),
        ("１９３８０５０３", "19380503", True, "full-width compact gregorian"),
        ("5-130230", "19380230", False, "impossible 2月30日 is kept, not rejected"),
        ("5-131303", "19381303", False, "month 13 is kept"),
        ("3-160101", "19270101", True, "大正16年 is keyed arithmetically (1912 + 16 - 1)"),
        ("5-640107", "19890107", True, "昭和64年1月7日, last day of 昭和"),
        ("7-010108", "19890108", True, "平成元年1月8日"),
        ("3-151224", "19261224", True, "大正15年12月24日, last day of 大正"),
        ("5-011225", "19261225", True, "昭和元年12月25日"),
        ("1-450729", "19120729", True, "明治45年7月29日"),
        ("9-010501", "20190501", True, "令和元年5月1日"),
        ("5-000101", "19250101", True, "era-year 00 keyed: still keyed, not rejected"),
    ],
)
def test_parse_ledger_date(text: str, expected_key: str, expected_valid: bool, why: str) -> None:
    parsed = parse_ledger_date(text)
    assert parsed.key == expected_key, why
    assert parsed.valid is expected_valid, why


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("   ", "blank"),
        ("2-130503", "2 is not an era code"),
        ("5-1305", "too short"),
        ("昭和13年5月3日", "和暦 is user input, not a ledger shape"),
        ("1938-5-03x", "trailing garbage"),
        ("abcdefgh", "letters"),
        ("1938-05/03", "mixed separators"),
    ],
)
def test_parse_ledger_date_rejects_other_shapes(text: str, why: str) -> None:
    with pytest.raises(DateFormatError):
        parse_ledger_date(text)


def test_date_format_error_never_echoes_input() -> None:
    secret = "9999-99-99-1938"
    with pytest.raises(DateFormatError) as error:
        parse_ledger_date(secret)
    assert secret not in str(error.value)
    assert "YYYY-MM-DD" in str(error.value)


@pytest.mark.parametrize(
    ("text", "expected", "why"),
    [
        ("1938-05-03", (1938, 5, 3), "ISO"),
        ("1938/5/3", (1938, 5, 3), "slashes without padding"),
        ("1938.5.3", (1938, 5, 3), "dots"),
        ("19380503", (1938, 5, 3), "compact"),
        ("1938年5月3日", (1938, 5, 3), "gregorian with 年月日"),
        ("昭和13年5月3日", (1938, 5, 3), "和暦"),
        ("昭和１３年５月３日", (1938, 5, 3), "full-width digits"),
        ("昭和 13年 5月 3日", (1938, 5, 3), "spaces"),
        ("昭和　13年5月3日", (1938, 5, 3), "ideographic space"),
        ("昭和元年12月25日", (1926, 12, 25), "元年, first day of 昭和"),
        ("S13.5.3", (1938, 5, 3), "latin initial"),
        ("s13.5.3", (1938, 5, 3), "lower-case latin initial"),
        ("Ｓ13.5.3", (1938, 5, 3), "full-width latin initial"),
        ("S13/05/03", (1938, 5, 3), "latin initial with slashes"),
        ("昭13.5.3", (1938, 5, 3), "kanji initial"),
        ("昭和13.5.3", (1938, 5, 3), "era name with dots"),
        ("H1.1.8", (1989, 1, 8), "first day of 平成"),
        ("平成元年1月8日", (1989, 1, 8), "平成元年"),
        ("昭和64年1月7日", (1989, 1, 7), "last day of 昭和"),
        ("T15.12.24", (1926, 12, 24), "last day of 大正"),
        ("大正15年12月24日", (1926, 12, 24), "last day of 大正, kanji"),
        ("M45.7.29", (1912, 7, 29), "last day of 明治"),
        ("大正元年7月30日", (1912, 7, 30), "first day of 大正"),
        ("R1.5.1", (2019, 5, 1), "first day of 令和"),
        ("平成31年4月30日", (2019, 4, 30), "last day of 平成"),
        ("2026-11-27", (2026, 11, 27), "today is not the future"),
    ],
)
def test_parse_user_date(text: str, expected: tuple[int, int, int], why: str) -> None:
    assert parse_user_date(text, today=TODAY) == BirthDate(*expected), why


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("平成1年1月7日", "still 昭和"),
        ("平成元年1月7日", "still 昭和"),
        ("大正16年1月1日", "大正 ended in its 15th year"),
        ("昭和65年1月1日", "昭和 ended in its 64th year"),
        ("昭和元年12月24日", "still 大正"),
        ("令和1年4月30日", "still 平成"),
        ("明治46年1月1日", "明治 ended in its 45th year"),
        ("昭和13年2月30日", "impossible calendar date"),
        ("1938-02-30", "impossible calendar date, gregorian"),
        ("1938-13-01", "month 13"),
        ("S0.5.3", "era year 0"),
        ("2026-11-28", "tomorrow"),
        ("令和20年1月1日", "future"),
    ],
)
def test_parse_user_date_rejects_invalid(text: str, why: str) -> None:
    with pytest.raises(InvalidDateError) as error:
        parse_user_date(text, today=TODAY)
    assert text not in str(error.value), "the message must not echo personal data"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("昭和", "era only"),
        ("X13.5.3", "unknown initial"),
        ("昭和十三年五月三日", "kanji numerals are not supported"),
        ("5-130503", "ledger code is not a user shape"),
        ("May 3, 1938", "English"),
    ],
)
def test_parse_user_date_rejects_unknown_shapes(text: str, why: str) -> None:
    with pytest.raises(DateFormatError):
        parse_user_date(text, today=TODAY)


@pytest.mark.parametrize(
    ("date", "expected", "why"),
    [
        (BirthDate(1938, 5, 3), ("昭和", 13), "plain"),
        (BirthDate(1989, 1, 7), ("昭和", 64), "last day of 昭和"),
        (BirthDate(1989, 1, 8), ("平成", 1), "first day of 平成"),
        (BirthDate(1926, 12, 24), ("大正", 15), "last day of 大正"),
        (BirthDate(1926, 12, 25), ("昭和", 1), "昭和元年"),
        (BirthDate(1912, 7, 29), ("明治", 45), "last day of 明治"),
        (BirthDate(1912, 7, 30), ("大正", 1), "first day of 大正"),
        (BirthDate(2019, 4, 30), ("平成", 31), "last day of 平成"),
        (BirthDate(2019, 5, 1), ("令和", 1), "first day of 令和"),
        (BirthDate(1868, 1, 24), None, "before 明治"),
        (BirthDate(1938, 2, 30), None, "impossible date"),
    ],
)
def test_to_era(date: BirthDate, expected: tuple[str, int] | None, why: str) -> None:
    assert to_era(date) == expected, why


def test_birth_date_key_and_validity() -> None:
    impossible = BirthDate(1938, 2, 30)
    assert impossible.key == "19380230"
    assert not impossible.valid
    assert impossible.as_date() is None
    assert BirthDate(1938, 5, 3).as_date() == dt.date(1938, 5, 3)
    assert BirthDate(5, 1, 2).key == "00050102"
    with pytest.raises(ValueError):
        BirthDate(10000, 1, 1)


def _kinds(date: BirthDate) -> dict[str, str]:
    return {variant.key: variant.kind for variant in birth_date_variants(date)}


@pytest.mark.parametrize(
    ("date", "key", "kind", "why"),
    [
        (BirthDate(1938, 5, 3), "19380503", "exact", "the date itself"),
        (BirthDate(1938, 5, 3), "19380502", "off_by_one_day", "day before"),
        (BirthDate(1938, 3, 1), "19380228", "off_by_one_day", "calendar arithmetic across months"),
        (BirthDate(1938, 12, 31), "19390101", "off_by_one_day", "across years"),
        (BirthDate(1938, 3, 4), "19380403", "day_month_swap", "03-04 ↔ 04-03"),
        (BirthDate(1938, 5, 3), "19240503", "era_swap", "昭和13 → 大正13"),
        (BirthDate(1938, 5, 3), "18800503", "era_swap", "昭和13 → 明治13"),
        (BirthDate(1938, 5, 3), "20010503", "era_swap", "昭和13 → 平成13"),
        (BirthDate(1924, 5, 3), "19380503", "era_swap", "大正13 → 昭和13"),
        (BirthDate(1941, 2, 1), "19270201", "era_swap", "昭和16 → 大正16 (impossible era date)"),
        (BirthDate(1938, 2, 20), "19380230", "one_digit", "slip giving the impossible 2月30日"),
        (BirthDate(1938, 5, 3), "19381503", "one_digit", "month tens digit 0 → 1 (month 15)"),
        (BirthDate(1938, 5, 3), "19480503", "year_digit", "decade slip"),
        (BirthDate(1938, 5, 3), "19430503", "year_digit", "era-year slip 昭和13 → 昭和18"),
        (BirthDate(1938, 5, 3), "19380500", "one_digit", "day 00: a slip onto any digit"),
        (BirthDate(1938, 5, 3), "19382503", "one_digit", "month 25: a slip onto any digit"),
        (BirthDate(1938, 5, 13), "19380531", "digit_transposition", "13 keyed 31"),
        (BirthDate(1938, 5, 3), "19830503", "digit_transposition", "1938 keyed 1983"),
    ],
)
def test_birth_date_variants(date: BirthDate, key: str, kind: str, why: str) -> None:
    assert _kinds(date).get(key) == kind, why


@pytest.mark.parametrize(
    ("date", "key", "why"),
    [
        (BirthDate(1938, 5, 3), "29380503", "year no ledger era code can express"),
        (BirthDate(1938, 5, 23), "19382305", "swap to a month that does not exist"),
    ],
)
def test_birth_date_variants_leave_out_implausible_keys(
    date: BirthDate, key: str, why: str
) -> None:
    assert key not in _kinds(date), why


def test_birth_date_variants_have_unique_keys_and_start_exact() -> None:
    variants = birth_date_variants(BirthDate(1938, 5, 3))
    assert variants[0].kind == "exact"
    assert len({variant.key for variant in variants}) == len(variants)


@pytest.mark.parametrize(
    ("query", "record", "expected", "why"),
    [
        ((1938, 5, 3), (1938, 5, 3), "exact", "same"),
        ((1938, 5, 3), (1938, 5, 4), "off_by_one_day", "day after"),
        ((1938, 3, 1), (1938, 2, 28), "off_by_one_day", "across month end"),
        ((1938, 3, 4), (1938, 4, 3), "day_month_swap", "swapped"),
        ((1938, 5, 3), (1924, 5, 3), "era_swap", "昭和13 keyed as 大正13"),
        ((1924, 5, 3), (1938, 5, 3), "era_swap", "大正13 keyed as 昭和13"),
        ((1941, 2, 1), (1927, 2, 1), "era_swap", "昭和16 keyed as the impossible 大正16"),
        ((1938, 2, 20), (1938, 2, 30), "one_digit", "impossible record date"),
        ((1938, 5, 3), (1943, 5, 3), "year_digit", "era-year slip 昭和13 → 18"),
        ((1938, 5, 3), (1938, 5, 20), "within_30_days", "declared date differs by weeks"),
        ((1938, 5, 3), (1938, 5, 31), "within_30_days", "two digits differ, 28 days apart"),
        ((1938, 5, 3), (1938, 5, 36), "same_year_month", "impossible day, two digits differ"),
        ((1938, 5, 3), (1951, 9, 9), "different", "unrelated"),
        ((1938, 5, 3), (1938, 13, 30), "different", "impossible and unrelated"),
    ],
)
def test_classify_date_difference(
    query: tuple[int, int, int], record: tuple[int, int, int], expected: str, why: str
) -> None:
    assert classify_date_difference(BirthDate(*query), BirthDate(*record)) == expected, why


# ----- properties -----------------------------------------------------------------------------

real_dates = st.dates(min_value=dt.date(1868, 1, 25), max_value=dt.date(2026, 11, 27)).map(
    lambda day: BirthDate(day.year, day.month, day.day)
)
any_birth_dates = st.builds(
    BirthDate,
    st.integers(min_value=0, max_value=9999),
    st.integers(min_value=0, max_value=99),
    st.integers(min_value=0, max_value=99),
)


def _typed(day: dt.date, style: int) -> str:
    """``day`` as a ledger or a person may write it."""
    era = to_era(BirthDate(day.year, day.month, day.day))
    if style == 0 or era is None:
        return day.isoformat()
    if style == 1:
        return f"{day.year}/{day.month}/{day.day}"
    return f"{era[0]}{era[1]}年{day.month}月{day.day}日"


date_shaped_text = st.one_of(
    st.text(),
    st.from_regex(r"\s*\d{1,4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?\s*", fullmatch=True),
    st.from_regex(
        r"(明治|大正|昭和|平成|令和|[MTSHR])\d{1,2}[年.]\d{1,2}[月.]\d{1,2}日?", fullmatch=True
    ),
    st.from_regex(r"[13579]-?\d{6}|\d{8}", fullmatch=True),
    st.builds(_typed, st.dates(dt.date(1868, 1, 25), dt.date(2100, 12, 31)), st.integers(0, 2)),
)


@given(date_shaped_text)
def test_parsers_raise_only_documented_errors_and_otherwise_give_a_date(text: str) -> None:
    """Any text is refused with a documented error or read as a date; a ledger date reads back
    from its own key, and a date a person typed is a real day that is not in the future."""
    try:
        ledger = parse_ledger_date(text)
    except DateFormatError:
        pass
    else:
        assert len(ledger.key) == 8 and ledger.key.isdigit(), ledger
        assert parse_ledger_date(ledger.key) == ledger
    try:
        typed = parse_user_date(text, today=TODAY)
    except (DateFormatError, InvalidDateError):
        pass
    else:
        day = typed.as_date()
        assert day is not None and day <= TODAY, typed


@given(real_dates)
def test_each_variant_is_classified_as_its_kind(date: BirthDate) -> None:
    for variant in birth_date_variants(date):
        record = parse_ledger_date(variant.key)
        assert classify_date_difference(date, record) == variant.kind


@given(any_birth_dates, any_birth_dates)
def test_functions_total_on_any_birth_date(query: BirthDate, record: BirthDate) -> None:
    assert classify_date_difference(query, record) in DATE_DIFFERENCE_LEVELS
    variants = birth_date_variants(query)
    assert variants[0].key == query.key
    assert all(len(variant.key) == 8 and variant.key.isdigit() for variant in variants)
    to_era(query)


@given(real_dates)
def test_user_parser_roundtrips_iso_and_era(date: BirthDate) -> None:
    assert parse_user_date(date.key, today=TODAY) == date
    era = to_era(date)
    assert era is not None
    name, year = era
    assert parse_user_date(f"{name}{year}年{date.month}月{date.day}日", today=TODAY) == date
