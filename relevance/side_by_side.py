"""One table of several evaluation runs side by side (``make relevance``): the overall rates,
recall per error pattern and per number of keying errors, false found per kind of person."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _cell(row: dict[str, Any] | None, key: str) -> str:
    return f"{row[key]:.3f} ({int(row['n'])})" if row else "–"


def side_by_side(runs: dict[str, dict[str, Any]]) -> str:
    names = list(runs)
    head = "| | " + " | ".join(names) + " |\n|---|" + "---|" * len(names) + "\n"
    lines = [
        "| recall of owners | " + " | ".join(f"{r['recall']:.3f}" for r in runs.values()) + " |",
        "| false found | " + " | ".join(f"{r['false_found']:.2%}" for r in runs.values()) + " |",
        "| found for someone else | "
        + " | ".join(f"{r.get('found_for_someone_else', 0):.2%}" for r in runs.values())
        + " |",
    ]
    out = head + "\n".join(lines) + "\n\n"
    for title, field, key in (
        ("error pattern", "recall_by_tag", "recall"),
        ("keying errors", "recall_by_error_count", "recall"),
        ("negative kind", "false_found_by_kind", "false_found"),
    ):
        keys = sorted({k for r in runs.values() for k in r.get(field, {})})
        out += f"| {title} | " + " | ".join(names) + " |\n|---|" + "---|" * len(names) + "\n"
        for k in keys:
            cells = [_cell(r.get(field, {}).get(k), key) for r in runs.values()]
            out += f"| {k} | " + " | ".join(cells) + " |\n"
        out += "\n"
    return out


def main(argv: list[str]) -> None:
    """``name=path/evaluation.json …`` → the table on standard output."""
    runs = {}
    for arg in argv:
        name, _, path = arg.partition("=")
        runs[name] = json.loads(Path(path).read_text(encoding="utf-8"))
    sys.stdout.write(side_by_side(runs))


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
