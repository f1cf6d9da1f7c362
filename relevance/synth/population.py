"""The true birth dates of the synthetic people: the ledger's birth-year curve and the
per-date crowd of production (``BirthDates``).

The ledger holds ~20,000,000 records of people born roughly 1910–1975 (24,106 days), so an
average (birth date, gender) cell holds 20e6 / (24,106 × 2) ≈ 415 records; with the birth-year
curve of ``ledger_year_weight`` (78 % of records born 1920–1960, baby boom 1947–1949 at 1.6×
the 1930s level) a 1948 cell holds ≈ 820, a 1930 cell ≈ 500 and a 1912 or 1970 cell ≈ 170–220
(``production_crowd``).

``density="uniform"`` spreads N records over all dates (year from that curve, day uniform),
i.e. N / 48,000 per cell — for N = 200,000 about 4, so blocking on the date alone would look
far more selective than it is. ``density="production"`` keeps the per-cell crowd of production
instead: it takes 3-day runs of consecutive dates (uniformly over 1910–1975, so the ±1-day
neighbours are crowded too) until the production crowd of the chosen dates, Σ 2 × c(year),
reaches N, where c(y) = 20e6 × share(y) / (2 × days(y)); each person is then born on one of
those dates with probability ∝ c(year). N = 20,000 records thus sit on 24–27 dates (20,000 /
830 ≈ 24, rounded up to whole runs) and N = 200,000 on ~235–270, each (date, gender) cell
holding about the production crowd of its year. Records whose date was miskeyed leave the
populated dates (era swaps, digit typos, shifts of days); they are a minority, and the
manifest reports the record-weighted crowd — the mean size of the (keyed date, gender) cell a
record sits in (≈ 270–335 for 20,000 records, seeds 1–3 and 11). The year mix of a small
production set is lumpy (few dates); use ``uniform`` to study years.
"""

from __future__ import annotations

import bisect
import calendar
from datetime import date, timedelta
from random import Random
from typing import Final

from relevance.synth.sampling import WeightedTable

PRODUCTION_LEDGER_RECORDS: Final = 20_000_000
FIRST_BIRTH: Final = date(1910, 1, 1)
LAST_BIRTH: Final = date(1975, 12, 31)
CLUSTER_DAYS: Final = 3
BIRTH_YEARS: Final = tuple(range(FIRST_BIRTH.year, LAST_BIRTH.year + 1))


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


def production_crowd(year: int) -> float:
    """Records per (birth date, gender) in a 20-million-record ledger, for a birth year."""
    share = ledger_year_weight(year) / sum(ledger_year_weight(y) for y in BIRTH_YEARS)
    days = 366 if calendar.isleap(year) else 365
    return PRODUCTION_LEDGER_RECORDS * share / (2 * days)


def production_mean_per_cell() -> float:
    """Records per (birth date, gender) cell of production, averaged over all birth dates."""
    return PRODUCTION_LEDGER_RECORDS / (((LAST_BIRTH - FIRST_BIRTH).days + 1) * 2)


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
        for a, b in (
            (birth - timedelta(days=hi), birth - timedelta(days=lo)),
            (birth + timedelta(days=lo), birth + timedelta(days=hi)),
        ):
            i = bisect.bisect_left(self.populated, a)
            j = bisect.bisect_right(self.populated, b)
            out.extend(self.populated[i:j])
        return out
