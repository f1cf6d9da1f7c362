"""Relevance regression guard: a small synthetic set through the real indexer and query path.

The floors are below what the set measures today (see bench/results/relevance/), so they
catch a real regression in the analyzers, the query or matching.toml, not noise.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from analyzers.readings import default_reading_dictionary
from indexer.build import BuildOptions, build_index
from matching.config import MatchingConfig
from matching.finder import Finder, load_name_stats
from relevance.evaluate import EvaluationReport, load_checks, report, run_check
from relevance.synth import SynthConfig, generate, write_synth_set
from tests.conftest import drop_alias

pytestmark = pytest.mark.opensearch

RECALL_FLOOR = 0.93
FALSE_FOUND_CEILING = 0.02
PATTERN_FLOOR = 0.6
UNREACHABLE_BY_DESIGN = {"maiden_name_not_given"}  # needs reference info; reported, not floored


@pytest.fixture(scope="module")
def evaluation(
    os_client: OpenSearch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EvaluationReport]:
    folder: Path = tmp_path_factory.mktemp("synth")
    write_synth_set(generate(SynthConfig(records=12000, checks=800, seed=23)), folder)
    alias = f"test-relevance-floor-{uuid.uuid4().hex[:12]}"  # this run's own
    readings = default_reading_dictionary()
    try:
        build_index(os_client, folder / "records.jsonl", BuildOptions(alias=alias), readings)
        finder = Finder(
            alias,
            MatchingConfig.load(),
            readings,
            load_name_stats(os_client, alias),
            request_timeout=30,
        )
        checks = load_checks(folder / "checks.jsonl")
        outcomes = [run_check(os_client, finder, item) for item in checks]
        yield report(outcomes, finder.config.threshold)
    finally:
        drop_alias(os_client, alias)


def test_recall_of_owners_and_false_found_rate(evaluation: EvaluationReport) -> None:
    assert evaluation.owners >= 350 and evaluation.negatives >= 350
    assert evaluation.recall >= RECALL_FLOOR, evaluation.to_json()
    assert evaluation.false_found <= FALSE_FOUND_CEILING, evaluation.to_json()


def test_we_beat_the_historical_baseline_by_far(evaluation: EvaluationReport) -> None:
    assert evaluation.baseline_recall < 0.5, "the synthetic owners should be hard"
    assert evaluation.recall > evaluation.baseline_recall + 0.4


def test_every_error_pattern_has_a_floor(evaluation: EvaluationReport) -> None:
    low = {
        tag: row
        for tag, row in evaluation.recall_by_tag.items()
        if tag not in UNREACHABLE_BY_DESIGN and row["n"] >= 5 and row["recall"] < PATTERN_FLOOR
    }
    assert not low, low
