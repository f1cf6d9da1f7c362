"""Writing a generated set: records.jsonl, records.csv, checks.jsonl and manifest.json."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path

from relevance.synth.config import SynthSet
from relevance.synth.records import RECORD_FIELDS


def write_synth_set(synth: SynthSet, out_dir: Path) -> None:
    """records.jsonl, records.csv (UTF-8, header row), checks.jsonl and manifest.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "records.jsonl").open("w", encoding="utf-8") as fh:
        for record in synth.records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    with (out_dir / "records.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=RECORD_FIELDS)
        writer.writeheader()
        writer.writerows(synth.records)
    with (out_dir / "checks.jsonl").open("w", encoding="utf-8") as fh:
        for check in synth.checks:
            fh.write(json.dumps(check, ensure_ascii=False) + "\n")
    # The package name, not this module's: readers identify the generator by it.
    manifest = {
        "generator": "relevance.synth",
        "seed": synth.config.seed,
        "config": asdict(synth.config),
        **synth.stats,
    }
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
