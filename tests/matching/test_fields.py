"""The document field names that indexer, query and scorer share agree with the mapping JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mappings import load_mapping
from matching import fields


def _paths(properties: Mapping[str, Any], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            paths |= _paths(spec["properties"], f"{path}.")
        else:
            paths.add(path)
    return paths


def test_every_field_the_code_names_is_in_the_mapping_and_back() -> None:
    assert _paths(load_mapping()["properties"]) == fields.document_fields()


def test_name_part_levels_are_the_kana_levels_the_keys_produce() -> None:
    from analyzers.kana import kana_keys

    assert set(kana_keys("サトウ")) == set(fields.KANA_LEVELS)


def test_sub_joins_a_part_and_its_subfield() -> None:
    assert fields.sub(fields.FULL, fields.DELETIONS) == "full.deletions"
