"""Owners: people with one or more records, the first degraded by the error patterns under
test (or clean), and the check each of them would type."""

from __future__ import annotations

from dataclasses import dataclass, replace
from random import Random
from typing import Any, Final

from relevance.synth.checks import check_request, reference_from
from relevance.synth.draft import Draft, base_draft
from relevance.synth.names import NameEntry, NameTables, Person, draw_person, other_surname
from relevance.synth.patterns import CLEAN, KANJI_TAGS, MAIDEN_TAGS, apply_tags, draw_error_tags
from relevance.synth.population import BirthDates
from relevance.synth.records import record_for
from relevance.synth.references import typed_employer

SECOND_RECORD_SHARE: Final = 0.10  # owners with one more (degraded) record


@dataclass
class Owner:
    """An owner: the person, their records (expected first) and the check they type."""

    person: Person
    as_recorded: Person  # the person under the surname the records carry (maiden or current)
    tags: tuple[str, ...]
    records: list[dict[str, str]]
    drafts: list[Draft]
    request: dict[str, Any]


def make_owner(rng: Random, names: NameTables, dates: BirthDates, first: str | None) -> Owner:
    """A person with one or more records; the first is degraded by the tags (or clean).

    Other records of an owner are always degraded too and keep the same surname basis (maiden
    or current), so a "found" answer still mostly reflects the expected record."""
    tags: tuple[str, ...] = (CLEAN,) if first == CLEAN else draw_error_tags(rng, first)
    for attempt in range(400):
        if attempt == 200 and len(tags) > 1:  # an unlucky pair: keep the forced/first pattern
            tags = (first,) if first else tags[:1]
        maiden = bool(MAIDEN_TAGS.intersection(tags))
        person = draw_person(
            rng,
            names,
            dates,
            gender="F" if maiden else None,
            unisex="gender_swapped" in tags and rng.random() < 0.5,
            anywhere=attempt >= 300,
        )
        basis, basis_kana = person.surname, person.surname_kana
        if maiden:
            basis = other_surname(rng, names, (person.surname, person.surname_kana))
            basis_kana = basis.draw_reading(rng)
        draft = apply_tags(
            rng, base_draft(rng, person, basis, basis_kana), person, tags, strict=True
        )
        if draft is not None:
            break
    else:
        raise RuntimeError(f"no person fits the error patterns {tags}")
    pension = "kosei" if maiden else None
    records = [record_for(rng, names, draft, pension)]
    drafts = [draft]
    if rng.random() < SECOND_RECORD_SHARE:
        for _ in range(10):
            extra_tags = draw_error_tags(rng, exclude=MAIDEN_TAGS | {CLEAN})
            extra = apply_tags(
                rng, base_draft(rng, person, basis, basis_kana), person, extra_tags, strict=True
            )
            if extra is not None:
                drafts.append(extra)
                records.append(record_for(rng, names, extra, pension))
                break
    former: list[tuple[NameEntry, str]] = []
    if "maiden_name_given" in tags:
        former.append((basis, basis_kana))
    elif person.gender == "F" and not maiden and rng.random() < 0.10:
        other = other_surname(rng, names, (person.surname, person.surname_kana))
        former.append((other, other.draw_reading(rng)))
    reference: dict[str, str] | None = None
    if "maiden_name_not_given" in tags:
        if rng.random() < 0.5:
            reference = {"employer_name": typed_employer(rng, records[0]["employer_name"])}
    elif rng.random() < 0.3:
        reference = reference_from(rng, records[0])
    request = check_request(
        rng,
        person,
        former=former,
        reference=reference,
        force_kanji=bool(KANJI_TAGS.intersection(tags)),
    )
    as_recorded = replace(person, surname=basis, surname_kana=basis_kana)
    return Owner(person, as_recorded, tags, records, drafts, request)
