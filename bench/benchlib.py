"""Small helpers shared by the benchmark scripts: what was measured, and on what machine state.

Imported by the scripts in ``bench/`` (Python puts the script's folder on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

ROOT = Path(__file__).resolve().parents[1]


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (the box is shared: record them with results)."""
    return [round(x, 2) for x in os.getloadavg()]


def code_version() -> dict[str, Any]:
    """The commit measured, and whether product files differed from it (read-only git)."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout.rstrip("\n")
        except (OSError, subprocess.CalledProcessError):
            return ""

    changed = [
        line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
    ]
    return {
        "commit": git("rev-parse", "--short", "HEAD").strip() or None,
        "modified_files": changed,
    }


def proc_status_kib(pid: int, field: str) -> int | None:
    """A ``kB`` field of /proc/<pid>/status (``VmRSS``, ``VmHWM``); None once the process is gone.

    ``VmHWM`` is the process's own peak since its ``exec``. Prefer it to
    ``getrusage(RUSAGE_CHILDREN).ru_maxrss``: Linux charges a child with the high-water RSS of
    the address space it had before ``exec`` (with vfork/posix_spawn, the parent's), so a big
    parent makes every child look as big.
    """
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat); None once it is gone."""
    split = proc_cpu_split(pid)
    return None if split is None else split[0] + split[1]


def proc_cpu_split(pid: int) -> tuple[float, float] | None:
    """User and system CPU seconds of a process so far; None once it is gone.

    The system part is mostly loopback networking: on one box, the kernel does much of the
    receiving side's TCP work in the sender's system call.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def opensearch_cpu_seconds(client: OpenSearch) -> float:
    """CPU seconds the cluster's node processes have used so far (``_nodes/stats/process``)."""
    stats = client.nodes.stats(metric="process")
    millis = sum(int(n["process"]["cpu"]["total_in_millis"]) for n in stats["nodes"].values())
    return millis / 1000


def write_result(path: Path, result: dict[str, Any], shown: dict[str, Any] | None = None) -> None:
    """``result`` as JSON at ``path``; ``shown`` (default: all of it) printed to stdout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result if shown is None else shown, indent=2))


def save_figure(figure: Any, path: Path) -> None:
    """Save a matplotlib figure as a PNG and release it."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run_script(main: Callable[[], None]) -> None:
    """Run a benchmark's ``main``; Ctrl-C (or SIGTERM turned into it) exits 130."""
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
