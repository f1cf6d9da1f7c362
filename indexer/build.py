"""``mochinushi index``: extract → documents → new index → gates → alias swap (or a delta)."""

from __future__ import annotations

import gc
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import TransportError

from analyzers.names import split_kana_name
from analyzers.readings import ReadingDictionary
from indexer import lifecycle
from indexer.documents import record_document
from indexer.load import Action, BulkLoader, serialise
from indexer.sources import (
    ExtractEncoding,
    ExtractFormat,
    Quarantined,
    QuarantineWriter,
    ReadSummary,
    Record,
    count_records,
    read_extract,
)
from mappings import index_body
from matching.checks import Check
from matching.config import MatchingConfig
from matching.finder import Finder
from matching.index_meta import NameStats, NameStatsCollector

Progress = Callable[[int], None]

DEFAULT_MAX_DROP_RATIO = 0.2
"""``mochinushi index`` refuses a build with more than this share fewer documents than the
index served now (a truncated extract); ``--allow-drop`` when a smaller ledger is intended.
``BuildOptions`` leaves the gate off unless asked: a library caller decides for itself."""


@dataclass
class BuildOptions:
    alias: str
    format: ExtractFormat | None = None
    encoding: ExtractEncoding = "utf-8"
    quarantine_path: Path | None = None
    shards: int = 1
    replicas: int = 0
    keep_previous: int = 2
    sample_size: int = 200
    min_count: int | None = None
    max_drop_ratio: float | None = None
    chunk_size: int = 2000
    seed: int = 1
    green_timeout: int = 1800
    merge_timeout: int = 3600
    """Seconds the force-merge to one segment per shard may take (20M records: minutes)."""


@dataclass
class BuildSummary:
    index: str
    read: int = 0
    indexed: int = 0
    quarantined: int = 0
    deleted: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    records_per_second: float = 0.0
    gates: dict[str, Any] = field(default_factory=dict)
    alias_moved: bool = False
    pruned: list[str] = field(default_factory=list)
    cleaned_up: list[str] = field(default_factory=list)
    merge_seconds: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)


class _Reservoir:
    """A uniform sample of upsert records, for the 'found by its own data' gate."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.items: list[Record] = []
        self.seen = 0
        self.random = random.Random(seed)

    def offer(self, record: Record) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(record)
        else:
            slot = self.random.randrange(self.seen)
            if slot < self.size:
                self.items[slot] = record


def _actions(
    items: Iterable[Record | Quarantined],
    readings: ReadingDictionary,
    stats: NameStatsCollector | None,
    sample: _Reservoir | None,
) -> Iterator[Action]:
    for item in items:
        if not isinstance(item, Record):
            continue
        if item.op == "delete":
            yield Action("delete", item.record_id, item.line_number)
            continue
        doc = record_document(item, readings)
        if stats is not None:
            stats.add(doc)
        if sample is not None:
            sample.offer(item)
        yield Action("index", item.record_id, item.line_number, serialise(doc))


# Collect young objects after this many net allocations instead of CPython's 700.
_GC_YOUNG_THRESHOLD = 100_000


@contextmanager
def _rare_collections() -> Iterator[None]:
    """Run the load with the cyclic garbage collector mostly out of the way.

    Each record allocates a few dozen containers, so at the default threshold the collector runs
    every few dozen records and, every so often, walks every object of the process (modules,
    dictionary, key caches). That cost ~15 µs per record at 100k, a fifth of the indexer's CPU,
    to find nothing: documents are acyclic and freed by reference counting. What exists before
    the load is frozen (never walked again), and young collections are ~140 times rarer; memory
    stays bounded because cycles are still collected.
    """
    # A process that froze objects itself (a server before forking) keeps its own freeze:
    # unfreezing afterwards would undo it too.
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.collect()
        gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(_GC_YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if freeze:
            gc.unfreeze()


def _load(
    loader: BulkLoader,
    actions: Iterable[Action],
    summary: BuildSummary,
    quarantine: QuarantineWriter,
    progress: Progress,
) -> None:
    with _rare_collections():
        _load_actions(loader, actions, summary, quarantine, progress)


def _load_actions(
    loader: BulkLoader,
    actions: Iterable[Action],
    summary: BuildSummary,
    quarantine: QuarantineWriter,
    progress: Progress,
) -> None:
    for sent, rejected in loader.load(actions):
        for item in rejected:
            quarantine.write(Quarantined(item.action.line_number, item.reason, item.action.doc_id))
        ok = sent - len(rejected)
        summary.quarantined += len(rejected)
        summary.by_reason.update(
            {r.reason: summary.by_reason.get(r.reason, 0) + 1 for r in rejected}
        )
        progress(sent)
        summary.indexed += ok


def check_of_record(record: Record) -> Check | None:
    """The check a person would submit with exactly this record's data (when one exists)."""
    assert record.name_kana is not None and record.birth_date is not None
    parts = split_kana_name(record.name_kana)
    if parts.surname is None or parts.given is None or not record.birth_date.valid:
        return None
    return Check(
        surname_kana=parts.surname,
        given_name_kana=parts.given,
        birth_date=record.birth_date,
        gender="F" if record.gender == "F" else "M",
    )


def _sample_gate(
    client: OpenSearch,
    index: str,
    stats: NameStats,
    sample: list[Record],
    readings: ReadingDictionary,
) -> dict[str, Any]:
    finder = Finder(
        alias=index,
        config=MatchingConfig.load(),
        readings=readings,
        stats=stats,
        request_timeout=30,
    )
    checked = missing = 0
    for record in sample:
        check = check_of_record(record)
        if check is None:
            continue
        checked += 1
        decision = finder.find(client, check)
        if record.record_id not in {s.record_id for s in decision.scores}:
            missing += 1
    return {"sample_checked": checked, "sample_missing": missing}


def _run_gates(
    client: OpenSearch,
    index: str,
    summary: BuildSummary,
    options: BuildOptions,
    sample: list[Record],
    readings: ReadingDictionary,
    live_count: int | None,
) -> None:
    count = int(client.count(index=index)["count"])
    summary.gates["doc_count"] = count
    if count != summary.indexed:
        raise lifecycle.GateFailed(f"index holds {count} documents, {summary.indexed} were loaded")
    # The mapping version and the _meta statistics, read as the API will read them.
    served = lifecycle.check_servable(client, index)
    summary.gates["mapping_version"] = "ok"
    if options.min_count is not None and count < options.min_count:
        raise lifecycle.GateFailed(f"{count} documents is below --min-count {options.min_count}")
    if options.max_drop_ratio is not None and live_count:
        drop = 1 - count / live_count
        summary.gates["drop_ratio"] = round(drop, 4)
        if drop > options.max_drop_ratio:
            raise lifecycle.GateFailed(
                f"{drop:.1%} fewer documents than the live index "
                f"(limit {options.max_drop_ratio:.1%})"
            )
    result = _sample_gate(client, index, served.stats, sample, readings)
    summary.gates.update(result)
    if result["sample_missing"]:
        raise lifecycle.GateFailed(
            f"{result['sample_missing']} of {result['sample_checked']} sampled records were not "
            "found by their own data through the query path"
        )


def build_index(
    client: OpenSearch,
    path: Path,
    options: BuildOptions,
    readings: ReadingDictionary,
    progress: Progress = lambda _: None,
    log: Callable[[str], None] = lambda _: None,
) -> BuildSummary:
    """Build a new versioned index from a full extract and move the alias to it."""
    started = time.monotonic()
    quarantine_path = options.quarantine_path or path.with_suffix(".quarantine.jsonl")
    with lifecycle.reindex_lock(client, options.alias):
        cleaned = lifecycle.delete_leftovers(client, options.alias)
        for name in cleaned:
            log(f"deleted half-built index {name} left by an interrupted run")
        live = lifecycle.live_indices(client, options.alias)
        live_count = int(client.count(index=options.alias)["count"]) if live else None
        index = lifecycle.new_index_name(options.alias)
        body = index_body(shards=options.shards, replicas=0, meta={"state": "building"})
        body["settings"]["index"]["refresh_interval"] = "-1"
        client.indices.create(index=index, body=body)
        log(f"building {index}")
        summary = BuildSummary(index=index, cleaned_up=cleaned)
        read = ReadSummary()
        stats = NameStatsCollector()
        sample = _Reservoir(options.sample_size, options.seed)
        with QuarantineWriter(quarantine_path) as quarantine:
            items = count_records(
                read_extract(path, options.format, options.encoding), read, quarantine
            )
            loader = BulkLoader(client, index, chunk_size=options.chunk_size)
            _load(loader, _actions(items, readings, stats, sample), summary, quarantine, progress)
        summary.read = read.read
        summary.quarantined += read.quarantined
        for reason, n in read.by_reason.items():
            summary.by_reason[reason] = summary.by_reason.get(reason, 0) + n
        client.indices.refresh(index=index)
        log("merging segments")
        summary.merge_seconds = _merge_segments(client, index, options.merge_timeout)
        client.indices.put_settings(
            index=index,
            body={"index": {"refresh_interval": "1s", "number_of_replicas": options.replicas}},
        )
        _set_meta(client, index, {**stats.as_meta(), "state": "validating"})
        try:
            _run_gates(client, index, summary, options, sample.items, readings, live_count)
        except lifecycle.GateFailed:
            _set_meta(client, index, {"state": "failed"})
            raise
        _set_meta(
            client,
            index,
            {"state": "ready", lifecycle.BUILT_AT_META_KEY: lifecycle.utc_now().isoformat()},
        )
        if options.replicas:
            # Serve only once every copy exists: a swap onto a yellow index would leave the
            # replica-less shards on one node each, right when the nightly load is busiest.
            try:
                client.cluster.health(
                    index=index,
                    params={"wait_for_status": "green", "timeout": f"{options.green_timeout}s"},
                    request_timeout=options.green_timeout + 30,
                )
            except TransportError as error:  # 408 when the wait timed out
                _set_meta(client, index, {"state": "failed"})
                raise lifecycle.GateFailed(
                    f"replicas of {index} not allocated within {options.green_timeout}s"
                ) from error
        lifecycle.swap_alias(client, options.alias, index)
        summary.alias_moved = True
        summary.pruned = lifecycle.prune_versions(client, options.alias, options.keep_previous)
    summary.seconds = round(time.monotonic() - started, 2)
    summary.records_per_second = round(summary.read / summary.seconds, 1) if summary.seconds else 0
    _write_summary(quarantine_path, summary)
    return summary


def _merge_segments(client: OpenSearch, index: str, timeout: int) -> float:
    """Merge each shard of the finished index into one segment; returns the seconds it took.

    The index is read-only until the next nightly build, and every check looks each of its
    name keys up once per segment: a bulk load leaves ~15 segments per shard, and merging them
    cut the cluster's time per check at 1M records from 14.7 ms to 4.4 ms
    (bench/results/api_latency.json). Done before replicas exist, so it is merged only once.
    """
    started = time.monotonic()
    client.indices.forcemerge(index=index, params={"max_num_segments": 1}, request_timeout=timeout)
    client.indices.refresh(index=index)  # searches see the merged segment only after this
    return round(time.monotonic() - started, 2)


def _set_meta(client: OpenSearch, index: str, changes: dict[str, Any]) -> None:
    """Merge ``changes`` into the index's ``_meta`` (a mapping update replaces it whole)."""
    mapping = client.indices.get_mapping(index=index)
    meta: dict[str, Any] = next(iter(mapping.values()))["mappings"].get("_meta", {})
    client.indices.put_mapping(index=index, body={"_meta": {**meta, **changes}})


def _write_summary(quarantine_path: Path, summary: BuildSummary) -> Path:
    """``x.quarantine.jsonl`` → ``x.summary.json``, beside it."""
    name = quarantine_path.name
    stem = (
        name.removesuffix(".quarantine.jsonl")
        if name.endswith(".quarantine.jsonl")
        else (quarantine_path.stem)
    )
    target = quarantine_path.with_name(f"{stem}.summary.json")
    target.write_text(summary.to_json() + "\n")
    return target


def apply_delta(
    client: OpenSearch,
    path: Path,
    options: BuildOptions,
    readings: ReadingDictionary,
    progress: Progress = lambda _: None,
) -> BuildSummary:
    """Upserts and deletions applied to the index the alias serves now."""
    started = time.monotonic()
    live = lifecycle.live_indices(client, options.alias)
    if len(live) != 1:
        raise lifecycle.GateFailed(
            f"alias {options.alias} must serve exactly one index for a delta"
        )
    # Documents of this code's mapping would be refused by another one's strict mapping while
    # its deletions went through: a half-applied delta.
    lifecycle.check_mapping_version(client, live[0])
    # Keys of this code's reading dictionary next to keys of another edition would be a live
    # index half matched one way and half the other.
    lifecycle.check_servable(client, live[0])
    quarantine_path = options.quarantine_path or path.with_suffix(".quarantine.jsonl")
    summary = BuildSummary(index=live[0])
    read = ReadSummary()
    with QuarantineWriter(quarantine_path) as quarantine:
        items = count_records(
            read_extract(path, options.format, options.encoding, delta=True), read, quarantine
        )
        loader = BulkLoader(client, live[0], chunk_size=options.chunk_size)
        _load(loader, _actions(items, readings, None, None), summary, quarantine, progress)
    client.indices.refresh(index=live[0])
    summary.read = read.read
    summary.quarantined += read.quarantined
    summary.deleted = read.deletes
    summary.indexed -= read.deletes
    summary.by_reason.update(read.by_reason)
    summary.alias_moved = False
    summary.seconds = round(time.monotonic() - started, 2)
    summary.records_per_second = round(summary.read / summary.seconds, 1) if summary.seconds else 0
    _write_summary(quarantine_path, summary)
    return summary
