"""Estimating comparison-level weights from labelled checks (Fellegi–Sunter m and u).

For every labelled check the real query retrieves candidates; each candidate lands on one
level per feature. m = P(level | the candidate is the person's own record) and u =
P(level | it is someone else's), both among *retrieved* candidates, because that is the crowd
the scorer has to tell apart. The suggested weight is log2(m / u), smoothed. A relevance
engineer reads the table beside ``matching.toml``; nothing is written automatically, because
a synthetic set's error rates are an assumption, not the ledger's truth.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from opensearchpy import OpenSearch

from matching.finder import Finder
from search_api.models import ExistenceCheckIn

Level = tuple[str, str]


@dataclass(frozen=True)
class LevelEstimate:
    feature: str
    level: str
    m: float
    u: float
    own_pairs: int
    other_pairs: int

    @property
    def weight(self) -> float:
        return math.log2(self.m / self.u)


def count_levels(
    client: OpenSearch, finder: Finder, labelled: Iterable[Mapping[str, Any]]
) -> tuple[Counter[Level], Counter[Level], int, int]:
    own: Counter[Level] = Counter()
    other: Counter[Level] = Counter()
    n_own = n_other = 0
    for item in labelled:
        request = ExistenceCheckIn.model_validate(item["request"])
        decision = finder.find(client, request.to_check())
        owners = set(
            item.get("owner_record_ids")
            or ([item["expected_record_id"]] if item.get("expected_record_id") else [])
        )
        for score in decision.scores:
            levels = {(c.feature.split("[")[0], c.level) for c in score.contributions}
            if score.record_id in owners:
                n_own += 1
                own.update(levels)
            else:
                n_other += 1
                other.update(levels)
    return own, other, n_own, n_other


def estimate(
    own: Counter[Level], other: Counter[Level], n_own: int, n_other: int
) -> list[LevelEstimate]:
    """Smoothed (add one half) m and u per level, sorted by feature then weight."""
    rows = [
        LevelEstimate(
            feature=feature,
            level=level,
            m=(own[(feature, level)] + 0.5) / (n_own + 1),
            u=(other[(feature, level)] + 0.5) / (n_other + 1),
            own_pairs=own[(feature, level)],
            other_pairs=other[(feature, level)],
        )
        for feature, level in set(own) | set(other)
    ]
    return sorted(rows, key=lambda r: (r.feature, -r.weight))


def to_json(rows: list[LevelEstimate]) -> str:
    return json.dumps(
        [
            {
                "feature": r.feature,
                "level": r.level,
                "m": round(r.m, 5),
                "u": round(r.u, 6),
                "weight": round(r.weight, 2),
                "own_pairs": r.own_pairs,
                "other_pairs": r.other_pairs,
            }
            for r in rows
        ],
        ensure_ascii=False,
        indent=2,
    )
