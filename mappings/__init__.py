"""The versioned index design: mapping JSON beside this file, analysis JSON in ``analyzers``.

``MAPPING_VERSION`` is checked by the indexer's validation gate and by the API at start-up, so
a query written for one mapping never runs against an index built with another.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

MAPPING_VERSION = 3


def mapping_version_of(index: Mapping[str, Any]) -> int | None:
    """The mapping version of one index, from its entry in a ``_mapping`` or ``GET <index>``
    response (``{"mappings": {"_meta": ...}}``); None when it carries none."""
    version = index.get("mappings", {}).get("_meta", {}).get("mapping_version")
    return int(version) if version is not None else None


def load_mapping() -> dict[str, Any]:
    text = resources.files(__package__).joinpath(f"records-v{MAPPING_VERSION}.json").read_text()
    mapping: dict[str, Any] = json.loads(text)
    return mapping


def load_analysis() -> dict[str, Any]:
    text = resources.files("analyzers").joinpath("opensearch/analysis.json").read_text()
    analysis: dict[str, Any] = json.loads(text)
    return analysis


def index_body(
    *, shards: int = 1, replicas: int = 0, meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Settings and mappings for a new versioned index.

    ``meta`` lands in the mapping's ``_meta`` (e.g. name frequency statistics computed while
    loading, which the scorer reads for its term-frequency adjustment).
    """
    mapping = load_mapping()
    if meta:
        mapping["_meta"] = {**mapping["_meta"], **meta}
    return {
        "settings": {
            "index": {"number_of_shards": shards, "number_of_replicas": replicas},
            "analysis": load_analysis(),
        },
        "mappings": mapping,
    }
