"""A check: what a person submitted, normalised into the keys that the query and scorer use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from analyzers.dates import BirthDate
from analyzers.kana import normalize_kana
from analyzers.keys import NameKeys, PartKeys, check_name_keys, former_surname_keys, part_keys
from analyzers.ledger_readings import NO_LEDGER_READINGS, LedgerReadings
from analyzers.readings import ReadingDictionary


@dataclass(frozen=True)
class FormerSurname:
    kana: str
    kanji: str | None = None


@dataclass(frozen=True)
class Check:
    """One existence check, already validated (see ``search_api.models``)."""

    surname_kana: str
    given_name_kana: str
    birth_date: BirthDate
    gender: Literal["M", "F"]
    surname_kanji: str | None = None
    given_name_kanji: str | None = None
    former_surnames: tuple[FormerSurname, ...] = ()
    employer_name: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class CheckKeys:
    check: Check
    names: NameKeys
    former_surnames: tuple[PartKeys, ...]
    former_full_names: tuple[PartKeys, ...]

    @property
    def birth_date(self) -> BirthDate:
        return self.check.birth_date


def check_keys(
    check: Check, readings: ReadingDictionary, ledger: LedgerReadings = NO_LEDGER_READINGS
) -> CheckKeys:
    names = check_name_keys(
        check.surname_kana,
        check.given_name_kana,
        check.surname_kanji,
        check.given_name_kanji,
        readings,
        ledger,
    )
    formers = tuple(
        former_surname_keys(f.kana, f.kanji, readings, ledger) for f in check.former_surnames
    )
    former_full = tuple(
        part_keys(normalize_kana(f.kana) + normalize_kana(check.given_name_kana), None)
        for f in check.former_surnames
    )
    return CheckKeys(
        check=check, names=names, former_surnames=formers, former_full_names=former_full
    )
