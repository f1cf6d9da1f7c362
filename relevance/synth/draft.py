"""A record while it is being keyed (``Draft``): the error injectors rewrite it, and
``records`` renders it at the end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from typing import Final

from relevance.synth.dates import RECORD_DATE_STYLES, KeyedDate, keyed
from relevance.synth.names import NameEntry, Person
from relevance.synth.sampling import pick

KANJI_SHARE: Final = 0.40  # records carrying a kanji name at all (many are kana only)


@dataclass(frozen=True, slots=True)
class Draft:
    """A record being keyed: the name basis (current or maiden surname) and what was typed."""

    surname: NameEntry
    given: NameEntry
    surname_kana: str
    given_kana: str
    surname_kanji: str
    given_kanji: str
    with_kanji: bool
    keyed_date: KeyedDate
    gender: str
    halfwidth: bool = False
    no_space: bool = False


# An error injector: the draft with its pattern applied, or None when the pattern cannot apply
# to it (no small kana to enlarge, no day ≤ 12 to swap ...).
Injector = Callable[[Random, Draft, Person], Draft | None]


def base_draft(rng: Random, person: Person, surname: NameEntry, surname_kana: str) -> Draft:
    """The record as keyed without errors, in a random date style, kana-only ~60 % of the time."""
    return Draft(
        surname=surname,
        given=person.given,
        surname_kana=surname_kana,
        given_kana=person.given_kana,
        surname_kanji=surname.kanji,
        given_kanji=person.given.kanji,
        with_kanji=rng.random() < KANJI_SHARE,
        keyed_date=keyed(person.birth, pick(rng, RECORD_DATE_STYLES)),
        gender=person.gender,
    )
