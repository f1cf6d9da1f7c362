"""Record → index document, through the same key functions the query uses."""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from analyzers.dates import BirthDate
from analyzers.keys import PartKeys, one_edit_keys, record_name_keys
from analyzers.ledger_readings import LedgerReadingCounter
from analyzers.readings import ReadingDictionary
from indexer.sources import Record

STATS_TOP_NAMES = 20000
"""How many of the most frequent surname and given-name keys travel in the index ``_meta``, for
the scorer's frequency adjustment and to tell a real other name from a keying slip (about
0.5 MB; at 20 million records the 20,000th surname still has on the order of a hundred
bearers, so the long tail beyond it counts as rare)."""


def _part(keys: PartKeys) -> dict[str, Any]:
    part: dict[str, Any] = dict(keys.levels)
    if keys.readings:
        part["readings"] = sorted(keys.readings)
    if keys.kanji:
        part["kanji"] = keys.kanji
    return part


@functools.lru_cache(maxsize=1 << 16)
def _birth_fields(birth: BirthDate) -> tuple[str, str | None]:
    """(birth_key, ISO date or None): the same few ten thousand dates recur in every extract
    (the reader shares one BirthDate per keyed value, so this is mostly a lookup)."""
    day = birth.as_date()
    return birth.key, day.isoformat() if day is not None else None


def record_document(record: Record, readings: ReadingDictionary) -> dict[str, Any]:
    """The document stored for one upsert record (fields of ``mappings/records-v2.json``)."""
    assert record.name_kana is not None and record.birth_date is not None
    names = record_name_keys(
        record.name_kana,
        record.name_kanji,
        readings,
        normalized_kana=record.name_kana_normalized,
    )
    birth_key, birth_date = _birth_fields(record.birth_date)
    doc: dict[str, Any] = {
        "record_id": record.record_id,
        "gender": record.gender,
        "birth_key": birth_key,
        "full": _part(names.full),
    }
    deletions = one_edit_keys(names.full.levels["orthographic"])
    if deletions:
        doc["full"]["deletions"] = list(deletions)
    if birth_date is not None:
        doc["birth_date"] = birth_date
    if names.surname is not None and names.given is not None:
        doc["sur"] = _part(names.surname)
        doc["given"] = _part(names.given)
    if names.given_suffixes:
        doc["given_suffixes"] = list(names.given_suffixes)
    if record.pension_type:
        doc["pension_type"] = record.pension_type
    if record.employer_name:
        doc["employer"] = record.employer_name
    if record.address:
        doc["address"] = record.address
    return doc


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
        if "sur" in doc:
            self.surnames[doc["sur"]["orthographic"]] += 1
            self.given_names[doc["given"]["orthographic"]] += 1
            self.readings.add(doc["sur"], doc["given"])

    def as_meta(self, top: int = STATS_TOP_NAMES) -> dict[str, Any]:
        return {
            "name_stats": {
                "total": self.total,
                "surnames": _frequent(self.surnames, top),
                "given_names": _frequent(self.given_names, top),
            },
            **self.readings.as_meta(),
        }
