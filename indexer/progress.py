"""Progress of a long load: a bar with records/s and ETA on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

PLAIN_EVERY_SECONDS = 10.0


def _estimate_lines(path: Path) -> int | None:
    """Rough total for the bar from the file size and the first lines (no full pass)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as stream:
            head = stream.read(1 << 20)
    except OSError:
        return None
    lines = head.count(b"\n")
    return int(size / len(head) * lines) if head and lines else None


@contextmanager
def progress_reporter(path: Path) -> Iterator[Callable[[int], None]]:
    if sys.stderr.isatty():
        columns = (
            TextColumn("indexing"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]} rec/s"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task("load", total=_estimate_lines(path), rate="-")
            started = time.monotonic()
            done = 0

            def advance(n: int) -> None:
                nonlocal done
                done += n
                rate = done / max(time.monotonic() - started, 1e-6)
                bar.update(task, advance=n, rate=f"{rate:,.0f}")

            yield advance
        return
    started = last = time.monotonic()
    done = 0

    def report(n: int) -> None:
        nonlocal done, last
        done += n
        now = time.monotonic()
        if now - last >= PLAIN_EVERY_SECONDS:
            last = now
            print(f"indexed {done} records ({done / (now - started):,.0f}/s)", file=sys.stderr)

    yield report
    elapsed = max(time.monotonic() - started, 1e-6)
    print(f"indexed {done} records in {elapsed:.1f}s ({done / elapsed:,.0f}/s)", file=sys.stderr)
