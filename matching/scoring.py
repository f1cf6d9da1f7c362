"""Transparent scoring of candidates: comparison levels with weights, and the decision.

Each field of a candidate is compared with the check and lands on one *level* (exact,
orthographic, reading, …, none); each level has a weight in ``matching.toml``. The total is
compared with one calibrated threshold. Every contribution is kept, so ``explain`` can show a
waterfall of why a pair matched or not.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz.distance import DamerauLevenshtein
from rapidfuzz.fuzz import partial_ratio, ratio

from analyzers.dates import BirthDate, classify_date_difference
from analyzers.kana import remove_voicing
from analyzers.kanji import fold_kanji
from analyzers.keys import PartKeys
from matching import fields
from matching.checks import CheckKeys
from matching.config import MatchingConfig
from matching.index_meta import NameStats

FREQUENCY_ADJUSTED = frozenset({"exact", "orthographic", "reading", "kanji"})
SURNAME_DISAGREES = frozenset({"none", "co_reading"})
"""Surname levels that do not satisfy the namesake guard: a surname merely sharing a kanji
spelling with the typed one (カワノ / コウノ, typed without kanji) is not the same surname."""
LEGAL_FORMS = re.compile(r"株式会社|有限会社|合資会社|合名会社|\(株\)|\(有\)|\(資\)|\(名\)|[\s・]")


@dataclass(frozen=True)
class Contribution:
    feature: str
    level: str
    weight: float


_contribution = functools.lru_cache(maxsize=1 << 12, typed=True)(Contribution)
"""A contribution is a value (frozen): candidates share the few distinct ones (gender agrees,
6.0) instead of each building its own."""


@dataclass(frozen=True)
class CandidateScore:
    record_id: str
    total: float
    contributions: tuple[Contribution, ...]
    surname_agrees: bool
    reference_agrees: bool

    def passes(self, threshold: float) -> bool:
        """Over the threshold, and — the guard against namesakes — either the surname (or a
        declared former surname) agrees, or reference information confirms."""
        return self.total >= threshold and (self.surname_agrees or self.reference_agrees)


@dataclass(frozen=True)
class Decision:
    found: bool
    record_ids: tuple[str, ...]
    best: CandidateScore | None
    scores: tuple[CandidateScore, ...]


# -- field comparisons -------------------------------------------------------------------------


def _one_edit(a: str, b: str) -> bool:
    # A length difference over one is already two edits (the distance is at least that much).
    return (
        bool(a and b)
        and min(len(a), len(b)) >= 2
        and abs(len(a) - len(b)) <= 1
        and DamerauLevenshtein.distance(a, b) <= 1
    )


def part_levels(check: PartKeys, record: Mapping[str, Any]) -> set[str]:
    """Every level at which one name part of the check agrees with a record's part."""
    levels: set[str] = set()
    for level, key in check.levels.items():
        if key and record.get(level) == key:
            levels.add(level)
    record_orth = record.get(fields.ORTHOGRAPHIC) or ""
    record_readings = record.get(fields.READINGS) or ()
    check_orth = check.levels.get("orthographic", "")
    if (
        (check_orth and check_orth in record_readings)
        or (record_orth in check.readings)
        or (check.readings and not check.readings.isdisjoint(record_readings))
    ):
        levels.add("reading")
    if check.kanji and record.get(fields.KANJI) == check.kanji:
        levels.add("kanji")
    if record_orth and record_orth in check.composed:
        levels.add("composed_reading")
    if record_orth and record_orth in check.co_readings:
        levels.add("co_reading")
    record_voiceless = record.get(fields.VOICELESS) or ""
    if record_voiceless and record_voiceless in check.readings_voiceless:
        levels.add("reading_voiceless")
    # 四つ仮名 fold ヅ to ズ, which hides a dropped 濁点 (カツミ keyed カヅミ): compare the kana
    # as keyed too.
    check_exact = check.levels.get("exact", "")
    record_exact = str(record.get(fields.EXACT) or "")
    if check_exact and record_exact and check.exact_voiceless == remove_voicing(record_exact):
        levels.add("voiceless")
    # A slip is made on the kana as keyed, and the long-vowel fold can double it
    # (サトウ/サチウ: one kana apart, but サト/サチウ after folding), so either level counts.
    if _one_edit(check_orth, record_orth) or _one_edit(check_exact, record_exact):
        levels.add("one_edit")
    record_kanji = record.get(fields.KANJI)
    if check.kanji and record_kanji and record_kanji != check.kanji and levels:
        # Both sides wrote the name in kanji and the kanji differ: agreeing kana (or readings)
        # are then two names that sound alike (東/藤 トウ, 亮 リョウ/アキラ), not one.
        return {"kanji_differs"}
    return levels


def _is_common(
    key: str, counts: Mapping[str, int], stats: NameStats, config: Mapping[str, float]
) -> bool:
    """A name frequent enough that a record spelled so is another person, not a slip."""
    minimum = max(config["common_min_count"], stats.total * config["common_min_share"])
    return counts.get(key, 0) >= minimum


def _demote_one_edit(
    levels: set[str],
    check_key: str,
    record_key: str,
    counts: Mapping[str, int],
    stats: NameStats,
    config: Mapping[str, float],
) -> set[str]:
    """Weigh a one-kana difference by what the keyed spelling is.

    A slip produces a string that hardly occurs (ネトト for ネモト: a few records at most, far
    fewer than the name it came from). When the keyed spelling is itself a name borne by
    many (カトウ for サトウ), the record is more likely another person's:
    ``one_edit_other_name``, or ``one_edit_common`` when both names are frequent.
    """
    if "one_edit" not in levels:
        return levels
    record_count = counts.get(record_key, 0)
    real_name = record_count >= max(
        config["real_name_min_count"], counts.get(check_key, 0) * config["real_name_ratio"]
    )
    if not real_name:
        return levels
    if _is_common(check_key, counts, stats, config) and _is_common(
        record_key, counts, stats, config
    ):
        return (levels - {"one_edit"}) | {"one_edit_common"}
    return (levels - {"one_edit"}) | {"one_edit_other_name"}


def _best(levels: set[str], weights: Mapping[str, float]) -> tuple[str, float]:
    scored = [(weights[level], level) for level in levels if level in weights]
    if not scored:
        return "none", weights["none"]
    weight, level = max(scored)
    return level, weight


def _frequency_bits(
    key: str,
    counts: Mapping[str, int],
    rarest: int,
    stats: NameStats,
    config: Mapping[str, float],
) -> float:
    if stats.total < config["min_total"]:
        return 0.0
    count = counts.get(key)
    if count is None:
        # Not among the most frequent names: at most as common as the rarest one listed.
        count = max(1, rarest // 2)
    share = count / stats.total
    bits = math.log2(config["reference_share"] / share)
    return max(config["min_bits"], min(config["max_bits"], bits))


@functools.lru_cache(maxsize=1 << 14)
def _normalise_reference(text: str) -> str:
    return LEGAL_FORMS.sub("", fold_kanji(unicodedata.normalize("NFKC", text)))


def _similar_address(a: str | None, b: str | None, minimum: float) -> bool:
    """People remember the prefecture and city of an address, so a remembered prefix agrees."""
    if not a or not b:
        return False
    left, right = _normalise_reference(a), _normalise_reference(b)
    return bool(left and right) and partial_ratio(left, right) >= minimum


def _similar_employer(a: str | None, b: str | None, minimum: float) -> bool:
    """The whole name must agree (or start the other: 大西呉服 / 大西呉服店).

    A partial ratio would let the trade word carry the match: 大和瓦斯 / 協和瓦斯 and
    西田材木店 / 田原材木店 are different firms that share most of their characters.
    """
    if not a or not b:
        return False
    left, right = _normalise_reference(a), _normalise_reference(b)
    if not left or not right:
        return False
    shorter, longer = sorted((left, right), key=len)
    # A remembered name cut short (大西呉服 / 大西呉服店) agrees; a trade word or a stem alone
    # (瓦斯, 日本 in 日本製鉄) does not.
    contained = longer.startswith(shorter) if len(shorter) >= 3 else False
    return contained or ratio(left, right) >= minimum


def record_birth_date(birth_key: str) -> BirthDate:
    return BirthDate(int(birth_key[:4]), int(birth_key[4:6]), int(birth_key[6:8]))


_record_birth_date = functools.lru_cache(maxsize=1 << 15)(record_birth_date)
"""Records share their keyed dates (some 30,000 across a ledger): parsed once each."""


# -- scoring -----------------------------------------------------------------------------------


_KANA_LEVELS = frozenset(fields.KANA_LEVELS)
PartMemo = dict[tuple[Any, ...], tuple[str, float, bool]]
"""``_part_score`` results within one check (``decide``): the candidates of a check share their
name parts (a crowd of ヤスダ), and a part's score depends only on what the record holds."""


def _record_part_key(record: Mapping[str, Any]) -> tuple[Any, ...]:
    """Everything ``_part_score_of`` reads of a record's name part: its sub-fields (the check's
    ``levels`` are the kana levels, ``PartKeys.levels``), readings as a tuple."""
    readings = record.get(fields.READINGS)
    return (
        record.get(fields.EXACT),
        record.get(fields.ORTHOGRAPHIC),
        record.get(fields.VOICELESS),
        record.get(fields.CONFUSABLE),
        record.get(fields.KANJI),
        tuple(readings) if isinstance(readings, list) else readings,
    )


def _part_score(
    check: PartKeys,
    record: Mapping[str, Any],
    weights: Mapping[str, float],
    counts: Mapping[str, int],
    rarest: int,
    stats: NameStats,
    config: MatchingConfig,
    memo: PartMemo | None = None,
) -> tuple[str, float, bool]:
    """Level and weight of one name part, with the one-edit demotion and frequency bits, and
    whether any level that agrees on the name (not a mere co-reading) applies."""
    if memo is None or not _KANA_LEVELS.issuperset(check.levels):
        return _part_score_of(check, record, weights, counts, rarest, stats, config)
    # The same check part, weights and counts objects within one check: their ids suffice.
    key = (id(check), id(weights), id(counts), _record_part_key(record))
    known = memo.get(key)
    if known is None:
        known = memo[key] = _part_score_of(check, record, weights, counts, rarest, stats, config)
    return known


def _part_score_of(
    check: PartKeys,
    record: Mapping[str, Any],
    weights: Mapping[str, float],
    counts: Mapping[str, int],
    rarest: int,
    stats: NameStats,
    config: MatchingConfig,
) -> tuple[str, float, bool]:
    check_key = check.levels.get("orthographic", "")
    record_key = str(record.get(fields.ORTHOGRAPHIC, ""))
    levels = _demote_one_edit(
        part_levels(check, record), check_key, record_key, counts, stats, config.frequency
    )
    level, weight = _best(levels, weights)
    if level in FREQUENCY_ADJUSTED:
        weight += _frequency_bits(record_key, counts, rarest, stats, config.frequency)
    return level, weight, bool(levels - SURNAME_DISAGREES)


def _name_contributions(
    keys: CheckKeys,
    doc: Mapping[str, Any],
    config: MatchingConfig,
    stats: NameStats,
    memo: PartMemo | None = None,
) -> tuple[list[Contribution], bool]:
    names = keys.names
    assert names.surname is not None and names.given is not None
    sur, given = doc.get(fields.SURNAME), doc.get(fields.GIVEN)
    if sur and given:
        level, weight, agrees = _part_score(
            names.surname,
            sur,
            config.surname,
            stats.surnames,
            stats.rarest_surname,
            stats,
            config,
            memo,
        )
        if level == "none" and keys.check.gender == "F":
            weight = config.surname["none_female"]
        feature = "surname"
        for index, former in enumerate(keys.former_surnames):
            f_level, f_weight, f_agrees = _part_score(
                former,
                sur,
                config.surname,
                stats.surnames,
                stats.rarest_surname,
                stats,
                config,
                memo,
            )
            f_weight -= config.surname["former_penalty"]
            # A declared former surname that agrees replaces a current one that does not,
            # whatever the weights (a co-reading of the current one can outweigh it).
            if f_agrees and (f_weight > weight or not agrees):
                level, weight, feature, agrees = f_level, f_weight, f"former_surname[{index}]", True
        g_level, g_weight, _ = _part_score(
            names.given,
            given,
            config.given,
            stats.given_names,
            stats.rarest_given_name,
            stats,
            config,
            memo,
        )
        return [
            _contribution(feature, level, weight),
            _contribution("given_name", g_level, g_weight),
        ], agrees
    # A record keyed without a space: compare whole names, then the given name as a suffix.
    full = doc.get(fields.FULL) or {}
    candidates = [names.full, *keys.former_full_names]
    best_level, best_weight = "none", config.full["none"]
    for index, check_full in enumerate(candidates):
        level, weight = _best(part_levels(check_full, full), config.full)
        if index > 0 and level != "none":
            weight -= config.surname["former_penalty"]
        if level in FREQUENCY_ADJUSTED:
            # A whole name is as common as its two parts together: ナカムラキヨミ keyed
            # without a space is no rarer evidence than ナカムラ + キヨミ keyed with one.
            surname = names.surname if index == 0 else keys.former_surnames[index - 1]
            weight += _frequency_bits(
                surname.levels.get(fields.ORTHOGRAPHIC, ""),
                stats.surnames,
                stats.rarest_surname,
                stats,
                config.frequency,
            ) + _frequency_bits(
                names.given.levels.get(fields.ORTHOGRAPHIC, ""),
                stats.given_names,
                stats.rarest_given_name,
                stats,
                config.frequency,
            )
        if weight > best_weight:
            best_level, best_weight = level, weight
    if best_level != "none":
        return [_contribution("full_name", best_level, best_weight)], True
    given_orth = names.given.levels.get("orthographic", "")
    if given_orth and given_orth in (doc.get(fields.GIVEN_SUFFIXES) or ()):
        return [_contribution("full_name", "given_suffix", config.full["given_suffix"])], False
    return [_contribution("full_name", "none", config.full["none"])], False


def score_candidate(
    keys: CheckKeys,
    doc: Mapping[str, Any],
    config: MatchingConfig,
    stats: NameStats,
    memo: PartMemo | None = None,
) -> CandidateScore:
    """``memo``: name-part scores already computed for this check (``decide`` passes one)."""
    contributions, surname_agrees = _name_contributions(keys, doc, config, stats, memo)
    date_level = classify_date_difference(
        keys.birth_date, _record_birth_date(doc[fields.BIRTH_KEY])
    )
    contributions.append(_contribution("birth_date", date_level, config.birth_date[date_level]))
    gender_level = "agree" if doc.get(fields.GENDER) == keys.check.gender else "disagree"
    contributions.append(_contribution("gender", gender_level, config.gender[gender_level]))
    reference_agrees = False
    check = keys.check
    if _similar_employer(
        check.employer_name, doc.get(fields.EMPLOYER), config.reference["employer_min_similarity"]
    ):
        contributions.append(_contribution("employer", "agree", config.reference["employer_agree"]))
        reference_agrees = True
    if _similar_address(
        check.address, doc.get(fields.ADDRESS), config.reference["address_min_similarity"]
    ):
        contributions.append(_contribution("address", "agree", config.reference["address_agree"]))
        reference_agrees = True
    total = round(sum(c.weight for c in contributions), 3)
    return CandidateScore(
        record_id=str(doc[fields.RECORD_ID]),
        total=total,
        contributions=tuple(contributions),
        surname_agrees=surname_agrees,
        reference_agrees=reference_agrees,
    )


def decide(
    keys: CheckKeys,
    docs: Sequence[Mapping[str, Any]],
    config: MatchingConfig,
    stats: NameStats,
) -> Decision:
    memo: PartMemo = {}
    scores = sorted(
        (score_candidate(keys, doc, config, stats, memo) for doc in docs),
        key=lambda s: s.total,
        reverse=True,
    )
    passing = [s for s in scores if s.passes(config.threshold)]
    return Decision(
        found=bool(passing),
        record_ids=tuple(s.record_id for s in passing[: config.token_records]),
        best=scores[0] if scores else None,
        scores=tuple(scores),
    )
