"""The index's ``_meta`` beyond the mapping version: what a build learns from the extract and
the scorer reads back — name frequency statistics and the readings each kanji was keyed with.

Writer (``NameStatsCollector``, fed every document while the indexer streams) and reader
(``NameStats.from_meta``) live together so that the two sides of the contract cannot drift.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from analyzers.ledger_readings import NO_LEDGER_READINGS, LedgerReadingCounter, LedgerReadings
from analyzers.readings import dictionary_edition
from matching import fields

NAME_STATS_KEY = "name_stats"
DICTIONARY_EDITION_KEY = "dictionary_edition"
"""The reading dictionary that built the index's keys (``analyzers.readings.dictionary_edition``):
the API searches only indices built with its own edition."""

BUILT_AT_KEY = "built_at"
"""When the build of a finished index passed its gates (ISO 8601, UTC): written by the indexer,
exported by the API as ``mochinushi_served_index_build_timestamp_seconds``."""

STATS_TOP_NAMES = 20000
"""How many of the most frequent surname and given-name keys travel in the index ``_meta``, for
the scorer's frequency adjustment and to tell a real other name from a keying slip (about
0.5 MB; at 20 million records the 20,000th surname still has on the order of a hundred
bearers, so the long tail beyond it counts as rare)."""


STATS_MIN_RECORDS = 3
"""A name key is listed only when this many records bear it: the frequency adjustment treats
rarer names alike anyway, and a key borne by one record is not spelled out in ``_meta``."""


def _frequent(counts: Counter[str], top: int) -> dict[str, int]:
    return {key: n for key, n in counts.most_common(top) if n >= STATS_MIN_RECORDS}


@dataclass
class NameStatsCollector:
    """Counts name keys, and the readings each kanji was keyed with, while documents stream past
    (bounded by the number of distinct names)."""

    total: int = 0
    surnames: Counter[str] = field(default_factory=Counter)
    given_names: Counter[str] = field(default_factory=Counter)
    readings: LedgerReadingCounter = field(default_factory=LedgerReadingCounter)

    def add(self, doc: dict[str, Any]) -> None:
        self.total += 1
        if fields.SURNAME in doc:
            self.surnames[doc[fields.SURNAME][fields.ORTHOGRAPHIC]] += 1
            self.given_names[doc[fields.GIVEN][fields.ORTHOGRAPHIC]] += 1
            self.readings.add(doc[fields.SURNAME], doc[fields.GIVEN])

    def as_meta(self, top: int = STATS_TOP_NAMES) -> dict[str, Any]:
        return {
            NAME_STATS_KEY: {
                "total": self.total,
                "surnames": _frequent(self.surnames, top),
                "given_names": _frequent(self.given_names, top),
            },
            **self.readings.as_meta(),
            DICTIONARY_EDITION_KEY: dictionary_edition(),
        }


def _counts(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping) or not all(
        isinstance(key, str) and type(count) is int for key, count in value.items()
    ):
        raise ValueError("name statistics are not counts of name keys")
    return dict(value)


@dataclass(frozen=True)
class NameStats:
    """How often name keys occur in the index (top names only), for the frequency adjustment."""

    total: int = 0
    surnames: Mapping[str, int] = field(default_factory=dict)
    given_names: Mapping[str, int] = field(default_factory=dict)
    rarest_surname: int = 1
    """The count of the rarest listed surname (an upper bound for every unlisted one)."""
    rarest_given_name: int = 1
    ledger_readings: LedgerReadings = NO_LEDGER_READINGS
    """Readings each kanji was keyed with in this index (``analyzers/ledger_readings.py``)."""

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> NameStats:
        """From an index's ``_meta``; ValueError when the statistics are there but malformed."""
        stats = meta.get(NAME_STATS_KEY) or {}
        surnames = _counts(stats.get("surnames", {}))
        given_names = _counts(stats.get("given_names", {}))
        return cls(
            total=int(stats.get("total", 0)),
            surnames=surnames,
            given_names=given_names,
            rarest_surname=min(surnames.values(), default=1),
            rarest_given_name=min(given_names.values(), default=1),
            ledger_readings=LedgerReadings.from_meta(meta),
        )
