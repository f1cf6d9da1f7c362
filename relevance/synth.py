"""Synthetic unmatched-records extract with ground truth, for measuring owner recall and false
"found" rates per error pattern (DOMAIN.md).

WHY: the real ledger cannot leave the pension service, and a toy set with one clean record per
person measures nothing: the easy records were merged long ago, so what is left is dominated by
keying errors, and blocking on a birth date sees hundreds of different people. This module
builds an extract (CONTRACTS §3) plus existence checks (CONTRACTS §4 request bodies) whose
answers are known:

* ``owner`` checks: the person has one or more records; the expected record is degraded by one
  (sometimes two) error patterns written from DOMAIN.md (never from our own normalisers in
  ``analyzers/``: a generator that shares the folding code under test would only measure that
  the code agrees with itself). ~15 % are clean. ``tags`` name the patterns of the expected
  record; ``owner_record_ids`` lists all of the owner's records (expected first). Other records
  of an owner are always degraded too and keep the same surname basis (maiden or current), so a
  ``found`` answer still mostly reflects the expected record; for strict per-pattern recall
  compare ``expected_record_id`` with the staff endpoint's ``record_ids``.
* hard negatives with no record (``expected_record_id`` None): ``sibling`` (same surname and
  reading as a record's person, another given name, born 1–4 years apart; a married sister
  lists the family surname in ``former_surnames``), ``namesake`` (same given name, gender and
  birth date as a record's person, another surname) and ``random``. ``near_record_id`` names
  the record a hard negative was built next to, for diagnosing false "found" answers.

Negative filter (``plausibly_theirs``): a negative is rejected and redrawn when any record has
(a) the same folded full kana name as any reading of the negative's names — every reading of
its surname kanji (current and former) × every reading of its given-name kanji, folded by
``fold_kana_loose`` (half-width → full-width, hiragana → katakana, small kana enlarged, 濁点 and
半濁点 removed, ヲ → オ, シ ジ ス ズ チ ヂ ツ ヅ merged (old kana, voicing and the シ/ツ
confusion chain them), ソ/ン merged, long vowels and spaces removed) —
or the same kanji name after folding old forms (owners' true current names count as records
here too: a negative identical to an owner is, to the service, that owner), AND (b) a birth
date that is close per ``dates_close``: within 366 days, or its six YYMMDD digits (Gregorian
or era year) equal the negative's up to one mistyped digit, one adjacent transposition or a
month/day swap (this also covers an era swap: same era-year, month and day). Gender is
ignored (it may be miskeyed). The folding is deliberately coarser than any real normaliser so
that no record is plausibly the negative's own; kana typos are not folded (a one-typo
neighbour with the same date is exactly the false "found" the service must learn to avoid).

Density. The ledger holds ~20,000,000 records of people born roughly 1910–1975 (24,106 days),
so an average (birth date, gender) cell holds 20e6 / (24,106 × 2) ≈ 415 records; with the
birth-year curve of ``ledger_year_weight`` (78 % of records born 1920–1960, baby boom 1947–1949
at 1.6× the 1930s level) a 1948 cell holds ≈ 820, a 1930 cell ≈ 500 and a 1912 or 1970 cell
≈ 170–220 (``production_crowd``). ``density="uniform"`` spreads N records over all dates (year
from that curve, day uniform), i.e. N / 48,000 per cell — for N = 200,000 about 4, so blocking
on the date alone would look far more selective than it is. ``density="production"`` keeps the
per-cell crowd of production instead: it takes 3-day runs of consecutive dates (uniformly over
1910–1975, so the ±1-day neighbours are crowded too) until the production crowd of the chosen
dates, Σ 2 × c(year), reaches N, where c(y) = 20e6 × share(y) / (2 × days(y)); each person is
then born on one of those dates with probability ∝ c(year). N = 20,000 records thus sit on
24–27 dates (20,000 / 830 ≈ 24, rounded up to whole runs) and N = 200,000 on ~235–270, each
(date, gender) cell holding about the production crowd of its year. Records whose date was
miskeyed leave the populated dates (era swaps, digit typos, shifts of days); they are a
minority, and the manifest reports the record-weighted crowd — the mean size of the (keyed
date, gender) cell a record sits in (≈ 270–335 for 20,000 records, seeds 1–3 and 11). The
year mix of a small production set is lumpy (few dates); use ``uniform`` to study years.
"""

from __future__ import annotations

import argparse
import bisect
import calendar
import csv
import json
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from random import Random
from typing import Any, Final, Generic, TypeVar

import jaconv
from faker.providers.address.ja_JP import Provider as FakerAddress
from faker.providers.person.ja_JP import Provider as FakerPerson

from relevance import names_data as nd

# --- public constants ---------------------------------------------------------------------------

CLEAN: Final = "clean"
# Pipeline order: a record is degraded in this order (reading before kana edits, styles last).
ERROR_TAGS: Final[tuple[str, ...]] = (
    "alt_reading",
    "small_kana",
    "voicing",
    "long_vowel",
    "old_kana",
    "confusable_kana",
    "kana_typo",
    "kanji_variant",
    "kanji_homophone",
    "maiden_name_given",
    "maiden_name_not_given",
    "era_swap",
    "day_month_swap",
    "date_digit_typo",
    "date_off_days",
    "date_off_one",
    "gender_swapped",
    "halfwidth",
    "no_space",
)
ALL_TAGS: Final[tuple[str, ...]] = (*ERROR_TAGS, CLEAN)
KINDS: Final[tuple[str, ...]] = ("owner", "sibling", "namesake", "random")
RECORD_FIELDS: Final[tuple[str, ...]] = (
    "record_id",
    "name_kana",
    "name_kanji",
    "birth_date",
    "gender",
    "pension_type",
    "employer_name",
    "address",
)

# Relative frequency of each pattern among degraded records. Small kana, readings, typos and
# maiden names dominate what is still unmatched; era codes and swapped genders are rarer.
TAG_WEIGHTS: Final[dict[str, float]] = {
    "alt_reading": 8, "small_kana": 10, "voicing": 8, "long_vowel": 8, "old_kana": 4,
    "confusable_kana": 4, "kana_typo": 8, "kanji_variant": 5, "kanji_homophone": 4,
    "maiden_name_given": 8, "maiden_name_not_given": 6, "era_swap": 4, "day_month_swap": 5,
    "date_digit_typo": 5, "date_off_days": 5, "date_off_one": 5, "gender_swapped": 4,
    "halfwidth": 9, "no_space": 9,
}
# Tags of one group exclude each other on one record.
TAG_GROUPS: Final[dict[str, str]] = {
    "kanji_variant": "kanji", "kanji_homophone": "kanji",
    "maiden_name_given": "maiden", "maiden_name_not_given": "maiden",
    "era_swap": "date", "day_month_swap": "date", "date_digit_typo": "date",
    "date_off_days": "date", "date_off_one": "date",
}
MAIDEN_TAGS: Final = frozenset({"maiden_name_given", "maiden_name_not_given"})
KANJI_TAGS: Final = frozenset({"kanji_variant", "kanji_homophone"})

CLEAN_SHARE: Final = 0.15  # owners whose record is clean: the easy ones were merged long ago
TWO_PATTERN_SHARE: Final = 0.25  # degraded records with two patterns instead of one
SECOND_RECORD_SHARE: Final = 0.10  # owners with one more (degraded) record
KANJI_SHARE: Final = 0.40  # records carrying a kanji name at all (many are kana only)
FEMALE_SHARE: Final = 0.52
NEGATIVE_KIND_SHARES: Final[dict[str, float]] = {"sibling": 0.35, "namesake": 0.35, "random": 0.30}

PRODUCTION_LEDGER_RECORDS: Final = 20_000_000
FIRST_BIRTH: Final = date(1910, 1, 1)
LAST_BIRTH: Final = date(1975, 12, 31)
CLUSTER_DAYS: Final = 3
SURNAME_TAIL_SHARE: Final = 0.45  # share of people whose surname is outside the explicit lists
GIVEN_TAIL_SHARE: Final = 0.30

T = TypeVar("T")


# --- configuration and result -------------------------------------------------------------------


@dataclass
class SynthConfig:
    """What to generate. ``owner_share`` is the share of checks whose person has a record."""

    records: int
    checks: int
    seed: int = 7
    density: str = "production"  # "production" | "uniform" (see the module docstring)
    owner_share: float = 0.5

    def __post_init__(self) -> None:
        if self.records < 1 or self.checks < 0:
            raise ValueError("records must be >= 1 and checks >= 0")
        if self.density not in ("production", "uniform"):
            raise ValueError(f"density must be 'production' or 'uniform', not {self.density!r}")
        if not 0.0 <= self.owner_share <= 1.0:
            raise ValueError("owner_share must be within [0, 1]")


@dataclass
class SynthSet:
    """The extract (``records``), the checks with their truth, and summary ``stats``."""

    config: SynthConfig
    records: list[dict[str, str]]
    checks: list[dict[str, Any]]
    stats: dict[str, Any] = field(default_factory=dict)


# --- weighted sampling --------------------------------------------------------------------------


class WeightedTable(Generic[T]):
    """Items drawn with fixed relative weights in O(log n) (cumulative sums + bisect)."""

    __slots__ = ("_cum", "_total", "items")

    def __init__(self, pairs: Iterable[tuple[T, float]]) -> None:
        self.items: list[T] = []
        self._cum: list[float] = []
        total = 0.0
        for item, weight in pairs:
            if weight <= 0:
                continue
            total += weight
            self.items.append(item)
            self._cum.append(total)
        if not self.items:
            raise ValueError("a weighted table needs at least one positive weight")
        self._total = total

    def draw(self, rng: Random) -> T:
        index = bisect.bisect_right(self._cum, rng.random() * self._total)
        return self.items[min(index, len(self.items) - 1)]


def _pick(rng: Random, weights: dict[str, float]) -> str:
    """Draw a key of a small weight dict (linear scan, for option tables of a few entries)."""
    point = rng.random() * sum(weights.values())
    for key, weight in weights.items():
        point -= weight
        if point < 0:
            return key
    return next(reversed(weights))


# --- kana ---------------------------------------------------------------------------------------

GOJUON_ROWS: Final = (
    "アイウエオ", "カキクケコ", "サシスセソ", "タチツテト", "ナニヌネノ",
    "ハヒフヘホ", "マミムメモ", "ヤ・ユ・ヨ", "ラリルレロ", "ワ・・・ヲ",
)
VOICED: Final = dict(zip("ガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポヴ",
                         "カキクケコサシスセソタチツテトハヒフヘホハヒフヘホウ", strict=True))
VOICEABLE: Final = dict(zip("カキクケコサシスセソタチツテトハヒフヘホ",
                            "ガギグゲゴザジズゼゾダヂヅデドバビブベボ", strict=True))
SMALL_TO_LARGE: Final = dict(zip("ァィゥェォッャュョヮ", "アイウエオツヤユヨワ", strict=True))
OLD_KANA: Final = {"ズ": "ヅ", "ジ": "ヂ", "オ": "ヲ", "ヅ": "ズ", "ヂ": "ジ"}
CONFUSABLE: Final = {"ソ": "ン", "ン": "ソ", "シ": "ツ", "ツ": "シ"}


def _build_vowels() -> dict[str, str]:
    vowels: dict[str, str] = {}
    for row in GOJUON_ROWS:
        for col, kana in enumerate(row):
            if kana != "・":
                vowels[kana] = "aiueo"[col]
    for voiced, plain in VOICED.items():
        vowels[voiced] = vowels[plain]
    for small, large in SMALL_TO_LARGE.items():
        if large in vowels:
            vowels[small] = vowels[large]
    vowels.pop("ッ", None)
    return vowels


VOWEL_OF: Final = _build_vowels()
ROW_COL: Final = {
    kana: (r, c) for r, row in enumerate(GOJUON_ROWS) for c, kana in enumerate(row) if kana != "・"
}


def to_hiragana(katakana: str) -> str:
    return str(jaconv.kata2hira(katakana))


def to_halfwidth(katakana: str) -> str:
    return str(jaconv.z2h(katakana, kana=True, ascii=False, digit=False))


# Conservative fold for the negative filter only (see module docstring). One translate pass, so
# every source maps straight to its final class. Old kana (ヂ = ジ, ヅ = ズ), voicing (ヂ/チ,
# ヅ/ツ, ズ/ス, ジ/シ) and the シ/ツ confusion chain シ ジ ス ズ チ ヂ ツ ヅ ッ into one class;
# ン ソ ゾ into another.
_LOOSE: dict[str, str] = {**SMALL_TO_LARGE, **VOICED}
_LOOSE.update({ch: "シ" for ch in "シジスズチヂツヅッ"})
_LOOSE.update({"ン": "ソ", "ゾ": "ソ", "ヲ": "オ", "ヰ": "イ", "ヱ": "エ"})
_LOOSE_TABLE: Final = str.maketrans(_LOOSE)
_LONG_AFTER: Final = {"ウ": "ou", "オ": "o", "イ": "ei", "ア": "a", "エ": "e"}


def fold_kana_loose(text: str) -> str:
    """Fold a kana name so far that every DOMAIN.md kana variant of it collapses together."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(chr(ord(ch) + 0x60) if "ぁ" <= ch <= "ゖ" else ch for ch in text)
    text = text.translate(_LOOSE_TABLE)
    out: list[str] = []
    for ch in text:
        if ch in " 　ー・":
            continue
        if out and ch in _LONG_AFTER and VOWEL_OF.get(out[-1], "") in _LONG_AFTER[ch]:
            continue
        out.append(ch)
    return "".join(out)


_NEW_FORM: Final = {old: new for new, olds in nd.OLD_FORMS.items() for old in olds}


def fold_kanji(text: str) -> str:
    """Old/variant kanji → standard form, spaces removed (for the negative filter)."""
    return "".join(_NEW_FORM.get(ch, ch) for ch in text if ch not in " 　")


# --- dates --------------------------------------------------------------------------------------

ERA_START: Final = {1: date(1868, 1, 25), 3: date(1912, 7, 30), 5: date(1926, 12, 25),
                    7: date(1989, 1, 8), 9: date(2019, 5, 1)}
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


def render_check_date(rng: Random, day: date) -> str:
    """A birth date the way people type it (CONTRACTS §4): ISO or 和暦, sometimes full-width."""
    style = _pick(rng, CHECK_DATE_STYLES)
    if style == "iso":
        return day.isoformat()
    era, year = era_of(day)
    if style == "letter":
        return f"{ERA_LETTER[era]}{year}.{day.month}.{day.day}"
    text = f"{ERA_NAME[era]}{year}年{day.month}月{day.day}日"
    return text.translate(FULLWIDTH_DIGITS) if style == "kanji_fullwidth" else text


def _six_digits(year: int, month: int, day: int) -> str:
    return f"{year % 100:02d}{month:02d}{day:02d}"


def _digit_slip(a: str, b: str) -> bool:
    """Equal up to one changed digit, one adjacent transposition or a month/day swap."""
    if sum(x != y for x, y in zip(a, b, strict=True)) <= 1:
        return True
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] \
            and a[diff[1]] == b[diff[0]]:
        return True
    return a[:2] == b[:2] and a[2:4] == b[4:6] and a[4:6] == b[2:4]


def dates_close(birth: date, record: KeyedDate) -> bool:
    """Whether a keyed record date could be a slip of ``birth`` (negative filter, see module)."""
    if abs((record.approx_date() - birth).days) <= 366:
        return True
    _, era_year = era_of(birth)
    mine = {_six_digits(birth.year, birth.month, birth.day),
            _six_digits(era_year, birth.month, birth.day)}
    theirs = {_six_digits(record.year, record.month, record.day),
              _six_digits(record.gregorian_year(), record.month, record.day)}
    return any(_digit_slip(a, b) for a in mine for b in theirs)


def ledger_year_weight(year: int) -> float:
    """Relative number of ledger records per birth year (the people with unmatched records):
    thin before 1920 (mostly dead by 2007), flat through the 1920s–1940s with the 1945–46 dip,
    the 1947–1949 baby boom, then falling (fewer lost records after the 1997 basic pension
    number), with the 1966 丙午 dip."""
    if year < 1920:
        return 0.3 + 0.07 * (year - 1910)
    if year <= 1944:
        return 1.0
    special = {1945: 0.85, 1946: 0.9, 1947: 1.6, 1948: 1.65, 1949: 1.6, 1950: 1.3, 1951: 1.15}
    if year in special:
        return special[year]
    if year <= 1960:
        return 1.05 - 0.02 * (year - 1952)
    weight = 0.7 - 0.04 * (year - 1961)
    return weight * 0.75 if year == 1966 else weight


BIRTH_YEARS: Final = tuple(range(FIRST_BIRTH.year, LAST_BIRTH.year + 1))


def production_crowd(year: int) -> float:
    """Records per (birth date, gender) in a 20-million-record ledger, for a birth year."""
    share = ledger_year_weight(year) / sum(ledger_year_weight(y) for y in BIRTH_YEARS)
    days = 366 if calendar.isleap(year) else 365
    return PRODUCTION_LEDGER_RECORDS * share / (2 * days)


class BirthDates:
    """True birth dates of the synthetic people (see the module docstring for the arithmetic)."""

    def __init__(self, rng: Random, records: int, density: str) -> None:
        self.density = density
        self.populated: list[date] = []
        self._years = WeightedTable((y, ledger_year_weight(y)) for y in BIRTH_YEARS)
        self._table: WeightedTable[date] | None = None
        if density == "uniform":
            return
        span = (LAST_BIRTH - FIRST_BIRTH).days + 1
        starts = list(range(0, span - CLUSTER_DAYS + 1, CLUSTER_DAYS))
        rng.shuffle(starts)
        capacity = 0.0
        for start in starts:
            for offset in range(CLUSTER_DAYS):
                day = FIRST_BIRTH + timedelta(days=start + offset)
                self.populated.append(day)
                capacity += 2 * production_crowd(day.year)
            if capacity >= records:
                break
        self.populated.sort()
        self._table = WeightedTable((d, production_crowd(d.year)) for d in self.populated)

    def draw(self, rng: Random, anywhere: bool = False) -> date:
        """A birth date; ``anywhere`` ignores the populated dates (for the rare owner whose error
        pattern needs a date the few populated ones lack, e.g. a day ≤ 12 for a swap)."""
        if self._table is not None and not anywhere:
            return self._table.draw(rng)
        year = self._years.draw(rng)
        days = 366 if calendar.isleap(year) else 365
        return date(year, 1, 1) + timedelta(days=rng.randrange(days))

    def sibling_date(self, rng: Random, birth: date) -> date:
        """A date 1–4 years before or after ``birth`` (a populated one when density allows)."""
        lo, hi = 365, 4 * 366
        if self.populated:
            near = self._window(birth, lo, hi)
            if near:
                return rng.choice(near)
        sign = rng.choice((-1, 1))
        day = birth + timedelta(days=sign * rng.randint(lo, hi))
        return min(max(day, FIRST_BIRTH), LAST_BIRTH)

    def _window(self, birth: date, lo: int, hi: int) -> list[date]:
        out: list[date] = []
        for a, b in ((birth - timedelta(days=hi), birth - timedelta(days=lo)),
                     (birth + timedelta(days=lo), birth + timedelta(days=hi))):
            i = bisect.bisect_left(self.populated, a)
            j = bisect.bisect_right(self.populated, b)
            out.extend(self.populated[i:j])
        return out


# --- names --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NameEntry:
    """One written name (kanji as registered) with every reading it is given and their odds."""

    kanji: str
    kind: str  # "sei" (surname), "M" or "F" (given name)
    weight: float
    readings: tuple[str, ...]
    reading_weights: tuple[float, ...]

    def draw_reading(self, rng: Random) -> str:
        if len(self.readings) == 1:
            return self.readings[0]
        return rng.choices(self.readings, weights=self.reading_weights)[0]


@dataclass(frozen=True)
class NameTables:
    surnames: WeightedTable[NameEntry]
    given: dict[str, WeightedTable[NameEntry]]
    unisex_given: dict[str, WeightedTable[NameEntry]]
    # (kind, reading) -> every entry of that kind that can be read so: homophone kanji.
    by_reading: dict[tuple[str, str], tuple[NameEntry, ...]]


def _entry(kanji: str, kind: str, weight: float,
           readings: Sequence[tuple[str, float]]) -> NameEntry:
    merged: dict[str, float] = {}
    for kana, w in readings:
        merged[kana] = merged.get(kana, 0.0) + w
    return NameEntry(kanji, kind, weight, tuple(merged), tuple(merged.values()))


def _compound_tail(prefixes: str, suffixes: str, kind: str, explicit: set[str],
                   mass: float, skewed: bool) -> list[NameEntry]:
    """PREFIX × SUFFIX names not listed explicitly, scaled to ``mass`` in total.

    With ``skewed`` (surnames) a suffix with two readings gives each compound one main reading
    (85 %) and the other as a rare one, chosen by a fixed rule so the output is reproducible."""
    pre = nd.parse_table(prefixes)
    suf = nd.parse_table(suffixes)
    parts: dict[str, tuple[float, list[tuple[str, float]]]] = {}
    for pi, (pk, pw, preads) in enumerate(pre):
        for si, (sk, sw, sreads) in enumerate(suf):
            kanji = pk + sk
            if kanji in explicit:
                continue
            readings: list[tuple[str, float]] = []
            if skewed and len(sreads) > 1:
                main = (pi * 7 + si * 13) % len(sreads)
                readings = [(preads[0][0] + kana, 85.0 if i == main else 15.0 / (len(sreads) - 1))
                            for i, (kana, _) in enumerate(sreads)]
            else:
                readings = [(preads[0][0] + kana, w) for kana, w in sreads]
            weight, known = parts.get(kanji, (0.0, []))
            parts[kanji] = (weight + pw * sw, known + readings)
    total = sum(w for w, _ in parts.values())
    return [_entry(k, kind, w * mass / total, r) for k, (w, r) in parts.items()]


@cache
def name_tables() -> NameTables:
    """Faker's ja_JP names + the reviewed Showa-era tables + compound tails (see names_data)."""
    surnames: list[NameEntry] = []
    faker_rows = list(FakerPerson.last_name_pairs.items())
    for (kanji, kana, _romaji), count in faker_rows:
        extra = nd.FAKER_EXTRA_READINGS.get(kanji, ())
        surnames.append(_entry(kanji, "sei", float(count), [(kana, 10.0), *extra]))
    base_rank, base_count = len(faker_rows), float(faker_rows[-1][1])
    for i, (kanji, _w, readings) in enumerate(nd.parse_table(nd.SURNAMES_EXTRA)):
        rank = base_rank + 1 + i
        surnames.append(_entry(kanji, "sei", base_count * (rank / base_rank) ** -0.85, readings))
    explicit_mass = sum(e.weight for e in surnames)
    tail_mass = explicit_mass * SURNAME_TAIL_SHARE / (1 - SURNAME_TAIL_SHARE)
    surnames += _compound_tail(nd.SURNAME_PREFIXES, nd.SURNAME_SUFFIXES, "sei",
                               {e.kanji for e in surnames}, tail_mass, skewed=True)

    given: dict[str, list[NameEntry]] = {"M": [], "F": []}
    faker_given = [(p, "F") for p in FakerPerson.first_name_female_pairs] + \
        [(p, "M") for p in FakerPerson.first_name_male_pairs]
    for (kanji, kana, _romaji), gender in faker_given:
        weight = nd.FAKER_GIVEN_WEIGHTS.get((kanji, gender), 0.0)
        if weight > 0:
            extra = nd.FAKER_EXTRA_READINGS.get(kanji, ())
            given[gender].append(_entry(kanji, gender, weight, [(kana, 10.0), *extra]))
    for gender, table in (("F", nd.SHOWA_FEMALE_GIVEN), ("M", nd.SHOWA_MALE_GIVEN)):
        for kanji, weight, readings in nd.parse_table(table):
            given[gender].append(_entry(kanji, gender, weight, readings))
    tails = {"M": (nd.MALE_GIVEN_PREFIXES, nd.MALE_GIVEN_SUFFIXES),
             "F": (nd.FEMALE_GIVEN_PREFIXES, nd.FEMALE_GIVEN_SUFFIXES)}
    for gender, (prefixes, suffixes) in tails.items():
        mass = sum(e.weight for e in given[gender]) * GIVEN_TAIL_SHARE / (1 - GIVEN_TAIL_SHARE)
        given[gender] += _compound_tail(prefixes, suffixes, gender,
                                        {e.kanji for e in given[gender]}, mass, skewed=False)

    main_readings = {g: {e.readings[0] for e in entries} for g, entries in given.items()}
    unisex = main_readings["M"] & main_readings["F"]
    by_reading: dict[tuple[str, str], list[NameEntry]] = {}
    for entry in [*surnames, *given["M"], *given["F"]]:
        for kana in entry.readings:
            by_reading.setdefault((entry.kind, kana), []).append(entry)
    return NameTables(
        surnames=WeightedTable((e, e.weight) for e in surnames),
        given={g: WeightedTable((e, e.weight) for e in es) for g, es in given.items()},
        unisex_given={g: WeightedTable((e, e.weight) for e in es if e.readings[0] in unisex)
                      for g, es in given.items()},
        by_reading={k: tuple(v) for k, v in by_reading.items()},
    )


@dataclass(frozen=True, slots=True)
class Person:
    """Someone born 1910–1975, with the name and date as they really are (the check's truth)."""

    surname: NameEntry
    surname_kana: str
    given: NameEntry
    given_kana: str
    gender: str  # "M" / "F"
    birth: date


def draw_person(rng: Random, names: NameTables, dates: BirthDates, gender: str | None = None,
                unisex: bool = False, anywhere: bool = False) -> Person:
    gender = gender or ("F" if rng.random() < FEMALE_SHARE else "M")
    surname = names.surnames.draw(rng)
    given = (names.unisex_given if unisex else names.given)[gender].draw(rng)
    return Person(surname, surname.draw_reading(rng), given, given.draw_reading(rng), gender,
                  dates.draw(rng, anywhere))


def other_surname(rng: Random, names: NameTables, *avoid: tuple[NameEntry, str]) -> NameEntry:
    """A surname whose kanji and folded readings differ from every ``avoid`` (entry, reading)."""
    kanji = {e.kanji for e, _ in avoid}
    folded = {fold_kana_loose(kana) for e, kana in avoid} | {
        fold_kana_loose(r) for e, _ in avoid for r in e.readings}
    while True:
        entry = names.surnames.draw(rng)
        if entry.kanji not in kanji and not folded & {fold_kana_loose(r) for r in entry.readings}:
            return entry


# --- degradation (error injectors written from DOMAIN.md) ---------------------------------------


@dataclass(frozen=True, slots=True)
class Draft:
    """A record being keyed: the name basis (current or maiden surname) and what was typed."""

    surname: NameEntry
    given: NameEntry
    surname_kana: str
    given_kana: str
    surname_kanji: str
    given_kanji: str
    with_kanji: bool
    keyed_date: KeyedDate
    gender: str
    halfwidth: bool = False
    no_space: bool = False


Injector = Callable[[Random, Draft, Person], Draft | None]


def _set_part(draft: Draft, part: int, text: str) -> Draft:
    return replace(draft, surname_kana=text) if part == 0 else replace(draft, given_kana=text)


def _parts(draft: Draft) -> tuple[str, str]:
    return draft.surname_kana, draft.given_kana


def inject_alt_reading(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """The clerk used another valid reading of the same kanji (幸子 ユキコ for サチコ)."""
    options = [(i, e, kana) for i, (e, kana) in
               enumerate(((draft.surname, draft.surname_kana), (draft.given, draft.given_kana)))
               if len(e.readings) > 1]
    if not options:
        return None
    part, entry, current = rng.choice(options)
    others = [(r, w) for r, w in zip(entry.readings, entry.reading_weights, strict=True)
              if r != current]
    return _set_part(draft, part, rng.choices([r for r, _ in others], [w for _, w in others])[0])


def inject_small_kana(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """Small kana could not be keyed: every small kana became large (キョウコ → キヨウコ)."""
    if not any(ch in SMALL_TO_LARGE for ch in draft.surname_kana + draft.given_kana):
        return None
    table = str.maketrans(SMALL_TO_LARGE)
    return replace(draft, surname_kana=draft.surname_kana.translate(table),
                   given_kana=draft.given_kana.translate(table))


def inject_voicing(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """A 濁点/半濁点 dropped (ナカジマ → ナカシマ) or, less often, added (ヤマサキ → ヤマザキ)."""
    drops = [(p, i) for p, s in enumerate(_parts(draft)) for i, ch in enumerate(s) if ch in VOICED]
    adds = [(p, i) for p, s in enumerate(_parts(draft)) for i, ch in enumerate(s)
            if i > 0 and ch in VOICEABLE]
    if drops and (not adds or rng.random() < 0.7):
        p, i = rng.choice(drops)
        new = VOICED
    elif adds:
        p, i = rng.choice(adds)
        new = VOICEABLE
    else:
        return None
    text = _parts(draft)[p]
    return _set_part(draft, p, text[:i] + new[text[i]] + text[i + 1:])


def inject_long_vowel(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """A long vowel spelt otherwise: ユウコ → ユーコ / ユコ, オオノ → オーノ / オノ,
    イチロウ → イチロー, ケイコ → ケーコ."""
    spots = [(p, i) for p, s in enumerate(_parts(draft)) for i in range(1, len(s))
             if s[i] in "ウオイ" and VOWEL_OF.get(s[i - 1], "") in _LONG_AFTER[s[i]]]
    if not spots:
        return None
    p, i = rng.choice(spots)
    text = _parts(draft)[p]
    if rng.random() < 0.6 or len(text) <= 2:
        return _set_part(draft, p, text[:i] + "ー" + text[i + 1:])
    return _set_part(draft, p, text[:i] + text[i + 1:])


def inject_old_kana(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """四つ仮名 and old kana: シズオ → シヅオ, ジ → ヂ, オ → ヲ (or back)."""
    spots = [(p, i) for p, s in enumerate(_parts(draft)) for i, ch in enumerate(s)
             if ch in OLD_KANA]
    if not spots:
        return None
    p, i = rng.choice(spots)
    text = _parts(draft)[p]
    return _set_part(draft, p, text[:i] + OLD_KANA[text[i]] + text[i + 1:])


def inject_confusable_kana(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """Handwriting read back wrong: ソ ↔ ン, シ ↔ ツ."""
    spots = [(p, i) for p, s in enumerate(_parts(draft)) for i, ch in enumerate(s)
             if ch in CONFUSABLE]
    if not spots:
        return None
    p, i = rng.choice(spots)
    text = _parts(draft)[p]
    return _set_part(draft, p, text[:i] + CONFUSABLE[text[i]] + text[i + 1:])


def _near_kana(rng: Random, kana: str) -> str:
    row, col = ROW_COL[kana]
    if rng.random() < 0.5:
        options = [k for k in GOJUON_ROWS[row] if k not in ("・", kana)]
    else:
        options = [r[col] for r in GOJUON_ROWS if r[col] not in ("・", kana)]
    return rng.choice(options)


def inject_kana_typo(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """One kana substituted by a neighbour in the 50-sound table, dropped, or inserted; never
    one that a loose fold would undo (that would be another pattern, not a typo)."""
    for _ in range(8):
        p = 1 if rng.random() < 0.55 else 0
        text = _parts(draft)[p]
        op = _pick(rng, {"sub": 2.0, "drop": 1.0, "insert": 1.0})
        if op == "sub":
            spots = [i for i, ch in enumerate(text) if ch in ROW_COL]
            if not spots:
                continue
            i = rng.choice(spots)
            new = text[:i] + _near_kana(rng, text[i]) + text[i + 1:]
        elif op == "drop":
            if len(text) < 3:
                continue
            i = rng.randrange(len(text))
            new = text[:i] + text[i + 1:]
        else:
            i = rng.randint(1, len(text))
            new = text[:i] + rng.choice([k for k in ROW_COL if k not in "ヲ"]) + text[i:]
        if fold_kana_loose(new) != fold_kana_loose(text):
            return _set_part(draft, p, new)
    return None


def inject_kanji_variant(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """Kanji keyed in old / variant forms (高橋 → 髙橋, 渡辺 → 渡邊, 吉田 → 𠮷田): one
    character, or every one that has an old form (a clerk copying an old koseki)."""
    spots = [(p, i) for p, text in enumerate((draft.surname_kanji, draft.given_kanji))
             for i, ch in enumerate(text) if ch in nd.OLD_FORMS]
    if not spots:
        return None
    chosen = spots if rng.random() < 0.5 else [rng.choice(spots)]
    parts = [list(draft.surname_kanji), list(draft.given_kanji)]
    for p, i in chosen:
        parts[p][i] = rng.choice(nd.OLD_FORMS[parts[p][i]])
    return replace(draft, surname_kanji="".join(parts[0]), given_kanji="".join(parts[1]),
                   with_kanji=True)


def inject_kanji_homophone(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """Another kanji with the same reading (恵子 → 啓子, 伊藤 → 伊東); the kana stay right."""
    names = name_tables()
    options: list[tuple[int, list[NameEntry]]] = []
    for p, (entry, kana) in enumerate(((draft.surname, draft.surname_kana),
                                       (draft.given, draft.given_kana))):
        others = [e for e in names.by_reading.get((entry.kind, kana), ()) if e.kanji != entry.kanji]
        if others:
            options.append((p, others))
    if not options:
        return None
    p, others = rng.choice(options)
    chosen = rng.choices(others, weights=[e.weight for e in others])[0]
    if p == 0:
        return replace(draft, surname_kanji=chosen.kanji, with_kanji=True)
    return replace(draft, given_kanji=chosen.kanji, with_kanji=True)


def inject_nothing(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """Maiden names are chosen with the name basis (see make_owner), not injected afterwards."""
    return draft


def _date_style_of(k: KeyedDate) -> str:
    return "iso" if k.era == 0 else ("era_compact" if k.compact else "era")


def inject_era_swap(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """Era code keyed wrong: 昭和13年 ↔ 大正13年 — same era-year, month and day (era code form)."""
    k = draft.keyed_date
    if k.era == 0:
        k = keyed(person.birth, "era_compact" if rng.random() < 0.4 else "era")
    if k.era not in ERA_SWAP:
        return None
    return replace(draft, keyed_date=replace(k, era=ERA_SWAP[k.era]))


def inject_day_month_swap(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """Month and day swapped (03-04 ↔ 04-03): only where the swap is still a month."""
    k = draft.keyed_date
    if k.day > 12 or k.day == k.month:
        return None
    return replace(draft, keyed_date=replace(k, month=k.day, day=k.month))


def inject_date_digit_typo(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """One digit of YYMMDD mistyped; the result may be impossible (2月30日), month stays 1–12
    and day 1–31 as the keying screens checked that much."""
    k = draft.keyed_date
    digits = _six_digits(k.year, k.month, k.day)
    for _ in range(30):
        i = rng.randrange(6)
        new_digit = rng.choice([d for d in "0123456789" if d != digits[i]])
        typed = digits[:i] + new_digit + digits[i + 1:]
        yy, mm, dd = int(typed[:2]), int(typed[2:4]), int(typed[4:])
        if not (1 <= mm <= 12 and 1 <= dd <= 31) or (k.era != 0 and yy == 0):
            continue
        year = yy if k.era != 0 else k.year - k.year % 100 + yy
        return replace(draft, keyed_date=replace(k, year=year, month=mm, day=dd))
    return None


def _shift(draft: Draft, person: Person, days: int) -> Draft:
    return replace(draft, keyed_date=keyed(person.birth + timedelta(days=days),
                                           _date_style_of(draft.keyed_date)))


def inject_date_off_days(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """The declared date differs from the koseki date by 2–20 days (1 day is date_off_one)."""
    return _shift(draft, person, rng.choice((-1, 1)) * rng.randint(2, 20))


def inject_date_off_one(rng: Random, draft: Draft, person: Person) -> Draft | None:
    return _shift(draft, person, rng.choice((-1, 1)))


def inject_gender_swapped(rng: Random, draft: Draft, person: Person) -> Draft | None:
    return replace(draft, gender="F" if draft.gender == "M" else "M")


def inject_halfwidth(rng: Random, draft: Draft, person: Person) -> Draft | None:
    return replace(draft, halfwidth=True)


def inject_no_space(rng: Random, draft: Draft, person: Person) -> Draft | None:
    return replace(draft, no_space=True)


INJECTORS: Final[dict[str, Injector]] = {
    "alt_reading": inject_alt_reading,
    "small_kana": inject_small_kana,
    "voicing": inject_voicing,
    "long_vowel": inject_long_vowel,
    "old_kana": inject_old_kana,
    "confusable_kana": inject_confusable_kana,
    "kana_typo": inject_kana_typo,
    "kanji_variant": inject_kanji_variant,
    "kanji_homophone": inject_kanji_homophone,
    "maiden_name_given": inject_nothing,
    "maiden_name_not_given": inject_nothing,
    "era_swap": inject_era_swap,
    "day_month_swap": inject_day_month_swap,
    "date_digit_typo": inject_date_digit_typo,
    "date_off_days": inject_date_off_days,
    "date_off_one": inject_date_off_one,
    "gender_swapped": inject_gender_swapped,
    "halfwidth": inject_halfwidth,
    "no_space": inject_no_space,
}
_TAG_TABLE: Final = WeightedTable(TAG_WEIGHTS.items())
_TAG_ORDER: Final = {tag: i for i, tag in enumerate(ERROR_TAGS)}


def draw_error_tags(rng: Random, first: str | None = None,
                    exclude: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """One (sometimes two) compatible error patterns, in pipeline order."""
    tags = [first or _draw_tag(rng, exclude)]
    if rng.random() < TWO_PATTERN_SHARE:
        for _ in range(20):
            extra = _draw_tag(rng, exclude)
            group = TAG_GROUPS.get(extra)
            if extra not in tags and (group is None or group != TAG_GROUPS.get(tags[0])):
                tags.append(extra)
                break
    return tuple(sorted(tags, key=_TAG_ORDER.__getitem__))


def _draw_tag(rng: Random, exclude: frozenset[str]) -> str:
    while True:
        tag = _TAG_TABLE.draw(rng)
        if tag not in exclude:
            return tag


def apply_tags(rng: Random, draft: Draft, person: Person, tags: Sequence[str],
               strict: bool) -> Draft | None:
    """Run the injectors; ``strict``: None when one does not apply, else skip it."""
    for tag in tags:
        if tag == CLEAN:
            continue
        result = INJECTORS[tag](rng, draft, person)
        if result is None:
            if strict:
                return None
            continue
        draft = result
    return draft


# --- records ------------------------------------------------------------------------------------


def base_draft(rng: Random, person: Person, surname: NameEntry, surname_kana: str) -> Draft:
    """The record as keyed without errors, in a random date style, kana-only ~60 % of the time."""
    return Draft(surname=surname, given=person.given, surname_kana=surname_kana,
                 given_kana=person.given_kana, surname_kanji=surname.kanji,
                 given_kanji=person.given.kanji, with_kanji=rng.random() < KANJI_SHARE,
                 keyed_date=keyed(person.birth, _pick(rng, RECORD_DATE_STYLES)),
                 gender=person.gender)


@dataclass(frozen=True)
class Places:
    """Where people lived: reviewed Showa-era (prefecture, city) pairs + Faker's town names.
    (Faker's ja_JP cities are not paired with their prefectures, so they are not used.)"""

    cities: tuple[tuple[str, str], ...]
    towns: tuple[str, ...]


@cache
def places() -> Places:
    return Places(cities=nd.SHOWA_CITIES, towns=tuple(FakerAddress.towns))


LEGAL_WEIGHTS: Final = {"(株)": 30.0, "（株）": 10.0, "㈱": 10.0, "株式会社": 20.0,
                        "(有)": 10.0, "有限会社": 8.0, "": 12.0}


def employer_name(rng: Random, names: NameTables, shipping: bool = False) -> str:
    """A Showa-era employer as keyed: family business or company, legal form before or after."""
    if shipping:
        body = rng.choice(nd.COMPANY_STEMS) + rng.choice(nd.SHIPPING_INDUSTRIES)
    elif rng.random() < 0.55:
        body = names.surnames.draw(rng).kanji + rng.choice(nd.FAMILY_TRADES)
    else:
        body = rng.choice(nd.COMPANY_STEMS) + rng.choice(nd.COMPANY_INDUSTRIES)
    legal = _pick(rng, LEGAL_WEIGHTS)
    return legal + body if rng.random() < 0.6 else body + legal


def typed_employer(rng: Random, keyed_name: str) -> str:
    """How a person remembers the employer: often without the legal form."""
    body = keyed_name
    for legal in sorted((k for k in LEGAL_WEIGHTS if k), key=len, reverse=True):
        body = body.replace(legal, "")
    roll = rng.random()
    return body if roll < 0.5 else ("株式会社" + body if roll < 0.7 else keyed_name)


def address_at_time(rng: Random) -> str:
    pref, city = rng.choice(places().cities)
    town = rng.choice(places().towns)
    return f"{pref}{city}{town}{rng.randint(1, 9)}丁目{rng.randint(1, 40)}番地"


def typed_address(rng: Random, keyed_address: str) -> str:
    """A remembered address: often only prefecture and city."""
    if rng.random() < 0.4:
        return keyed_address
    for pref, city in places().cities:
        if keyed_address.startswith(pref + city):
            return pref + city
    return keyed_address


def render_record(rng: Random, draft: Draft, pension_type: str,
                  employer: str, address: str) -> dict[str, str]:
    """The CONTRACTS §3 record (record_id assigned later, after shuffling)."""
    if draft.halfwidth:
        sep = "" if draft.no_space else " "
        kana = to_halfwidth(draft.surname_kana) + sep + to_halfwidth(draft.given_kana)
    else:
        sep = "" if draft.no_space else ("　" if rng.random() < 0.6 else " ")
        kana = draft.surname_kana + sep + draft.given_kana
    kanji = ""
    if draft.with_kanji:
        kanji = draft.surname_kanji + _pick(rng, {"　": 7.0, "": 2.0, " ": 1.0}) + draft.given_kanji
    codes = ("1", "2") if rng.random() < 0.7 else ("M", "F")
    return {
        "record_id": "",
        "name_kana": kana,
        "name_kanji": kanji,
        "birth_date": draft.keyed_date.render(),
        "gender": codes[0] if draft.gender == "M" else codes[1],
        "pension_type": pension_type,
        "employer_name": employer,
        "address": address,
    }


def record_for(rng: Random, names: NameTables, draft: Draft,
               pension_type: str | None = None) -> dict[str, str]:
    kind = pension_type or _pick(rng, {"kosei": 65.0, "kokumin": 30.0, "senin": 5.0})
    employer = employer_name(rng, names, shipping=kind == "senin") if kind != "kokumin" else ""
    address = address_at_time(rng) if kind == "kokumin" else ""
    return render_record(rng, draft, kind, employer, address)


# --- checks -------------------------------------------------------------------------------------


def typed_kana(katakana: str, style: str) -> str:
    if style == "hira":
        return to_hiragana(katakana)
    return to_halfwidth(katakana) if style == "half" else katakana


def check_request(rng: Random, person: Person, *, former: Sequence[tuple[NameEntry, str]] = (),
                  force_kanji: bool = False,
                  reference: dict[str, str] | None = None) -> dict[str, Any]:
    """The CONTRACTS §4 body a person types: correct modern kana in hiragana or katakana
    (sometimes half-width), kanji sometimes, the date in one of the accepted formats."""
    style = _pick(rng, {"hira": 55.0, "kata": 40.0, "half": 5.0})
    body: dict[str, Any] = {
        "surname_kana": typed_kana(person.surname_kana, style),
        "given_name_kana": typed_kana(person.given_kana, style),
    }
    if force_kanji or rng.random() < 0.6:
        body["surname_kanji"] = person.surname.kanji
        body["given_name_kanji"] = person.given.kanji
    if former:
        body["former_surnames"] = [
            {"kana": typed_kana(kana, style), **({"kanji": e.kanji} if rng.random() < 0.7
                                                      else {})}
            for e, kana in former]
    body["birth_date"] = render_check_date(rng, person.birth)
    body["gender"] = person.gender
    if reference:
        body["reference"] = reference
    return body


def _reference_from(rng: Random, record: dict[str, str]) -> dict[str, str]:
    if record["employer_name"]:
        return {"employer_name": typed_employer(rng, record["employer_name"])}
    return {"address": typed_address(rng, record["address"])}


@dataclass
class _Owner:
    person: Person
    as_recorded: Person  # the person under the surname the records carry (maiden or current)
    tags: tuple[str, ...]
    records: list[dict[str, str]]
    drafts: list[Draft]
    request: dict[str, Any]


def make_owner(rng: Random, names: NameTables, dates: BirthDates, first: str | None) -> _Owner:
    """A person with one or more records; the first is degraded by the tags (or clean)."""
    tags: tuple[str, ...] = (CLEAN,) if first == CLEAN else draw_error_tags(rng, first)
    for attempt in range(400):
        if attempt == 200 and len(tags) > 1:  # an unlucky pair: keep the forced/first pattern
            tags = (first,) if first else tags[:1]
        maiden = bool(MAIDEN_TAGS.intersection(tags))
        person = draw_person(rng, names, dates, gender="F" if maiden else None,
                             unisex="gender_swapped" in tags and rng.random() < 0.5,
                             anywhere=attempt >= 300)
        basis, basis_kana = person.surname, person.surname_kana
        if maiden:
            basis = other_surname(rng, names, (person.surname, person.surname_kana))
            basis_kana = basis.draw_reading(rng)
        draft = apply_tags(rng, base_draft(rng, person, basis, basis_kana), person, tags,
                           strict=True)
        if draft is not None:
            break
    else:
        raise RuntimeError(f"no person fits the error patterns {tags}")
    pension = "kosei" if maiden else None
    records = [record_for(rng, names, draft, pension)]
    drafts = [draft]
    if rng.random() < SECOND_RECORD_SHARE:
        for _ in range(10):
            extra_tags = draw_error_tags(rng, exclude=MAIDEN_TAGS | {CLEAN})
            extra = apply_tags(rng, base_draft(rng, person, basis, basis_kana), person,
                               extra_tags, strict=True)
            if extra is not None:
                drafts.append(extra)
                records.append(record_for(rng, names, extra, pension))
                break
    former: list[tuple[NameEntry, str]] = []
    if "maiden_name_given" in tags:
        former.append((basis, basis_kana))
    elif person.gender == "F" and not maiden and rng.random() < 0.10:
        other = other_surname(rng, names, (person.surname, person.surname_kana))
        former.append((other, other.draw_reading(rng)))
    reference: dict[str, str] | None = None
    if "maiden_name_not_given" in tags:
        if rng.random() < 0.5:
            reference = {"employer_name": typed_employer(rng, records[0]["employer_name"])}
    elif rng.random() < 0.3:
        reference = _reference_from(rng, records[0])
    request = check_request(rng, person, former=former, reference=reference,
                            force_kanji=bool(KANJI_TAGS.intersection(tags)))
    as_recorded = replace(person, surname=basis, surname_kana=basis_kana)
    return _Owner(person, as_recorded, tags, records, drafts, request)


# --- negatives ----------------------------------------------------------------------------------


class RecordIndex:
    """Loose-folded kana and kanji names of every record → their keyed dates (negative filter)."""

    def __init__(self) -> None:
        self.kana: dict[str, list[KeyedDate]] = {}
        self.kanji: dict[str, list[KeyedDate]] = {}

    def add(self, record: dict[str, str], keyed_date: KeyedDate) -> None:
        self.kana.setdefault(fold_kana_loose(record["name_kana"]), []).append(keyed_date)
        if record["name_kanji"]:
            self.kanji.setdefault(fold_kanji(record["name_kanji"]), []).append(keyed_date)

    def add_identity(self, person: Person) -> None:
        """An owner's true current name: a negative identical to it would be, to the service,
        the owner herself (her record may be under her maiden name)."""
        when = keyed(person.birth, "iso")
        for kana in (s + g for s in person.surname.readings for g in person.given.readings):
            self.kana.setdefault(fold_kana_loose(kana), []).append(when)
        key = fold_kanji(person.surname.kanji + person.given.kanji)
        self.kanji.setdefault(key, []).append(when)


def plausibly_theirs(index: RecordIndex, surnames: Sequence[NameEntry], given: NameEntry,
                     birth: date) -> bool:
    """Whether some record could be this person's (module docstring: the negative filter)."""
    for surname in surnames:
        keys = {fold_kana_loose(s + g) for s in surname.readings for g in given.readings}
        for key in keys:
            if any(dates_close(birth, k) for k in index.kana.get(key, ())):
                return True
        kanji_key = fold_kanji(surname.kanji + given.kanji)
        if any(dates_close(birth, k) for k in index.kanji.get(kanji_key, ())):
            return True
    return False


@dataclass
class _Negative:
    request: dict[str, Any]
    near: int | None  # index of the record it was built next to


def make_negative(rng: Random, kind: str, names: NameTables, dates: BirthDates,
                  people: Sequence[tuple[Person, int]], index: RecordIndex) -> _Negative | None:
    """One hard negative of ``kind``, or None when the draw is plausibly someone's record."""
    near: int | None = None
    former: list[tuple[NameEntry, str]] = []
    if kind == "random":
        person = draw_person(rng, names, dates)
    else:
        source, near = rng.choice(people)
        if kind == "sibling":
            gender = "F" if rng.random() < FEMALE_SHARE else "M"
            given = names.given[gender].draw(rng)
            given_kana = given.draw_reading(rng)
            if fold_kana_loose(given_kana) == fold_kana_loose(source.given_kana):
                return None
            person = Person(source.surname, source.surname_kana, given, given_kana, gender,
                            dates.sibling_date(rng, source.birth))
            if gender == "F" and rng.random() < 0.5:  # a married sister
                married = other_surname(rng, names, (source.surname, source.surname_kana))
                former.append((source.surname, source.surname_kana))
                person = replace(person, surname=married, surname_kana=married.draw_reading(rng))
        else:
            surname = other_surname(rng, names, (source.surname, source.surname_kana))
            person = replace(source, surname=surname, surname_kana=surname.draw_reading(rng))
    if kind == "random" and person.gender == "F" and rng.random() < 0.15:
        other = other_surname(rng, names, (person.surname, person.surname_kana))
        former.append((other, other.draw_reading(rng)))
    surnames = [person.surname, *(e for e, _ in former)]
    if plausibly_theirs(index, surnames, person.given, person.birth):
        return None
    reference: dict[str, str] | None = None
    if rng.random() < 0.3:
        if rng.random() < 0.65:
            reference = {"employer_name": typed_employer(rng, employer_name(rng, names))}
        else:
            reference = {"address": typed_address(rng, address_at_time(rng))}
    return _Negative(check_request(rng, person, former=former, reference=reference), near)


# --- generation ---------------------------------------------------------------------------------


def _split(total: int, shares: dict[str, float]) -> list[str]:
    """Exactly ``total`` labels in the given proportions (largest remainders)."""
    raw = {k: total * v / sum(shares.values()) for k, v in shares.items()}
    counts = {k: int(v) for k, v in raw.items()}
    short = total - sum(counts.values())
    for k in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)[:short]:
        counts[k] += 1
    return [k for k, n in counts.items() for _ in range(n)]


def generate(config: SynthConfig) -> SynthSet:
    """Build the extract and the checks; the same config always gives the same output."""
    rng = Random(config.seed)
    names = name_tables()
    dates = BirthDates(rng, config.records, config.density)
    n_owners = round(config.checks * config.owner_share)

    # Owners: the plan forces every pattern to appear once when there are enough owners.
    n_clean = round(n_owners * CLEAN_SHARE)
    plan: list[str | None] = [CLEAN] * n_clean
    coverage = list(ERROR_TAGS)
    rng.shuffle(coverage)
    plan += coverage[: n_owners - n_clean]
    plan += [None] * (n_owners - len(plan))
    rng.shuffle(plan)
    owners = [make_owner(rng, names, dates, first) for first in plan]

    records: list[dict[str, str]] = []
    keyed_dates: list[KeyedDate] = []
    people: list[tuple[Person, int]] = []
    for owner in owners:
        people.append((owner.as_recorded, len(records)))
        records += owner.records
        keyed_dates += [d.keyed_date for d in owner.drafts]
    if len(records) > config.records:
        raise ValueError(f"{config.records} records cannot hold the {len(records)} records of "
                         f"{n_owners} owners: ask for more records or fewer checks")

    # Background: everyone else in the ledger, 1–3 records each, degraded like the owners'.
    while len(records) < config.records:
        person = draw_person(rng, names, dates)
        people.append((person, len(records)))
        n = min(int(_pick(rng, {"1": 80.0, "2": 15.0, "3": 5.0})), config.records - len(records))
        for _ in range(n):
            tags = (CLEAN,) if rng.random() < CLEAN_SHARE else draw_error_tags(
                rng, exclude=MAIDEN_TAGS)
            draft = apply_tags(rng, base_draft(rng, person, person.surname, person.surname_kana),
                               person, tags, strict=False)
            assert draft is not None
            records.append(record_for(rng, names, draft))
            keyed_dates.append(draft.keyed_date)

    index = RecordIndex()
    for record, keyed_date in zip(records, keyed_dates, strict=True):
        index.add(record, keyed_date)
    for owner in owners:
        index.add_identity(owner.person)

    negatives: list[tuple[str, _Negative]] = []
    rejected = 0
    for kind in _split(config.checks - n_owners, NEGATIVE_KIND_SHARES):
        for _ in range(200):
            negative = make_negative(rng, kind, names, dates, people, index)
            if negative is not None:
                negatives.append((kind, negative))
                break
            rejected += 1
        else:
            raise RuntimeError(f"no {kind} negative passes the filter")

    # Ids after shuffling, so neither position nor id tells owners from background.
    order = list(range(len(records)))
    rng.shuffle(order)
    shuffled = [records[i] for i in order]
    for n, record in enumerate(shuffled, start=1):
        record["record_id"] = f"R{n:09d}"

    checks: list[dict[str, Any]] = []
    for owner in owners:
        ids = [r["record_id"] for r in owner.records]
        checks.append({"request": owner.request, "expected_record_id": ids[0], "kind": "owner",
                       "tags": list(owner.tags), "owner_record_ids": ids, "near_record_id": None})
    for kind, negative in negatives:
        near = records[negative.near]["record_id"] if negative.near is not None else None
        checks.append({"request": negative.request, "expected_record_id": None, "kind": kind,
                       "tags": [], "owner_record_ids": [], "near_record_id": near})
    rng.shuffle(checks)
    checks = [{"check_id": f"C{n:07d}", **c} for n, c in enumerate(checks, start=1)]

    stats = _stats(config, shuffled, checks, [keyed_dates[i] for i in order], dates, rejected)
    return SynthSet(config=config, records=shuffled, checks=checks, stats=stats)


def _stats(config: SynthConfig, records: Sequence[dict[str, str]],
           checks: Sequence[dict[str, Any]], keyed_dates: Sequence[KeyedDate],
           dates: BirthDates, rejected: int) -> dict[str, Any]:
    cells: Counter[tuple[int, int, int, str]] = Counter()
    for record, k in zip(records, keyed_dates, strict=True):
        gender = "M" if record["gender"] in ("M", "1") else "F"
        cells[(k.gregorian_year(), k.month, k.day, gender)] += 1
    n = len(records)
    tags: Counter[str] = Counter(t for c in checks for t in c["tags"])
    years = Counter(k.gregorian_year() for k in keyed_dates)
    return {
        "records": n,
        "checks": len(checks),
        "kinds": {k: sum(1 for c in checks if c["kind"] == k) for k in KINDS},
        "tags": {t: tags[t] for t in ALL_TAGS},
        "negatives_rejected_by_filter": rejected,
        "density": {
            "mode": config.density,
            "populated_birth_dates": len(dates.populated) or None,
            "date_gender_cells": len(cells),
            "mean_records_per_cell": round(n / len(cells), 2),
            "record_weighted_crowd": round(sum(c * c for c in cells.values()) / n, 2),
            "max_records_per_cell": max(cells.values()),
            "production_mean_per_cell": round(
                PRODUCTION_LEDGER_RECORDS / (((LAST_BIRTH - FIRST_BIRTH).days + 1) * 2), 1),
        },
        "shares": {
            "birth_1920_1960": round(sum(v for y, v in years.items() if 1920 <= y <= 1960) / n, 3),
            "with_kanji": round(sum(1 for r in records if r["name_kanji"]) / n, 3),
            "halfwidth_kana": round(
                sum(1 for r in records if _has_halfwidth(r["name_kana"])) / n, 3),
            "era_coded_dates": round(sum(1 for k in keyed_dates if k.era) / n, 3),
            "impossible_dates": sum(1 for k in keyed_dates if not k.is_real()),
            "impossible_month_days": sum(1 for k in keyed_dates if _no_such_day(k)),
        },
    }


def _no_such_day(k: KeyedDate) -> bool:
    """A day the month does not have (2月30日, 4月31日), as opposed to an era-year slip."""
    return k.day > calendar.monthrange(k.gregorian_year(), k.month)[1]


def _has_halfwidth(text: str) -> bool:
    return any("ｦ" <= ch <= "ﾟ" for ch in text)


# --- output -------------------------------------------------------------------------------------


def write_synth_set(synth: SynthSet, out_dir: Path) -> None:
    """records.jsonl, records.csv (UTF-8, header row), checks.jsonl and manifest.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "records.jsonl").open("w", encoding="utf-8") as fh:
        for record in synth.records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    with (out_dir / "records.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=RECORD_FIELDS)
        writer.writeheader()
        writer.writerows(synth.records)
    with (out_dir / "checks.jsonl").open("w", encoding="utf-8") as fh:
        for check in synth.checks:
            fh.write(json.dumps(check, ensure_ascii=False) + "\n")
    manifest = {"generator": "relevance.synth", "seed": synth.config.seed,
                "config": asdict(synth.config), **synth.stats}
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m relevance.synth", description=__doc__
                                     and __doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--checks", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--density", choices=("production", "uniform"), default="production")
    parser.add_argument("--owner-share", type=float, default=0.5)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    synth = generate(SynthConfig(records=args.records, checks=args.checks, seed=args.seed,
                                 density=args.density, owner_share=args.owner_share))
    write_synth_set(synth, args.out)
    print(f"{len(synth.records)} records, {len(synth.checks)} checks -> {args.out} "
          f"({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
