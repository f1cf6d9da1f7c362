"""Indexer benchmark: N synthetic records end to end vs a raw ``_bulk`` of the same documents.

    .venv/bin/python bench/index_throughput.py --records 1000000

Writes ``bench/results/index_throughput.json``. Needs the local node (``make opensearch``).
End to end = ``mochinushi index`` in a child process (read, validate, normalise, bulk, gates,
alias swap); its peak RSS is the child's ``VmHWM`` (/proc/<pid>/status), polled every 50 ms
while it runs (``getrusage(RUSAGE_CHILDREN)`` would report this benchmark's own peak, which
holds the generated extract: see ``bench.benchlib.proc_status_kib``).
Raw = the same documents, built beforehand and serialised, sent with the same chunk size, the
same number of requests in flight and the same response filter as ``BulkLoader`` to a fresh
index with the same bulk settings; only the sending is timed. End to end also force-merges the
finished index (``end_to_end_merge_seconds``), which raw does not.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from opensearchpy import OpenSearch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the repository's packages are importable
    sys.path.insert(0, str(ROOT))

from analyzers.readings import default_reading_dictionary  # noqa: E402
from bench.benchlib import (  # noqa: E402
    code_version,
    load_average,
    opensearch_cpu_seconds,
    proc_status_kib,
    write_result,
)
from indexer.documents import record_document  # noqa: E402
from indexer.load import BULK_RESPONSE_FIELDS, BulkLoader  # noqa: E402
from indexer.sources import Record, read_extract  # noqa: E402
from mappings import index_body  # noqa: E402
from relevance.synth import SynthConfig, generate, write_synth_set  # noqa: E402

CHUNK = 2000
# What the indexer uses (``BulkLoader``'s default), so that raw is the same load pattern.
IN_FLIGHT: int = inspect.signature(BulkLoader).parameters["in_flight"].default
POLL_SECONDS = 0.05
TARGETS = {"records_per_second": 3000, "peak_rss_mb": 500, "ratio": 1.5}


def _extract(records: int, folder: Path) -> Path:
    path = folder / "records.jsonl"
    if path.exists() and sum(1 for _ in path.open("rb")) == records:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    synth = generate(SynthConfig(records=records, checks=0, seed=11, density="uniform"))
    write_synth_set(synth, folder)
    return path


def _end_to_end(path: Path, alias: str, url: str, client: OpenSearch) -> dict[str, float]:
    env = {**os.environ, "MOCHINUSHI_ALIAS": alias, "MOCHINUSHI_OPENSEARCH_URL": url}
    node_cpu = opensearch_cpu_seconds(client)
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "mochinushi", "index", str(path)],
        env=env,
        stdout=subprocess.PIPE,  # the build summary (a few hundred bytes), read once it exits
    )
    peak_kib = 0
    while True:
        # wait4, not poll: its rusage gives the child's CPU time (its ru_maxrss is not used).
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            break
        peak_kib = max(peak_kib, proc_status_kib(process.pid, "VmHWM") or 0)
        time.sleep(POLL_SECONDS)
    seconds = time.monotonic() - started
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, process.args)
    assert process.stdout is not None
    summary = json.loads(process.stdout.read())
    return {
        "seconds": round(seconds, 2),
        "merge_seconds": summary["merge_seconds"],
        "peak_rss_mb": round(peak_kib / 1024, 1),
        "indexer_cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "opensearch_cpu_seconds": round(opensearch_cpu_seconds(client) - node_cpu, 1),
    }


def _prebuilt_bulk(path: Path) -> list[bytes]:
    readings = default_reading_dictionary()
    chunks: list[bytes] = []
    lines: list[str] = []
    for item in read_extract(path):
        if not isinstance(item, Record):
            continue
        lines.append(json.dumps({"index": {"_id": item.record_id}}))
        lines.append(json.dumps(record_document(item, readings), ensure_ascii=False))
        if len(lines) >= 2 * CHUNK:
            chunks.append(("\n".join(lines) + "\n").encode())
            lines = []
    if lines:
        chunks.append(("\n".join(lines) + "\n").encode())
    return chunks


def _raw_bulk(client: OpenSearch, chunks: list[bytes], index: str) -> dict[str, float]:
    body = index_body()
    body["settings"]["index"]["refresh_interval"] = "-1"
    client.indices.create(index=index, body=body)

    def send(chunk: bytes) -> None:
        response = client.bulk(
            body=chunk, index=index, request_timeout=120, filter_path=BULK_RESPONSE_FIELDS
        )
        if response["errors"]:
            raise RuntimeError("raw bulk had item errors")

    try:
        node_cpu = opensearch_cpu_seconds(client)
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
            for _ in pool.map(send, chunks):
                pass
        client.indices.refresh(index=index)
        seconds = time.monotonic() - started
        return {
            "seconds": seconds,
            "opensearch_cpu_seconds": round(opensearch_cpu_seconds(client) - node_cpu, 1),
        }
    finally:
        client.indices.delete(index=index)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--url", default="http://127.0.0.1:9200")
    parser.add_argument("--data", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "index_throughput.json"
    )
    args = parser.parse_args()
    code_at_start = code_version()
    client = OpenSearch(hosts=[args.url], timeout=120)
    path = _extract(args.records, args.data / f"extract-{args.records}")
    load_at_start = load_average()  # after generating the extract
    alias = "bench-throughput"
    e2e = _end_to_end(path, alias, args.url, client)
    load_after_end_to_end = load_average()
    chunks = _prebuilt_bulk(path)
    load_before_raw = load_average()
    raw = _raw_bulk(client, chunks, "bench-raw-bulk")
    raw_seconds = raw["seconds"]
    for name in client.indices.get(index=f"{alias}-*"):
        client.indices.delete(index=name)
    result = {
        "benchmark": "index_throughput",
        "records": args.records,
        "end_to_end_seconds": e2e["seconds"],
        "end_to_end_records_per_second": round(args.records / e2e["seconds"], 1),
        "end_to_end_merge_seconds": e2e["merge_seconds"],
        "indexer_peak_rss_mb": e2e["peak_rss_mb"],
        "raw_bulk_seconds": round(raw_seconds, 2),
        "raw_bulk_records_per_second": round(args.records / raw_seconds, 1),
        "raw_bulk_in_flight": IN_FLIGHT,
        "end_to_end_over_raw_bulk": round(e2e["seconds"] / raw_seconds, 3),
        # CPU seconds used (the box has os.cpu_count() cores; other users' processes not counted)
        "cpu_seconds": {
            "end_to_end_indexer": e2e["indexer_cpu_seconds"],
            "end_to_end_opensearch": e2e["opensearch_cpu_seconds"],
            "raw_bulk_opensearch": raw["opensearch_cpu_seconds"],
        },
        "targets": TARGETS,
        "targets_met": {
            "records_per_second": args.records / e2e["seconds"] >= TARGETS["records_per_second"],
            "peak_rss_mb": e2e["peak_rss_mb"] <= TARGETS["peak_rss_mb"],
            "ratio": e2e["seconds"] / raw_seconds <= TARGETS["ratio"],
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "opensearch_heap": os.environ.get("MOCHINUSHI_OPENSEARCH_HEAP", "1g"),
            "load_average_at_start": load_at_start,
            "load_average_after_end_to_end": load_after_end_to_end,
            "load_average_before_raw_bulk": load_before_raw,
            "load_average_at_end": load_average(),
        },
        "code": {"at_start": code_at_start, "at_end": code_version()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_result(args.out, result)


if __name__ == "__main__":
    main()
