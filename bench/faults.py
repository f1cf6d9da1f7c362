"""Fault injection: SIGKILL a data node of a local 3-node cluster while existence checks run.

    .venv/bin/python bench/faults.py [--records 3000] [--checks 300] [--keep-cluster]

Writes ``var/faults/faults.json``; with ``MOCHINUSHI_UPDATE_RESULTS=1`` (or ``--out``) the tracked
``bench/results/faults.json`` instead. The cluster is ``mochinushi opensearch up --nodes 3``
(``LocalCluster``, HTTP ports 9210-9212); it is started when it is not running and stopped
again at the end unless it was already running (or ``--keep-cluster``). The soak test
``tests/reliability/test_node_killed_under_load.py`` runs the same scenario.

What it measures. A synthetic extract is indexed with 3 shards and 1 replica. Every labelled
check is run once on the healthy cluster; the checks whose answer agrees with their label form
the load (the others are relevance misses, which are not what this measures). Workers then
send those checks to the API for a warm-up, one data node that holds primaries (the elected
cluster manager when it is one; never the node the API talks to) is SIGKILLed, the load goes on
while the cluster runs degraded, the node is started again while the load goes on, and the run
ends a few seconds after the cluster is green again. Every answer must be the labelled
found/not-found or a 503: a wrong "not found" would tell a person that no record exists when
the search merely failed. The error window is the span of the 503s after the kill.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import json
import os
import platform
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from fastapi import FastAPI
from opensearchpy import OpenSearch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the repository's packages are importable
    sys.path.insert(0, str(ROOT))

from analyzers.readings import default_reading_dictionary  # noqa: E402
from indexer.build import BuildOptions, build_index  # noqa: E402
from mochinushi.localdev.node import LocalCluster  # noqa: E402
from mochinushi.localdev.settings import LocalNodeSettings  # noqa: E402
from mochinushi.settings import Settings  # noqa: E402
from relevance.synth import SynthConfig, generate, write_synth_set  # noqa: E402
from search_api.app import create_app  # noqa: E402

RESULT_PATH = ROOT / "bench" / "results" / "faults.json"
"""The tracked result, rewritten only when asked (``MOCHINUSHI_UPDATE_RESULTS=1``)."""
SCRATCH_RESULT_PATH = ROOT / "var" / "faults" / "faults.json"
UPDATE_RESULTS_ENV = "MOCHINUSHI_UPDATE_RESULTS"
ALIAS = "faults-node-kill"
CHECKS_PATH = "/v1/existence-checks"


# -- talking to the API in-process -------------------------------------------------------------


def app_settings(alias: str, **overrides: Any) -> Settings:
    """Settings for an API under test: no rate limit (the load comes from one client)."""
    return Settings(alias=alias, rate_limit="off", **overrides)


@asynccontextmanager
async def api_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that calls ``app`` in-process, and closes the app's cluster client.

    httpx's ASGI transport does not run the lifespan, which is where the app closes its
    OpenSearch client; an unclosed aiohttp session would warn at interpreter exit.
    """
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://mochinushi.test", timeout=30.0
        ) as http:
            yield http
    finally:
        await app.state.service.client.close()


async def check_found(http: httpx.AsyncClient, body: dict[str, Any]) -> tuple[int, bool | None]:
    """POST one existence check: its status and, for a 200, whether a record was found."""
    response = await http.post(CHECKS_PATH, json=body)
    found = response.json().get("found") if response.status_code == 200 else None
    return response.status_code, found


# -- the load ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledCheck:
    check_id: str
    body: dict[str, Any]
    expect_found: bool


@dataclass(frozen=True)
class Sample:
    """One answered check; times are seconds since the load started."""

    check_id: str
    started: float
    ended: float
    status: int
    found: bool | None
    expect_found: bool

    @property
    def wrong(self) -> bool:
        """A 200 that contradicts the label: the one outcome a fault must never cause."""
        return self.status == 200 and self.found is not self.expect_found


async def run_load(
    http: httpx.AsyncClient,
    checks: Sequence[LabelledCheck],
    stop: asyncio.Event,
    concurrency: int,
    zero: float,
) -> list[Sample]:
    """Send ``checks`` round-robin from ``concurrency`` workers until ``stop`` is set."""
    samples: list[Sample] = []
    order = itertools.count()

    async def worker() -> None:
        while not stop.is_set():
            check = checks[next(order) % len(checks)]
            started = time.monotonic() - zero
            try:
                status, found = await check_found(http, check.body)
            except httpx.HTTPError:
                status, found = 0, None
            samples.append(
                Sample(
                    check.check_id,
                    round(started, 3),
                    round(time.monotonic() - zero, 3),
                    status,
                    found,
                    check.expect_found,
                )
            )

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples


def error_window(samples: Sequence[Sample], after: float) -> dict[str, Any]:
    """The 503s answered after ``after``: how many, and from when to when (seconds, relative to
    ``after``; ``first`` is negative for a request already in flight at that moment)."""
    failed = sorted(
        (s for s in samples if s.status == 503 and s.ended >= after), key=lambda s: s.started
    )
    if not failed:
        return {"unavailable": 0, "window_seconds": 0.0, "first": None, "last": None}
    return {
        "unavailable": len(failed),
        "window_seconds": round(max(s.ended for s in failed) - failed[0].started, 3),
        "first": round(failed[0].started - after, 3),
        "last": round(max(s.ended for s in failed) - after, 3),
    }


def timeline(samples: Sequence[Sample]) -> list[dict[str, int]]:
    """Answers per second of the run, by outcome (for a plot of the error window)."""
    buckets: dict[int, Counter[str]] = {}
    for s in samples:
        outcome = "wrong" if s.wrong else {200: "ok", 503: "unavailable"}.get(s.status, "other")
        buckets.setdefault(int(s.started), Counter())[outcome] += 1
    return [
        {"second": second, **{k: counts[k] for k in ("ok", "unavailable", "wrong", "other")}}
        for second, counts in sorted(buckets.items())
    ]


# -- the cluster -------------------------------------------------------------------------------


@contextmanager
def running_cluster(
    cluster: LocalCluster, keep: bool = False, progress: Any = print
) -> Iterator[LocalCluster]:
    """The cluster up and green; stopped afterwards only if this started it (and not ``keep``)."""
    was_running = cluster.status().running
    cluster.up(progress=progress)
    try:
        yield cluster
    finally:
        if not was_running and not keep:
            cluster.down()


def pick_victim(client: OpenSearch, index: str, spare: str) -> tuple[str, bool]:
    """The member to kill: holds primaries of ``index`` and is not ``spare`` (the API's entry).

    The elected cluster manager is preferred among those, so that the kill also forces an
    election; returns the node name and whether it was the cluster manager.
    """
    shards = client.cat.shards(index=index, format="json")
    primaries = Counter(s["node"] for s in shards if s["prirep"] == "p" and s["node"] != spare)
    manager = client.cat.cluster_manager(format="json")[0]["node"]
    if manager in primaries:
        return manager, True
    return primaries.most_common(1)[0][0], False


def wait_for_green(client: OpenSearch, index: str, seconds: int = 120) -> None:
    """Block until every copy of ``index`` is allocated (the client's ``timeout`` argument is
    its own request timeout, so the health API's one goes in the query string here)."""
    health = client.transport.perform_request(
        "GET",
        f"/_cluster/health/{index}",
        params={"wait_for_status": "green", "timeout": f"{seconds}s"},
        timeout=seconds + 10,
    )
    if health["status"] != "green":
        raise RuntimeError(f"{index} is {health['status']} after {seconds}s")


def _health_summary(client: OpenSearch) -> dict[str, Any]:
    """What the survivors say while a member is down (evidence that the kill took effect)."""
    health = client.cluster.health()
    manager = client.cat.cluster_manager(format="json")[0]["node"]
    return {
        "status": health["status"],
        "number_of_nodes": health["number_of_nodes"],
        "unassigned_shards": health["unassigned_shards"],
        "cluster_manager": manager,
    }


def _labelled(synth_checks: Sequence[dict[str, Any]]) -> list[LabelledCheck]:
    return [
        LabelledCheck(c["check_id"], c["request"], c["expected_record_id"] is not None)
        for c in synth_checks
    ]


def drop_alias_indices(client: OpenSearch, alias: str) -> None:
    """Every versioned index of ``alias``, closed or half-built ones included."""
    for name in client.indices.get(index=f"{alias}-*", expand_wildcards="all"):
        client.indices.delete(index=name)


@dataclass
class Phases:
    """Seconds since the load started at which the run changed phase."""

    kill: float = 0.0
    restart: float = 0.0
    green: float = 0.0
    end: float = 0.0
    victim: str = ""
    victim_was_cluster_manager: bool = False
    entry: str = ""
    health_while_down: dict[str, Any] = field(default_factory=dict)


async def node_kill_scenario(
    cluster: LocalCluster,
    work: Path,
    *,
    records: int = 3000,
    checks: int = 300,
    warm: float = 8.0,
    degraded: float = 15.0,
    tail: float = 5.0,
    concurrency: int = 4,
    kill: Literal["primary", "entry"] = "primary",
) -> dict[str, Any]:
    """Index, baseline, load with a SIGKILL and a restart; the result as a JSON-ready dict.

    ``kill="entry"`` kills the node the API sends its requests to instead: the API knows one
    cluster URL, so this measures how long it is unavailable until that node is back.
    """
    # Any member may be the one killed; the harness's own client must outlive it.
    client = OpenSearch(hosts=[m.url for m in cluster.members], timeout=60)
    synth = generate(SynthConfig(records=records, checks=checks, seed=31))
    write_synth_set(synth, work)
    drop_alias_indices(client, ALIAS)
    built = time.monotonic()
    summary = build_index(
        client,
        work / "records.jsonl",
        BuildOptions(alias=ALIAS, shards=3, replicas=1),
        default_reading_dictionary(),
    )
    wait_for_green(client, ALIAS)
    build_seconds = time.monotonic() - built
    entry = cluster.members[0].name
    if kill == "entry":
        manager = client.cat.cluster_manager(format="json")[0]["node"]
        victim, was_manager = entry, manager == entry
    else:
        victim, was_manager = pick_victim(client, summary.index, spare=entry)

    # The app's JSON logs (two lines per check) would drown the report; tests cover them.
    app = create_app(app_settings(ALIAS, opensearch_url=cluster.url), log_stream=io.StringIO())
    async with api_client(app) as http:
        labelled = _labelled(synth.checks)
        baseline = [await check_found(http, c.body) for c in labelled]
        agreeing = [
            c for c, (_, found) in zip(labelled, baseline, strict=True) if found is c.expect_found
        ]
        if not agreeing:
            raise RuntimeError(f"no check agrees with its label on the healthy cluster: {baseline}")
        phases = Phases(victim=victim, victim_was_cluster_manager=was_manager, entry=entry)
        stop = asyncio.Event()
        zero = time.monotonic()
        load = asyncio.create_task(run_load(http, agreeing, stop, concurrency, zero))
        await asyncio.sleep(warm)
        pid = cluster.member(victim).read_pid()
        assert pid is not None, f"{victim} has no pid file"
        os.kill(pid, signal.SIGKILL)
        phases.kill = time.monotonic() - zero
        await asyncio.sleep(degraded / 2)
        phases.health_while_down = await asyncio.to_thread(_health_summary, client)
        await asyncio.sleep(degraded / 2)
        phases.restart = time.monotonic() - zero
        await asyncio.to_thread(cluster.up)
        phases.green = time.monotonic() - zero
        await asyncio.sleep(tail)
        stop.set()
        samples = await load
        phases.end = time.monotonic() - zero
    client.close()
    return _result(
        summary.index,
        samples,
        phases,
        labelled,
        agreeing,
        build_seconds,
        {
            "records": records,
            "checks": checks,
            "warm": warm,
            "degraded": degraded,
            "tail": tail,
            "concurrency": concurrency,
            "kill": kill,
        },
    )


def _result(
    index: str,
    samples: Sequence[Sample],
    phases: Phases,
    labelled: Sequence[LabelledCheck],
    agreeing: Sequence[LabelledCheck],
    build_seconds: float,
    parameters: dict[str, Any],
) -> dict[str, Any]:
    def phase_of(s: Sample) -> str:
        if s.started < phases.kill:
            return "before_kill"
        if s.started < phases.restart:
            return "node_down"
        return "node_rejoining" if s.started < phases.green else "after_green"

    by_phase: dict[str, Counter[str]] = {}
    for s in samples:
        outcome = "wrong" if s.wrong else {200: "ok", 503: "unavailable"}.get(s.status, "other")
        by_phase.setdefault(phase_of(s), Counter())[outcome] += 1
    latencies = sorted(s.ended - s.started for s in samples if s.status == 200)
    return {
        "benchmark": "faults.node_kill",
        "index": index,
        "parameters": {**parameters, "shards": 3, "replicas": 1, "nodes": 3},
        "build_seconds": round(build_seconds, 2),
        "checks_labelled": len(labelled),
        "checks_agreeing_with_label_when_healthy": len(agreeing),
        "phases": {
            k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(phases).items()
        },
        "answers": len(samples),
        "wrong_answers": sum(1 for s in samples if s.wrong),
        "other_statuses": dict(Counter(s.status for s in samples if s.status not in (200, 503))),
        "by_phase": {phase: dict(counts) for phase, counts in by_phase.items()},
        "error_window_after_kill": error_window(samples, phases.kill),
        "error_window_after_restart": error_window(samples, phases.restart),
        "restart_to_green_seconds": round(phases.green - phases.restart, 2),
        "latency_ms_ok": {
            "p50": round(1000 * latencies[len(latencies) // 2], 1) if latencies else None,
            "p99": round(1000 * latencies[int(len(latencies) * 0.99)], 1) if latencies else None,
        },
        "timeline": timeline(samples),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def result_path() -> Path:
    """Where a run's result goes unless told: a soak run or a try-out never rewrites a tracked
    file by accident."""
    return RESULT_PATH if os.environ.get(UPDATE_RESULTS_ENV) == "1" else SCRATCH_RESULT_PATH


def write_result(result: dict[str, Any], path: Path | None = None) -> Path:
    path = path or result_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__ and __doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--checks", type=int, default=300)
    parser.add_argument("--degraded", type=float, default=15.0, help="seconds with a node down")
    parser.add_argument("--keep-cluster", action="store_true")
    parser.add_argument(
        "--kill",
        choices=("primary", "entry"),
        default="primary",
        help="a node holding primaries that the API does not talk to, or the API's entry node",
    )
    parser.add_argument("--out", type=Path, default=None, help="default: see result_path()")
    args = parser.parse_args(argv)
    settings = LocalNodeSettings()
    cluster = LocalCluster(settings.home, settings.opensearch_version)
    work = ROOT / "var" / "faults"
    work.mkdir(parents=True, exist_ok=True)
    with running_cluster(cluster, keep=args.keep_cluster):
        result = asyncio.run(
            node_kill_scenario(
                cluster,
                work,
                records=args.records,
                checks=args.checks,
                degraded=args.degraded,
                kill=args.kill,
            )
        )
    path = write_result(result, args.out)
    summary = {k: v for k, v in result.items() if k != "timeline"}
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    print(f"wrote {path}")
    return 1 if result["wrong_answers"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
