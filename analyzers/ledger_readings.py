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
  (サチコ and ユキコ, both 幸子), a scoring level of their own (``co_reading``) — speculative,
  weighed low, never enough for the namesake guard and never applied to whole names, since
  two people called サチコ and ユキコ are usually two people.

A reading must be borne by ``MIN_RECORDS`` records and ``MIN_SHARE`` of its kanji's records, so
one-off keying slips (セツコ keyed セシコ) do not become readings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
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

MAX_PAIRS: Final = 200_000
"""Distinct (kanji, reading) pairs and kanji counted at once during a build (about 270 bytes
each, so about 55 MB at the bound; five times the 20,000 + 20,000 spellings that are kept)."""

META_KEY: Final = "ledger_readings"


Table = list[tuple[str, tuple[str, ...]]]
"""(kanji, readings) pairs, the most frequent kanji first: a list, because ``_meta`` objects come
back from OpenSearch in no particular key order and the order decides which co-readings stay."""


def _co_readings(table: Table) -> Mapping[str, frozenset[str]]:
    """Reading → the other readings of every kanji it is a reading of, most frequent kanji first."""
    co: dict[str, dict[str, None]] = {}
    for _, readings in table:
        for reading in readings:
            others = co.setdefault(reading, {})
            for other in readings:
                if other != reading and len(others) < MAX_CO_READINGS:
                    others[other] = None
    return MappingProxyType({r: frozenset(o) for r, o in co.items() if o})


def _table(value: Any) -> Table:
    """A table as stored in ``_meta``: ``[[kanji, [reading, …]], …]``; ValueError otherwise."""
    if not isinstance(value, list):
        raise ValueError("ledger readings table is not a list")
    table: Table = []
    for entry in value:
        if not (isinstance(entry, list | tuple) and len(entry) == 2):
            raise ValueError("ledger readings entry is not a [kanji, readings] pair")
        kanji, readings = entry
        if not (
            isinstance(kanji, str)
            and isinstance(readings, list | tuple)
            and all(isinstance(r, str) for r in readings)
        ):
            raise ValueError("ledger readings entry has the wrong types")
        table.append((kanji, tuple(readings)))
    return table


@dataclass(frozen=True)
class LedgerReadings:
    """Orthographic reading keys per folded kanji spelling, for surnames and given names."""

    surnames: Mapping[str, frozenset[str]] = field(default_factory=dict)
    given_names: Mapping[str, frozenset[str]] = field(default_factory=dict)
    surname_co: Mapping[str, frozenset[str]] = field(default_factory=dict)
    given_name_co: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_tables(cls, surnames: Table, given_names: Table) -> LedgerReadings:
        return cls(
            MappingProxyType({kanji: frozenset(readings) for kanji, readings in surnames}),
            MappingProxyType({kanji: frozenset(readings) for kanji, readings in given_names}),
            _co_readings(surnames),
            _co_readings(given_names),
        )

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> LedgerReadings:
        """From an index's ``_meta``; empty for an index built before readings were learned.

        Raises ValueError when the tables are there but malformed.
        """
        tables = meta.get(META_KEY) or {}
        if not isinstance(tables, Mapping):
            raise ValueError("ledger readings are not an object")
        return cls.from_tables(
            _table(tables.get("surnames") or []), _table(tables.get("given_names") or [])
        )

    def surname_readings(self, folded_kanji: str) -> frozenset[str]:
        return self.surnames.get(folded_kanji, frozenset())

    def given_name_readings(self, folded_kanji: str) -> frozenset[str]:
        return self.given_names.get(folded_kanji, frozenset())

    def surname_co_readings(self, orthographic: str) -> frozenset[str]:
        return self.surname_co.get(orthographic, frozenset())

    def given_name_co_readings(self, orthographic: str) -> frozenset[str]:
        return self.given_name_co.get(orthographic, frozenset())


NO_LEDGER_READINGS: Final = LedgerReadings()


@dataclass
class _PartCounter:
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(kanji, reading) → records; pruned to its rarest when the counter is full."""
    totals: Counter[str] = field(default_factory=Counter)
    """kanji → records: the denominator of a reading's share. Pruned only below the count being
    dropped, so a kanji that loses its total has lost every one of its pairs with it (a pair
    never outnumbers its kanji) and both count afresh from then on."""

    def add(self, part: Mapping[str, Any]) -> None:
        kanji = part.get("kanji")
        if kanji:
            self.pairs[kanji, part["orthographic"]] += 1
            self.totals[kanji] += 1

    def drop_below(self, count: int) -> None:
        for pair in [pair for pair, n in self.pairs.items() if n < count]:
            del self.pairs[pair]
        for kanji in [kanji for kanji, n in self.totals.items() if n < count]:
            del self.totals[kanji]

    def __len__(self) -> int:
        return len(self.pairs) + len(self.totals)


@dataclass
class LedgerReadingCounter:
    """Counts (kanji, reading) pairs of name parts while documents stream past.

    Memory is bounded by ``max_pairs``: a nightly extract of 20 million records may hold a few
    hundred thousand distinct pairs and kanji, mostly seen once. When the bound is passed, the
    rarest are dropped (count 1, then 2, … until at most half the bound is left). A reading's
    share is taken of every record of its kanji counted over the same stretch, so dropping can
    only under-count a reading, never make one pass: a pair dropped early and frequent later
    still passes if it recurs often enough afterwards.
    """

    surnames: _PartCounter = field(default_factory=_PartCounter)
    given_names: _PartCounter = field(default_factory=_PartCounter)
    max_pairs: int = MAX_PAIRS

    def add(self, surname: Mapping[str, Any], given: Mapping[str, Any]) -> None:
        """One record's ``sur`` and ``given`` document parts (``kanji`` + ``orthographic``)."""
        self.surnames.add(surname)
        self.given_names.add(given)
        if self._pairs() > self.max_pairs:
            below = 2
            while self._pairs() > self.max_pairs // 2:
                self.surnames.drop_below(below)
                self.given_names.drop_below(below)
                below += 1

    def _pairs(self) -> int:
        return len(self.surnames) + len(self.given_names)

    def as_meta(self, top: int = TOP_KANJI) -> dict[str, Any]:
        return {
            META_KEY: {
                "surnames": learned_table(self.surnames.pairs, self.surnames.totals, top),
                "given_names": learned_table(self.given_names.pairs, self.given_names.totals, top),
            }
        }


def learned_table(
    pairs: Counter[tuple[str, str]], totals: Counter[str], top: int = TOP_KANJI
) -> list[tuple[str, list[str]]]:
    """``[(kanji, readings), …]``, the ``top`` most frequent kanji first, each with its readings
    borne by at least ``MIN_RECORDS`` records and ``MIN_SHARE`` of the kanji's (most first)."""
    per_kanji: dict[str, list[tuple[int, str]]] = {}
    for (kanji, reading), count in pairs.items():
        if count >= MIN_RECORDS and count >= MIN_SHARE * totals[kanji]:
            per_kanji.setdefault(kanji, []).append((-count, reading))
    ranked = sorted(per_kanji, key=lambda kanji: (-totals[kanji], kanji))[:top]
    return [(kanji, [reading for _, reading in sorted(per_kanji[kanji])]) for kanji in ranked]
