"""Record → index document, through the same key functions the query uses."""

from __future__ import annotations

import functools
from typing import Any

from analyzers.dates import BirthDate
from analyzers.keys import PartKeys, one_edit_keys, record_name_keys
from analyzers.readings import ReadingDictionary
from indexer.sources import Record
from matching import fields


def _part(keys: PartKeys) -> dict[str, Any]:
    part: dict[str, Any] = dict(keys.levels)
    if keys.readings:
        part[fields.READINGS] = sorted(keys.readings)
    if keys.kanji:
        part[fields.KANJI] = keys.kanji
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
        fields.RECORD_ID: record.record_id,
        fields.GENDER: record.gender,
        fields.BIRTH_KEY: birth_key,
        fields.FULL: _part(names.full),
    }
    deletions = one_edit_keys(names.full.levels[fields.ORTHOGRAPHIC])
    if deletions:
        doc[fields.FULL][fields.DELETIONS] = list(deletions)
    if birth_date is not None:
        doc[fields.BIRTH_DATE] = birth_date
    if names.surname is not None and names.given is not None:
        doc[fields.SURNAME] = _part(names.surname)
        doc[fields.GIVEN] = _part(names.given)
    if names.given_suffixes:
        doc[fields.GIVEN_SUFFIXES] = list(names.given_suffixes)
    if record.pension_type:
        doc[fields.PENSION_TYPE] = record.pension_type
    if record.employer_name:
        doc[fields.EMPLOYER] = record.employer_name
    if record.address:
        doc[fields.ADDRESS] = record.address
    return doc
