"""Match keys of a name: the one code path that both the indexer and the query use.

A record and a check are compared through the same keys, computed by the same functions, so a
fold can never be applied on one side and forgotten on the other. Keys are plain katakana or
kanji strings; OpenSearch stores them as ``keyword`` fields and the scorer compares them again.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from analyzers.kana import kana_key, kana_keys, normalize_kana, remove_voicing, single_deletions
from analyzers.kanji import fold_kanji
from analyzers.ledger_readings import NO_LEDGER_READINGS, LedgerReadings
from analyzers.names import given_name_suffixes, split_kanji_name, split_normalized_kana_name
from analyzers.readings import ReadingDictionary

READING_LEVEL = "orthographic"
"""Readings are compared after orthographic folding: a dictionary reading ユウコ and a keyed
ユーコ are the same name; voicing and confusables stay distinct levels of their own."""


@dataclass(frozen=True)
class PartKeys:
    """Keys of one name part (surname, given name, or the whole name when unsplit)."""

    levels: dict[str, str]
    """Kana key at each fold level of ``KANA_LEVELS`` (exact … confusable)."""
    readings: frozenset[str] = frozenset()
    """Orthographic keys of every dictionary reading of the part's kanji (on the check side also
    every reading the served index's records keyed that kanji with)."""
    kanji: str | None = None
    """Folded kanji (old forms → new) when the part was given in kanji."""
    composed: frozenset[str] = frozenset()
    """Orthographic keys of character-by-character readings of the kanji (query side only)."""
    co_readings: frozenset[str] = frozenset()
    """Check side, kana typed without kanji: other readings of a kanji spelling the kana is a
    reading of, as the served index's records were keyed (サチコ → ユキコ via 幸子)."""
    readings_voiceless: frozenset[str] = frozenset()
    """``readings`` with 濁点 removed, computed once per check. Not ``composed``: a reading built
    character by character is a guess already, and 濁点 differing as well left no evidence
    (春子 composed シュンコ met ジュンコ and outscored the composed level itself)."""

    @functools.cached_property
    def exact_voiceless(self) -> str:
        """The kana as keyed with 濁点 removed; computed on first use (the scorer's check side)."""
        return remove_voicing(self.levels.get("exact", ""))

    @property
    def empty(self) -> bool:
        return not self.levels.get("exact")


# Names repeat enormously (a few thousand surnames cover most of a ledger), so the pure key
# functions are memoised; the caches are bounded and hold only derived strings.
_KEY_CACHE_SIZE = 1 << 15
_levels: Callable[[str], dict[str, str]] = functools.lru_cache(maxsize=_KEY_CACHE_SIZE)(kana_keys)
_fold_kanji: Callable[[str], str] = functools.lru_cache(maxsize=_KEY_CACHE_SIZE)(fold_kanji)


@functools.lru_cache(maxsize=_KEY_CACHE_SIZE)
def _reading_key(reading: str) -> str:
    return kana_key(reading, READING_LEVEL)


@functools.lru_cache(maxsize=_KEY_CACHE_SIZE)
def _reading_keys(readings: frozenset[str]) -> frozenset[str]:
    return frozenset(_reading_key(r) for r in readings if r)


def part_keys(
    kana: str | None,
    kanji: str | None,
    readings: frozenset[str] = frozenset(),
    composed: frozenset[str] = frozenset(),
    co_readings: frozenset[str] = frozenset(),
) -> PartKeys:
    folded = _fold_kanji(kanji) if kanji else None
    if not readings and not composed and not co_readings:  # most parts: no reading sets
        return PartKeys(levels=_levels(kana or ""), kanji=folded or None)
    reading_keys = _reading_keys(readings)
    composed_keys = _reading_keys(composed) - reading_keys
    return PartKeys(
        levels=_levels(kana or ""),
        readings=reading_keys,
        kanji=folded or None,
        composed=composed_keys,
        co_readings=_reading_keys(co_readings) - reading_keys - composed_keys,
        readings_voiceless=frozenset(remove_voicing(r) for r in reading_keys),
    )


_ITERATION_MARKS = frozenset("々〻ゝゞヽヾ")

ONE_EDIT_MIN_LENGTH = 3
"""Shorter names are not searched for one-kana slips: every two-kana name is one edit from
hundreds of others."""


def one_edit_keys(orthographic: str) -> tuple[str, ...]:
    """The deletion keys of a whole name (record side: ``full.deletions``; query side: looked
    up in ``full.deletions`` and ``full.orthographic``)."""
    if len(orthographic) < ONE_EDIT_MIN_LENGTH:
        return ()
    return single_deletions(orthographic)


@dataclass(frozen=True)
class NameKeys:
    surname: PartKeys | None
    given: PartKeys | None
    full: PartKeys
    given_suffixes: tuple[str, ...] = field(default=())
    """Orthographic suffixes of an unsplit full name, so a given-name-only (maiden name) query
    can still reach a record keyed without a space."""


# A record's surname and given name each recur across thousands of records (a 1M extract has
# ~39,000 distinct surnames with their kanji), so their keys, readings included, are memoised
# whole; the whole name is mostly unique and is keyed afresh.
@functools.lru_cache(maxsize=_KEY_CACHE_SIZE)
def _surname_keys(kana: str, kanji: str | None, readings: ReadingDictionary) -> PartKeys:
    return part_keys(kana, kanji, readings.surname_readings(kanji) if kanji else frozenset())


@functools.lru_cache(maxsize=_KEY_CACHE_SIZE)
def _given_name_keys(kana: str, kanji: str | None, readings: ReadingDictionary) -> PartKeys:
    return part_keys(kana, kanji, readings.given_name_readings(kanji) if kanji else frozenset())


def split_kanji_by_kana(
    name_kanji: str, surname_kana: str, given_kana: str, readings: ReadingDictionary
) -> tuple[str | None, str | None]:
    """(surname, given name) of a kanji name keyed without a space, cut where the record's own
    kana split says; (None, None) when no single cut is borne out by the dictionary.

    About one kanji name in five is keyed unsplit while its kana is split (上野正 / ウエノ マサシ).
    Left whole, its given name has no kanji and no readings, so a check with the same 正 read
    タダシ, or with マサシ and no kanji, finds nothing to agree with. A cut counts when the
    surname side reads as the kana surname or the given-name side as the kana given name
    (dictionary readings, compared after orthographic folding); the cut with the most
    agreement wins, and a tie between cuts is left unsplit rather than guessed.
    """
    compact = "".join(unicodedata.normalize("NFKC", name_kanji).split())
    surname_key = _reading_key(surname_kana)
    given_key = _reading_key(given_kana)
    best_cut, best_agreement, tied = 0, 0, False
    for cut in range(1, len(compact)):
        surname, given = compact[:cut], compact[cut:]
        if given[0] in _ITERATION_MARKS:  # 佐々木: 々 repeats the kanji before it
            continue
        agreement = (surname_key in _reading_keys(readings.surname_readings(surname))) + (
            given_key in _reading_keys(readings.given_name_readings(given))
        )
        if agreement > best_agreement:
            best_cut, best_agreement, tied = cut, agreement, False
        elif agreement and agreement == best_agreement:
            tied = True
    if not best_agreement or tied:
        return None, None
    return compact[:best_cut], compact[best_cut:]


def record_name_keys(
    name_kana: str,
    name_kanji: str | None,
    readings: ReadingDictionary,
    *,
    normalized_kana: str | None = None,
) -> NameKeys:
    """Keys of a ledger record's name as keyed (one string, usually with a space).

    ``normalized_kana`` is ``normalize_kana(name_kana)`` when the caller has it already (the
    indexer computed it to validate the record).
    """
    if normalized_kana is None:
        normalized_kana = normalize_kana(name_kana)
    parts = split_normalized_kana_name(normalized_kana)
    sur_kanji, given_kanji = split_kanji_name(name_kanji) if name_kanji else (None, None)
    if name_kanji and sur_kanji is None and parts.surname is not None and parts.given is not None:
        sur_kanji, given_kanji = split_kanji_by_kana(
            name_kanji, parts.surname, parts.given, readings
        )
    surname = given = None
    if parts.surname is not None and parts.given is not None:
        surname = _surname_keys(parts.surname, sur_kanji, readings)
        given = _given_name_keys(parts.given, given_kanji, readings)
    # The whole kanji name, split or not (folding drops the space): an unsplit 山田花子 still
    # agrees with a typed 山田 + 花子 at the whole-name kanji level.
    full_kanji = name_kanji
    # Whole-name readings only matter for a record keyed without a space: a split record is
    # matched part by part (and the dictionary search over split points is the costly bit).
    full_readings = (
        readings.full_name_readings(name_kanji) if name_kanji and surname is None else frozenset()
    )
    full = part_keys(parts.full, full_kanji, full_readings)
    suffixes: tuple[str, ...] = ()
    if surname is None:
        # Cut first, then fold: a long-vowel fold cannot see where the given name starts.
        suffixes = tuple(
            dict.fromkeys(_levels(s)["orthographic"] for s in given_name_suffixes(parts.full))
        )
    return NameKeys(surname=surname, given=given, full=full, given_suffixes=suffixes)


def check_name_keys(
    surname_kana: str,
    given_kana: str,
    surname_kanji: str | None,
    given_kanji: str | None,
    readings: ReadingDictionary,
    ledger: LedgerReadings = NO_LEDGER_READINGS,
) -> NameKeys:
    """Keys of a name as a person typed it (always in two parts).

    ``ledger`` holds the readings the served index's records were keyed with: they join the
    dictionary's readings of typed kanji, and without kanji give the kana's co-readings (other
    readings of a kanji it is a reading of), a level of their own. The whole name takes no
    co-readings: a record keyed without a space would agree on both parts at once.
    """
    surname = _typed_part(
        surname_kana,
        surname_kanji,
        readings.surname_readings,
        readings.composed_readings,
        ledger.surname_readings,
        ledger.surname_co_readings,
    )
    given = _typed_part(
        given_kana,
        given_kanji,
        readings.given_name_readings,
        readings.composed_readings,
        ledger.given_name_readings,
        ledger.given_name_co_readings,
    )
    full_kanji = (
        (surname_kanji or "") + (given_kanji or "") if surname_kanji and given_kanji else None
    )
    full = part_keys(
        normalize_kana(surname_kana) + normalize_kana(given_kana),
        full_kanji,
        _joined(surname, given, lambda p: p.readings),
        _joined(surname, given, lambda p: p.composed),
    )
    return NameKeys(surname=surname, given=given, full=full)


def _typed_part(
    kana: str,
    kanji: str | None,
    dictionary: Callable[[str], frozenset[str]],
    composed: Callable[[str], frozenset[str]],
    learned: Callable[[str], frozenset[str]],
    co_readings: Callable[[str], frozenset[str]],
) -> PartKeys:
    """One part of a typed name: with kanji, its dictionary and learned readings; without, the
    kana's co-readings."""
    if kanji:
        return part_keys(kana, kanji, _typed_readings(kanji, dictionary, learned), composed(kanji))
    return part_keys(kana, None, co_readings=co_readings(_levels(kana)[READING_LEVEL]))


def _typed_readings(
    kanji: str,
    dictionary: Callable[[str], frozenset[str]],
    learned: Callable[[str], frozenset[str]],
) -> frozenset[str]:
    return dictionary(kanji) | learned(_fold_kanji(kanji))


def former_surname_keys(
    kana: str,
    kanji: str | None,
    readings: ReadingDictionary,
    ledger: LedgerReadings = NO_LEDGER_READINGS,
) -> PartKeys:
    """A declared former surname: its kanji's dictionary and learned readings, nothing composed
    and no co-readings (a former surname is matched as declared, not guessed at)."""
    if not kanji:
        return part_keys(kana, kanji)
    return part_keys(
        kana, kanji, _typed_readings(kanji, readings.surname_readings, ledger.surname_readings)
    )


MAX_JOINED_READINGS = 64


def _joined(
    surname: PartKeys, given: PartKeys, pick: Callable[[PartKeys], frozenset[str]]
) -> frozenset[str]:
    """Whole-name readings for records keyed without a space: each part as typed or read."""
    surnames = pick(surname) | {surname.levels["orthographic"]}
    givens = pick(given) | {given.levels["orthographic"]}
    joined = {s + g for s in sorted(surnames) for g in sorted(givens)}
    joined.discard(surname.levels["orthographic"] + given.levels["orthographic"])
    return (
        frozenset(sorted(joined)[:MAX_JOINED_READINGS])
        if pick(surname) or pick(given)
        else (frozenset())
    )
