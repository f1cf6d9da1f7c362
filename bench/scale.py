"""Growth with the number of records: index size, reindex time and check latency.

    .venv/bin/python bench/scale.py [--records 100000 300000 1000000] [--duration 20]

Writes ``bench/results/scale.json`` and ``bench/results/scale.png`` (for docs/SCALE.md). Needs
the local node. For each N, smallest first, with ``bench/api_latency.py``'s code and data:

1. the production-density synthetic set ``var/bench/api-<N>/`` (reused when present);
2. reindex: ``mochinushi index`` of it into the ``bench-api`` alias, always, timed end to end
   (start of the process to its exit: read, normalise, bulk, gates, alias swap; ``--keep 0``);
3. check latency: the API at ``--concurrency`` for ``--duration`` seconds after the warm-up,
   with the CPU the API process and the node used per check;
4. size: ``_cat/indices?bytes=b`` (``store.size``, ``pri.store.size``) of the index the alias
   serves, read after the latency run (so background merges have had that long to run), and
   its segment count.

The alias is left serving the largest N. The box is shared: the load averages are recorded.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the repository's packages are importable
    sys.path.insert(0, str(ROOT))

from bench.api_latency import (  # noqa: E402
    ALIAS,
    CHECKS,
    TARGETS,
    api_server,
    build_alias,
    cpu_now,
    cpu_since,
    extract_set,
    interrupt,
    machine_info,
    measure_api,
    node_client,
    requests_of,
    run_interruptible,
    summarise,
)
from bench.benchlib import (  # noqa: E402
    code_version,
    load_average,
    run_script,
    save_figure,
    write_result,
)

DEFAULT_RECORDS = (100_000, 300_000, 1_000_000)


def _index_size(client: OpenSearch) -> dict[str, Any]:
    """Size on disk of the index the alias serves (primaries and all copies, bytes)."""
    (index,) = client.indices.get_alias(name=ALIAS).keys()
    row = client.cat.indices(
        index=index, bytes="b", format="json", h="index,docs.count,store.size,pri.store.size"
    )[0]
    segments = client.indices.stats(index=index, metric="segments")
    return {
        "index": index,
        "docs": int(row["docs.count"]),
        "store_bytes": int(row["store.size"]),
        "pri_store_bytes": int(row["pri.store.size"]),
        "segments": int(segments["_all"]["primaries"]["segments"]["count"]),
    }


def _summary_of_index(folder: Path) -> dict[str, Any]:
    """The indexer's own summary (``records.summary.json``: its seconds, records/s, gates)."""
    summary: dict[str, Any] = json.loads(
        (folder / "records.summary.json").read_text(encoding="utf-8")
    )
    return {k: summary[k] for k in ("read", "indexed", "seconds", "records_per_second")}


def _measure(
    client: OpenSearch, url: str, records: int, data: Path, concurrency: int, duration: float
) -> dict[str, Any]:
    folder = extract_set(records, data / f"api-{records}")
    load_before_index = load_average()
    reindex_seconds = build_alias(client, folder, records, url)
    indexer = _summary_of_index(folder)
    bodies = [json.dumps(r, ensure_ascii=False).encode() for r in requests_of(folder)]
    with api_server(url, folder / "scale-api.log") as server:
        print(f"{records:,} records: {duration:.0f} s at concurrency {concurrency}", flush=True)
        load_before_checks = load_average()
        cpu_before: dict[str, float] = {}
        samples, elapsed = run_interruptible(
            measure_api(
                server.base_url,
                bodies,
                concurrency,
                duration,
                after_warmup=lambda: cpu_before.update(cpu_now(client, server.pid)),
            )
        )
        cpu_used = cpu_since(cpu_before, client, server.pid)
    checks = summarise(samples, elapsed)
    size = _index_size(client)
    return {
        "records": records,
        "reindex_seconds": round(reindex_seconds, 2),
        "reindex_records_per_second": round(records / reindex_seconds, 1),
        "indexer_summary": indexer,
        **size,
        "store_bytes_per_record": round(size["store_bytes"] / records, 1),
        "checks": {
            key: checks[key]
            for key in ("requests", "per_second", "p50_ms", "p90_ms", "p99_ms", "max_ms")
        }
        | {"errors": checks["errors"], "errors_by_status": checks["errors_by_status"]},
        "cpu_ms_per_check": {
            name: round(seconds * 1000 / max(1, checks["requests"]), 2)
            for name, seconds in cpu_used.items()
        },
        "load_average_before_reindex": load_before_index,
        "load_average_before_checks": load_before_checks,
        "load_average_after_checks": load_average(),
    }


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["runs"]
    n = [r["records"] / 1e6 for r in rows]
    figure, (size, reindex, latency, cpu) = plt.subplots(1, 4, figsize=(17, 4))
    size.plot(n, [r["store_bytes"] / 2**20 for r in rows], "o-", label="store.size")
    size.plot(n, [r["pri_store_bytes"] / 2**20 for r in rows], "x--", label="pri.store.size")
    size.set_title("index size on disk")
    size.set_ylabel("MiB")
    size.legend()
    reindex.plot(n, [r["reindex_seconds"] for r in rows], "o-")
    reindex.set_title("reindex, end to end (mochinushi index)")
    reindex.set_ylabel("seconds")
    latency.plot(n, [r["checks"]["p50_ms"] for r in rows], "o-", label="p50")
    latency.plot(n, [r["checks"]["p99_ms"] for r in rows], "o-", label="p99")
    latency.axhline(TARGETS["p99_ms"], color="red", linestyle="--", linewidth=1, label="p99 target")
    latency.set_title(f"check latency, concurrency {result['concurrency']}")
    latency.set_ylabel("ms")
    latency.legend()
    cpu.plot(n, [r["cpu_ms_per_check"]["opensearch"] for r in rows], "o-", label="OpenSearch")
    cpu.plot(n, [r["cpu_ms_per_check"]["api"] for r in rows], "o-", label="API")
    cpu.set_title("CPU per check")
    cpu.set_ylabel("ms of CPU")
    cpu.legend()
    for axis in (size, reindex, latency, cpu):
        axis.set_xlabel("records (millions)")
        axis.set_xlim(left=0)
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
    figure.suptitle(
        f"mochinushi on one local node ({result['machine']['cpus']} cores, "
        f"heap {result['machine']['opensearch_heap']}), production-density synthetic records"
    )
    save_figure(figure, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__ and __doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=list(DEFAULT_RECORDS))
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of checks per N")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--opensearch-port", type=int, default=9200)
    parser.add_argument("--data", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale.json")
    args = parser.parse_args()
    if min(args.records) < CHECKS or args.concurrency < 1 or args.duration <= 0:
        parser.error(f"need every --records >= {CHECKS}, --concurrency >= 1, --duration > 0")
    signal.signal(signal.SIGTERM, interrupt)

    code_at_start = code_version()
    url, client = node_client(args.opensearch_port)
    machine = machine_info(client)
    runs = [
        _measure(client, url, records, args.data, args.concurrency, args.duration)
        for records in sorted(args.records)
    ]
    result = {
        "benchmark": "scale",
        "density": "production",
        "duration_seconds": args.duration,
        "concurrency": args.concurrency,
        "runs": runs,
        "machine": machine,
        "code": {"at_start": code_at_start, "at_end": code_version()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_result(args.out, result)
    _plot(result, args.out.with_suffix(".png"))


if __name__ == "__main__":
    run_script(main)
