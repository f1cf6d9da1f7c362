"""Blue/green builds against the real node: gates, swap, rollback, lock, crash recovery, deltas."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from analyzers.readings import default_reading_dictionary
from indexer import lifecycle
from indexer.build import BuildOptions, apply_delta, build_index

pytestmark = pytest.mark.opensearch

PEOPLE = [
    ("ヤマダ ハナコ", "1938-05-03", "F"),
    ("サトウ イチロウ", "1931-02-11", "M"),
    ("スズキ カズコ", "5-100707", "2"),
    ("タナカ ヒロシ", "1945-12-24", "1"),
    ("ｲﾉｳｴ ﾀｹｼ", "1937-06-06", "M"),
]


def _write(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(
                (line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n"
            )
    return path


def _records(n: int, prefix: str = "R") -> list[dict[str, Any]]:
    return [
        {
            "record_id": f"{prefix}{i}",
            "name_kana": PEOPLE[i % len(PEOPLE)][0],
            "birth_date": PEOPLE[i % len(PEOPLE)][1],
            "gender": PEOPLE[i % len(PEOPLE)][2],
        }
        for i in range(n)
    ]


@pytest.fixture()
def alias(os_client: OpenSearch, unique_name: str) -> Iterator[str]:
    yield unique_name
    for name in os_client.indices.get(index=f"{unique_name}-*", expand_wildcards="all"):
        os_client.indices.delete(index=name)
    with suppress(NotFoundError):
        os_client.delete(index=lifecycle.LOCK_INDEX, id=unique_name, refresh=True)


def _build(client: OpenSearch, path: Path, alias: str, **options: Any) -> Any:
    return build_index(
        client, path, BuildOptions(alias=alias, **options), default_reading_dictionary()
    )


def test_build_swaps_alias_and_accounts_for_every_line(
    os_client: OpenSearch, alias: str, tmp_path: Path
) -> None:
    lines: list[dict[str, Any] | str] = [*_records(20)]
    lines += [
        "{not json",
        {"record_id": "R1", "name_kana": "ダブリ", "birth_date": "1940-01-01", "gender": "F"},
        {
            "record_id": "BAD-G",
            "name_kana": "ヤマダ ハナコ",
            "birth_date": "1940-01-01",
            "gender": "X",
        },
        {
            "record_id": "IMPOSSIBLE",
            "name_kana": "ハヤシ カズオ",
            "birth_date": "1932-02-30",
            "gender": "M",
        },
    ]
    extract = _write(tmp_path / "extract.jsonl", lines)
    summary = _build(os_client, extract, alias)
    assert summary.read == 24
    assert summary.indexed == 21, "the impossible date is indexed, not quarantined"
    assert summary.quarantined == 3
    assert summary.read == summary.indexed + summary.quarantined
    assert summary.alias_moved
    assert lifecycle.live_indices(os_client, alias) == [summary.index]
    quarantine = (tmp_path / "extract.quarantine.jsonl").read_text().splitlines()
    reasons = sorted(json.loads(q)["reason"] for q in quarantine)
    assert reasons == ["bad_gender", "duplicate_record_id", "unparseable_line"]
    written = json.loads((tmp_path / "extract.summary.json").read_text())
    assert written["indexed"] == 21 and written["gates"]["sample_missing"] == 0


def test_cp932_csv_extract(os_client: OpenSearch, alias: str, tmp_path: Path) -> None:
    extract = tmp_path / "extract.csv"
    rows = [
        "record_id,name_kana,name_kanji,birth_date,gender,employer_name",
        "C1,ﾀｶﾊｼ ｾﾂｺ,髙橋 節子,5-090101,2,㈱山田商店",
        "C2,ヤマダ タロウ,山田 太郎,1935-03-03,1,",
    ]
    extract.write_bytes(("\r\n".join(rows) + "\r\n").encode("cp932"))
    summary = _build(os_client, extract, alias, encoding="cp932")
    assert (summary.read, summary.indexed, summary.quarantined) == (2, 2, 0)
    doc = os_client.search(index=alias, body={"query": {"term": {"record_id": "C1"}}})
    source = doc["hits"]["hits"][0]["_source"]
    assert source["sur"]["exact"] == "タカハシ" and source["sur"]["kanji"] == "高橋"


def test_gate_refuses_a_truncated_extract_and_keeps_the_alias(
    os_client: OpenSearch, alias: str, tmp_path: Path
) -> None:
    first = _build(os_client, _write(tmp_path / "full.jsonl", _records(40)), alias)
    truncated = _write(tmp_path / "short.jsonl", _records(10))
    with pytest.raises(lifecycle.GateFailed, match="fewer documents"):
        _build(os_client, truncated, alias, max_drop_ratio=0.2)
    assert lifecycle.live_indices(os_client, alias) == [first.index]
    with pytest.raises(lifecycle.GateFailed, match="min-count"):
        _build(os_client, truncated, alias, min_count=30)
    assert lifecycle.live_indices(os_client, alias) == [first.index]


def test_rollback_and_retention(os_client: OpenSearch, alias: str, tmp_path: Path) -> None:
    names = []
    for n in range(4):
        summary = _build(
            os_client, _write(tmp_path / f"e{n}.jsonl", _records(5 + n)), alias, keep_previous=2
        )
        names.append(summary.index)
    versions = lifecycle.list_versions(os_client, alias)
    assert [v.name for v in versions] == list(reversed(names[1:])), "oldest pruned, K=2 kept"
    assert versions[0].live
    back = lifecycle.rollback(os_client, alias)
    assert back == names[2]
    assert lifecycle.live_indices(os_client, alias) == [names[2]]
    assert int(os_client.count(index=alias)["count"]) == 7


def test_rollback_refuses_an_index_of_another_mapping_version(
    os_client: OpenSearch, alias: str, tmp_path: Path
) -> None:
    first = _build(os_client, _write(tmp_path / "a.jsonl", _records(5)), alias)
    second = _build(os_client, _write(tmp_path / "b.jsonl", _records(6)), alias)
    old_meta = {"state": "ready", "mapping_version": lifecycle.MAPPING_VERSION - 1}
    mapping = os_client.indices.get_mapping(index=first.index)[first.index]["mappings"]
    os_client.indices.put_mapping(
        index=first.index, body={"_meta": {**mapping["_meta"], **old_meta}}
    )
    versions = {v.name: v.mapping_version for v in lifecycle.list_versions(os_client, alias)}
    assert versions[first.index] == lifecycle.MAPPING_VERSION - 1
    with pytest.raises(lifecycle.GateFailed, match="mapping version"):
        lifecycle.rollback(os_client, alias)
    assert lifecycle.live_indices(os_client, alias) == [second.index]


def test_rollback_refuses_an_index_whose_statistics_cannot_be_read(
    os_client: OpenSearch, alias: str, tmp_path: Path
) -> None:
    """A kept index whose ``_meta`` the API cannot read (an older build's table shape, say)
    would take the service down: 503s instead of answers."""
    first = _build(os_client, _write(tmp_path / "a.jsonl", _records(5)), alias)
    second = _build(os_client, _write(tmp_path / "b.jsonl", _records(6)), alias)
    mapping = os_client.indices.get_mapping(index=first.index)[first.index]["mappings"]
    unreadable = {"ledger_readings": {"surnames": {"河野": ["カワノ"]}}}  # an object, not a list
    os_client.indices.put_mapping(
        index=first.index, body={"_meta": {**mapping["_meta"], **unreadable}}
    )
    with pytest.raises(lifecycle.GateFailed, match="cannot be served"):
        lifecycle.rollback(os_client, alias)
    assert lifecycle.live_indices(os_client, alias) == [second.index]


def test_delta_refuses_a_live_index_of_another_mapping_version(
    os_client: OpenSearch, alias: str, tmp_path: Path
) -> None:
    built = _build(os_client, _write(tmp_path / "a.jsonl", _records(5)), alias)
    mapping = os_client.indices.get_mapping(index=built.index)[built.index]["mappings"]
    old_meta = {**mapping["_meta"], "mapping_version": lifecycle.MAPPING_VERSION - 1}
    os_client.indices.put_mapping(index=built.index, body={"_meta": old_meta})
    delta = _write(
        tmp_path / "d.csv",
        [
            "record_id,op,name_kana,birth_date,gender",
            "R0,delete,,,",
            "R9,upsert,ヤマダ ハナコ,1938-05-03,F",
        ],
    )
    with pytest.raises(lifecycle.GateFailed, match="mapping version"):
        apply_delta(os_client, delta, BuildOptions(alias=alias), default_reading_dictionary())
    assert int(os_client.count(index=alias)["count"]) == 5, "nothing applied"


def test_lock_prevents_two_runs_and_stale_lock_is_taken_over(
    os_client: OpenSearch, alias: str, tmp_path: Path
) -> None:
    extract = _write(tmp_path / "e.jsonl", _records(5))
    with lifecycle.reindex_lock(os_client, alias), pytest.raises(lifecycle.LockHeld):
        _build(os_client, extract, alias)
    stale = {
        "holder": "ghost:1",
        "acquired_at": (lifecycle.utc_now() - dt.timedelta(hours=7)).isoformat(),
    }
    lifecycle.ensure_lock_index(os_client)
    os_client.index(index=lifecycle.LOCK_INDEX, id=alias, body=stale, refresh=True)
    summary = _build(os_client, extract, alias)
    assert summary.alias_moved
    assert not os_client.exists(index=lifecycle.LOCK_INDEX, id=alias), "lock released"


def _index_command(extract: Path, alias: str, *options: str) -> subprocess.CompletedProcess[str]:
    """``mochinushi index`` as an operator runs it, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "mochinushi", "index", str(extract), *options],
        env={**os.environ, "MOCHINUSHI_ALIAS": alias},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _lock(client: OpenSearch, alias: str) -> dict[str, Any] | None:
    with suppress(NotFoundError):
        source: dict[str, Any] = client.get(index=lifecycle.LOCK_INDEX, id=alias)["_source"]
        return source
    return None


def test_killed_index_run_leaves_alias_and_a_later_run_takes_over_its_stale_lock(
    os_client: OpenSearch, alias: str, tmp_path: Path
) -> None:
    """SIGKILL during the bulk load: no cleanup runs, so the alias, the half-built index and the
    lock stay as they were. The lock blocks the next run until it is stale; then a new
    ``mochinushi index`` takes it over, deletes the half-built index and swaps the alias."""
    first = _build(os_client, _write(tmp_path / "first.jsonl", _records(5)), alias)
    big = _write(tmp_path / "big.jsonl", _records(60000))
    process = subprocess.Popen(
        [sys.executable, "-m", "mochinushi", "index", str(big)],
        env={**os.environ, "MOCHINUSHI_ALIAS": alias},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    building: list[lifecycle.IndexVersion] = []
    while time.monotonic() < deadline and process.poll() is None:
        building = [v for v in lifecycle.list_versions(os_client, alias) if v.state == "building"]
        if building and building[0].docs != 0:
            break
        os_client.indices.refresh(index=f"{alias}-*")
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run was killed, not finished"
    assert building and building[0].docs, "the run was killed before it loaded anything"
    assert lifecycle.live_indices(os_client, alias) == [first.index], "alias untouched"
    dead_lock = _lock(os_client, alias)
    assert dead_lock is not None and dead_lock["holder"].endswith(f":{process.pid}")

    again = _write(tmp_path / "again.jsonl", _records(8))
    blocked = _index_command(again, alias)
    assert blocked.returncode == 1, blocked.stderr
    assert "holds the lock" in blocked.stderr and "alias was not changed" in blocked.stderr
    assert lifecycle.live_indices(os_client, alias) == [first.index]

    # The dead run's lock, as it is once its stale-after period has passed.
    aged = lifecycle.utc_now() - dt.timedelta(hours=7)
    os_client.index(
        index=lifecycle.LOCK_INDEX,
        id=alias,
        body={**dead_lock, "acquired_at": aged.isoformat()},
        refresh=True,
    )
    rerun = _index_command(again, alias)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["alias_moved"] is True and summary["indexed"] == 8
    assert building[0].name in summary["cleaned_up"]
    assert lifecycle.live_indices(os_client, alias) == [summary["index"]]
    assert _lock(os_client, alias) is None, "the new run released the lock it took over"


def test_index_command_exits_non_zero_when_a_gate_fails_and_keeps_the_alias(
    os_client: OpenSearch, alias: str, tmp_path: Path
) -> None:
    first = _build(os_client, _write(tmp_path / "full.jsonl", _records(20)), alias)
    short = _write(tmp_path / "short.jsonl", _records(5))
    result = _index_command(short, alias, "--max-drop-ratio", "0.2")
    assert result.returncode == 1, result.stdout
    assert "fewer documents than the live index" in result.stderr
    assert "the alias was not changed" in result.stderr
    assert result.stdout == "", "no summary of a build that did not go live"
    assert lifecycle.live_indices(os_client, alias) == [first.index]
    failed = [v for v in lifecycle.list_versions(os_client, alias) if v.name != first.index]
    assert [v.state for v in failed] == ["failed"]
    assert _lock(os_client, alias) is None


def test_delta_upserts_and_deletes(os_client: OpenSearch, alias: str, tmp_path: Path) -> None:
    _build(os_client, _write(tmp_path / "full.jsonl", _records(10)), alias)
    delta = _write(
        tmp_path / "delta.jsonl",
        [
            {"op": "delete", "record_id": "R3"},
            {
                "op": "upsert",
                "record_id": "NEW1",
                "name_kana": "キムラ トシコ",
                "birth_date": "1941-04-03",
                "gender": "F",
            },
            {"op": "delete", "record_id": "NOT-THERE"},
            {"op": "explode", "record_id": "R4"},
        ],
    )
    summary = apply_delta(os_client, delta, BuildOptions(alias=alias), default_reading_dictionary())
    assert summary.read == 4 and summary.quarantined == 1 and summary.deleted == 2
    ids = {
        h["_source"]["record_id"]
        for h in os_client.search(index=alias, body={"size": 100, "query": {"match_all": {}}})[
            "hits"
        ]["hits"]
    }
    assert "R3" not in ids and "NEW1" in ids and len(ids) == 10


def test_swap_waits_for_replicas(os_client: OpenSearch, alias: str, tmp_path: Path) -> None:
    first = _build(os_client, _write(tmp_path / "first.jsonl", _records(5)), alias)
    # One node cannot hold a replica: the build must not go live on a yellow index.
    with pytest.raises(lifecycle.GateFailed, match="replicas"):
        _build(
            os_client,
            _write(tmp_path / "second.jsonl", _records(6)),
            alias,
            replicas=1,
            green_timeout=1,
        )
    assert lifecycle.live_indices(os_client, alias) == [first.index]


class SteppingClock:
    """``time.monotonic`` that advances ``step`` seconds at each call."""

    def __init__(self, step: float) -> None:
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_finished_index_is_merged_to_one_segment_per_shard(
    os_client: OpenSearch, alias: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from indexer import build

    scratch = f"{alias}-merge"
    # No periodic refresh: only the three below cut segments (a busy node's 1 s refresh cut more).
    os_client.indices.create(
        index=scratch, body={"settings": {"number_of_shards": 1, "refresh_interval": -1}}
    )
    for batch in range(3):  # three refreshes: three segments
        for i in range(5):
            os_client.index(index=scratch, id=f"{batch}-{i}", body={"n": i})
        os_client.indices.refresh(index=scratch)
    segments = os_client.indices.segments(index=scratch)["indices"][scratch]["shards"]["0"]
    assert segments[0]["num_search_segments"] == 3
    with monkeypatch.context() as patched:
        # The merge reads the clock once before and once after: it took one step.
        patched.setattr(build, "time", SimpleNamespace(monotonic=SteppingClock(1.25)))
        assert build._merge_segments(os_client, scratch, timeout=60) == 1.25
    segments = os_client.indices.segments(index=scratch)["indices"][scratch]["shards"]["0"]
    assert segments[0]["num_search_segments"] == 1

    merges: list[float] = []

    def timed_merge(client: OpenSearch, index: str, timeout: int) -> float:
        merges.append(real_merge(client, index, timeout))
        return merges[-1]

    real_merge = build._merge_segments
    monkeypatch.setattr(build, "_merge_segments", timed_merge)
    summary = _build(os_client, _write(tmp_path / "e.jsonl", _records(30)), alias, shards=2)
    shards = os_client.indices.segments(index=summary.index)["indices"][summary.index]["shards"]
    assert {s[0]["num_search_segments"] for s in shards.values()} <= {0, 1}
    assert len(merges) == 1, "one merge per build"
    assert summary.merge_seconds == merges[0]
    assert 0 <= summary.merge_seconds <= summary.seconds
