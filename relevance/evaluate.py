"""Evaluation of the finder on labelled checks: recall of owners, false "found" rates, sweep.

Every check runs through the real query path (``Finder``) against a real index. For each check
we keep the best *eligible* score (a candidate that passes the surname-or-reference guard)
and whether that candidate set contains the owner, so one run yields the whole threshold sweep
without re-querying.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

from analyzers.kana import kana_key
from matching.finder import Finder
from search_api.models import ExistenceCheckIn

NO_SCORE = -1000.0
LISTED = 10
"""Record ids a reference token carries (``token_records`` in ``matching.toml``)."""
NOT_ERRORS = frozenset(
    {"kana_only", "half_width", "with_reference", "maiden_name", "former_not_given", "clean"}
)
"""Tags that describe a record or a check rather than a keying error (not counted as errors)."""


@dataclass(frozen=True)
class CheckOutcome:
    check_id: str
    kind: str
    tags: tuple[str, ...]
    expected: str | None
    owner_score: float  # best eligible score of the owner's record (NO_SCORE if not a candidate)
    other_score: float  # best eligible score of any other record
    owner_candidate: bool  # the owner's record was retrieved at all
    baseline_found: bool
    others_above: tuple[float, ...] = ()
    """Eligible scores of other records that rank above the owner's (at most ``LISTED``): the
    token lists only the best few, so a crowd above the owner pushes it out of the list."""


@dataclass
class Rate:
    hits: int = 0
    total: int = 0

    @property
    def value(self) -> float:
        return self.hits / self.total if self.total else 0.0


@dataclass
class EvaluationReport:
    threshold: float
    owners: int
    negatives: int
    recall: float
    false_found: float
    baseline_recall: float
    baseline_false_found: float
    blocking_misses: int
    found_for_someone_else: float = 0.0
    recall_by_tag: dict[str, dict[str, float]] = field(default_factory=dict)
    recall_by_error_count: dict[str, dict[str, float]] = field(default_factory=dict)
    false_found_by_kind: dict[str, dict[str, float]] = field(default_factory=dict)
    sweep: list[dict[str, float]] = field(default_factory=list)
    worst_misses: list[dict[str, Any]] = field(default_factory=list)
    misses_by_tag: dict[str, list[str]] = field(default_factory=dict)
    """Every owner not found, by error pattern (check ids only): what to run ``explain`` on."""
    worst_false_alarms: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)


def _normalised(item: dict[str, Any]) -> dict[str, Any]:
    """Labelled checks come in two shapes: our generator's (``check_id``,
    ``expected_record_id``) and the independent sets' (``id``, ``label``, ``owner_record_id``);
    both become the first."""
    if "check_id" in item:
        return item
    owner = item.get("owner_record_id") if item.get("label", "pos") == "pos" else None
    return {
        "check_id": item["id"],
        "kind": item.get("kind", "owner" if owner else "negative"),
        "tags": item.get("tags", []),
        "expected_record_id": owner,
        "request": item["request"],
    }


def load_checks(path: Path) -> list[dict[str, Any]]:
    """Labelled checks from JSONL, gzipped or not, in either shape (see ``_normalised``)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as stream:
        return [_normalised(json.loads(line)) for line in stream if line.strip()]


def error_count(tags: Iterable[str]) -> int:
    return sum(1 for tag in tags if tag not in NOT_ERRORS)


def baseline_found(client: OpenSearch, alias: str, request: ExistenceCheckIn) -> bool:
    """The historical rule: exact normalised kana name, birth date and gender all equal."""
    check = request.to_check()
    full = kana_key(check.surname_kana + check.given_name_kana, "exact")
    body = {
        "size": 0,
        "track_total_hits": 1,
        "query": {
            "bool": {
                "filter": [
                    {"term": {"full.exact": full}},
                    {"term": {"birth_key": check.birth_date.key}},
                    {"term": {"gender": check.gender}},
                ]
            }
        },
    }
    response = client.search(index=alias, body=body)
    return int(response["hits"]["total"]["value"]) > 0


def run_check(
    client: OpenSearch,
    finder: Finder,
    labelled: Mapping[str, Any],
    baseline: bool | None = None,
) -> CheckOutcome:
    """One labelled check through the real query path; ``baseline`` is the historical rule's
    answer when already known (a second configuration over the same index and checks)."""
    request = ExistenceCheckIn.model_validate(labelled["request"])
    decision = finder.find(client, request.to_check())
    expected = labelled.get("expected_record_id")
    # Any record of the person's own is a right answer: staff will find the rest.
    owned = set(labelled.get("owner_record_ids") or ([expected] if expected else []))
    owner_score = other_score = NO_SCORE
    owner_candidate = False
    others: list[float] = []
    for score in decision.scores:
        eligible = score.surname_agrees or score.reference_agrees
        if score.record_id in owned:
            owner_candidate = True
            if eligible:
                owner_score = max(owner_score, score.total)
        elif eligible:
            other_score = max(other_score, score.total)
            others.append(score.total)
    above = sorted((s for s in others if s > owner_score), reverse=True)[:LISTED]
    return CheckOutcome(
        check_id=str(labelled["check_id"]),
        kind=str(labelled["kind"]),
        tags=tuple(labelled.get("tags", ())),
        expected=expected,
        owner_score=owner_score,
        other_score=other_score,
        owner_candidate=owner_candidate,
        others_above=tuple(above),
        baseline_found=(
            baseline if baseline is not None else baseline_found(client, finder.alias, request)
        ),
    )


def _owner_found(outcome: CheckOutcome, threshold: float) -> bool:
    """Found, with the owner among the records the token carries."""
    return outcome.owner_score >= threshold and len(outcome.others_above) < LISTED


def _found_for_someone_else(outcome: CheckOutcome, threshold: float) -> bool:
    """An owner told "found" whose token lists only other people's records."""
    return _false_found(outcome, threshold) and not _owner_found(outcome, threshold)


def _false_found(outcome: CheckOutcome, threshold: float) -> bool:
    return max(outcome.owner_score, outcome.other_score) >= threshold


def sweep(outcomes: Sequence[CheckOutcome], thresholds: Iterable[float]) -> list[dict[str, float]]:
    owners = [o for o in outcomes if o.expected]
    negatives = [o for o in outcomes if not o.expected]
    rows = []
    for t in thresholds:
        recall = sum(_owner_found(o, t) for o in owners) / max(1, len(owners))
        false = sum(_false_found(o, t) for o in negatives) / max(1, len(negatives))
        rows.append(
            {"threshold": round(t, 2), "recall": round(recall, 4), "false_found": round(false, 4)}
        )
    return rows


def _misses_by_tag(owners: Sequence[CheckOutcome], threshold: float) -> dict[str, list[str]]:
    misses: dict[str, list[str]] = defaultdict(list)
    for o in owners:
        if not _owner_found(o, threshold):
            for tag in o.tags or ("untagged",):
                misses[tag].append(o.check_id)
    return {tag: sorted(ids) for tag, ids in sorted(misses.items())}


def report(outcomes: Sequence[CheckOutcome], threshold: float) -> EvaluationReport:
    owners = [o for o in outcomes if o.expected]
    negatives = [o for o in outcomes if not o.expected]
    by_tag: dict[str, Rate] = defaultdict(Rate)
    baseline_by_tag: dict[str, Rate] = defaultdict(Rate)
    for o in owners:
        for tag in o.tags or ("untagged",):
            by_tag[tag].total += 1
            by_tag[tag].hits += _owner_found(o, threshold)
            baseline_by_tag[tag].total += 1
            baseline_by_tag[tag].hits += o.baseline_found
    by_errors: dict[str, Rate] = defaultdict(Rate)
    for o in owners:
        errors = error_count(o.tags)
        bucket = by_errors[str(errors) if errors < 4 else "4+"]
        bucket.total += 1
        bucket.hits += _owner_found(o, threshold)
    by_kind: dict[str, Rate] = defaultdict(Rate)
    baseline_by_kind: dict[str, Rate] = defaultdict(Rate)
    for o in negatives:
        by_kind[o.kind].total += 1
        by_kind[o.kind].hits += _false_found(o, threshold)
        baseline_by_kind[o.kind].total += 1
        baseline_by_kind[o.kind].hits += o.baseline_found
    grid = [x / 2 for x in range(0, 61)]
    misses = sorted(
        (o for o in owners if not _owner_found(o, threshold)), key=lambda o: o.owner_score
    )[:15]
    alarms = sorted(
        (o for o in negatives if _false_found(o, threshold)),
        key=lambda o: -max(o.owner_score, o.other_score),
    )[:15]
    return EvaluationReport(
        threshold=threshold,
        owners=len(owners),
        negatives=len(negatives),
        recall=round(sum(_owner_found(o, threshold) for o in owners) / max(1, len(owners)), 4),
        false_found=round(
            sum(_false_found(o, threshold) for o in negatives) / max(1, len(negatives)), 4
        ),
        baseline_recall=round(sum(o.baseline_found for o in owners) / max(1, len(owners)), 4),
        baseline_false_found=round(
            sum(o.baseline_found for o in negatives) / max(1, len(negatives)), 4
        ),
        blocking_misses=sum(not o.owner_candidate for o in owners),
        found_for_someone_else=round(
            sum(_found_for_someone_else(o, threshold) for o in owners) / max(1, len(owners)), 4
        ),
        recall_by_error_count={
            n: {"n": r.total, "recall": round(r.value, 4)} for n, r in sorted(by_errors.items())
        },
        recall_by_tag={
            tag: {
                "n": r.total,
                "recall": round(r.value, 4),
                "baseline": round(baseline_by_tag[tag].value, 4),
            }
            for tag, r in sorted(by_tag.items())
        },
        false_found_by_kind={
            kind: {
                "n": r.total,
                "false_found": round(r.value, 4),
                "baseline": round(baseline_by_kind[kind].value, 4),
            }
            for kind, r in sorted(by_kind.items())
        },
        sweep=sweep(outcomes, grid),
        misses_by_tag=_misses_by_tag(owners, threshold),
        worst_misses=[
            {
                "check_id": o.check_id,
                "tags": list(o.tags),
                "owner_score": o.owner_score,
                "retrieved": o.owner_candidate,
            }
            for o in misses
        ],
        worst_false_alarms=[
            {"check_id": o.check_id, "kind": o.kind, "score": max(o.owner_score, o.other_score)}
            for o in alarms
        ],
    )


def _found(outcome: CheckOutcome, threshold: float) -> bool:
    return (_owner_found if outcome.expected else _false_found)(outcome, threshold)


def _score(outcome: CheckOutcome) -> float:
    return (
        outcome.owner_score if outcome.expected else max(outcome.owner_score, outcome.other_score)
    )


def changed_outcomes(
    before: Sequence[CheckOutcome],
    after: Sequence[CheckOutcome],
    before_threshold: float,
    after_threshold: float,
) -> list[dict[str, Any]]:
    """The checks whose answer differs between two configurations over the same checks.

    What a relevance engineer reads before adopting a change: each owner newly found or lost,
    each person with no record newly (or no longer) told "found", with both scores. Check ids,
    tags and scores only: look a check up with ``mochinushi explain``.
    """
    rows: list[dict[str, Any]] = []
    for old, new in zip(before, after, strict=True):
        if old.check_id != new.check_id:
            raise ValueError("the two runs did not evaluate the same checks in the same order")
        was, now = _found(old, before_threshold), _found(new, after_threshold)
        if was == now:
            continue
        if old.expected:
            effect = "owner found" if now else "owner missed"
        else:
            effect = "new false alarm" if now else "false alarm gone"
        rows.append(
            {
                "check_id": old.check_id,
                "kind": old.kind,
                "tags": list(old.tags),
                "effect": effect,
                "score_before": _score(old),
                "score_after": _score(new),
            }
        )
    order = ["owner found", "false alarm gone", "owner missed", "new false alarm"]
    return sorted(rows, key=lambda row: (order.index(row["effect"]), row["check_id"]))


def calibrated_threshold(
    outcomes: Sequence[CheckOutcome], max_false_found: float, step: float = 0.25
) -> float:
    """The lowest threshold whose false "found" rate on the negatives is ≤ the target."""
    negatives = [o for o in outcomes if not o.expected]
    t = 0.0
    while t < 60:
        false = sum(_false_found(o, t) for o in negatives) / max(1, len(negatives))
        if false <= max_false_found:
            return round(t, 2)
        t += step
    return 60.0


def write_threshold(config_path: Path, threshold: float) -> None:
    text = config_path.read_text(encoding="utf-8")
    new, count = re.subn(r"(?m)^threshold = [0-9.]+", f"threshold = {threshold}", text)
    if count != 1:
        raise ValueError(f"{config_path} has no single 'threshold = …' line to update")
    config_path.write_text(new, encoding="utf-8")


def plot(report_: EvaluationReport, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [row["false_found"] for row in report_.sweep]
    ys = [row["recall"] for row in report_.sweep]
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    ax.plot(xs, ys, marker=".", label="mochinushi (threshold sweep)")
    ax.scatter(
        [report_.baseline_false_found],
        [report_.baseline_recall],
        color="red",
        label="baseline: exact kana + date + gender",
        zorder=3,
    )
    ax.scatter(
        [report_.false_found],
        [report_.recall],
        color="green",
        marker="*",
        s=150,
        label=f"chosen threshold {report_.threshold}",
        zorder=3,
    )
    ax.set_xlabel('false "found" rate on people with no record')
    ax.set_ylabel("recall of owners")
    ax.set_xlim(-0.01, max(0.2, max(xs) if xs else 0.2))
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
