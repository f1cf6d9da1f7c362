"""Sustained load: five minutes of labelled existence checks at the benchmark rate.

    .venv/bin/python bench/soak_load.py --records 1000000 [--duration 300] [--rate R]

Writes ``bench/results/soak_load.json`` and ``bench/results/soak_load.png`` (latency, rate
and memory over time). Needs the local node. Shares ``bench/api_latency.py``'s synthetic set
(``var/bench/api-<N>/``: 2,000 labelled checks), its ``bench-api`` alias and its API child
process, load loop and percentiles. Steps:

1. reference answers: every labelled check is sent once, one at a time, to the *unloaded* API;
   a check whose reference answer is not a 200 is left out of the load (and counted);
2. a warm-up, then ``--duration`` seconds of load: ``--concurrency`` workers send the checks
   round-robin, paced at ``--rate`` checks/s (default: ``checks_per_second`` of
   ``bench/results/api_latency.json``, the benchmark rate); a worker that falls behind sends
   back to back, so the load never exceeds the benchmark's concurrency;
3. every 5 s: the API process's RSS (``VmRSS`` of /proc/<pid>/status), the node's heap and
   the load average;
4. verdicts: no 5xx, no wrong answer, p99 within the latency target, API memory flat.

An answer is WRONG only when it is a 200 whose ``found`` differs from the same check's
reference answer (found under load but not found unloaded, or the reverse). Whether the
reference answers agree with the synthetic labels (``expected_record_id``) is relevance,
reported beside it but not counted as wrong. Memory is flat when the mean RSS of the last
minute exceeds that of the first minute by at most ``RSS_FLAT_TOLERANCE`` (5 %).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the repository's packages are importable
    sys.path.insert(0, str(ROOT))

from bench.api_latency import (  # noqa: E402
    CHECKS,
    TARGETS,
    WARMUP_SECONDS,
    Sample,
    api_sender,
    api_server,
    closed_loop,
    http_client,
    interrupt,
    labelled_checks,
    percentile_ms,
    prepare,
    run_interruptible,
    summarise,
)
from bench.benchlib import (  # noqa: E402
    code_version,
    load_average,
    proc_status_kib,
    run_script,
    save_figure,
    write_result,
)

SAMPLE_SECONDS = 5.0
RSS_FLAT_TOLERANCE = 0.05
DEFAULT_DURATION = 300.0


# --- measuring ----------------------------------------------------------------------------------


def _heap_used_mb(client: OpenSearch) -> float | None:
    try:
        stats = client.nodes.stats(metric="jvm")
    except Exception:
        return None
    used = sum(int(n["jvm"]["mem"]["heap_used_in_bytes"]) for n in stats["nodes"].values())
    return round(used / 2**20, 1)


async def _resources(
    pid: int, client: OpenSearch, zero: float, stop: asyncio.Event
) -> list[dict[str, Any]]:
    """Every ``SAMPLE_SECONDS`` until ``stop``: API RSS, node heap and load, by time."""
    rows: list[dict[str, Any]] = []
    while True:
        rss = proc_status_kib(pid, "VmRSS")
        heap = await asyncio.to_thread(_heap_used_mb, client)
        rows.append(
            {
                "t": round(time.monotonic() - zero, 1),
                "api_rss_mb": round(rss / 1024, 1) if rss is not None else None,
                "opensearch_heap_used_mb": heap,
                "load_average_1m": load_average()[0],
            }
        )
        try:
            await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)
            return rows
        except TimeoutError:
            pass


async def _reference(base_url: str, bodies: list[bytes]) -> list[Sample]:
    """Each check once, one at a time, on the unloaded API."""
    async with http_client(base_url, 1) as client:
        send = api_sender(client, bodies)
        return [await send(n) for n in range(len(bodies))]


async def _soak(
    base_url: str,
    pid: int,
    client: OpenSearch,
    bodies: list[bytes],
    concurrency: int,
    duration: float,
    rate: float | None,
) -> tuple[list[Sample], float, list[dict[str, Any]], float]:
    """Warm-up, then the paced load with the resource sampler beside it."""
    async with http_client(base_url, concurrency) as http:
        send = api_sender(http, bodies)
        counter = itertools.count()
        await closed_loop(send, concurrency, min(WARMUP_SECONDS, duration), counter, rate)
        stop = asyncio.Event()
        zero = time.monotonic()
        sampler = asyncio.create_task(_resources(pid, client, zero, stop))
        try:
            samples, elapsed = await closed_loop(send, concurrency, duration, counter, rate)
        finally:
            stop.set()
        return samples, elapsed, await sampler, zero


# --- judging ------------------------------------------------------------------------------------


def _wrong(sample: Sample, reference: dict[int, bool], checks: int) -> bool:
    expected = reference.get(sample.n % checks)
    return sample.status == "200" and expected is not None and sample.found is not expected


def _windows(
    samples: Sequence[Sample], reference: dict[int, bool], checks: int, zero: float
) -> list[dict[str, Any]]:
    """Per ``SAMPLE_SECONDS`` window of send time: count, errors, wrong, p50 and p99."""
    buckets: dict[int, list[Sample]] = {}
    for sample in samples:
        buckets.setdefault(int((sample.started - zero) // SAMPLE_SECONDS), []).append(sample)
    rows = []
    for index in sorted(buckets):
        bucket = buckets[index]
        latencies = sorted(s.seconds for s in bucket)
        rows.append(
            {
                "t": index * SAMPLE_SECONDS,
                "requests": len(bucket),
                "per_second": round(len(bucket) / SAMPLE_SECONDS, 1),
                "errors": sum(s.status != "200" for s in bucket),
                "wrong": sum(_wrong(s, reference, checks) for s in bucket),
                "p50_ms": percentile_ms(latencies, 0.50),
                "p99_ms": percentile_ms(latencies, 0.99),
            }
        )
    return rows


def _memory(resources: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """First- vs last-minute mean RSS, and the least-squares slope over the whole load."""
    points = [(r["t"], r["api_rss_mb"]) for r in resources if r["api_rss_mb"] is not None]
    if len(points) < 2:
        return {"flat": None, "reason": "fewer than two RSS samples"}
    last_t = points[-1][0]
    first = [mb for t, mb in points if t < 60]
    last = [mb for t, mb in points if t >= last_t - 60]
    first_mean, last_mean = sum(first) / len(first), sum(last) / len(last)
    mean_t = sum(t for t, _ in points) / len(points)
    mean_mb = sum(mb for _, mb in points) / len(points)
    denominator = sum((t - mean_t) ** 2 for t, _ in points)
    slope = sum((t - mean_t) * (mb - mean_mb) for t, mb in points) / denominator
    growth = (last_mean - first_mean) / first_mean
    return {
        "samples": len(points),
        "min_mb": min(mb for _, mb in points),
        "max_mb": max(mb for _, mb in points),
        "first_minute_mean_mb": round(first_mean, 1),
        "last_minute_mean_mb": round(last_mean, 1),
        "growth_ratio": round(growth, 4),
        "slope_mb_per_minute": round(slope * 60, 3),
        "tolerance_ratio": RSS_FLAT_TOLERANCE,
        "flat": growth <= RSS_FLAT_TOLERANCE,
    }


def _labels(checks: Sequence[dict[str, Any]], reference: Sequence[Sample]) -> dict[str, Any]:
    """How the unloaded answers compare with the synthetic labels (relevance, not errors)."""
    owners = [r for c, r in zip(checks, reference, strict=True) if c["expected_record_id"]]
    negatives = [r for c, r in zip(checks, reference, strict=True) if not c["expected_record_id"]]
    return {
        "owners": len(owners),
        "owners_found": sum(r.found is True for r in owners),
        "negatives": len(negatives),
        "negatives_found": sum(r.found is True for r in negatives),
    }


def _default_rate(path: Path) -> float | None:
    if not path.exists():
        return None
    rate = json.loads(path.read_text(encoding="utf-8")).get("checks_per_second")
    return float(rate) if rate else None


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    windows, resources = result["windows"], result["resources"]
    figure, (latency, rate, memory) = plt.subplots(3, 1, figsize=(9, 8.5), sharex=True)
    t = [w["t"] for w in windows]
    latency.plot(t, [w["p50_ms"] for w in windows], label="p50")
    latency.plot(t, [w["p99_ms"] for w in windows], label="p99")
    latency.axhline(TARGETS["p99_ms"], color="red", linestyle="--", linewidth=1, label="p99 target")
    latency.set_ylabel("latency per 5 s (ms)")
    latency.legend(loc="upper right")
    rate.plot(t, [w["per_second"] for w in windows], label="answered checks/s")
    if result["target_rate"]:
        rate.axhline(result["target_rate"], color="grey", linestyle=":", label="paced rate")
    errors = [w["t"] for w in windows if w["errors"] or w["wrong"]]
    if errors:
        rate.plot(errors, [0] * len(errors), "rx", label="errors or wrong")
    rate.set_ylabel("checks/s")
    rate.set_ylim(bottom=0)
    rate.legend(loc="lower right")
    rt = [r["t"] for r in resources]
    memory.set_xlabel("seconds since the load started")
    heap = memory.twinx()  # drawn first, behind the RSS line
    heap.plot(rt, [r["opensearch_heap_used_mb"] for r in resources], color="tab:purple", alpha=0.3)
    heap.set_ylabel("OpenSearch heap used (MB)", color="tab:purple")
    heap.set_ylim(bottom=0)
    memory.set_zorder(heap.get_zorder() + 1)
    memory.patch.set_visible(False)
    rss = [r["api_rss_mb"] for r in resources]
    memory.plot(rt, rss, color="tab:green", linewidth=2.5)
    memory.set_ylabel("API RSS (MB)", color="tab:green")
    memory.set_ylim(0, 1.25 * max((mb for mb in rss if mb is not None), default=1))
    figure.suptitle(
        f"soak: {result['records']:,} records, {result['duration_seconds']:.0f} s, "
        f"concurrency {result['concurrency']}, {result['checks_per_second']} checks/s"
    )
    save_figure(figure, path)


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__ and __doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION, help="seconds")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="checks/s (default: checks_per_second of bench/results/api_latency.json; "
        "0: back to back)",
    )
    parser.add_argument("--opensearch-port", type=int, default=9200)
    parser.add_argument("--data", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "soak_load.json")
    args = parser.parse_args()
    if args.records < CHECKS or args.concurrency < 1 or args.duration <= 0:
        parser.error(f"need --records >= {CHECKS}, --concurrency >= 1 and --duration > 0")
    rate = args.rate
    if rate is None:
        rate = _default_rate(ROOT / "bench" / "results" / "api_latency.json")
    rate = rate or None
    signal.signal(signal.SIGTERM, interrupt)

    prepared = prepare(args.records, args.opensearch_port, args.data)
    url, client, folder = prepared.url, prepared.client, prepared.folder
    checks = labelled_checks(folder)
    bodies = [json.dumps(c["request"], ensure_ascii=False).encode() for c in checks]

    with api_server(url, folder / "soak-api.log") as server:
        print(f"API on {server.base_url}: reference answers, one at a time", flush=True)
        reference_samples = run_interruptible(_reference(server.base_url, bodies))
        reference = {s.n: bool(s.found) for s in reference_samples if s.status == "200"}
        rss_before = proc_status_kib(server.pid, "VmRSS")
        print(
            f"load: {args.duration:.0f} s, concurrency {args.concurrency}, "
            f"rate {f'{rate:.0f}/s' if rate else 'back to back'}",
            flush=True,
        )
        load_before = load_average()
        samples, elapsed, resources, zero = run_interruptible(
            _soak(
                server.base_url,
                server.pid,
                client,
                bodies,
                args.concurrency,
                args.duration,
                rate,
            )
        )
        load_after = load_average()

    overall = summarise(samples, elapsed)
    wrong = [s for s in samples if _wrong(s, reference, len(bodies))]
    server_errors = sum(s.status.isdigit() and s.status.startswith("5") for s in samples)
    windows = _windows(samples, reference, len(bodies), zero)
    memory = _memory(resources)
    worst_window_p99 = max((w["p99_ms"] for w in windows if w["requests"]), default=math.nan)
    result: dict[str, Any] = {
        "benchmark": "soak_load",
        "records": args.records,
        "checks": len(bodies),
        "duration_seconds": args.duration,
        "warmup_seconds": min(WARMUP_SECONDS, args.duration),
        "concurrency": args.concurrency,
        "target_rate": rate,
        "requests": overall["requests"],
        "checks_per_second": overall["per_second"],
        "p50_ms": overall["p50_ms"],
        "p90_ms": overall["p90_ms"],
        "p99_ms": overall["p99_ms"],
        "max_ms": overall["max_ms"],
        "worst_5s_window_p99_ms": worst_window_p99,
        "errors": overall["errors"],
        "errors_by_status": overall["errors_by_status"],
        "server_errors_5xx": server_errors,
        "wrong": len(wrong),
        "wrong_examples": [
            {"check_id": checks[s.n % len(bodies)]["check_id"], "found": s.found}
            for s in wrong[:20]
        ],
        "reference": {
            "checks": len(bodies),
            "answered_200": len(reference),
            "left_out_not_200": len(bodies) - len(reference),
            "p50_ms": summarise(reference_samples, 1.0)["p50_ms"],
            "labels": _labels(checks, reference_samples),
        },
        "api_rss_before_load_mb": round(rss_before / 1024, 1) if rss_before else None,
        "api_memory": memory,
        "targets": {"server_errors_5xx": 0, "wrong": 0, "p99_ms": TARGETS["p99_ms"]},
        "targets_met": {
            "server_errors_5xx": server_errors == 0,
            "wrong": not wrong,
            "p99_ms": overall["p99_ms"] <= TARGETS["p99_ms"],
            "memory_flat": memory.get("flat"),
            "rate": rate is None or overall["per_second"] >= 0.95 * rate,
        },
        "machine": {
            **prepared.machine,
            "load_average_before_load": load_before,
            "load_average_after_load": load_after,
        },
        "code": {"at_start": prepared.code_at_start, "at_end": code_version()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "windows": windows,
        "resources": resources,
    }
    summary = {k: v for k, v in result.items() if k not in ("windows", "resources")}
    write_result(args.out, result, summary)
    _plot(result, args.out.with_suffix(".png"))


if __name__ == "__main__":
    run_script(main)
