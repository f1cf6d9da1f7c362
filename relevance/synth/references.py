"""Employers and addresses: as keyed on a record, and as a person remembers them when giving
reference information in a check."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from random import Random
from typing import Final

from faker.providers.address.ja_JP import Provider as FakerAddress

from relevance.synth import names_data as nd
from relevance.synth.names import NameTables
from relevance.synth.sampling import pick

LEGAL_WEIGHTS: Final = {
    "(株)": 30.0,
    "（株）": 10.0,
    "㈱": 10.0,
    "株式会社": 20.0,
    "(有)": 10.0,
    "有限会社": 8.0,
    "": 12.0,
}


@dataclass(frozen=True)
class Places:
    """Where people lived: reviewed Showa-era (prefecture, city) pairs + Faker's town names.
    (Faker's ja_JP cities are not paired with their prefectures, so they are not used.)"""

    cities: tuple[tuple[str, str], ...]
    towns: tuple[str, ...]


@cache
def places() -> Places:
    return Places(cities=nd.SHOWA_CITIES, towns=tuple(FakerAddress.towns))


def employer_name(rng: Random, names: NameTables, shipping: bool = False) -> str:
    """A Showa-era employer as keyed: family business or company, legal form before or after."""
    if shipping:
        body = rng.choice(nd.COMPANY_STEMS) + rng.choice(nd.SHIPPING_INDUSTRIES)
    elif rng.random() < 0.55:
        body = names.surnames.draw(rng).kanji + rng.choice(nd.FAMILY_TRADES)
    else:
        body = rng.choice(nd.COMPANY_STEMS) + rng.choice(nd.COMPANY_INDUSTRIES)
    legal = pick(rng, LEGAL_WEIGHTS)
    return legal + body if rng.random() < 0.6 else body + legal


def typed_employer(rng: Random, keyed_name: str) -> str:
    """How a person remembers the employer: often without the legal form."""
    body = keyed_name
    for legal in sorted((k for k in LEGAL_WEIGHTS if k), key=len, reverse=True):
        body = body.replace(legal, "")
    roll = rng.random()
    return body if roll < 0.5 else ("株式会社" + body if roll < 0.7 else keyed_name)


def address_at_time(rng: Random) -> str:
    pref, city = rng.choice(places().cities)
    town = rng.choice(places().towns)
    return f"{pref}{city}{town}{rng.randint(1, 9)}丁目{rng.randint(1, 40)}番地"


def typed_address(rng: Random, keyed_address: str) -> str:
    """A remembered address: often only prefecture and city."""
    if rng.random() < 0.4:
        return keyed_address
    for pref, city in places().cities:
        if keyed_address.startswith(pref + city):
            return pref + city
    return keyed_address
