"""Birth dates as keyed (``KeyedDate``: Gregorian or era code, possibly impossible), as typed
in a check, and ``dates_close``: whether a keyed date could be a slip of a true one."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from random import Random
from typing import Final

from relevance.synth.sampling import pick

ERA_START: Final = {
    1: date(1868, 1, 25),
    3: date(1912, 7, 30),
    5: date(1926, 12, 25),
    7: date(1989, 1, 8),
    9: date(2019, 5, 1),
}
ERA_OFFSET: Final = {1: 1867, 3: 1911, 5: 1925, 7: 1988, 9: 2018}
ERA_NAME: Final = {1: "明治", 3: "大正", 5: "昭和", 7: "平成", 9: "令和"}
ERA_LETTER: Final = {1: "M", 3: "T", 5: "S", 7: "H", 9: "R"}
# The era-code slips that occur: 昭和 ↔ 大正 (same era-year, 14 years apart), 明治 → 大正.
ERA_SWAP: Final = {5: 3, 3: 5, 1: 3}
FULLWIDTH_DIGITS: Final = str.maketrans("0123456789", "０１２３４５６７８９")
RECORD_DATE_STYLES: Final = {"iso": 40.0, "era": 35.0, "era_compact": 25.0}
CHECK_DATE_STYLES: Final = {"iso": 35.0, "kanji": 35.0, "letter": 15.0, "kanji_fullwidth": 15.0}


def era_of(day: date) -> tuple[int, int]:
    """(era code, era year) of a real date."""
    for code in (9, 7, 5, 3, 1):
        if day >= ERA_START[code]:
            return code, day.year - ERA_OFFSET[code]
    raise ValueError(f"{day} is before 明治")


@dataclass(frozen=True, slots=True)
class KeyedDate:
    """A birth date as keyed in the ledger: era 0 = Gregorian ``YYYY-MM-DD``, else a ledger era
    code with its era year. It may name an impossible day (2月30日, 大正22年): it is what was
    typed, not a ``datetime.date``."""

    era: int
    year: int
    month: int
    day: int
    compact: bool = False

    def render(self) -> str:
        if self.era == 0:
            return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"
        sep = "" if self.compact else "-"
        return f"{self.era}{sep}{self.year:02d}{self.month:02d}{self.day:02d}"

    def gregorian_year(self) -> int:
        return self.year if self.era == 0 else ERA_OFFSET[self.era] + self.year

    def is_real(self) -> bool:
        try:
            real = date(self.gregorian_year(), self.month, self.day)
        except ValueError:
            return False
        return self.era == 0 or era_of(real)[0] == self.era

    def approx_date(self) -> date:
        """The nearest real date (day clamped to the month), for distances."""
        year = min(max(self.gregorian_year(), 1), 9999)
        last = calendar.monthrange(year, self.month)[1]
        return date(year, self.month, min(self.day, last))


def keyed(day: date, style: str) -> KeyedDate:
    if style == "iso":
        return KeyedDate(0, day.year, day.month, day.day)
    era, year = era_of(day)
    return KeyedDate(era, year, day.month, day.day, compact=style == "era_compact")


def date_style_of(k: KeyedDate) -> str:
    return "iso" if k.era == 0 else ("era_compact" if k.compact else "era")


def render_check_date(rng: Random, day: date) -> str:
    """A birth date the way people type it in a check: ISO or 和暦, sometimes full-width."""
    style = pick(rng, CHECK_DATE_STYLES)
    if style == "iso":
        return day.isoformat()
    era, year = era_of(day)
    if style == "letter":
        return f"{ERA_LETTER[era]}{year}.{day.month}.{day.day}"
    text = f"{ERA_NAME[era]}{year}年{day.month}月{day.day}日"
    return text.translate(FULLWIDTH_DIGITS) if style == "kanji_fullwidth" else text


def six_digits(year: int, month: int, day: int) -> str:
    """YYMMDD, the digits a clerk keyed (the year Gregorian or era)."""
    return f"{year % 100:02d}{month:02d}{day:02d}"


def _digit_slip(a: str, b: str) -> bool:
    """Equal up to one changed digit, one adjacent transposition or a month/day swap."""
    if sum(x != y for x, y in zip(a, b, strict=True)) <= 1:
        return True
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and a[diff[0]] == b[diff[1]]
        and a[diff[1]] == b[diff[0]]
    ):
        return True
    return a[:2] == b[:2] and a[2:4] == b[4:6] and a[4:6] == b[2:4]


def dates_close(birth: date, record: KeyedDate) -> bool:
    """Whether a keyed record date could be a slip of ``birth``: within 366 days, or its six
    YYMMDD digits (Gregorian or era year) equal the true date's up to one mistyped digit, one
    adjacent transposition or a month/day swap (this also covers an era swap: same era-year,
    month and day)."""
    if abs((record.approx_date() - birth).days) <= 366:
        return True
    _, era_year = era_of(birth)
    mine = {
        six_digits(birth.year, birth.month, birth.day),
        six_digits(era_year, birth.month, birth.day),
    }
    theirs = {
        six_digits(record.year, record.month, record.day),
        six_digits(record.gregorian_year(), record.month, record.day),
    }
    return any(_digit_slip(a, b) for a in mine for b in theirs)
