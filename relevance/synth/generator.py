"""``generate``: owners first, then the background ledger, then hard negatives checked against
every record, then ids assigned after shuffling."""

from __future__ import annotations

from random import Random
from typing import Any, Final

from relevance.synth.config import SynthConfig, SynthSet
from relevance.synth.dates import KeyedDate
from relevance.synth.draft import base_draft
from relevance.synth.names import Person, draw_person, name_tables
from relevance.synth.negatives import NEGATIVE_KIND_SHARES, Negative, RecordIndex, make_negative
from relevance.synth.owners import make_owner
from relevance.synth.patterns import CLEAN, ERROR_TAGS, MAIDEN_TAGS, apply_tags, draw_error_tags
from relevance.synth.population import BirthDates
from relevance.synth.records import record_for
from relevance.synth.sampling import pick
from relevance.synth.stats import summarize

CLEAN_SHARE: Final = 0.15  # owners whose record is clean: the easy ones were merged long ago


def _split(total: int, shares: dict[str, float]) -> list[str]:
    """Exactly ``total`` labels in the given proportions (largest remainders)."""
    raw = {k: total * v / sum(shares.values()) for k, v in shares.items()}
    counts = {k: int(v) for k, v in raw.items()}
    short = total - sum(counts.values())
    for k in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)[:short]:
        counts[k] += 1
    return [k for k, n in counts.items() for _ in range(n)]


def generate(config: SynthConfig) -> SynthSet:
    """Build the extract and the checks; the same config always gives the same output."""
    rng = Random(config.seed)
    names = name_tables()
    dates = BirthDates(rng, config.records, config.density)
    n_owners = round(config.checks * config.owner_share)

    # Owners: the plan forces every pattern to appear once when there are enough owners.
    n_clean = round(n_owners * CLEAN_SHARE)
    plan: list[str | None] = [CLEAN] * n_clean
    coverage = list(ERROR_TAGS)
    rng.shuffle(coverage)
    plan += coverage[: n_owners - n_clean]
    plan += [None] * (n_owners - len(plan))
    rng.shuffle(plan)
    owners = [make_owner(rng, names, dates, first) for first in plan]

    records: list[dict[str, str]] = []
    keyed_dates: list[KeyedDate] = []
    people: list[tuple[Person, int]] = []
    for owner in owners:
        people.append((owner.as_recorded, len(records)))
        records += owner.records
        keyed_dates += [d.keyed_date for d in owner.drafts]
    if len(records) > config.records:
        raise ValueError(
            f"{config.records} records cannot hold the {len(records)} records of "
            f"{n_owners} owners: ask for more records or fewer checks"
        )

    # Background: everyone else in the ledger, 1–3 records each, degraded like the owners'.
    while len(records) < config.records:
        person = draw_person(rng, names, dates)
        people.append((person, len(records)))
        n = min(int(pick(rng, {"1": 80.0, "2": 15.0, "3": 5.0})), config.records - len(records))
        for _ in range(n):
            tags = (
                (CLEAN,)
                if rng.random() < CLEAN_SHARE
                else draw_error_tags(rng, exclude=MAIDEN_TAGS)
            )
            draft = apply_tags(
                rng,
                base_draft(rng, person, person.surname, person.surname_kana),
                person,
                tags,
                strict=False,
            )
            assert draft is not None
            records.append(record_for(rng, names, draft))
            keyed_dates.append(draft.keyed_date)

    index = RecordIndex()
    for record, keyed_date in zip(records, keyed_dates, strict=True):
        index.add(record, keyed_date)
    for owner in owners:
        index.add_identity(owner.person)

    negatives: list[tuple[str, Negative]] = []
    rejected = 0
    for kind in _split(config.checks - n_owners, NEGATIVE_KIND_SHARES):
        for _ in range(200):
            negative = make_negative(rng, kind, names, dates, people, index)
            if negative is not None:
                negatives.append((kind, negative))
                break
            rejected += 1
        else:
            raise RuntimeError(f"no {kind} negative passes the filter")

    # Ids after shuffling, so neither position nor id tells owners from background.
    order = list(range(len(records)))
    rng.shuffle(order)
    shuffled = [records[i] for i in order]
    for n, record in enumerate(shuffled, start=1):
        record["record_id"] = f"R{n:09d}"

    checks: list[dict[str, Any]] = []
    for owner in owners:
        ids = [r["record_id"] for r in owner.records]
        checks.append(
            {
                "request": owner.request,
                "expected_record_id": ids[0],
                "kind": "owner",
                "tags": list(owner.tags),
                "owner_record_ids": ids,
                "near_record_id": None,
            }
        )
    for kind, negative in negatives:
        near = records[negative.near]["record_id"] if negative.near is not None else None
        checks.append(
            {
                "request": negative.request,
                "expected_record_id": None,
                "kind": kind,
                "tags": [],
                "owner_record_ids": [],
                "near_record_id": near,
            }
        )
    rng.shuffle(checks)
    checks = [{"check_id": f"C{n:07d}", **c} for n, c in enumerate(checks, start=1)]

    stats = summarize(config, shuffled, checks, [keyed_dates[i] for i in order], dates, rejected)
    return SynthSet(config=config, records=shuffled, checks=checks, stats=stats)
