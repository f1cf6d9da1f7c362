"""The error patterns: their tags, how often each occurs, which exclude each other, and the
pipeline that degrades a draft record by the patterns drawn for it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from random import Random
from typing import Final

from relevance.synth.date_errors import (
    inject_date_digit_typo,
    inject_date_off_days,
    inject_date_off_one,
    inject_day_month_swap,
    inject_era_swap,
)
from relevance.synth.draft import Draft, Injector
from relevance.synth.kana_errors import (
    inject_alt_reading,
    inject_confusable_kana,
    inject_kana_typo,
    inject_long_vowel,
    inject_old_kana,
    inject_small_kana,
    inject_voicing,
)
from relevance.synth.kanji_errors import inject_kanji_homophone, inject_kanji_variant
from relevance.synth.names import Person
from relevance.synth.sampling import WeightedTable

CLEAN: Final = "clean"
# Pipeline order: a record is degraded in this order (reading before kana edits, styles last).
ERROR_TAGS: Final[tuple[str, ...]] = (
    "alt_reading",
    "small_kana",
    "voicing",
    "long_vowel",
    "old_kana",
    "confusable_kana",
    "kana_typo",
    "kanji_variant",
    "kanji_homophone",
    "maiden_name_given",
    "maiden_name_not_given",
    "era_swap",
    "day_month_swap",
    "date_digit_typo",
    "date_off_days",
    "date_off_one",
    "gender_swapped",
    "halfwidth",
    "no_space",
)
ALL_TAGS: Final[tuple[str, ...]] = (*ERROR_TAGS, CLEAN)

# Relative frequency of each pattern among degraded records. Small kana, readings, typos and
# maiden names dominate what is still unmatched; era codes and swapped genders are rarer.
TAG_WEIGHTS: Final[dict[str, float]] = {
    "alt_reading": 8,
    "small_kana": 10,
    "voicing": 8,
    "long_vowel": 8,
    "old_kana": 4,
    "confusable_kana": 4,
    "kana_typo": 8,
    "kanji_variant": 5,
    "kanji_homophone": 4,
    "maiden_name_given": 8,
    "maiden_name_not_given": 6,
    "era_swap": 4,
    "day_month_swap": 5,
    "date_digit_typo": 5,
    "date_off_days": 5,
    "date_off_one": 5,
    "gender_swapped": 4,
    "halfwidth": 9,
    "no_space": 9,
}
# Tags of one group exclude each other on one record.
TAG_GROUPS: Final[dict[str, str]] = {
    "kanji_variant": "kanji",
    "kanji_homophone": "kanji",
    "maiden_name_given": "maiden",
    "maiden_name_not_given": "maiden",
    "era_swap": "date",
    "day_month_swap": "date",
    "date_digit_typo": "date",
    "date_off_days": "date",
    "date_off_one": "date",
}
MAIDEN_TAGS: Final = frozenset({"maiden_name_given", "maiden_name_not_given"})
KANJI_TAGS: Final = frozenset({"kanji_variant", "kanji_homophone"})
TWO_PATTERN_SHARE: Final = 0.25  # degraded records with two patterns instead of one


def inject_nothing(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """Maiden names are chosen with the name basis (see make_owner), not injected afterwards."""
    return draft


def inject_gender_swapped(rng: Random, draft: Draft, person: Person) -> Draft | None:
    return replace(draft, gender="F" if draft.gender == "M" else "M")


def inject_halfwidth(rng: Random, draft: Draft, person: Person) -> Draft | None:
    return replace(draft, halfwidth=True)


def inject_no_space(rng: Random, draft: Draft, person: Person) -> Draft | None:
    return replace(draft, no_space=True)


INJECTORS: Final[dict[str, Injector]] = {
    "alt_reading": inject_alt_reading,
    "small_kana": inject_small_kana,
    "voicing": inject_voicing,
    "long_vowel": inject_long_vowel,
    "old_kana": inject_old_kana,
    "confusable_kana": inject_confusable_kana,
    "kana_typo": inject_kana_typo,
    "kanji_variant": inject_kanji_variant,
    "kanji_homophone": inject_kanji_homophone,
    "maiden_name_given": inject_nothing,
    "maiden_name_not_given": inject_nothing,
    "era_swap": inject_era_swap,
    "day_month_swap": inject_day_month_swap,
    "date_digit_typo": inject_date_digit_typo,
    "date_off_days": inject_date_off_days,
    "date_off_one": inject_date_off_one,
    "gender_swapped": inject_gender_swapped,
    "halfwidth": inject_halfwidth,
    "no_space": inject_no_space,
}
_TAG_TABLE: Final = WeightedTable(TAG_WEIGHTS.items())
_TAG_ORDER: Final = {tag: i for i, tag in enumerate(ERROR_TAGS)}


def draw_error_tags(
    rng: Random, first: str | None = None, exclude: frozenset[str] = frozenset()
) -> tuple[str, ...]:
    """One (sometimes two) compatible error patterns, in pipeline order."""
    tags = [first or _draw_tag(rng, exclude)]
    if rng.random() < TWO_PATTERN_SHARE:
        for _ in range(20):
            extra = _draw_tag(rng, exclude)
            group = TAG_GROUPS.get(extra)
            if extra not in tags and (group is None or group != TAG_GROUPS.get(tags[0])):
                tags.append(extra)
                break
    return tuple(sorted(tags, key=_TAG_ORDER.__getitem__))


def _draw_tag(rng: Random, exclude: frozenset[str]) -> str:
    while True:
        tag = _TAG_TABLE.draw(rng)
        if tag not in exclude:
            return tag


def apply_tags(
    rng: Random, draft: Draft, person: Person, tags: Sequence[str], strict: bool
) -> Draft | None:
    """Run the injectors; ``strict``: None when one does not apply, else skip it."""
    for tag in tags:
        if tag == CLEAN:
            continue
        result = INJECTORS[tag](rng, draft, person)
        if result is None:
            if strict:
                return None
            continue
        draft = result
    return draft
