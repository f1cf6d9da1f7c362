"""Why a check matched a record or not: the named query, the rank, and the scorer's waterfall.

Sent with every clause named, so ``matched_queries`` shows which keys retrieved each candidate;
a record that the query did not return is looked up by id and scored anyway, marked as a
blocking miss (it could never have been found, whatever the weights).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opensearchpy import OpenSearch

from matching import fields
from matching.checks import Check
from matching.finder import Finder
from matching.scoring import CandidateScore, Decision, score_candidate


class RecordNotFound(LookupError):
    """The record id asked about is not in the index at all."""


@dataclass(frozen=True)
class ExplainedCandidate:
    score: CandidateScore
    rank: int | None
    """1-based rank among the query's candidates; None for a blocking miss."""
    matched_clauses: tuple[str, ...]
    passes: bool


@dataclass(frozen=True)
class Explanation:
    decision: Decision
    threshold: float
    candidates: tuple[ExplainedCandidate, ...]
    retrieved: int


def _explained(
    score: CandidateScore, rank: int | None, hit: Mapping[str, Any] | None, threshold: float
) -> ExplainedCandidate:
    clauses = tuple(sorted(hit.get("matched_queries", []))) if hit else ()
    return ExplainedCandidate(score, rank, clauses, score.passes(threshold))


def explain(
    client: OpenSearch, finder: Finder, check: Check, record_id: str | None = None, top: int = 3
) -> Explanation:
    """The decision for ``check``, with the waterfalls of ``record_id`` (wherever it ranks) or,
    without one, of the ``top`` best-scored candidates."""
    keys, body = finder.body(check, named=True)
    response = client.search(index=finder.alias, body=body, request_timeout=finder.request_timeout)
    hits = response["hits"]["hits"]
    decision = finder.decide(keys, response)
    threshold = finder.config.threshold
    by_id = {h["_source"][fields.RECORD_ID]: (rank, h) for rank, h in enumerate(hits, 1)}
    if record_id is None:
        chosen = [
            _explained(s, by_id[s.record_id][0], by_id[s.record_id][1], threshold)
            for s in decision.scores[:top]
        ]
    elif record_id in by_id:
        rank, hit = by_id[record_id]
        score = score_candidate(keys, hit["_source"], finder.config, finder.stats)
        chosen = [_explained(score, rank, hit, threshold)]
    else:
        lookup = client.search(
            index=finder.alias, body={"query": {"term": {fields.RECORD_ID: record_id}}}
        )
        if not lookup["hits"]["hits"]:
            raise RecordNotFound(record_id)
        doc = lookup["hits"]["hits"][0]["_source"]
        score = score_candidate(keys, doc, finder.config, finder.stats)
        chosen = [_explained(score, None, None, threshold)]
    return Explanation(decision, threshold, tuple(chosen), len(hits))


def waterfall_lines(candidate: ExplainedCandidate, threshold: float) -> list[str]:
    """One line per contribution with the running total, then the verdict."""
    score = candidate.score
    lines: list[str] = []
    running = 0.0
    for c in score.contributions:
        running += c.weight
        bar = ("+" if c.weight >= 0 else "-") * min(40, int(abs(c.weight) * 2))
        lines.append(f"{c.feature:20} {c.level:18} {c.weight:+7.2f}  {running:7.2f}  {bar}")
    guard = (
        ""
        if score.surname_agrees or score.reference_agrees
        else "  (guard: no surname agreement and no reference agreement)"
    )
    verdict = "FOUND" if candidate.passes else "not found"
    lines.append(f"{'total':39} {score.total:7.2f}  threshold {threshold}  → {verdict}{guard}")
    return lines
