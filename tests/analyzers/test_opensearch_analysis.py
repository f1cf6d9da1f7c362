"""analysis.json is generated from the Python tables and works on the real OpenSearch node."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
from opensearchpy import OpenSearch

from analyzers.kana import (
    enlarge_small_kana,
    fold_confusables,
    fold_old_kana,
    kana_key,
    opensearch_char_filters,
    remove_voicing,
)


def _analysis() -> dict[str, Any]:
    text = resources.files("analyzers").joinpath("opensearch/analysis.json").read_text("utf-8")
    analysis: dict[str, Any] = json.loads(text)
    return analysis


def test_char_filters_equal_the_python_tables() -> None:
    assert _analysis()["char_filter"] == opensearch_char_filters(), (
        "analysis.json drifted from analyzers/kana.py: regenerate the char_filter section "
        "(see analyzers/opensearch/README.md)"
    )


def test_analyzers_reference_only_defined_components() -> None:
    analysis = _analysis()
    builtin_tokenizers = {"keyword", "kuromoji_tokenizer"}
    builtin_filters = {"cjk_width", "lowercase"}
    for definition in analysis["analyzer"].values():
        assert set(definition.get("char_filter", [])) <= set(analysis["char_filter"])
        assert definition["tokenizer"] in set(analysis["tokenizer"]) | builtin_tokenizers
        assert set(definition.get("filter", [])) <= set(analysis["filter"]) | builtin_filters


def _python_char_folds(text: str) -> str:
    """What the OpenSearch kana chain does: every per-character fold, no long-vowel fold."""
    exact = kana_key(text, "exact")
    return fold_confusables(remove_voicing(fold_old_kana(enlarge_small_kana(exact))))


@pytest.mark.opensearch
@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("ｻﾄｳ ｷｮｳｺ", "half-width and small kana"),
        ("さとう　きょうこ", "hiragana and ideographic space"),
        ("ナカジマ・ソノダ", "voicing, middle dot, confusable ソ"),
        ("シヅオ ヲノ", "old kana"),
        ("ハットリ ツネオ", "small ッ and confusable ツ"),
        ("ぢづをゐゑゔ", "hiragana old kana"),
    ],
)
def test_kana_folded_analyzer_mirrors_python(
    os_client: OpenSearch, unique_name: str, text: str, why: str
) -> None:
    os_client.indices.create(index=unique_name, body={"settings": {"analysis": _analysis()}})
    try:
        response = os_client.indices.analyze(
            index=unique_name, body={"analyzer": "kana_folded", "text": text}
        )
    finally:
        os_client.indices.delete(index=unique_name)
    assert [token["token"] for token in response["tokens"]] == [_python_char_folds(text)], why


@pytest.mark.opensearch
def test_ja_text_segments_reference_text(os_client: OpenSearch, unique_name: str) -> None:
    os_client.indices.create(index=unique_name, body={"settings": {"analysis": _analysis()}})
    try:
        response = os_client.indices.analyze(
            index=unique_name, body={"analyzer": "ja_text", "text": "㈱山田商店 埼玉県浦和市"}
        )
    finally:
        os_client.indices.delete(index=unique_name)
    tokens = [token["token"] for token in response["tokens"]]
    assert {"山田", "商店", "埼玉", "浦和"} <= set(tokens)
