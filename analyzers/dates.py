"""Birth dates: parsing ledger extracts and user input, era (元号) arithmetic, blocking variants.

Two parsers on purpose, because the two sides have opposite duties:

* ``parse_ledger_date`` reads record extracts. Ledger dates were keyed decades ago and some are
  impossible (2月30日, 大正16年, month 13). Such a record still belongs to somebody and must stay
  findable by name, so impossible dates are *kept* (``BirthDate.valid`` is False) and only text
  that has none of the ledger shapes is rejected.
* ``parse_user_date`` reads what a person types today. There an impossible date is a typing
  mistake the person can fix, so it is rejected with an explanation.

Error messages never contain the input: a birth date is personal data and messages end up in
logs.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Final

__all__ = [
    "DATE_DIFFERENCE_LEVELS",
    "ERAS",
    "BirthDate",
    "DateFormatError",
    "DateVariant",
    "Era",
    "InvalidDateError",
    "birth_date_variants",
    "classify_date_difference",
    "parse_ledger_date",
    "parse_user_date",
    "to_era",
]


class DateFormatError(ValueError):
    """The text has none of the accepted date shapes. The message never echoes the input."""


class InvalidDateError(ValueError):
    """A user-typed date has an accepted shape but is not a real, past date within its era."""


@dataclass(frozen=True, slots=True)
class BirthDate:
    """A birth date as keyed, possibly impossible (1938-02-30 is a legitimate ledger value).

    The fields are kept as plain integers rather than a ``datetime.date`` precisely so that
    impossible ledger dates can be represented, compared and indexed.
    """

    year: int
    month: int
    day: int

    def __post_init__(self) -> None:
        # The 8-digit key is the contract with the index; refuse values that cannot fit in it.
        if not (0 <= self.year <= 9999 and 0 <= self.month <= 99 and 0 <= self.day <= 99):
            raise ValueError("BirthDate fields must fit YYYYMMDD (year 0-9999, month/day 0-99)")

    @property
    def valid(self) -> bool:
        """True when this is a real calendar date (says nothing about era boundaries)."""
        return self.as_date() is not None

    @property
    def key(self) -> str:
        """Zero-padded ``YYYYMMDD``; defined for impossible dates too (``19380230``)."""
        return f"{self.year:04d}{self.month:02d}{self.day:02d}"

    def as_date(self) -> dt.date | None:
        """The calendar date, or None for an impossible date."""
        try:
            return dt.date(self.year, self.month, self.day)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Era:
    """One 元号 with its ledger code and the initials people type."""

    name: str
    ledger_code: str
    latin_initial: str
    kanji_initial: str
    first_day: dt.date

    @property
    def first_year(self) -> int:
        """Gregorian year of 元年: era-year N is ``first_year + N - 1``."""
        return self.first_day.year


# 明治 starts 1868-01-25 (docs/DOMAIN-NOTES.md: the gregorian day of 旧暦 慶応4年1月1日, to
# which 明治 was backdated); no pension member was born that early, so the choice only matters
# for tests.
ERAS: Final[tuple[Era, ...]] = (
    Era("明治", "1", "M", "明", dt.date(1868, 1, 25)),
    Era("大正", "3", "T", "大", dt.date(1912, 7, 30)),
    Era("昭和", "5", "S", "昭", dt.date(1926, 12, 25)),
    Era("平成", "7", "H", "平", dt.date(1989, 1, 8)),
    Era("令和", "9", "R", "令", dt.date(2019, 5, 1)),
)

_ERA_BY_LEDGER_CODE: Final[dict[str, Era]] = {era.ledger_code: era for era in ERAS}
_ERA_BY_TOKEN: Final[dict[str, Era]] = {
    token: era
    for era in ERAS
    for token in (era.name, era.kanji_initial, era.latin_initial, era.latin_initial.lower())
}

# Ledger dates can only encode era-years 00-99 in the five eras, so no record can carry a
# gregorian year outside this range. Used to drop absurd one-digit variants (0938, 2938).
_LEDGER_MIN_YEAR: Final = ERAS[0].first_year - 1
_LEDGER_MAX_YEAR: Final = ERAS[-1].first_year + 98

# Dashes that turn up between the era code and YYMMDD in extracts (after NFKC, which already
# maps the full-width hyphen-minus U+FF0D to "-").
_DASH_TO_HYPHEN: Final = str.maketrans(
    dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70", "-")
)

# Named groups y/m/d (gregorian) or era/ey/m/d (era-year), so every shape is read the same way.
_LEDGER_SHAPES: Final = (
    re.compile(r"(?P<y>[0-9]{4})(?P<sep>[-/])(?P<m>[0-9]{1,2})(?P=sep)(?P<d>[0-9]{1,2})"),
    re.compile(r"(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})"),
    re.compile(r"(?P<era>[13579])-?(?P<ey>[0-9]{2})(?P<m>[0-9]{2})(?P<d>[0-9]{2})"),
)
_USER_GREGORIAN_SHAPES: Final = (
    re.compile(r"(?P<y>[0-9]{4})(?P<sep>[-/.])(?P<m>[0-9]{1,2})(?P=sep)(?P<d>[0-9]{1,2})"),
    re.compile(r"(?P<y>[0-9]{4})年(?P<m>[0-9]{1,2})月(?P<d>[0-9]{1,2})日?"),
    re.compile(r"(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})"),
)
_USER_ERA_SHAPE: Final = re.compile(
    r"(?P<era>明治|大正|昭和|平成|令和|[明大昭平令MTSHRmtshr])"
    r"(?P<ey>[0-9]{1,2}|元)[年./-]"
    r"(?P<m>[0-9]{1,2})[月./-]"
    r"(?P<d>[0-9]{1,2})日?"
)

_LEDGER_FORMAT_HELP: Final = (
    "expected a ledger date: YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD, G-YYMMDD or GYYMMDD "
    "(G = 1 明治, 3 大正, 5 昭和, 7 平成, 9 令和)"
)
_USER_FORMAT_HELP: Final = (
    "expected a date such as 1938-05-03, 1938/5/3, 昭和13年5月3日, 昭和元年12月25日 or S13.5.3"
)


def _canonical_text(text: str) -> str:
    """NFKC (full-width digits and letters, ideographic space) then strip."""
    return unicodedata.normalize("NFKC", text).strip()


def parse_ledger_date(text: str) -> BirthDate:
    """Parse a date from a record extract, keeping impossible dates.

    Accepts ``YYYY-MM-DD``, ``YYYY/MM/DD``, ``YYYYMMDD``, ``G-YYMMDD`` and ``GYYMMDD`` with
    surrounding whitespace and full-width digits. 大正16年, 2月30日 and month 13 come back with
    ``valid`` False (or, for 大正16年, as the gregorian year it denotes arithmetically).

    Raises:
        DateFormatError: the text has none of these shapes.
    """
    canonical = _canonical_text(text).translate(_DASH_TO_HYPHEN)
    for shape in _LEDGER_SHAPES:
        if match := shape.fullmatch(canonical):
            if "era" in shape.groupindex:
                era = _ERA_BY_LEDGER_CODE[match["era"]]
                year = era.first_year + int(match["ey"]) - 1
            else:
                year = int(match["y"])
            return BirthDate(year, int(match["m"]), int(match["d"]))
    raise DateFormatError(_LEDGER_FORMAT_HELP)


def parse_user_date(text: str, *, today: dt.date | None = None) -> BirthDate:
    """Parse a birth date typed by a person and insist that it is real.

    Accepts gregorian dates (``1938-05-03``, ``1938/5/3``, ``1938.5.3``, ``19380503``,
    ``1938年5月3日``) and 和暦 with the era's name, kanji initial or latin initial
    (``昭和13年5月3日``, ``昭和元年12月25日``, ``昭13.5.3``, ``S13.5.3``, ``s13.5.3``,
    ``昭和13.5.3``), with full-width characters and spaces anywhere.

    ``today`` is injectable so the function stays pure in tests; it defaults to the local date.

    Raises:
        DateFormatError: none of the accepted shapes.
        InvalidDateError: not a calendar date, outside the era it names, or in the future.
    """
    canonical = "".join(_canonical_text(text).split())
    era: Era | None = None
    if match := _USER_ERA_SHAPE.fullmatch(canonical):
        era = _ERA_BY_TOKEN[match["era"]]
        era_year = 1 if match["ey"] == "元" else int(match["ey"])
        if era_year < 1:
            raise InvalidDateError("an era year starts at 1 (元年)")
        parsed = BirthDate(era.first_year + era_year - 1, int(match["m"]), int(match["d"]))
    else:
        for shape in _USER_GREGORIAN_SHAPES:
            if match := shape.fullmatch(canonical):
                parsed = BirthDate(int(match["y"]), int(match["m"]), int(match["d"]))
                break
        else:
            raise DateFormatError(_USER_FORMAT_HELP)

    calendar_date = parsed.as_date()
    if calendar_date is None:
        raise InvalidDateError("not a real calendar date (check month and day)")
    if era is not None and _era_of_date(calendar_date) is not era:
        raise InvalidDateError(
            "the date is outside the era given; era first days: "
            + ", ".join(f"{e.name} {e.first_day.isoformat()}" for e in ERAS)
        )
    if calendar_date > (today if today is not None else dt.date.today()):
        raise InvalidDateError("a birth date cannot be in the future")
    return parsed


def _era_of_date(day: dt.date) -> Era | None:
    for era in reversed(ERAS):
        if day >= era.first_day:
            return era
    return None


def to_era(d: BirthDate) -> tuple[str, int] | None:
    """(era name, era year) of a real date; None for impossible dates and dates before 明治."""
    calendar_date = d.as_date()
    if calendar_date is None:
        return None
    era = _era_of_date(calendar_date)
    if era is None:
        return None
    return era.name, d.year - era.first_year + 1


def _nominal_era(d: BirthDate) -> Era | None:
    """The era a possibly impossible date was most likely keyed in.

    For an impossible date (2月30日, 13月) the era of the nearest real day is used: the era is
    a property of year and month, the broken field rarely matters.
    """
    if not 1 <= d.year <= 9999:
        return None
    month = min(max(d.month, 1), 12)
    day = min(max(d.day, 1), calendar.monthrange(d.year, month)[1])
    return _era_of_date(dt.date(d.year, month, day))


DATE_DIFFERENCE_LEVELS: Final[tuple[str, ...]] = (
    "exact",
    "off_by_one_day",
    "day_month_swap",
    "era_swap",
    "one_digit",
    "year_digit",
    "digit_transposition",
    "within_30_days",
    "same_month_day",
    "within_1_year",
    "same_year_month",
    "different",
)
"""Levels of ``classify_date_difference``, closest first. The first seven are also the kinds of
``birth_date_variants`` in the same order, so a variant is classified as its own kind. The
later ones (a date remembered weeks or months off, the right day in another year) are only
reached when the name itself retrieved the record."""


@dataclass(frozen=True, slots=True)
class DateVariant:
    """A blocking key a mistyped ledger date of the person could carry, and why."""

    key: str
    kind: str


def _key(day: dt.date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _off_by_one_day_keys(d: BirthDate) -> list[str]:
    """The day before and after, by the calendar (so 1938-03-01 → 1938-02-28)."""
    calendar_date = d.as_date()
    if calendar_date is None:
        return []
    keys = []
    for delta in (-1, 1):
        try:
            keys.append(_key(calendar_date + dt.timedelta(days=delta)))
        except OverflowError:  # 0001-01-01 and 9999-12-31 have no neighbour on one side
            continue
    return keys


def _day_month_swap_key(d: BirthDate) -> str | None:
    # Only when the swapped value is still a month (1-12): a swap is a field mix-up by someone
    # reading a form, and a month of 13-31 would be the most visible error a clerk could make.
    if d.day == d.month or not 1 <= d.day <= 12:
        return None
    return BirthDate(d.year, d.day, d.month).key


def _era_swap_keys(d: BirthDate) -> list[str]:
    """Same era-year, month and day under every other era (昭和13 ↔ 大正13 ↔ 明治13 ↔ 平成13).

    The target can be impossible (大正16年) and is kept: the ledger only stored the era code.
    """
    era = _nominal_era(d)
    if era is None:
        return []
    era_year = d.year - era.first_year + 1
    return [
        BirthDate(other.first_year + era_year - 1, d.month, d.day).key
        for other in ERAS
        if other is not era and 0 <= other.first_year + era_year - 1 <= 9999
    ]


def _plausible_slip(year: int, month: int, day: int) -> bool:
    """Whether a digit slip could sit in a ledger: any year an era code can express (明治00 ..
    令和99), and any two digits of month and day.

    A slip lands on whatever key the finger hits, so month 00, 25月 and 5月90日 occur as well as
    13月 and 2月30日; an earlier rule that kept only tens digits 0-1 (month) and 0-3 (day) lost
    owners on data that had such records. Each digit position costs at most nine keys.
    """
    return _LEDGER_MIN_YEAR <= year <= _LEDGER_MAX_YEAR and 0 <= month <= 99 and 0 <= day <= 99


def _one_digit_keys(d: BirthDate) -> list[str]:
    """Single-digit substitutions, in the gregorian key and in the ledger's era-year digits.

    Ledger dates were keyed as G-YYMMDD, so a slip in the era-year (昭和13 → 昭和18 = 1943)
    changes two digits of the gregorian key; both representations are therefore enumerated.
    """
    keys: list[str] = []
    base = d.key
    for position, original in enumerate(base):
        for digit in "0123456789":
            if digit == original:
                continue
            candidate = base[:position] + digit + base[position + 1 :]
            if _plausible_slip(int(candidate[:4]), int(candidate[4:6]), int(candidate[6:])):
                keys.append(candidate)
    era = _nominal_era(d)
    if era is not None:
        era_year = d.year - era.first_year + 1
        if 0 <= era_year <= 99:
            era_digits = f"{era_year:02d}"
            for position in range(2):
                for digit in "0123456789":
                    if digit == era_digits[position]:
                        continue
                    slipped = int(era_digits[:position] + digit + era_digits[position + 1 :])
                    year = era.first_year + slipped - 1
                    if _plausible_slip(year, d.month, d.day):
                        keys.append(BirthDate(year, d.month, d.day).key)
    return keys


def _swap_adjacent(digits: str, position: int) -> str:
    return digits[:position] + digits[position + 1] + digits[position] + digits[position + 2 :]


def _transposition_keys(d: BirthDate) -> list[str]:
    """Two adjacent digits keyed in the wrong order (0513 → 0531, 昭和13 → 昭和31), in the
    gregorian key and in the era-year the ledger was keyed with."""
    keys: list[str] = []
    base = d.key
    for position in range(len(base) - 1):
        if base[position] != base[position + 1]:
            candidate = _swap_adjacent(base, position)
            if _plausible_slip(int(candidate[:4]), int(candidate[4:6]), int(candidate[6:])):
                keys.append(candidate)
    era = _nominal_era(d)
    if era is not None:
        era_year = d.year - era.first_year + 1
        digits = f"{era_year:02d}"
        if 0 <= era_year <= 99 and digits[0] != digits[1]:
            year = era.first_year + int(digits[::-1]) - 1
            if _plausible_slip(year, d.month, d.day):
                keys.append(BirthDate(year, d.month, d.day).key)
    return keys


@functools.lru_cache(maxsize=1 << 15)
def _transposition_key_set(d: BirthDate) -> frozenset[str]:
    # Cached: the scorer asks about one person's date for every candidate of the check.
    return frozenset(_transposition_keys(d))


def _is_transposition(query: BirthDate, record: BirthDate) -> bool:
    return record.key in _transposition_key_set(query)


def birth_date_variants(d: BirthDate) -> list[DateVariant]:
    """Query-side blocking keys: the dates a mistyped ledger record of this person could carry.

    Kinds in order of closeness: ``exact``, ``off_by_one_day``, ``day_month_swap``,
    ``era_swap``, ``one_digit``, ``year_digit``, ``digit_transposition``. A key reachable in
    several ways keeps the closest kind, so the list has no duplicate keys and starts with the
    exact key.
    """
    candidates: list[tuple[str, str]] = [(d.key, "exact")]
    candidates += [(key, "off_by_one_day") for key in _off_by_one_day_keys(d)]
    if (swapped := _day_month_swap_key(d)) is not None:
        candidates.append((swapped, "day_month_swap"))
    candidates += [(key, "era_swap") for key in _era_swap_keys(d)]
    # A slip in the year is told apart: a brother or sister born a few years off shares the
    # surname and often the day, so it is weaker evidence than a slip in month or day.
    candidates += [
        (key, "year_digit" if key[:4] != d.key[:4] else "one_digit") for key in _one_digit_keys(d)
    ]
    candidates += [(key, "digit_transposition") for key in _transposition_keys(d)]
    seen: set[str] = set()
    variants: list[DateVariant] = []
    for key, kind in candidates:
        if key not in seen:
            seen.add(key)
            variants.append(DateVariant(key, kind))
    return variants


def _differs_in_one_digit(a: str, b: str) -> bool:
    return len(a) == len(b) and sum(map(str.__ne__, a, b)) == 1


def _is_era_swap(query: BirthDate, record: BirthDate) -> bool:
    """Whether the record has the query's era-year, month and day under another era code.

    Only the query's era is used: the query is a real date, so its era is the true one, while
    the record's apparent era says nothing (大正16 looks like 昭和2).
    """
    if (query.month, query.day) != (record.month, record.day) or query.year == record.year:
        return False
    era = _nominal_era(query)
    return era is not None and record.year - query.year in {
        other.first_year - era.first_year for other in ERAS
    }


def _is_era_year_slip(query: BirthDate, record: BirthDate) -> bool:
    if (query.month, query.day) != (record.month, record.day):
        return False
    era = _nominal_era(query)
    if era is None:
        return False
    query_era_year = query.year - era.first_year + 1
    record_era_year = record.year - era.first_year + 1
    if not (0 <= query_era_year <= 99 and 0 <= record_era_year <= 99):
        return False
    return _differs_in_one_digit(f"{query_era_year:02d}", f"{record_era_year:02d}")


def classify_date_difference(query: BirthDate, record: BirthDate) -> str:
    """The closest of ``DATE_DIFFERENCE_LEVELS`` that explains how ``record`` differs.

    Works on impossible record dates by comparing digit keys; the calendar-based levels
    (``off_by_one_day``, ``within_30_days``) need both dates to be real.
    """
    query_key, record_key = query.key, record.key
    if query_key == record_key:
        return "exact"
    query_date, record_date = query.as_date(), record.as_date()
    distance = (
        abs((query_date - record_date).days)
        if query_date is not None and record_date is not None
        else None
    )
    if distance == 1:
        return "off_by_one_day"
    if query.year == record.year and (query.month, query.day) == (record.day, record.month):
        return "day_month_swap"
    if _is_era_swap(query, record):
        return "era_swap"
    if _differs_in_one_digit(query_key, record_key) or _is_era_year_slip(query, record):
        return "year_digit" if query.year != record.year else "one_digit"
    if record_key in _transposition_key_set(query):
        return "digit_transposition"
    if distance is not None and distance <= 30:
        return "within_30_days"
    if (query.month, query.day) == (record.month, record.day):
        return "same_month_day"
    if distance is not None and distance <= 366:
        return "within_1_year"
    if (query.year, query.month) == (record.year, record.month):
        return "same_year_month"
    return "different"
