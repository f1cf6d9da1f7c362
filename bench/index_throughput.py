"""Indexer benchmark: N synthetic records end to end vs a raw ``_bulk`` of the same documents.

    .venv/bin/python bench/index_throughput.py --records 1000000

Writes ``bench/results/index_throughput.json``. Needs the local node (``make opensearch``).
End to end = ``mochinushi index`` in a child process (read, validate, normalise, bulk, gates,
alias swap); its peak RSS comes from the kernel's accounting of the child. Raw = the same
documents, built beforehand and serialised, sent with the same chunk size to a fresh index
with the same bulk settings; only the sending is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

from opensearchpy import OpenSearch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analyzers.readings import default_reading_dictionary  # noqa: E402
from indexer.documents import record_document  # noqa: E402
from indexer.sources import Record, read_extract  # noqa: E402
from mappings import index_body  # noqa: E402
from relevance.synth import SynthConfig, generate, write_synth_set  # noqa: E402

CHUNK = 2000


def _extract(records: int, folder: Path) -> Path:
    path = folder / "records.jsonl"
    if path.exists() and sum(1 for _ in path.open("rb")) == records:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    synth = generate(SynthConfig(records=records, checks=0, seed=11, density="uniform"))
    write_synth_set(synth, folder)
    return path


def _end_to_end(path: Path, alias: str, url: str) -> dict[str, float]:
    env = {**os.environ, "MOCHINUSHI_ALIAS": alias, "MOCHINUSHI_OPENSEARCH_URL": url}
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "mochinushi", "index", str(path)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.monotonic() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(peak_kib / 1024, 1)}


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


def _raw_bulk(client: OpenSearch, chunks: list[bytes], index: str) -> float:
    body = index_body()
    body["settings"]["index"]["refresh_interval"] = "-1"
    client.indices.create(index=index, body=body)
    try:
        started = time.monotonic()
        for chunk in chunks:
            response = client.bulk(body=chunk, index=index, request_timeout=120)
            if response["errors"]:
                raise RuntimeError("raw bulk had item errors")
        client.indices.refresh(index=index)
        return time.monotonic() - started
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
    client = OpenSearch(hosts=[args.url], timeout=120)
    path = _extract(args.records, args.data / f"extract-{args.records}")
    alias = "bench-throughput"
    e2e = _end_to_end(path, alias, args.url)
    chunks = _prebuilt_bulk(path)
    raw_seconds = _raw_bulk(client, chunks, "bench-raw-bulk")
    for name in client.indices.get(index=f"{alias}-*"):
        client.indices.delete(index=name)
    result = {
        "benchmark": "index_throughput",
        "records": args.records,
        "end_to_end_seconds": e2e["seconds"],
        "end_to_end_records_per_second": round(args.records / e2e["seconds"], 1),
        "indexer_peak_rss_mb": e2e["peak_rss_mb"],
        "raw_bulk_seconds": round(raw_seconds, 2),
        "raw_bulk_records_per_second": round(args.records / raw_seconds, 1),
        "end_to_end_over_raw_bulk": round(e2e["seconds"] / raw_seconds, 3),
        "targets": {"records_per_second": 3000, "peak_rss_mb": 500, "ratio": 1.5},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "opensearch_heap": os.environ.get("MOCHINUSHI_OPENSEARCH_HEAP", "1g"),
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
