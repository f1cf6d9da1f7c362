"""Rendering a keyed draft as an extract record (the fields of ``RECORD_FIELDS``)."""

from __future__ import annotations

from random import Random
from typing import Final

from relevance.synth.draft import Draft
from relevance.synth.kana import to_halfwidth
from relevance.synth.names import NameTables
from relevance.synth.references import address_at_time, employer_name
from relevance.synth.sampling import pick

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


def render_record(
    rng: Random, draft: Draft, pension_type: str, employer: str, address: str
) -> dict[str, str]:
    """One extract record (record_id assigned later, after shuffling)."""
    if draft.halfwidth:
        sep = "" if draft.no_space else " "
        kana = to_halfwidth(draft.surname_kana) + sep + to_halfwidth(draft.given_kana)
    else:
        sep = "" if draft.no_space else ("　" if rng.random() < 0.6 else " ")
        kana = draft.surname_kana + sep + draft.given_kana
    kanji = ""
    if draft.with_kanji:
        kanji = draft.surname_kanji + pick(rng, {"　": 7.0, "": 2.0, " ": 1.0}) + draft.given_kanji
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


def record_for(
    rng: Random, names: NameTables, draft: Draft, pension_type: str | None = None
) -> dict[str, str]:
    """The record of a draft, with a pension type and the employer or address that goes with
    it (kosei and senin records name an employer, kokumin records an address)."""
    kind = pension_type or pick(rng, {"kosei": 65.0, "kokumin": 30.0, "senin": 5.0})
    employer = employer_name(rng, names, shipping=kind == "senin") if kind != "kokumin" else ""
    address = address_at_time(rng) if kind == "kokumin" else ""
    return render_record(rng, draft, kind, employer, address)
