"""Names and people: the weighted surname and given-name tables with every reading of each
name, and drawing a person (name, gender, true birth date)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from random import Random
from typing import Final

from faker.providers.person.ja_JP import Provider as FakerPerson

from relevance.synth import names_data as nd
from relevance.synth.kana import fold_kana_loose
from relevance.synth.population import BirthDates
from relevance.synth.sampling import WeightedTable

FEMALE_SHARE: Final = 0.52
SURNAME_TAIL_SHARE: Final = 0.45  # share of people whose surname is outside the explicit lists
GIVEN_TAIL_SHARE: Final = 0.30


@dataclass(frozen=True, slots=True)
class NameEntry:
    """One written name (kanji as registered) with every reading it is given and their odds."""

    kanji: str
    kind: str  # "sei" (surname), "M" or "F" (given name)
    weight: float
    readings: tuple[str, ...]
    reading_weights: tuple[float, ...]

    def draw_reading(self, rng: Random) -> str:
        if len(self.readings) == 1:
            return self.readings[0]
        return rng.choices(self.readings, weights=self.reading_weights)[0]


@dataclass(frozen=True)
class NameTables:
    surnames: WeightedTable[NameEntry]
    given: dict[str, WeightedTable[NameEntry]]
    unisex_given: dict[str, WeightedTable[NameEntry]]
    # (kind, reading) -> every entry of that kind that can be read so: homophone kanji.
    by_reading: dict[tuple[str, str], tuple[NameEntry, ...]]


def _entry(
    kanji: str, kind: str, weight: float, readings: Sequence[tuple[str, float]]
) -> NameEntry:
    merged: dict[str, float] = {}
    for kana, w in readings:
        merged[kana] = merged.get(kana, 0.0) + w
    return NameEntry(kanji, kind, weight, tuple(merged), tuple(merged.values()))


def _compound_tail(
    prefixes: str, suffixes: str, kind: str, explicit: set[str], mass: float, skewed: bool
) -> list[NameEntry]:
    """PREFIX × SUFFIX names not listed explicitly, scaled to ``mass`` in total.

    With ``skewed`` (surnames) a suffix with two readings gives each compound one main reading
    (85 %) and the other as a rare one, chosen by a fixed rule so the output is reproducible."""
    pre = nd.parse_table(prefixes)
    suf = nd.parse_table(suffixes)
    parts: dict[str, tuple[float, list[tuple[str, float]]]] = {}
    for pi, (pk, pw, preads) in enumerate(pre):
        for si, (sk, sw, sreads) in enumerate(suf):
            kanji = pk + sk
            if kanji in explicit:
                continue
            readings: list[tuple[str, float]] = []
            if skewed and len(sreads) > 1:
                main = (pi * 7 + si * 13) % len(sreads)
                readings = [
                    (preads[0][0] + kana, 85.0 if i == main else 15.0 / (len(sreads) - 1))
                    for i, (kana, _) in enumerate(sreads)
                ]
            else:
                readings = [(preads[0][0] + kana, w) for kana, w in sreads]
            weight, known = parts.get(kanji, (0.0, []))
            parts[kanji] = (weight + pw * sw, known + readings)
    total = sum(w for w, _ in parts.values())
    return [_entry(k, kind, w * mass / total, r) for k, (w, r) in parts.items()]


def _surnames() -> list[NameEntry]:
    surnames: list[NameEntry] = []
    faker_rows = list(FakerPerson.last_name_pairs.items())
    for (kanji, kana, _romaji), count in faker_rows:
        extra = nd.FAKER_EXTRA_READINGS.get(kanji, ())
        surnames.append(_entry(kanji, "sei", float(count), [(kana, 10.0), *extra]))
    # The reviewed surnames continue Faker's ranking; their frequency follows from the rank.
    base_rank, base_count = len(faker_rows), float(faker_rows[-1][1])
    for i, (kanji, _w, readings) in enumerate(nd.parse_table(nd.SURNAMES_EXTRA)):
        rank = base_rank + 1 + i
        surnames.append(_entry(kanji, "sei", base_count * (rank / base_rank) ** -0.85, readings))
    explicit_mass = sum(e.weight for e in surnames)
    tail_mass = explicit_mass * SURNAME_TAIL_SHARE / (1 - SURNAME_TAIL_SHARE)
    surnames += _compound_tail(
        nd.SURNAME_PREFIXES,
        nd.SURNAME_SUFFIXES,
        "sei",
        {e.kanji for e in surnames},
        tail_mass,
        skewed=True,
    )
    return surnames


def _given_names() -> dict[str, list[NameEntry]]:
    given: dict[str, list[NameEntry]] = {"M": [], "F": []}
    faker_given = [(p, "F") for p in FakerPerson.first_name_female_pairs] + [
        (p, "M") for p in FakerPerson.first_name_male_pairs
    ]
    for (kanji, kana, _romaji), gender in faker_given:
        weight = nd.FAKER_GIVEN_WEIGHTS.get((kanji, gender), 0.0)
        if weight > 0:
            extra = nd.FAKER_EXTRA_READINGS.get(kanji, ())
            given[gender].append(_entry(kanji, gender, weight, [(kana, 10.0), *extra]))
    for gender, table in (("F", nd.SHOWA_FEMALE_GIVEN), ("M", nd.SHOWA_MALE_GIVEN)):
        for kanji, weight, readings in nd.parse_table(table):
            given[gender].append(_entry(kanji, gender, weight, readings))
    tails = {
        "M": (nd.MALE_GIVEN_PREFIXES, nd.MALE_GIVEN_SUFFIXES),
        "F": (nd.FEMALE_GIVEN_PREFIXES, nd.FEMALE_GIVEN_SUFFIXES),
    }
    for gender, (prefixes, suffixes) in tails.items():
        mass = sum(e.weight for e in given[gender]) * GIVEN_TAIL_SHARE / (1 - GIVEN_TAIL_SHARE)
        given[gender] += _compound_tail(
            prefixes, suffixes, gender, {e.kanji for e in given[gender]}, mass, skewed=False
        )
    return given


@cache
def name_tables() -> NameTables:
    """Faker's ja_JP names + the reviewed Showa-era tables + compound tails (see names_data)."""
    surnames = _surnames()
    given = _given_names()
    main_readings = {g: {e.readings[0] for e in entries} for g, entries in given.items()}
    unisex = main_readings["M"] & main_readings["F"]
    by_reading: dict[tuple[str, str], list[NameEntry]] = {}
    for entry in [*surnames, *given["M"], *given["F"]]:
        for kana in entry.readings:
            by_reading.setdefault((entry.kind, kana), []).append(entry)
    return NameTables(
        surnames=WeightedTable((e, e.weight) for e in surnames),
        given={g: WeightedTable((e, e.weight) for e in es) for g, es in given.items()},
        unisex_given={
            g: WeightedTable((e, e.weight) for e in es if e.readings[0] in unisex)
            for g, es in given.items()
        },
        by_reading={k: tuple(v) for k, v in by_reading.items()},
    )


@dataclass(frozen=True, slots=True)
class Person:
    """Someone born 1910–1975, with the name and date as they really are (the check's truth)."""

    surname: NameEntry
    surname_kana: str
    given: NameEntry
    given_kana: str
    gender: str  # "M" / "F"
    birth: date


def draw_person(
    rng: Random,
    names: NameTables,
    dates: BirthDates,
    gender: str | None = None,
    unisex: bool = False,
    anywhere: bool = False,
) -> Person:
    gender = gender or ("F" if rng.random() < FEMALE_SHARE else "M")
    surname = names.surnames.draw(rng)
    given = (names.unisex_given if unisex else names.given)[gender].draw(rng)
    return Person(
        surname,
        surname.draw_reading(rng),
        given,
        given.draw_reading(rng),
        gender,
        dates.draw(rng, anywhere),
    )


def other_surname(rng: Random, names: NameTables, *avoid: tuple[NameEntry, str]) -> NameEntry:
    """A surname whose kanji and folded readings differ from every ``avoid`` (entry, reading)."""
    kanji = {e.kanji for e, _ in avoid}
    folded = {fold_kana_loose(kana) for e, kana in avoid} | {
        fold_kana_loose(r) for e, _ in avoid for r in e.readings
    }
    while True:
        entry = names.surnames.draw(rng)
        if entry.kanji not in kanji and not folded & {fold_kana_loose(r) for r in entry.readings}:
            return entry
