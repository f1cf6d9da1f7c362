"""API latency benchmark: closed-loop existence checks over HTTP vs the bare candidate query.

    .venv/bin/python bench/api_latency.py --records 1000000

Writes ``bench/results/api_latency.json``. Needs the local node (``make opensearch``); talks to
127.0.0.1 only. Steps:

1. a synthetic extract of N records with 2,000 labelled checks (seed 13, production density)
   in ``var/bench/api-<N>/``, reused when its manifest matches;
2. the alias ``bench-api`` built from it with ``mochinushi index``, skipped when the alias
   already serves exactly N documents;
3. the API (``mochinushi serve``, rate limit off, dev mode) in a child process on a free port;
4. a closed loop: ``--concurrency`` workers each POST the checks' ``request`` bodies
   round-robin to ``/v1/existence-checks`` for ``--duration`` seconds, after a short
   unrecorded warm-up; every non-200 answer or transport error counts as an error;
5. the same candidate queries (``Finder.body``) sent straight to OpenSearch with the async
   client, same concurrency, ``--direct-duration`` seconds: what the API adds on top.

The load generator runs on the same machine as the API and the node and competes with them
for CPU, so the numbers are an upper bound on latency for this box, not a capacity figure.
``cpu_ms_per_check`` says where the CPU went during the measured API loop: the API process
(/proc/<pid>/stat, also split into ``api_user`` and ``api_system``: on one box the kernel's
loopback TCP work lands in the system part), the node (``_nodes/stats/process``) and this
process (the load generator).
Load averages and the commit measured are recorded with the results (the box is shared).

Profiling the API: with ``MOCHINUSHI_BENCH_PROFILE=<file.prof>`` the API child runs under
cProfile and writes its stats to that file when it is stopped (use ``--out`` elsewhere: a
profiled run's numbers are inflated).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import itertools
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import httpx
import orjson
from opensearchpy import AsyncOpenSearch, OpenSearch
from opensearchpy.exceptions import TransportError

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the repository's packages are importable
    sys.path.insert(0, str(ROOT))

from analyzers.readings import default_reading_dictionary  # noqa: E402
from bench.benchlib import (  # noqa: E402
    code_version,
    load_average,
    opensearch_cpu_seconds,
    proc_cpu_split,
    run_script,
    write_result,
)
from matching.finder import Finder, load_name_stats  # noqa: E402
from matching.scoring import MatchingConfig  # noqa: E402
from relevance.synth import SynthConfig, generate, write_synth_set  # noqa: E402
from search_api.models import ExistenceCheckIn  # noqa: E402

HOST = "127.0.0.1"
ALIAS = "bench-api"
CHECKS = 2000
SEED = 13
WARMUP_SECONDS = 5.0
READY_TIMEOUT_SECONDS = 180.0
REQUEST_TIMEOUT_SECONDS = 10.0
PROFILE_ENV = "MOCHINUSHI_BENCH_PROFILE"
"""When set to a file name, the API runs under cProfile and writes its stats there on exit
(the numbers of such a run are inflated by the profiler: use it to see where time goes)."""
TARGETS = {"p99_ms": 100, "checks_per_second": 300, "errors": 0, "ratio": 2}

T = TypeVar("T")


# --- data ---------------------------------------------------------------------------------------


def _synth_config(records: int) -> SynthConfig:
    return SynthConfig(records=records, checks=CHECKS, seed=SEED, density="production")


def _written_config(folder: Path) -> Any:
    """The config of a complete synthetic set in ``folder`` (None when there is none)."""
    manifest = folder / "manifest.json"  # written last: its presence means a complete set
    if not all((folder / name).exists() for name in ("records.jsonl", "checks.jsonl")):
        return None
    return json.loads(manifest.read_text(encoding="utf-8"))["config"] if manifest.exists() else None


def extract_set(records: int, folder: Path) -> Path:
    """The synthetic set for ``records`` in ``folder``, generated unless already there."""
    config = _synth_config(records)
    if _written_config(folder) == asdict(config):
        return folder
    print(f"generating {records} records and {CHECKS} checks in {folder}", flush=True)
    (folder / "manifest.json").unlink(missing_ok=True)
    write_synth_set(generate(config), folder)
    return folder


def _alias_count(client: OpenSearch, alias: str) -> int | None:
    if not client.indices.exists_alias(name=alias):
        return None
    count: int = client.count(index=alias)["count"]
    return count


def build_alias(client: OpenSearch, folder: Path, records: int, url: str) -> float:
    """``mochinushi index`` of the extract into ``ALIAS`` (always); its wall-clock seconds."""
    print(f"indexing {folder / 'records.jsonl'} into {ALIAS}", flush=True)
    env = {**os.environ, "MOCHINUSHI_ALIAS": ALIAS, "MOCHINUSHI_OPENSEARCH_URL": url}
    started = time.monotonic()
    subprocess.run(
        # --keep 0: a benchmark alias needs no previous versions for rollback.
        [sys.executable, "-m", "mochinushi", "index", str(folder / "records.jsonl"), "--keep", "0"],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.monotonic() - started
    count = _alias_count(client, ALIAS)
    if count != records:
        raise RuntimeError(f"alias {ALIAS} serves {count} documents after indexing, not {records}")
    return seconds


def ensure_alias(client: OpenSearch, folder: Path, records: int, url: str) -> None:
    """Build ``ALIAS`` from the extract unless it already serves ``records`` documents."""
    if _alias_count(client, ALIAS) == records:
        print(f"alias {ALIAS} already serves {records} documents: not rebuilt", flush=True)
        return
    build_alias(client, folder, records, url)


def labelled_checks(folder: Path) -> list[dict[str, Any]]:
    """The synthetic set's checks: ``request`` body, labels (``expected_record_id``, ``kind``)."""
    with (folder / "checks.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def requests_of(folder: Path) -> list[dict[str, Any]]:
    return [check["request"] for check in labelled_checks(folder)]


# --- the API child process ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    with httpx.Client(base_url=base_url, timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
                raise RuntimeError(f"the API exited with {process.returncode}:\n{tail}")
            try:
                if client.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)
    raise RuntimeError(f"the API was not ready within {READY_TIMEOUT_SECONDS:.0f} s")


def _die_with_parent() -> None:
    """Run in the child before exec: SIGTERM when the benchmark dies, even by SIGKILL."""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class ApiServer:
    base_url: str
    pid: int


@contextmanager
def api_server(url: str, log: Path) -> Iterator[ApiServer]:
    """``mochinushi serve`` on a free loopback port until the block ends, however it ends."""
    port = _free_port()
    env = {
        **os.environ,
        "MOCHINUSHI_OPENSEARCH_URL": url,
        "MOCHINUSHI_RATE_LIMIT": "off",
        "MOCHINUSHI_DEV_MODE": "true",
    }
    command = [sys.executable, "-m", "mochinushi", "serve", "--host", HOST, "--port", str(port)]
    command += ["--alias", ALIAS]
    if os.environ.get(PROFILE_ENV):
        profile = Path(os.environ[PROFILE_ENV]).resolve()
        command[1:1] = ["-m", "cProfile", "-o", str(profile)]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as log_file:
        # Own session: a Ctrl-C in the terminal reaches only us, and we stop the child.
        process = subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        try:
            base_url = f"http://{HOST}:{port}"
            _wait_ready(process, base_url, log)
            yield ApiServer(base_url, process.pid)
        finally:
            # uvicorn re-raises the signal it shut down on; a re-raised SIGTERM ends the process
            # before cProfile writes its file, a re-raised SIGINT unwinds through it.
            _stop(process, signal.SIGINT if os.environ.get(PROFILE_ENV) else signal.SIGTERM)


# --- the closed loop ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    seconds: float
    status: str
    """HTTP status, or the exception's type name when there was no answer."""
    found: bool | None = None
    n: int = -1
    """The request's number (it sent body ``n % len(bodies)``)."""
    started: float = 0.0
    """``time.monotonic()`` when it was sent."""


async def closed_loop(
    send: Callable[[int], Awaitable[Sample]],
    concurrency: int,
    duration: float,
    counter: Iterator[int],
    rate: float | None = None,
) -> tuple[list[Sample], float]:
    """``concurrency`` workers sending back to back for ``duration`` seconds; samples, elapsed.

    ``send(n)`` sends the n-th request; ``counter`` numbers them across calls, so the measured
    loop continues the round-robin where the warm-up stopped. With ``rate``, the k-th request
    of this loop is not sent before ``k / rate`` seconds after the start (a paced loop that
    falls back to back-to-back sending, with at most ``concurrency`` in flight, when the
    service cannot keep up).
    """
    samples: list[Sample] = []
    started = time.monotonic()
    end = started + duration
    slots = itertools.count()

    async def worker() -> None:
        while time.monotonic() < end:
            slot, n = next(slots), next(counter)
            if rate:
                delay = started + slot / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if time.monotonic() >= end:
                    break
            samples.append(await send(n))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples, time.monotonic() - started


@asynccontextmanager
async def http_client(base_url: str, concurrency: int) -> AsyncIterator[aiohttp.ClientSession]:
    """The load generator's HTTP client: one keep-alive connection per worker.

    aiohttp rather than httpx: the load generator shares the CPU with the API and the node, and
    httpx spent about 1.5 ms of it per check, which the measured system then did not get.
    """
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(
        base_url, connector=connector, timeout=timeout, trust_env=False
    ) as client:
        yield client


def api_sender(
    client: aiohttp.ClientSession, bodies: list[bytes]
) -> Callable[[int], Awaitable[Sample]]:
    """``send(n)``: POST body ``n % len(bodies)`` as an existence check; its sample.

    No answer (refused, reset, timed out) is a sample named after the exception; an answer is
    named by its status, and a 200 must say ``found``.
    """
    headers = {"content-type": "application/json"}

    async def send(n: int) -> Sample:
        started = time.monotonic()
        clock = time.perf_counter()
        try:
            async with client.post(
                "/v1/existence-checks", data=bodies[n % len(bodies)], headers=headers
            ) as response:
                status = response.status
                content = await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            return Sample(time.perf_counter() - clock, type(error).__name__, None, n, started)
        seconds = time.perf_counter() - clock
        found = orjson.loads(content)["found"] if status == 200 else None
        return Sample(seconds, str(status), found, n, started)

    return send


async def measure_api(
    base_url: str,
    bodies: list[bytes],
    concurrency: int,
    duration: float,
    after_warmup: Callable[[], object] = lambda: None,
) -> tuple[list[Sample], float]:
    async with http_client(base_url, concurrency) as client:
        send = api_sender(client, bodies)
        counter = itertools.count()
        await closed_loop(send, concurrency, min(WARMUP_SECONDS, duration), counter)
        after_warmup()
        return await closed_loop(send, concurrency, duration, counter)


async def measure_direct(
    url: str, queries: list[dict[str, Any]], concurrency: int, duration: float
) -> tuple[list[Sample], float]:
    client = AsyncOpenSearch(
        hosts=[url], timeout=REQUEST_TIMEOUT_SECONDS, max_retries=0, maxsize=concurrency
    )
    try:

        async def send(n: int) -> Sample:
            started = time.perf_counter()
            try:
                await client.search(index=ALIAS, body=queries[n % len(queries)])
            except TransportError as error:
                return Sample(time.perf_counter() - started, str(error.status_code))
            except Exception as error:  # any failure is a sample, never a crash of the run
                return Sample(time.perf_counter() - started, type(error).__name__)
            return Sample(time.perf_counter() - started, "200")

        counter = itertools.count()
        await closed_loop(send, concurrency, min(WARMUP_SECONDS, duration), counter)
        return await closed_loop(send, concurrency, duration, counter)
    finally:
        await client.close()


def _candidate_queries(client: OpenSearch, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The bodies the API sends for the same checks (``Finder.body``)."""
    finder = Finder(
        alias=ALIAS,
        config=MatchingConfig.load(),
        readings=default_reading_dictionary(),
        stats=load_name_stats(client, ALIAS),
    )
    return [finder.body(ExistenceCheckIn.model_validate(r).to_check())[1] for r in requests]


# --- results ------------------------------------------------------------------------------------


def cpu_now(client: OpenSearch, api_pid: int) -> dict[str, float]:
    """CPU seconds so far of the API process (also split into user and system time), the node
    and this process (the load generator)."""
    api_user, api_system = proc_cpu_split(api_pid) or (0.0, 0.0)
    return {
        "api": api_user + api_system,
        "opensearch": opensearch_cpu_seconds(client),
        "load_generator": time.process_time(),
        "api_user": api_user,
        "api_system": api_system,
    }


def cpu_since(before: dict[str, float], client: OpenSearch, api_pid: int) -> dict[str, float]:
    now = cpu_now(client, api_pid)
    return {name: now[name] - before[name] for name in before}


def percentile_ms(sorted_seconds: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted latencies, in milliseconds."""
    if not sorted_seconds:
        return float("nan")
    rank = min(max(1, math.ceil(fraction * len(sorted_seconds))), len(sorted_seconds))
    return round(sorted_seconds[rank - 1] * 1000, 2)


def summarise(samples: list[Sample], elapsed: float) -> dict[str, Any]:
    latencies = sorted(s.seconds for s in samples)
    errors = Counter(s.status for s in samples if s.status != "200")
    answered = [s.found for s in samples if s.found is not None]
    return {
        "requests": len(samples),
        "measured_seconds": round(elapsed, 2),
        "per_second": round(len(samples) / elapsed, 1),
        "p50_ms": percentile_ms(latencies, 0.50),
        "p90_ms": percentile_ms(latencies, 0.90),
        "p99_ms": percentile_ms(latencies, 0.99),
        "max_ms": round(latencies[-1] * 1000, 2) if latencies else float("nan"),
        "errors": sum(errors.values()),
        "errors_by_status": dict(sorted(errors.items())),
        "found_ratio": round(sum(answered) / len(answered), 4) if answered else None,
    }


def node_client(port: int) -> tuple[str, OpenSearch]:
    """The local node's URL (loopback only) and a client for the set-up and measuring calls."""
    url = f"http://{HOST}:{port}"
    return url, OpenSearch(hosts=[url], timeout=120)


@dataclass(frozen=True)
class Prepared:
    url: str
    client: OpenSearch
    machine: dict[str, Any]
    code_at_start: dict[str, Any]
    folder: Path
    """The synthetic set (``records.jsonl``, ``checks.jsonl``), served by ``ALIAS``."""


def prepare(records: int, port: int, data: Path) -> Prepared:
    """What a run against ``ALIAS`` needs first: the code and machine it measures, a node
    client, and the synthetic set of ``records`` records indexed behind the alias."""
    code_at_start = code_version()
    url, client = node_client(port)
    machine = machine_info(client)
    folder = extract_set(records, data / f"api-{records}")
    ensure_alias(client, folder, records, url)
    return Prepared(url, client, machine, code_at_start, folder)


def machine_info(client: OpenSearch) -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "opensearch": client.info()["version"]["number"],
        "opensearch_heap": os.environ.get("MOCHINUSHI_OPENSEARCH_HEAP", "1g"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "load_generator": "same machine (aiohttp.ClientSession, one asyncio loop)",
    }


# --- interruption -------------------------------------------------------------------------------
# Ctrl-C and SIGTERM both end the run through KeyboardInterrupt, so that ``api_server`` stops
# the child. Inside the event loop they cancel the running coroutine instead of raising at an
# arbitrary point of the HTTP client (which can leave its pool waiting forever).


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_interruptible(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, with SIGTERM cancelling ``main`` the way asyncio handles Ctrl-C."""
    terminated = False

    async def guarded() -> T:
        nonlocal terminated
        task = asyncio.current_task()
        assert task is not None

        def on_sigterm() -> None:
            nonlocal terminated
            terminated = True
            task.cancel()

        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        try:
            return await main
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
            signal.signal(signal.SIGTERM, interrupt)

    try:
        return asyncio.run(guarded())
    except asyncio.CancelledError:
        if terminated:
            raise KeyboardInterrupt from None
        raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__ and __doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of API load")
    parser.add_argument("--direct-duration", type=float, default=20.0, help="seconds, direct")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--opensearch-port", type=int, default=9200)
    parser.add_argument("--data", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "api_latency.json")
    args = parser.parse_args()
    if args.records < CHECKS or args.concurrency < 1 or args.duration <= 0:
        parser.error(f"need --records >= {CHECKS}, --concurrency >= 1 and --duration > 0")
    signal.signal(signal.SIGTERM, interrupt)

    prepared = prepare(args.records, args.opensearch_port, args.data)
    url, client, folder = prepared.url, prepared.client, prepared.folder
    requests = requests_of(folder)
    bodies = [json.dumps(r, ensure_ascii=False).encode() for r in requests]

    with api_server(url, folder / "api.log") as server:
        print(
            f"API on {server.base_url}: {args.duration:.0f} s at concurrency {args.concurrency}",
            flush=True,
        )
        load_before = load_average()
        cpu_before: dict[str, float] = {}
        samples = run_interruptible(
            measure_api(
                server.base_url,
                bodies,
                args.concurrency,
                args.duration,
                after_warmup=lambda: cpu_before.update(cpu_now(client, server.pid)),
            )
        )
        cpu_used = cpu_since(cpu_before, client, server.pid)
        load_after = load_average()
    api = summarise(*samples)
    print(
        f"direct OpenSearch: {args.direct_duration:.0f} s at concurrency {args.concurrency}",
        flush=True,
    )
    queries = _candidate_queries(client, requests)
    direct = summarise(
        *run_interruptible(measure_direct(url, queries, args.concurrency, args.direct_duration))
    )

    ratio = round(api["p50_ms"] / direct["p50_ms"], 2) if direct["p50_ms"] else None
    result = {
        "benchmark": "api_latency",
        "records": args.records,
        "checks": len(requests),
        "concurrency": args.concurrency,
        "duration_seconds": args.duration,
        "warmup_seconds": min(WARMUP_SECONDS, args.duration),
        "requests": api["requests"],
        "checks_per_second": api["per_second"],
        "p50_ms": api["p50_ms"],
        "p90_ms": api["p90_ms"],
        "p99_ms": api["p99_ms"],
        "max_ms": api["max_ms"],
        "errors": api["errors"],
        "errors_by_status": api["errors_by_status"],
        "found_ratio": api["found_ratio"],
        "direct_opensearch": {
            "duration_seconds": args.direct_duration,
            "requests": direct["requests"],
            "queries_per_second": direct["per_second"],
            "p50_ms": direct["p50_ms"],
            "p99_ms": direct["p99_ms"],
            "errors": direct["errors"],
            "errors_by_status": direct["errors_by_status"],
        },
        "api_p50_over_direct_p50": ratio,
        "cpu_ms_per_check": {
            name: round(seconds * 1000 / max(1, api["requests"]), 2)
            for name, seconds in cpu_used.items()
        },
        "targets": TARGETS,
        "targets_met": {
            "p99_ms": api["p99_ms"] <= TARGETS["p99_ms"],
            "checks_per_second": api["per_second"] >= TARGETS["checks_per_second"],
            "errors": api["errors"] <= TARGETS["errors"],
            "ratio": ratio is not None and ratio <= TARGETS["ratio"],
        },
        "machine": {
            **prepared.machine,
            "load_average_before_api_load": load_before,
            "load_average_after_api_load": load_after,
            "load_average_at_end": load_average(),
        },
        "code": {"at_start": prepared.code_at_start, "at_end": code_version()},
        "profiled": bool(os.environ.get(PROFILE_ENV)),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_result(args.out, result)


if __name__ == "__main__":
    run_script(main)
