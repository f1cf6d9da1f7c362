"""Names of the index document's fields, spelled once.

The indexer writes these fields, the candidate query searches them and the scorer reads them
back from ``_source``; a test holds this module against the mapping JSON so that a field
renamed in one place cannot silently match nothing in another.
"""

from __future__ import annotations

from typing import Final

RECORD_ID: Final = "record_id"
GENDER: Final = "gender"
BIRTH_KEY: Final = "birth_key"
"""The birth date as keyed, ``YYYYMMDD`` digits (impossible dates such as 19380230 kept)."""
BIRTH_DATE: Final = "birth_date"
"""The keyed birth date as a real date, absent when the keyed one is impossible."""
SURNAME: Final = "sur"
GIVEN: Final = "given"
FULL: Final = "full"
"""Surname and given name together: the only name part of a record keyed without a space."""
GIVEN_SUFFIXES: Final = "given_suffixes"
PENSION_TYPE: Final = "pension_type"
EMPLOYER: Final = "employer"
ADDRESS: Final = "address"

NAME_PARTS: Final = (SURNAME, GIVEN, FULL)

# Sub-fields of every name part.
EXACT: Final = "exact"
ORTHOGRAPHIC: Final = "orthographic"
VOICELESS: Final = "voiceless"
CONFUSABLE: Final = "confusable"
READINGS: Final = "readings"
KANJI: Final = "kanji"
DELETIONS: Final = "deletions"
"""Only under ``full``: every string left when one kana is removed (one-slip lookups)."""

KANA_LEVELS: Final = (EXACT, ORTHOGRAPHIC, VOICELESS, CONFUSABLE)
"""The kana fold levels, as ``analyzers.keys.PartKeys.levels`` names them."""
PART_SUBFIELDS: Final = (*KANA_LEVELS, READINGS, KANJI)

REFERENCE_FIELDS: Final = (EMPLOYER, ADDRESS)


def sub(part: str, subfield: str) -> str:
    """The dotted path of a name part's sub-field (``sur.orthographic``)."""
    return f"{part}.{subfield}"


def document_fields() -> frozenset[str]:
    """Every dotted field path a document may carry."""
    parts = {sub(part, s) for part in NAME_PARTS for s in PART_SUBFIELDS}
    top = {
        RECORD_ID,
        GENDER,
        BIRTH_KEY,
        BIRTH_DATE,
        GIVEN_SUFFIXES,
        PENSION_TYPE,
        EMPLOYER,
        ADDRESS,
    }
    return frozenset(parts | top | {sub(FULL, DELETIONS)})
