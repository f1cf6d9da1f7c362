"""Birth-date keying errors: era code, month/day swap, one mistyped digit, and a declared date
some days off the koseki date."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from random import Random

from relevance.synth.dates import ERA_SWAP, date_style_of, keyed, six_digits
from relevance.synth.draft import Draft
from relevance.synth.names import Person


def inject_era_swap(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """Era code keyed wrong: 昭和13年 ↔ 大正13年 — same era-year, month and day (era code form)."""
    k = draft.keyed_date
    if k.era == 0:
        k = keyed(person.birth, "era_compact" if rng.random() < 0.4 else "era")
    if k.era not in ERA_SWAP:
        return None
    return replace(draft, keyed_date=replace(k, era=ERA_SWAP[k.era]))


def inject_day_month_swap(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """Month and day swapped (03-04 ↔ 04-03): only where the swap is still a month."""
    k = draft.keyed_date
    if k.day > 12 or k.day == k.month:
        return None
    return replace(draft, keyed_date=replace(k, month=k.day, day=k.month))


def inject_date_digit_typo(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """One digit of YYMMDD mistyped; the result may be impossible (2月30日), month stays 1–12
    and day 1–31 as the keying screens checked that much."""
    k = draft.keyed_date
    digits = six_digits(k.year, k.month, k.day)
    for _ in range(30):
        i = rng.randrange(6)
        new_digit = rng.choice([d for d in "0123456789" if d != digits[i]])
        typed = digits[:i] + new_digit + digits[i + 1 :]
        yy, mm, dd = int(typed[:2]), int(typed[2:4]), int(typed[4:])
        if not (1 <= mm <= 12 and 1 <= dd <= 31) or (k.era != 0 and yy == 0):
            continue
        year = yy if k.era != 0 else k.year - k.year % 100 + yy
        return replace(draft, keyed_date=replace(k, year=year, month=mm, day=dd))
    return None


def _shift(draft: Draft, person: Person, days: int) -> Draft:
    return replace(
        draft,
        keyed_date=keyed(person.birth + timedelta(days=days), date_style_of(draft.keyed_date)),
    )


def inject_date_off_days(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """The declared date differs from the koseki date by 2–20 days (1 day is date_off_one)."""
    return _shift(draft, person, rng.choice((-1, 1)) * rng.randint(2, 20))


def inject_date_off_one(rng: Random, draft: Draft, person: Person) -> Draft | None:
    return _shift(draft, person, rng.choice((-1, 1)))
