"""Hard negatives: checks by people with no record (a sibling or a namesake of a record's
person, or someone at random), and the filter that keeps them truly negative.

The filter (``plausibly_theirs``) rejects and redraws a negative when some record has

(a) the same folded full kana name as any reading of the negative's names — every reading of
its surname kanji (current and former) × every reading of its given-name kanji, folded by
``fold_kana_loose`` (half-width → full-width, hiragana → katakana, small kana enlarged, 濁点
and 半濁点 removed, ヲ → オ, シ ジ ス ズ チ ヂ ツ ヅ merged (old kana, voicing and the シ/ツ
confusion chain them), ソ/ン merged, long vowels and spaces removed) — or the same kanji name
after folding old forms (owners' true current names count as records here too: a negative
identical to an owner is, to the service, that owner), AND

(b) a birth date that is close per ``dates_close``.

Gender is ignored (it may be miskeyed). The folding is deliberately coarser than any real
normaliser so that no record is plausibly the negative's own; kana typos are not folded (a
one-typo neighbour with the same date is exactly the false "found" the service must learn to
avoid).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from random import Random
from typing import Any, Final

from relevance.synth.checks import check_request
from relevance.synth.dates import KeyedDate, dates_close, keyed
from relevance.synth.kana import fold_kana_loose, fold_kanji
from relevance.synth.names import (
    FEMALE_SHARE,
    NameEntry,
    NameTables,
    Person,
    draw_person,
    other_surname,
)
from relevance.synth.population import BirthDates
from relevance.synth.references import address_at_time, employer_name, typed_address, typed_employer

NEGATIVE_KIND_SHARES: Final[dict[str, float]] = {"sibling": 0.35, "namesake": 0.35, "random": 0.30}


class RecordIndex:
    """Loose-folded kana and kanji names of every record → their keyed dates (negative filter)."""

    def __init__(self) -> None:
        self.kana: dict[str, list[KeyedDate]] = {}
        self.kanji: dict[str, list[KeyedDate]] = {}

    def add(self, record: dict[str, str], keyed_date: KeyedDate) -> None:
        self.kana.setdefault(fold_kana_loose(record["name_kana"]), []).append(keyed_date)
        if record["name_kanji"]:
            self.kanji.setdefault(fold_kanji(record["name_kanji"]), []).append(keyed_date)

    def add_identity(self, person: Person) -> None:
        """An owner's true current name: a negative identical to it would be, to the service,
        the owner herself (her record may be under her maiden name)."""
        when = keyed(person.birth, "iso")
        for kana in (s + g for s in person.surname.readings for g in person.given.readings):
            self.kana.setdefault(fold_kana_loose(kana), []).append(when)
        key = fold_kanji(person.surname.kanji + person.given.kanji)
        self.kanji.setdefault(key, []).append(when)


def plausibly_theirs(
    index: RecordIndex, surnames: Sequence[NameEntry], given: NameEntry, birth: date
) -> bool:
    """Whether some record could be this person's (see the module docstring)."""
    for surname in surnames:
        keys = {fold_kana_loose(s + g) for s in surname.readings for g in given.readings}
        for key in keys:
            if any(dates_close(birth, k) for k in index.kana.get(key, ())):
                return True
        kanji_key = fold_kanji(surname.kanji + given.kanji)
        if any(dates_close(birth, k) for k in index.kanji.get(kanji_key, ())):
            return True
    return False


@dataclass
class Negative:
    """A hard negative's check body and the record it was built next to."""

    request: dict[str, Any]
    near: int | None  # index of the record it was built next to


def make_negative(
    rng: Random,
    kind: str,
    names: NameTables,
    dates: BirthDates,
    people: Sequence[tuple[Person, int]],
    index: RecordIndex,
) -> Negative | None:
    """One hard negative of ``kind``, or None when the draw is plausibly someone's record.

    A ``sibling`` has the surname and reading of a record's person, another given name and a
    birth 1–4 years apart (a married sister lists the family surname as a former surname); a
    ``namesake`` has the given name, gender and birth date of a record's person and another
    surname."""
    near: int | None = None
    former: list[tuple[NameEntry, str]] = []
    if kind == "random":
        person = draw_person(rng, names, dates)
    else:
        source, near = rng.choice(people)
        if kind == "sibling":
            gender = "F" if rng.random() < FEMALE_SHARE else "M"
            given = names.given[gender].draw(rng)
            given_kana = given.draw_reading(rng)
            if fold_kana_loose(given_kana) == fold_kana_loose(source.given_kana):
                return None
            person = Person(
                source.surname,
                source.surname_kana,
                given,
                given_kana,
                gender,
                dates.sibling_date(rng, source.birth),
            )
            if gender == "F" and rng.random() < 0.5:  # a married sister
                married = other_surname(rng, names, (source.surname, source.surname_kana))
                former.append((source.surname, source.surname_kana))
                person = replace(person, surname=married, surname_kana=married.draw_reading(rng))
        else:
            surname = other_surname(rng, names, (source.surname, source.surname_kana))
            person = replace(source, surname=surname, surname_kana=surname.draw_reading(rng))
    if kind == "random" and person.gender == "F" and rng.random() < 0.15:
        other = other_surname(rng, names, (person.surname, person.surname_kana))
        former.append((other, other.draw_reading(rng)))
    surnames = [person.surname, *(e for e, _ in former)]
    if plausibly_theirs(index, surnames, person.given, person.birth):
        return None
    reference: dict[str, str] | None = None
    if rng.random() < 0.3:
        if rng.random() < 0.65:
            reference = {"employer_name": typed_employer(rng, employer_name(rng, names))}
        else:
            reference = {"address": typed_address(rng, address_at_time(rng))}
    return Negative(check_request(rng, person, former=former, reference=reference), near)
