"""The candidate query's shape: named clauses only when explaining."""

from __future__ import annotations

import json
from typing import Any

from analyzers.dates import parse_user_date
from analyzers.readings import default_reading_dictionary
from matching.checks import Check, check_keys
from matching.query import candidate_query

CHECK = Check(
    surname_kana="アライ",
    given_name_kana="オサム",
    surname_kanji="荒井",
    given_name_kanji="修",
    birth_date=parse_user_date("1946-08-18"),
    gender="M",
)


def _names(body: Any) -> list[str]:
    found: list[str] = []
    if isinstance(body, dict):
        if "_name" in body:
            found.append(body["_name"])
        for value in body.values():
            found += _names(value)
    elif isinstance(body, list):
        for value in body:
            found += _names(value)
    return found


def test_checks_send_no_clause_names_and_explain_names_every_clause() -> None:
    keys = check_keys(CHECK, default_reading_dictionary())
    plain = candidate_query(keys, size=30, window_days=30)
    named = candidate_query(keys, size=30, window_days=30, named=True)
    assert _names(plain) == []
    labels = _names(named)
    assert {"sur:exact", "given:kanji", "full:one_edit", "date:exact"} <= set(labels)
    # Same clauses apart from the labels.
    assert json.dumps(plain).count("boost") == json.dumps(named).count("boost")


def test_readings_equal_to_the_typed_kana_are_not_sent_twice() -> None:
    keys = check_keys(CHECK, default_reading_dictionary())
    body = json.dumps(candidate_query(keys, size=30, window_days=30), ensure_ascii=False)
    assert '"sur.orthographic": ["アライ"]' not in body
    assert '"sur.orthographic": {"value": "アライ"' in body


def test_hits_come_with_their_source_unfiltered() -> None:
    """Filtering ``_source`` made the node parse and rewrite every hit (bench/api_latency.py):
    hits carry the whole stored source, which the scorer reads what it compares from."""
    keys = check_keys(CHECK, default_reading_dictionary())
    assert candidate_query(keys, size=30, window_days=30)["_source"] is True
