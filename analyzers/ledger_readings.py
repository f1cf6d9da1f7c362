"""Readings learned from the ledger itself: the kana that records of the same kanji were keyed with.

SudachiPy knows one or two readings of most names and none of many (正 → タダシ only, 正治 →
マサハル only), while a ledger of millions of people born 1900–1990 holds the readings that
population used: 正 keyed マサシ as well as タダシ. The indexer counts, over records that carry
both kana and kanji for a name part, how often each kanji was keyed with each reading; readings
borne by enough records go into the index's ``_meta`` beside the name statistics, and the query
side uses them two ways:

* a check with kanji: the ledger's readings of that kanji join the dictionary's, so a kana-only
  record keyed マサシ agrees with 正 typed as タダシ at the ``reading`` level;
* a check without kanji: kana that share a kanji with the typed kana are *co-readings*
  (サチコ and ユキコ, both 幸子), compared like composed readings — speculative, weighed low,
  since two people called サチコ and ユキコ are usually two people.

A reading must be borne by ``MIN_RECORDS`` records and ``MIN_SHARE`` of its kanji's records, so
one-off keying slips (セツコ keyed セシコ) do not become readings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

MIN_RECORDS: Final = 3
MIN_SHARE: Final = 0.05
TOP_KANJI: Final = 20000
"""Kanji spellings kept per name part, most frequent first (bounds the ``_meta`` size)."""
MAX_CO_READINGS: Final = 16
"""Co-readings kept per reading, those of the most frequent kanji first (マサコ is 正子, 雅子,
昌子, 政子, 和子…: beyond a handful, a co-reading says nothing)."""

MAX_PAIRS: Final = 400_000
"""Distinct (kanji, reading) pairs counted at once during a build (about 270 bytes each, so
about 110 MB at the bound)."""

META_KEY: Final = "ledger_readings"


def _co_readings(table: Mapping[str, tuple[str, ...]]) -> Mapping[str, frozenset[str]]:
    """Reading → the other readings of every kanji it is a reading of (table order = frequency)."""
    co: dict[str, dict[str, None]] = {}
    for readings in table.values():
        for reading in readings:
            others = co.setdefault(reading, {})
            for other in readings:
                if other != reading and len(others) < MAX_CO_READINGS:
                    others[other] = None
    return MappingProxyType({r: frozenset(o) for r, o in co.items() if o})


@dataclass(frozen=True)
class LedgerReadings:
    """Orthographic reading keys per folded kanji spelling, for surnames and given names."""

    surnames: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    given_names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    surname_co: Mapping[str, frozenset[str]] = field(default_factory=dict)
    given_name_co: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_tables(
        cls, surnames: Mapping[str, Iterable[str]], given_names: Mapping[str, Iterable[str]]
    ) -> LedgerReadings:
        sur = {kanji: tuple(readings) for kanji, readings in surnames.items()}
        given = {kanji: tuple(readings) for kanji, readings in given_names.items()}
        return cls(sur, given, _co_readings(sur), _co_readings(given))

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> LedgerReadings:
        """From an index's ``_meta``; empty for an index built before readings were learned."""
        tables = meta.get(META_KEY) or {}
        return cls.from_tables(tables.get("surnames") or {}, tables.get("given_names") or {})

    def surname_readings(self, folded_kanji: str) -> frozenset[str]:
        return frozenset(self.surnames.get(folded_kanji, ()))

    def given_name_readings(self, folded_kanji: str) -> frozenset[str]:
        return frozenset(self.given_names.get(folded_kanji, ()))

    def surname_co_readings(self, orthographic: str) -> frozenset[str]:
        return self.surname_co.get(orthographic, frozenset())

    def given_name_co_readings(self, orthographic: str) -> frozenset[str]:
        return self.given_name_co.get(orthographic, frozenset())


NO_LEDGER_READINGS: Final = LedgerReadings()


@dataclass
class LedgerReadingCounter:
    """Counts (kanji, reading) pairs of name parts while documents stream past.

    Memory is bounded by ``max_pairs``: a nightly extract of 20 million records may hold a few
    hundred thousand distinct pairs, mostly seen once. When the bound is passed, the rarest
    pairs are dropped (count 1, then 2, … until at most half the bound is left). That can only
    under-count, never invent a reading: a pair dropped early and frequent later still passes
    if it recurs often enough afterwards.
    """

    surnames: Counter[tuple[str, str]] = field(default_factory=Counter)
    given_names: Counter[tuple[str, str]] = field(default_factory=Counter)
    max_pairs: int = MAX_PAIRS

    def add(self, surname: Mapping[str, Any], given: Mapping[str, Any]) -> None:
        """One record's ``sur`` and ``given`` document parts (``kanji`` + ``orthographic``)."""
        if "kanji" in surname:
            self.surnames[surname["kanji"], surname["orthographic"]] += 1
        if "kanji" in given:
            self.given_names[given["kanji"], given["orthographic"]] += 1
        if len(self.surnames) + len(self.given_names) > self.max_pairs:
            self._drop_rarest()

    def _drop_rarest(self) -> None:
        below = 2
        while len(self.surnames) + len(self.given_names) > self.max_pairs // 2:
            for counter in (self.surnames, self.given_names):
                for pair in [pair for pair, count in counter.items() if count < below]:
                    del counter[pair]
            below += 1

    def as_meta(self, top: int = TOP_KANJI) -> dict[str, Any]:
        return {
            META_KEY: {
                "surnames": learned_table(self.surnames, top),
                "given_names": learned_table(self.given_names, top),
            }
        }


def learned_table(pairs: Counter[tuple[str, str]], top: int = TOP_KANJI) -> dict[str, list[str]]:
    """{kanji: readings, most frequent first} for the ``top`` most frequent kanji, keeping the
    readings borne by at least ``MIN_RECORDS`` records and ``MIN_SHARE`` of the kanji's."""
    per_kanji: dict[str, Counter[str]] = {}
    for (kanji, reading), count in pairs.items():
        per_kanji.setdefault(kanji, Counter())[reading] += count
    ranked = sorted(per_kanji.items(), key=lambda item: (-item[1].total(), item[0]))
    table: dict[str, list[str]] = {}
    for kanji, readings in ranked:
        total = readings.total()
        kept = [
            reading
            for reading, count in sorted(readings.items(), key=lambda rc: (-rc[1], rc[0]))
            if count >= MIN_RECORDS and count >= MIN_SHARE * total
        ]
        if kept:
            table[kanji] = kept
            if len(table) >= top:
                break
    return table
