"""The summary written to manifest.json: counts per kind and pattern, and how crowded the
(birth date, gender) cells are compared with production."""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Sequence
from typing import Any

from relevance.synth.checks import KINDS
from relevance.synth.config import SynthConfig
from relevance.synth.dates import KeyedDate
from relevance.synth.patterns import ALL_TAGS
from relevance.synth.population import BirthDates, production_mean_per_cell


def summarize(
    config: SynthConfig,
    records: Sequence[dict[str, str]],
    checks: Sequence[dict[str, Any]],
    keyed_dates: Sequence[KeyedDate],
    dates: BirthDates,
    rejected: int,
) -> dict[str, Any]:
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
            "production_mean_per_cell": round(production_mean_per_cell(), 1),
        },
        "shares": {
            "birth_1920_1960": round(sum(v for y, v in years.items() if 1920 <= y <= 1960) / n, 3),
            "with_kanji": round(sum(1 for r in records if r["name_kanji"]) / n, 3),
            "halfwidth_kana": round(
                sum(1 for r in records if _has_halfwidth(r["name_kana"])) / n, 3
            ),
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
