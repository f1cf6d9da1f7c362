"""Existence-check request bodies as a person types them, and the kinds of check."""

from __future__ import annotations

from collections.abc import Sequence
from random import Random
from typing import Any, Final

from relevance.synth.dates import render_check_date
from relevance.synth.kana import to_halfwidth, to_hiragana
from relevance.synth.names import NameEntry, Person
from relevance.synth.references import typed_address, typed_employer
from relevance.synth.sampling import pick

KINDS: Final[tuple[str, ...]] = ("owner", "sibling", "namesake", "random")


def typed_kana(katakana: str, style: str) -> str:
    if style == "hira":
        return to_hiragana(katakana)
    return to_halfwidth(katakana) if style == "half" else katakana


def check_request(
    rng: Random,
    person: Person,
    *,
    former: Sequence[tuple[NameEntry, str]] = (),
    force_kanji: bool = False,
    reference: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The request body a person types: correct modern kana in hiragana or katakana (sometimes
    half-width), kanji sometimes, the date in one of the accepted formats."""
    style = pick(rng, {"hira": 55.0, "kata": 40.0, "half": 5.0})
    body: dict[str, Any] = {
        "surname_kana": typed_kana(person.surname_kana, style),
        "given_name_kana": typed_kana(person.given_kana, style),
    }
    if force_kanji or rng.random() < 0.6:
        body["surname_kanji"] = person.surname.kanji
        body["given_name_kanji"] = person.given.kanji
    if former:
        body["former_surnames"] = [
            {"kana": typed_kana(kana, style), **({"kanji": e.kanji} if rng.random() < 0.7 else {})}
            for e, kana in former
        ]
    body["birth_date"] = render_check_date(rng, person.birth)
    body["gender"] = person.gender
    if reference:
        body["reference"] = reference
    return body


def reference_from(rng: Random, record: dict[str, str]) -> dict[str, str]:
    """What a person remembers of a record's employer, or else of its address."""
    if record["employer_name"]:
        return {"employer_name": typed_employer(rng, record["employer_name"])}
    return {"address": typed_address(rng, record["address"])}
