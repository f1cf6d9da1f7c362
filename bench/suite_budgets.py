"""Time and memory budgets that used to be asserted in the test suite, measured here instead.

    .venv/bin/python bench/suite_budgets.py

Wall-clock time on a shared 2-core machine is noise for a test: a busy neighbour made the suite
fail where nothing had changed. So the tests keep only bounds that cannot flake, and the
figures themselves are measured here, one run at a time:

* ``synth_200k_seconds``: ``relevance.synth.generate`` of 200k records and 2k checks (budget:
  one minute, so ``make relevance`` stays a coffee break);
* ``seen_ids_bytes_per_id``: the duplicate-id table of ``indexer.sources`` for 200k ids, as
  sized (``nbytes``) and as allocated (tracemalloc); budget 12 bytes;
* ``streaming_200k_peak_mib``: the peak allocated while reading a 200k-line extract through
  ``count_records``; budget 6 MiB (200k records held in memory would be over 100 MiB).

Writes ``var/bench/suite_budgets.json``; with ``MOCHINUSHI_UPDATE_RESULTS=1`` the tracked
``bench/results/suite_budgets.json``. Exits 1 when a figure is over its budget.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the repository's packages are importable
    sys.path.insert(0, str(ROOT))

from bench.benchlib import code_version, load_average, write_result  # noqa: E402
from indexer.sources import ReadSummary, SeenRecordIds, count_records, read_extract  # noqa: E402
from relevance.synth import SynthConfig, generate  # noqa: E402

RECORDS = 200_000
BUDGETS = {
    "synth_200k_seconds": 60.0,
    "seen_ids_bytes_per_id": 12.0,
    "streaming_200k_peak_mib": 6.0,
}
UPDATE_RESULTS_ENV = "MOCHINUSHI_UPDATE_RESULTS"


def result_path() -> Path:
    tracked = os.environ.get(UPDATE_RESULTS_ENV) == "1"
    return ROOT / ("bench/results" if tracked else "var/bench") / "suite_budgets.json"


def synth_seconds() -> float:
    started = time.perf_counter()
    synth = generate(SynthConfig(records=RECORDS, checks=2_000, seed=7))
    elapsed = time.perf_counter() - started
    assert len(synth.records) == RECORDS
    return round(elapsed, 2)


def seen_ids_bytes_per_id() -> dict[str, float]:
    ids = [f"R{i:010d}" for i in range(RECORDS)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        seen = SeenRecordIds(expected=RECORDS, id_at=ids.__getitem__)
        for offset, record_id in enumerate(ids):
            seen.add(record_id, offset)
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return {"sized": round(seen.nbytes / RECORDS, 2), "allocated": round(used / RECORDS, 2)}


def _write_extract(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            out.write(
                f'{{"record_id":"R{n:09d}","name_kana":"ヤマダ ハナコ","name_kanji":"山田 花子",'
                f'"birth_date":"5-{n % 60 + 10:02d}0503","gender":"{n % 2 + 1}",'
                f'"employer_name":"(株)山田商店","address":"埼玉県浦和市"}}\n'
            )


def streaming_peak_mib() -> float:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "extract.jsonl"
        _write_extract(path, RECORDS)
        summary = ReadSummary()
        tracemalloc.start()
        try:
            for _ in count_records(read_extract(path), summary):
                pass
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert summary.records == RECORDS
    return round(peak / 2**20, 2)


def main() -> int:
    seen = seen_ids_bytes_per_id()
    figures: dict[str, Any] = {
        "synth_200k_seconds": synth_seconds(),
        "seen_ids_bytes_per_id": seen["allocated"],
        "seen_ids_bytes_per_id_as_sized": seen["sized"],
        "streaming_200k_peak_mib": streaming_peak_mib(),
    }
    over = {name: figures[name] for name, budget in BUDGETS.items() if figures[name] > budget}
    result = {
        "benchmark": "suite_budgets",
        "figures": figures,
        "budgets": BUDGETS,
        "over_budget": over,
        "code": code_version(),
        "load_average": load_average(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path = result_path()
    write_result(path, result)
    print(f"wrote {path}", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
