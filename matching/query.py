"""The candidate query: one OpenSearch request per check.

Birth-date keys block (a filter: only records whose keyed date could be a slip of the
person's date are considered); name keys at every fold level retrieve and rank the
plausible ones. Ranking here only has to get the owner into the top ``candidates``; the
decision is made afterwards by the transparent scorer (``scoring.py``) on those few records.
With ``named=True`` (``mochinushi explain``) every clause is named, so ``matched_queries`` shows
which keys retrieved a record; checks leave the names out, because OpenSearch then re-runs
every named clause against every hit (about 45 % of the cluster's time per check).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from analyzers.dates import BirthDate, DateVariant, birth_date_variants
from analyzers.keys import PartKeys, one_edit_keys
from matching import fields
from matching.checks import CheckKeys

# Boosts order the fold levels for ranking only; the scorer decides with its own weights.
LEVEL_BOOSTS: dict[str, float] = {
    "exact": 8.0,
    "orthographic": 7.0,
    "voiceless": 5.0,
    "confusable": 4.0,
}
READING_BOOST = 6.0
KANJI_BOOST = 6.0
COMPOSED_BOOST = 4.5
CO_READING_BOOST = 4.0
IN_BLOCK_BOOST = 100.0
"""Any record in the date blocking proper outranks a record the whole-name path brought in from
months away: the name parts of a common whole name score some 100 more than a name with one
slip, and that margin must not push an owner keyed with the person's own date out of the list."""
DATE_TIER_BOOSTS: dict[str, float] = {
    "exact": 60.0,
    "off_by_one_day": 25.0,
    "day_month_swap": 25.0,
    "era_swap": 25.0,
    "one_digit": 10.0,
    "digit_transposition": 10.0,
    "window": 8.0,
}
"""Constant scores added for how close the keyed date is, on the scale of the name clauses
(a name part scores boost × idf, some 50-100): in a crowd of ~550 records per birth date, where
a common whole name recurs every few days, the owner keyed with the person's own date must
outrank the namesakes a year off that the whole-name path brings in. Year-digit slips and
dates beyond the window get nothing: they are as likely another person."""
ONE_EDIT_BOOST = 30.0
"""``terms`` clauses score their boost alone, while ``term`` clauses score boost × idf, and a whole
name is rare (idf ≈ 10 at 200k records): 30 ranks a slip where the fuzzy clause it replaced,
boost 3 × idf, did."""
FORMER_FACTOR = 0.9
EMPLOYER_BOOST = 20.0
ADDRESS_BOOST = 10.0
"""A record whose employer (or address) holds every word the person remembered ranks among the
candidates on its given name and date alone: the way a record under a surname the person did
not declare (a maiden name) is found. It never retrieves on its own (a name clause must match),
and the scorer still decides."""
SOURCE = True
"""Hits come with their whole ``_source``, unfiltered: the node then sends each stored source as
it is, while any ``includes``/``excludes`` made it parse and rewrite every hit's JSON (about a
fifth of its CPU per check on the realistic mix, bench/results/api_profile.txt). The fields the
scorer does not compare (the deletion keys; employer and address when none was given) cost the
API less to parse than their filtering cost the node."""


def _term(field: str, value: str, boost: float, name: str | None) -> dict[str, Any]:
    term: dict[str, Any] = {"value": value, "boost": boost}
    if name:
        term["_name"] = name
    return {"term": {field: term}}


def _labelled(kind: str, body: dict[str, Any], name: str | None) -> dict[str, Any]:
    return {kind: {**body, "_name": name} if name else body}


def _part_clauses(
    field: str, keys: PartKeys, tag: str, factor: float = 1.0, named: bool = False
) -> list[dict[str, Any]]:
    """Clauses matching one name part of the check against ``field`` (sur, given or full)."""

    def label(what: str) -> str | None:
        return f"{tag}:{what}" if named else None

    clauses: list[dict[str, Any]] = []
    for level, boost in LEVEL_BOOSTS.items():
        value = keys.levels.get(level)
        if value:
            clauses.append(_term(fields.sub(field, level), value, boost * factor, label(level)))
    orth = keys.levels.get("orthographic", "")
    if orth:
        # The record's kanji has a dictionary reading equal to what the person typed.
        clauses.append(
            _term(
                fields.sub(field, fields.READINGS), orth, READING_BOOST * factor, label("reading")
            )
        )
        # One slip clause, on the whole name, finds a slip in either part (per-part clauses
        # doubled the cost of every check for no extra recall). Deletion keys are exact term
        # lookups; the fuzzy query they replace walked the term dictionary of every segment and
        # was 40 % of the cluster's time per check.
        deletions = one_edit_keys(orth) if field == fields.FULL else ()
        if deletions:
            clauses.append(
                _labelled(
                    "bool",
                    {
                        "should": [
                            {
                                "terms": {
                                    fields.sub(fields.FULL, fields.DELETIONS): [orth, *deletions]
                                }
                            },
                            {
                                "terms": {
                                    fields.sub(fields.FULL, fields.ORTHOGRAPHIC): list(deletions)
                                }
                            },
                        ],
                        "boost": ONE_EDIT_BOOST * factor,
                    },
                    label("one_edit"),
                )
            )
    # A reading equal to the kana typed is already the orthographic clause, boosted higher.
    readings = sorted(keys.readings - {orth})
    if readings:
        # The person's kanji has a reading equal to what was keyed on the record.
        body = {fields.sub(field, fields.ORTHOGRAPHIC): readings, "boost": READING_BOOST * factor}
        clauses.append(_labelled("terms", body, label("reading")))
    composed = sorted(keys.composed - {orth})
    if composed:
        body = {fields.sub(field, fields.ORTHOGRAPHIC): composed, "boost": COMPOSED_BOOST * factor}
        clauses.append(_labelled("terms", body, label("composed")))
    co_readings = sorted(keys.co_readings - {orth})
    if co_readings:
        body = {
            fields.sub(field, fields.ORTHOGRAPHIC): co_readings,
            "boost": CO_READING_BOOST * factor,
        }
        clauses.append(_labelled("terms", body, label("co_reading")))
    if keys.kanji:
        clauses.append(
            _term(fields.sub(field, fields.KANJI), keys.kanji, KANJI_BOOST * factor, label("kanji"))
        )
    return clauses


def _dis_max(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    return {"dis_max": {"queries": clauses, "tie_breaker": 0.1}}


@functools.lru_cache(maxsize=1 << 15)
def _variants(birth_date: BirthDate) -> tuple[DateVariant, ...]:
    # Cached: about 30,000 distinct birth dates cover everyone who asks; the blocking keys and
    # the date tiers are both made from them.
    return tuple(birth_date_variants(birth_date))


@functools.lru_cache(maxsize=1 << 15)
def _blocking_keys(birth_date: BirthDate) -> tuple[str, ...]:
    return tuple(sorted({v.key for v in _variants(birth_date)}))


MAX_NAME_VALUES = 8
"""Spellings per name part in the whole-name filter (the typed kana and its first readings)."""
SAME_DAY_YEARS = 5
"""The same month and day is looked for this many years either side, when the name agrees."""


def _part_values(keys: PartKeys) -> list[str]:
    orth = keys.levels.get(fields.ORTHOGRAPHIC, "")
    values = [orth] if orth else []
    values += sorted(keys.readings - {orth})
    return values[:MAX_NAME_VALUES]


def _part_agrees(part: str, keys: PartKeys, extra: tuple[PartKeys, ...] = ()) -> dict[str, Any]:
    """The record's name part agrees at the exact, orthographic, reading or kanji level."""
    values = sorted({v for k in (keys, *extra) for v in _part_values(k)})
    typed = sorted({o for k in (keys, *extra) if (o := k.levels.get(fields.ORTHOGRAPHIC))})
    should: list[dict[str, Any]] = [{"terms": {fields.sub(part, fields.ORTHOGRAPHIC): values}}]
    if typed:
        should.append({"terms": {fields.sub(part, fields.READINGS): typed}})
    kanji = sorted({k.kanji for k in (keys, *extra) if k.kanji})
    if kanji:
        should.append({"terms": {fields.sub(part, fields.KANJI): kanji}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def whole_name_agrees(check: CheckKeys) -> dict[str, Any]:
    """Surname (or a declared former one) and given name both agree, split or keyed whole."""
    names = check.names
    assert names.surname is not None and names.given is not None
    split = {
        "bool": {
            "filter": [
                _part_agrees(fields.SURNAME, names.surname, check.former_surnames),
                _part_agrees(fields.GIVEN, names.given),
            ]
        }
    }
    surnames = [names.surname, *check.former_surnames]
    wholes = sorted(
        {s + g for k in surnames for s in _part_values(k) for g in _part_values(names.given)}
    )
    unsplit = {"terms": {fields.sub(fields.FULL, fields.ORTHOGRAPHIC): wholes}}
    return {"bool": {"should": [split, unsplit], "minimum_should_match": 1}}


def _same_day_keys(birth_date: BirthDate) -> list[str]:
    return [
        BirthDate(birth_date.year + delta, birth_date.month, birth_date.day).key
        for delta in range(-SAME_DAY_YEARS, SAME_DAY_YEARS + 1)
        if delta
    ]


def date_blocking_filter(
    check: CheckKeys, window_days: int, name_agrees_window_days: int = 0
) -> dict[str, Any]:
    """Records whose keyed date could be a slip of the person's; and, when the whole name
    agrees, dates remembered further off (late registration, a date told by the parents)."""
    should: list[dict[str, Any]] = [{"terms": {fields.BIRTH_KEY: _blocking_keys(check.birth_date)}}]
    day = check.birth_date.as_date()
    if day is not None and window_days > 0:
        should.append(_date_range(day, window_days))
    if name_agrees_window_days > 0:
        wide: list[dict[str, Any]] = [
            {"terms": {fields.BIRTH_KEY: _same_day_keys(check.birth_date)}}
        ]
        if day is not None:
            wide.append(_date_range(day, name_agrees_window_days))
        should.append(
            {
                "bool": {
                    "filter": [
                        whole_name_agrees(check),
                        {"bool": {"should": wide, "minimum_should_match": 1}},
                    ]
                }
            }
        )
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _date_range(day: dt.date, days: int) -> dict[str, Any]:
    window = dt.timedelta(days=days)
    return {
        "range": {
            fields.BIRTH_DATE: {
                "gte": (day - window).isoformat(),
                "lte": (day + window).isoformat(),
            }
        }
    }


@functools.lru_cache(maxsize=1 << 15)
def _date_tiers(birth_date: BirthDate) -> tuple[tuple[str, tuple[str, ...]], ...]:
    by_kind: dict[str, list[str]] = {}
    for variant in _variants(birth_date):
        if variant.kind in DATE_TIER_BOOSTS:
            by_kind.setdefault(variant.kind, []).append(variant.key)
    return tuple((kind, tuple(keys)) for kind, keys in by_kind.items())


def _constant(body: dict[str, Any], boost: float, name: str | None) -> dict[str, Any]:
    scored: dict[str, Any] = {"filter": body, "boost": boost}
    if name:
        scored["_name"] = name
    return {"constant_score": scored}


def _date_tier_clauses(check: CheckKeys, window_days: int, named: bool) -> list[dict[str, Any]]:
    clauses = [
        _constant(
            date_blocking_filter(check, window_days),
            IN_BLOCK_BOOST,
            "date:in_block" if named else None,
        )
    ]
    clauses += [
        _constant(
            {"terms": {fields.BIRTH_KEY: list(keys)}},
            DATE_TIER_BOOSTS[kind],
            f"date:{kind}" if named else None,
        )
        for kind, keys in _date_tiers(check.birth_date)
    ]
    day = check.birth_date.as_date()
    if day is not None and window_days > 0:
        clauses.append(
            _constant(
                _date_range(day, window_days),
                DATE_TIER_BOOSTS["window"],
                "date:window" if named else None,
            )
        )
    return clauses


def _reference_clauses(check: CheckKeys, named: bool) -> list[dict[str, Any]]:
    clauses = []
    for field, text, boost in (
        (fields.EMPLOYER, check.check.employer_name, EMPLOYER_BOOST),
        (fields.ADDRESS, check.check.address, ADDRESS_BOOST),
    ):
        if text:
            body: dict[str, Any] = {"query": text, "operator": "and", "boost": boost}
            if named:
                body["_name"] = f"reference:{field}"
            clauses.append({"match": {field: body}})
    return clauses


def candidate_query(
    check: CheckKeys,
    *,
    size: int,
    window_days: int,
    name_agrees_window_days: int = 0,
    named: bool = False,
) -> dict[str, Any]:
    """The search body for one check (``named``: label every clause, for explaining)."""
    names = check.names
    assert names.surname is not None and names.given is not None
    surname_clauses = _part_clauses(fields.SURNAME, names.surname, "sur", named=named)
    for index, former in enumerate(check.former_surnames):
        surname_clauses += _part_clauses(
            fields.SURNAME, former, f"former{index}", FORMER_FACTOR, named
        )
    given_clauses = _part_clauses(fields.GIVEN, names.given, "given", named=named)
    full_clauses = _part_clauses(fields.FULL, names.full, "full", named=named)
    for index, full in enumerate(check.former_full_names):
        full_clauses += _part_clauses(fields.FULL, full, f"formerfull{index}", FORMER_FACTOR, named)
    suffix = names.given.levels.get("orthographic")
    if suffix:
        label = "given_suffix" if named else None
        full_clauses.append(_term(fields.GIVEN_SUFFIXES, suffix, 4.0, label))
    return {
        "size": size,
        "track_total_hits": False,
        "_source": SOURCE,
        "query": {
            "bool": {
                "filter": [date_blocking_filter(check, window_days, name_agrees_window_days)],
                "must": [
                    {
                        "bool": {
                            "should": [
                                _dis_max(surname_clauses),
                                _dis_max(given_clauses),
                                _dis_max(full_clauses),
                            ],
                            "minimum_should_match": 1,
                        }
                    }
                ],
                # Among records whose names agree alike (a crowd of イトウ), the ones keyed with
                # the person's own date, then with its likely slips, rank first; they never
                # retrieve on their own.
                "should": [
                    *_date_tier_clauses(check, window_days, named),
                    *_reference_clauses(check, named),
                ],
            }
        },
    }
