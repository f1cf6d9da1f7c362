"""``mochinushi index`` refuses a much smaller extract by default (the drop gate), unless told
that a smaller ledger is intended — against the real node."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch
from typer.testing import CliRunner

from indexer import lifecycle
from indexer.build import DEFAULT_MAX_DROP_RATIO
from mochinushi.cli import app
from tests.conftest import write_extract

pytestmark = pytest.mark.opensearch

PEOPLE = [
    ("ヤマダ ハナコ", "1938-05-03", "F"),
    ("サトウ イチロウ", "1931-02-11", "M"),
    ("スズキ カズコ", "5-100707", "2"),
    ("タナカ ヒロシ", "1945-12-24", "1"),
]


def _extract(folder: Path, n: int) -> Path:
    records = [
        {
            "record_id": f"D{i}",
            "name_kana": PEOPLE[i % 4][0],
            "birth_date": PEOPLE[i % 4][1],
            "gender": PEOPLE[i % 4][2],
        }
        for i in range(n)
    ]
    return write_extract(folder / f"extract-{n}.jsonl", records)


@pytest.fixture()
def alias(
    os_client: OpenSearch, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    monkeypatch.setenv("MOCHINUSHI_ALIAS", unique_name)
    yield unique_name
    for name in os_client.indices.get(index=f"{unique_name}-*", expand_wildcards="all"):
        os_client.indices.delete(index=name)


def _index(path: Path, *flags: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["index", str(path), *flags])
    return result.exit_code, result.output


def test_a_much_smaller_extract_is_refused_by_default(
    os_client: OpenSearch, alias: str, tmp_path: Path
) -> None:
    assert DEFAULT_MAX_DROP_RATIO == 0.2
    code, output = _index(_extract(tmp_path, 20))
    assert code == 0, output  # no live index yet: nothing to compare with
    live = lifecycle.live_indices(os_client, alias)

    code, output = _index(_extract(tmp_path, 15))  # 25 % fewer
    assert code == 1
    assert "25.0% fewer documents than the live index (limit 20.0%)" in output
    assert lifecycle.live_indices(os_client, alias) == live, "the alias was not moved"

    code, output = _index(_extract(tmp_path, 17))  # 15 % fewer: within the default
    assert code == 0, output
    live = lifecycle.live_indices(os_client, alias)

    code, output = _index(_extract(tmp_path, 8), "--max-drop-ratio", "0.6")
    assert code == 0, output
    code, output = _index(_extract(tmp_path, 2), "--allow-drop")
    assert code == 0, output
    assert int(os_client.count(index=alias)["count"]) == 2
