"""API throughput and latency: existence checks over HTTP with a native load generator.

    .venv/bin/python bench/api_latency.py                 # all rows (about 6 minutes)
    .venv/bin/python bench/api_latency.py --rows realistic@eval --duration 60
    .venv/bin/python bench/api_latency.py --cluster-profile   # "profile": true on 50 queries

Writes ``bench/results/api_latency.json``. Needs the local node (``.venv/bin/mochinushi opensearch
up``) and ``wrk`` (Debian: ``apt-get install wrk``); talks to 127.0.0.1 only.

Rows (``--rows``, default all three):

* ``realistic@eval``: the checks of the independent set ``../shared/eval/dev/checks.jsonl.gz``
  (their ``request`` objects, posted as-is) against that set's 150,000 records, indexed behind
  an alias of the benchmark's own, ``bench-eval-dev`` (``--realistic-alias``; built with
  ``mochinushi index ../shared/eval/dev/records.jsonl.gz`` when missing or unservable by this
  code; the evaluators' ``eval-dev`` holds the same records but their runs query it). Kanji,
  former surnames, 和暦 dates, reference information: the mix people send.
* ``realistic@synthetic``: the same requests against ``--records`` synthetic records at
  production density (alias ``bench-api``): the cost of the realistic mix on a bigger index (few
  of these people are in it, so fewer checks are "found").
* ``synthetic@synthetic``: the synthetic set's own 2,000 labelled checks (seed 13) against the
  same index: the mix this benchmark used before, kept for comparison.

The synthetic set is generated in ``var/bench/api-<N>/`` and indexed behind ``bench-api`` unless
the alias already serves exactly N documents.

Each row: the API (``mochinushi serve``, rate limit off, dev mode, ``--api-workers`` processes,
reference entries and campaign counts in indices of the benchmark's own) in a child process on a
free port; ``wrk`` (``bench/wrk_bodies.lua``: the request bodies round-robin, ``--threads``
threads, ``--connections`` keep-alive connections) for an unrecorded warm-up and then
``--duration`` seconds; then the same candidate queries (``Finder.body`` of each check) sent
straight to OpenSearch's ``_search`` by the same ``wrk`` at the same concurrency for
``--direct-duration`` seconds: what the API adds on top. Any non-200 answer, socket error or
timeout counts as an error.

``cpu_ms_per_check``: CPU used during the measured loop divided by the checks answered, for the
API (its process tree, from /proc/<pid>/stat; user and system: on one box the kernel's loopback
TCP work lands in the system part), the OpenSearch node process (/proc/<pid>/stat), ``wrk``
(its rusage) and everything else on the machine (/proc/stat minus those three: other people's
jobs on a shared box). The node's figure includes whatever else it served meanwhile:
``node_traffic`` counts the searches and index operations on this run's indices and on all
others (a row with many ``other_searches`` was measured on a busy node: run it again). Load
averages and the commit measured are recorded with each row.

The generator, the API and the node share the machine's cores, so the numbers are what this box
does with all three on it, not a capacity figure for the API alone.

Profiling the API: with ``MOCHINUSHI_BENCH_PROFILE=<file.prof>`` the API child runs under
cProfile (one worker) and writes its stats to that file when it is stopped (use ``--out``
elsewhere: a profiled run's numbers are inflated). ``py-spy record --pid <API pid>`` during a
run samples it at a lower cost (``bench/results/api_profile.txt`` says how it was made).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gzip
import itertools
import json
import math
import os
import platform
import re
import shutil
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
from matching.config import MatchingConfig  # noqa: E402
from matching.finder import Finder, load_name_stats  # noqa: E402
from mochinushi.cli import available_cores  # noqa: E402
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
TARGETS = {
    "checks_per_second": 500,
    "p99_ms": 50,
    "errors": 0,
    "api_cpu_ms_per_check": 1.0,
    "opensearch_cpu_ms_per_check": 1.5,
    "ratio": 1.3,
}
"""At 16 connections, on 2 cores shared by the API, the node and the generator."""
REALISTIC_CHECKS = ROOT.parent / "shared" / "eval" / "dev" / "checks.jsonl.gz"
REALISTIC_ALIAS = "bench-eval-dev"
"""The benchmark's own index of ``../shared/eval/dev/records.jsonl.gz`` (the records behind the
evaluators' ``eval-dev``, which their evaluation runs query meanwhile)."""
ROWS = ("realistic@eval", "realistic@synthetic", "synthetic@synthetic")
WRK_SCRIPT = Path(__file__).with_name("wrk_bodies.lua")
WRK_INSTALL = "apt-get install wrk  (Debian/Ubuntu; the script needs the wrk binary on PATH)"
BENCH_REFERENCE_INDEX = "bench-api-references"
BENCH_REPORT_INDEX = "bench-api-campaign"
"""The API under test stores its reference entries and campaign counts here, not in the indices
other people's runs use; both are deleted after the run."""

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
def api_server(
    url: str, log: Path, *, alias: str = ALIAS, workers: int | None = None
) -> Iterator[ApiServer]:
    """``mochinushi serve`` on a free loopback port until the block ends, however it ends
    (``workers``: ``serve --workers``; None: its default)."""
    port = _free_port()
    env = {
        **os.environ,
        "MOCHINUSHI_OPENSEARCH_URL": url,
        "MOCHINUSHI_RATE_LIMIT": "off",
        "MOCHINUSHI_DEV_MODE": "true",
        "MOCHINUSHI_REFERENCE_INDEX": BENCH_REFERENCE_INDEX,
        "MOCHINUSHI_REPORT_INDEX": BENCH_REPORT_INDEX,
    }
    command = [sys.executable, "-m", "mochinushi", "serve", "--host", HOST, "--port", str(port)]
    command += ["--alias", alias]
    if os.environ.get(PROFILE_ENV):
        profile = Path(os.environ[PROFILE_ENV]).resolve()
        command[1:1] = ["-m", "cProfile", "-o", str(profile)]
        workers = 1  # cProfile sees only its own process
    if workers is not None:
        command += ["--workers", str(workers)]
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


# --- the native load generator (wrk) -------------------------------------------------------------


def require_wrk() -> str:
    """The ``wrk`` binary; exits with the install line when it is missing."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(f"bench/api_latency.py needs wrk: {WRK_INSTALL}")
    return found


def wrk_version(binary: str) -> str:
    answer = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return (answer.stdout or answer.stderr).splitlines()[0].split(" Copyright")[0]


@dataclass(frozen=True)
class WrkRun:
    result: dict[str, Any]
    """What ``bench/wrk_bodies.lua`` printed (``WRK_RESULT``)."""
    user_seconds: float
    system_seconds: float
    """The generator's own CPU (its rusage)."""


def run_wrk(
    base_url: str,
    path: str,
    bodies: Path,
    *,
    threads: int,
    connections: int,
    seconds: float,
) -> WrkRun:
    """``wrk`` POSTing the bodies of ``bodies`` (one per line) round-robin to ``path``."""
    command = [
        require_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={round(REQUEST_TIMEOUT_SECONDS)}s",
        "-s",
        str(WRK_SCRIPT),
        base_url,
    ]
    env = {**os.environ, "WRK_BODIES": str(bodies), "WRK_PATH": path}
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_die_with_parent,
    )
    try:
        stdout, stderr = process.communicate()
    except BaseException:
        process.kill()
        process.wait()
        raise
    match = re.search(rb"^WRK_RESULT (.*)$", stdout, re.MULTILINE)
    if process.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({process.returncode}): {stderr.decode()[-2000:]}")
    return WrkRun(orjson.loads(match.group(1)), 0.0, 0.0)


def run_wrk_measured(
    base_url: str,
    path: str,
    bodies: Path,
    *,
    threads: int,
    connections: int,
    seconds: float,
) -> WrkRun:
    """``run_wrk`` with the generator's CPU (the children's rusage before and after)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = run_wrk(base_url, path, bodies, threads=threads, connections=connections, seconds=seconds)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return WrkRun(run.result, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime)


def wrk_summary(run: WrkRun) -> dict[str, Any]:
    result = run.result
    seconds = result["duration_us"] / 1e6
    percentiles = result["latency_us"]["percentiles"]
    statuses: Counter[str] = Counter()
    found = not_found = 0
    for thread in result["threads"]:
        statuses.update({k: int(v) for k, v in thread["statuses"].items()})
        found += int(thread["found"])
        not_found += int(thread["not_found"])
    errors = {k: int(v) for k, v in result["errors"].items() if int(v)}
    # wrk counts a non-2xx/3xx answer under errors.status and also as a request.
    error_count = sum(v for k, v in errors.items() if k != "status") + sum(
        v for k, v in statuses.items() if k != "200"
    )
    answered = found + not_found
    return {
        "requests": int(result["requests"]),
        "measured_seconds": round(seconds, 2),
        "per_second": round(int(result["requests"]) / seconds, 1),
        "p50_ms": round(percentiles["50"] / 1000, 2),
        "p90_ms": round(percentiles["90"] / 1000, 2),
        "p99_ms": round(percentiles["99"] / 1000, 2),
        "p99_9_ms": round(percentiles["99.9"] / 1000, 2),
        "max_ms": round(result["latency_us"]["max"] / 1000, 2),
        "errors": error_count,
        "socket_errors": {k: v for k, v in errors.items() if k != "status"},
        "statuses": dict(sorted(statuses.items())),
        "found_ratio": round(found / answered, 4) if answered else None,
    }


# --- CPU accounting ------------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's workers are children of its supervisor)."""
    tree, queue = [], [pid]
    while queue:
        current = queue.pop()
        tree.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as children:
                    queue += [int(child) for child in children.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return tree


def tree_cpu_split(pid: int) -> tuple[float, float]:
    user = system = 0.0
    for member in process_tree(pid):
        split = proc_cpu_split(member)
        if split is not None:
            user, system = user + split[0], system + split[1]
    return user, system


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    busy = sum(values[:8]) - values[3] - values[4]  # user … steal, less idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def opensearch_pid(client: OpenSearch) -> int | None:
    """The local node's pid (None when it is not a process of this machine)."""
    nodes = client.nodes.info(metric="process")["nodes"]
    if len(nodes) != 1:
        return None
    pid = int(next(iter(nodes.values()))["process"]["id"])
    return pid if os.path.exists(f"/proc/{pid}/stat") else None


def node_traffic(client: OpenSearch) -> dict[str, tuple[int, int]]:
    """Searches and indexing operations so far, per index (``_stats``)."""
    stats = client.indices.stats(metric="search,indexing")["indices"]
    return {
        name: (
            int(body["total"]["search"]["query_total"]),
            int(body["total"]["indexing"]["index_total"]),
        )
        for name, body in stats.items()
    }


def traffic_since(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], mine: set[str]
) -> dict[str, int]:
    """What the node served meanwhile: for this run's indices, and for every other index (other
    people's runs on a shared node, whose CPU the node's figure then includes)."""
    totals = {"searches": 0, "index_ops": 0, "other_searches": 0, "other_index_ops": 0}
    for name, (searches, indexed) in after.items():
        old_searches, old_indexed = before.get(name, (0, 0))
        prefix = "" if name in mine else "other_"
        totals[prefix + "searches"] += searches - old_searches
        totals[prefix + "index_ops"] += indexed - old_indexed
    return totals


def served_names(client: OpenSearch, alias: str) -> set[str]:
    names = set(client.indices.get_alias(index=alias))
    return names | {BENCH_REFERENCE_INDEX, BENCH_REPORT_INDEX}


@dataclass(frozen=True)
class CpuSnapshot:
    api: tuple[float, float]
    opensearch: tuple[float, float]
    machine: float
    at: float


def cpu_snapshot(client: OpenSearch, api_pid: int | None, node_pid: int | None) -> CpuSnapshot:
    if node_pid is not None:
        node = proc_cpu_split(node_pid) or (0.0, 0.0)
    else:
        node = (opensearch_cpu_seconds(client), 0.0)
    return CpuSnapshot(
        tree_cpu_split(api_pid) if api_pid else (0.0, 0.0),
        node,
        machine_cpu_seconds(),
        time.monotonic(),
    )


def cpu_per_request(
    before: CpuSnapshot, after: CpuSnapshot, generator: WrkRun, requests: int
) -> dict[str, Any]:
    """CPU milliseconds per request answered, by process, and the machine's busy cores."""

    def ms(seconds: float) -> float:
        return round(seconds * 1000 / max(1, requests), 3)

    api_user = after.api[0] - before.api[0]
    api_system = after.api[1] - before.api[1]
    os_user = after.opensearch[0] - before.opensearch[0]
    os_system = after.opensearch[1] - before.opensearch[1]
    wrk = generator.user_seconds + generator.system_seconds
    machine = after.machine - before.machine
    elapsed = after.at - before.at
    others = machine - (api_user + api_system) - (os_user + os_system) - wrk
    return {
        "cpu_ms_per_request": {
            "api": ms(api_user + api_system),
            "api_user": ms(api_user),
            "api_system": ms(api_system),
            "opensearch": ms(os_user + os_system),
            "opensearch_user": ms(os_user),
            "opensearch_system": ms(os_system),
            "load_generator": ms(wrk),
            "other_processes": ms(max(0.0, others)),
        },
        "busy_cores": {
            "machine": round(machine / elapsed, 2),
            "api": round((api_user + api_system) / elapsed, 2),
            "opensearch": round((os_user + os_system) / elapsed, 2),
            "load_generator": round(wrk / elapsed, 2),
            "other_processes": round(max(0.0, others) / elapsed, 2),
        },
    }


# --- one row -------------------------------------------------------------------------------------


def realistic_requests(path: Path) -> list[dict[str, Any]]:
    """The ``request`` objects of an evaluation set's checks, in file order."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line)["request"] for line in lines if line.strip()]


def write_bodies(path: Path, bodies: list[Any]) -> Path:
    """One JSON body per line (orjson: no spaces, UTF-8), for ``bench/wrk_bodies.lua``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(body) + b"\n" for body in bodies))
    return path


def candidate_queries(
    client: OpenSearch, alias: str, requests: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The bodies the API sends for the same checks (``Finder.body``)."""
    finder = Finder(
        alias=alias,
        config=MatchingConfig.load(),
        readings=default_reading_dictionary(),
        stats=load_name_stats(client, alias),
    )
    return [finder.body(ExistenceCheckIn.model_validate(r).to_check())[1] for r in requests]


@dataclass(frozen=True)
class RowSpec:
    name: str
    mix: str
    alias: str
    records: int
    source: str
    requests: list[dict[str, Any]]


@dataclass(frozen=True)
class RunOptions:
    url: str
    client: OpenSearch
    node_pid: int | None
    data: Path
    threads: int
    connections: int
    duration: float
    direct_duration: float
    workers: int | None


def measure_row(spec: RowSpec, options: RunOptions) -> dict[str, Any]:
    """The API under ``wrk`` for ``options.duration`` s, then the same queries sent directly."""
    client, data = options.client, options.data
    safe = spec.name.replace("@", "-")
    api_bodies = write_bodies(data / f"bodies-{safe}.jsonl", spec.requests)
    run = dict(threads=options.threads, connections=options.connections)
    with api_server(
        options.url, data / f"api-{safe}.log", alias=spec.alias, workers=options.workers
    ) as server:
        print(
            f"[{spec.name}] API on {server.base_url}: {options.duration:.0f} s, "
            f"{options.connections} connections, {len(spec.requests)} checks round-robin",
            flush=True,
        )
        run_wrk(server.base_url, "/v1/existence-checks", api_bodies, seconds=WARMUP_SECONDS, **run)
        mine = served_names(client, spec.alias)
        load_before = load_average()
        traffic_before = node_traffic(client)
        before = cpu_snapshot(client, server.pid, options.node_pid)
        measured = run_wrk_measured(
            server.base_url, "/v1/existence-checks", api_bodies, seconds=options.duration, **run
        )
        after = cpu_snapshot(client, server.pid, options.node_pid)
        traffic = traffic_since(traffic_before, node_traffic(client), mine)
        load_after = load_average()
    api = wrk_summary(measured)
    api_cpu = cpu_per_request(before, after, measured, api["requests"])

    print(f"[{spec.name}] direct OpenSearch: {options.direct_duration:.0f} s", flush=True)
    queries = write_bodies(
        data / f"queries-{safe}.jsonl", candidate_queries(client, spec.alias, spec.requests)
    )
    path = f"/{spec.alias}/_search"
    run_wrk(options.url, path, queries, seconds=WARMUP_SECONDS, **run)
    direct_load_before = load_average()
    direct_traffic_before = node_traffic(client)
    direct_before = cpu_snapshot(client, None, options.node_pid)
    direct_run = run_wrk_measured(
        options.url, path, queries, seconds=options.direct_duration, **run
    )
    direct_after = cpu_snapshot(client, None, options.node_pid)
    direct_traffic = traffic_since(direct_traffic_before, node_traffic(client), mine)
    direct = wrk_summary(direct_run)
    direct_cpu = cpu_per_request(direct_before, direct_after, direct_run, direct["requests"])
    del direct_cpu["cpu_ms_per_request"]["api"]
    del direct_cpu["cpu_ms_per_request"]["api_user"]
    del direct_cpu["cpu_ms_per_request"]["api_system"]
    del direct_cpu["busy_cores"]["api"]

    ratio = round(api["p50_ms"] / direct["p50_ms"], 2) if direct["p50_ms"] else None
    cpu = api_cpu["cpu_ms_per_request"]
    return {
        "row": spec.name,
        "mix": spec.mix,
        "checks_from": spec.source,
        "index": spec.alias,
        "records": spec.records,
        "checks": len(spec.requests),
        "api_workers": options.workers or available_cores(),
        "connections": options.connections,
        "duration_seconds": options.duration,
        "checks_per_second": api["per_second"],
        **{k: v for k, v in api.items() if k != "per_second"},
        "cpu_ms_per_check": cpu,
        "busy_cores": api_cpu["busy_cores"],
        "load_average_before": load_before,
        "load_average_after": load_after,
        "node_traffic": traffic,
        "direct_opensearch": {
            "duration_seconds": options.direct_duration,
            "queries_per_second": direct["per_second"],
            **{k: v for k, v in direct.items() if k not in ("per_second", "found_ratio")},
            "cpu_ms_per_query": direct_cpu["cpu_ms_per_request"],
            "busy_cores": direct_cpu["busy_cores"],
            "load_average_before": direct_load_before,
            "load_average_after": load_average(),
            "node_traffic": direct_traffic,
        },
        "api_p50_over_direct_p50": ratio,
        "targets_met": {
            "checks_per_second": api["per_second"] >= TARGETS["checks_per_second"],
            "p99_ms": api["p99_ms"] <= TARGETS["p99_ms"],
            "errors": api["errors"] <= TARGETS["errors"],
            "api_cpu_ms_per_check": cpu["api"] <= TARGETS["api_cpu_ms_per_check"],
            "opensearch_cpu_ms_per_check": cpu["opensearch"]
            <= TARGETS["opensearch_cpu_ms_per_check"],
            "ratio": ratio is not None and ratio <= TARGETS["ratio"],
        },
    }


def ensure_realistic_alias(client: OpenSearch, alias: str, checks: Path, data: Path) -> int:
    """``alias`` serving the evaluation set's records, built with ``mochinushi index`` unless it
    exists and this code can serve it; its document count."""
    try:
        load_name_stats(client, alias)
    except Exception as error:  # missing, or built by code this one refuses to serve
        records = checks.with_name("records.jsonl.gz")
        print(f"indexing {records} into {alias} ({type(error).__name__})", flush=True)
        command = [sys.executable, "-m", "mochinushi", "index", str(records), "--keep", "0"]
        command += ["--replicas", "0", "--quarantine", str(data / f"{alias}.quarantine.jsonl")]
        subprocess.run(
            command,
            env={**os.environ, "MOCHINUSHI_ALIAS": alias},
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    count = _alias_count(client, alias)
    assert count is not None
    return count


def row_specs(
    rows: list[str], records: int, data: Path, realistic: Path, realistic_alias: str
) -> tuple[list[RowSpec], Path | None]:
    """The rows asked for, with their requests; the synthetic set's folder when one is used."""
    specs: list[RowSpec] = []
    folder = None
    realistic_requests_ = (
        realistic_requests(realistic) if any(r.startswith("realistic@") for r in rows) else []
    )
    source = os.path.relpath(realistic, ROOT)
    for row in rows:
        if row.endswith("@synthetic") and folder is None:
            folder = extract_set(records, data / f"api-{records}")
        if row == "realistic@eval":
            client = node_client(9200)[1]
            count = ensure_realistic_alias(client, realistic_alias, realistic, data)
            specs.append(
                RowSpec(row, "realistic", realistic_alias, count, source, realistic_requests_)
            )
        elif row == "realistic@synthetic":
            specs.append(RowSpec(row, "realistic", ALIAS, records, source, realistic_requests_))
        elif row == "synthetic@synthetic":
            assert folder is not None
            specs.append(
                RowSpec(
                    row,
                    "synthetic",
                    ALIAS,
                    records,
                    f"synthetic set, seed {SEED}, {CHECKS} checks (var/bench/api-{records})",
                    requests_of(folder),
                )
            )
    return specs, folder


def drop_bench_indices(client: OpenSearch) -> None:
    """The reference entries and campaign counts the API under test wrote."""
    for index in (BENCH_REFERENCE_INDEX, BENCH_REPORT_INDEX):
        client.indices.delete(index=index, ignore_unavailable=True)


# --- the cluster's profile -----------------------------------------------------------------------


_FIELD = re.compile(r"([a-z_]+(?:\.[a-z_]+)?):")


def _self_times(node: dict[str, Any], totals: dict[str, list[float]], depth: int = 0) -> None:
    """Adds each query node's own time (its time less its children's) under its type."""
    children = node.get("children", [])
    own = int(node["time_in_nanos"]) - sum(int(c["time_in_nanos"]) for c in children)
    kind = node["type"]
    field = _FIELD.search(node.get("description", ""))
    if not children and field:  # a leaf: which field it looks up
        kind = f"{kind} {field.group(1)}"
    entry = totals.setdefault(kind, [0.0, 0.0, 0])
    entry[0] += own
    entry[1] += int(node["time_in_nanos"])
    entry[2] += 1
    for child in children:
        _self_times(child, totals, depth + 1)


def cluster_profile(
    client: OpenSearch, alias: str, requests: list[dict[str, Any]], sample: int, out: Path
) -> None:
    """``"profile": true`` on every n-th query of the mix: time per clause type (text)."""
    queries = candidate_queries(client, alias, requests)
    step = max(1, len(queries) // sample)
    picked = queries[::step][:sample]
    for body in picked[:10]:  # warm the caches
        client.search(index=alias, body=body)
    totals: dict[str, list[float]] = {}
    collectors: dict[str, float] = {}
    breakdown: Counter[str] = Counter()
    took = took_plain = 0
    clause_counts: list[int] = []
    for body in picked:
        took_plain += int(client.search(index=alias, body=body)["took"])
        answer = client.search(index=alias, body={**body, "profile": True})
        took += int(answer["took"])
        clause_counts.append(_leaf_count(body["query"]))
        for shard in answer["profile"]["shards"]:
            for search in shard["searches"]:
                for query in search["query"]:
                    _self_times(query, totals)
                    for kind, nanos in query["breakdown"].items():
                        if not kind.endswith("_count"):
                            breakdown[kind] += int(nanos)
                for collector in search["collector"]:
                    collectors[collector["name"]] = collectors.get(collector["name"], 0) + int(
                        collector["time_in_nanos"]
                    )
    n = len(picked)
    all_self = sum(v[0] for v in totals.values())
    lines = [
        f'# OpenSearch "profile": true on {n} candidate queries of the realistic mix '
        f"(every {step}th check of {os.path.relpath(REALISTIC_CHECKS, ROOT)}), index {alias}",
        f"# commit {code_version()['commit']}, load average {load_average()}",
        f"# mean took: {took_plain / n:.2f} ms plain, {took / n:.2f} ms profiled; "
        f"leaf clauses per query: mean {sum(clause_counts) / n:.1f}, max {max(clause_counts)}",
        "#",
        "# Query time by Lucene query type (own time: the node's time less its children's;",
        "# per query = summed over the sample / queries; the root is a BooleanQuery).",
        f"{'type (leaves: and field)':<56} {'nodes/query':>11} {'own ms/query':>12} {'share':>6}"
        f" {'incl. ms/query':>14}",
    ]
    for kind, (own, inclusive, count) in sorted(totals.items(), key=lambda kv: -kv[1][0]):
        lines.append(
            f"{kind:<56} {count / n:>11.1f} {own / n / 1e6:>12.3f} {own / all_self:>6.1%}"
            f" {inclusive / n / 1e6:>14.3f}"
        )
    families: Counter[str] = Counter()
    for kind, (own, _inclusive, _count) in totals.items():
        families[_family(kind)] += int(own)
    lines += ["", "# Own time by clause family (ms per query, share):"]
    for family, nanos in families.most_common():
        lines.append(f"{family:<56} {nanos / n / 1e6:>8.3f} {nanos / all_self:>6.1%}")
    lines += ["", "# The root query's time by phase (ms per query):"]
    for kind, nanos in breakdown.most_common():
        lines.append(f"{kind:<32} {nanos / n / 1e6:>8.3f}")
    lines += ["", "# Collectors (ms per query, inclusive):"]
    for name, nanos in sorted(collectors.items(), key=lambda kv: -kv[1]):
        lines.append(f"{name:<48} {nanos / n / 1e6:>8.3f}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def _family(kind: str) -> str:
    """A profiled query node's clause family (by the field a leaf looks up)."""
    field = kind.rpartition(" ")[2] if " " in kind else ""
    if field.startswith(("birth_key", "birth_date")):
        return "date blocking, date tiers, name-agrees dates (birth_key, birth_date)"
    for prefix, family in (
        ("sur.", "surname and former surnames (sur.*)"),
        ("given.", "given name (given.*)"),
        ("full.", "whole name, one-kana slips, given-name suffixes (full.*, given_suffixes)"),
        (
            "given_suffixes",
            "whole name, one-kana slips, given-name suffixes (full.*, given_suffixes)",
        ),
        ("employer", "reference information (employer, address)"),
        ("address", "reference information (employer, address)"),
    ):
        if field.startswith(prefix):
            return family
    return "combining clauses (bool, dis_max, boosts, constant scores)"


def _leaf_count(query: Any) -> int:
    """Leaf clauses (term, terms, range, match) of a query body."""
    if isinstance(query, list):
        return sum(_leaf_count(q) for q in query)
    if not isinstance(query, dict):
        return 0
    count = 0
    for key, value in query.items():
        if key in ("term", "terms", "range", "match"):
            count += 1
        elif isinstance(value, dict | list):
            count += _leaf_count(value)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__ and __doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", choices=ROWS, default=list(ROWS))
    parser.add_argument(
        "--records", type=int, default=1_000_000, help="synthetic records (the @synthetic rows)"
    )
    parser.add_argument("--realistic-checks", type=Path, default=REALISTIC_CHECKS)
    parser.add_argument("--realistic-alias", default=REALISTIC_ALIAS)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of API load")
    parser.add_argument("--direct-duration", type=float, default=20.0, help="seconds, direct")
    parser.add_argument("--connections", "--concurrency", dest="connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--api-workers", type=int, default=None, help="serve --workers (default: serve's)"
    )
    parser.add_argument("--opensearch-port", type=int, default=9200)
    parser.add_argument("--data", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "api_latency.json")
    parser.add_argument(
        "--cluster-profile",
        type=Path,
        nargs="?",
        const=ROOT / "bench" / "results" / "api_cluster_profile.txt",
        default=None,
        help='only run "profile": true on --profile-sample queries of the realistic mix',
    )
    parser.add_argument("--profile-sample", type=int, default=50)
    args = parser.parse_args()
    if args.records < CHECKS or args.connections < 1 or args.duration <= 0:
        parser.error(f"need --records >= {CHECKS}, --connections >= 1 and --duration > 0")
    signal.signal(signal.SIGTERM, interrupt)

    url, client = node_client(args.opensearch_port)
    if args.cluster_profile is not None:
        cluster_profile(
            client,
            args.realistic_alias,
            realistic_requests(args.realistic_checks),
            args.profile_sample,
            args.cluster_profile,
        )
        return
    wrk = require_wrk()
    code_at_start = code_version()
    machine = {
        **machine_info(client),
        "load_generator": f"{wrk_version(wrk)}, {args.threads} threads, {args.connections} "
        "keep-alive connections, bench/wrk_bodies.lua (same machine)",
    }
    specs, folder = row_specs(
        args.rows, args.records, args.data, args.realistic_checks, args.realistic_alias
    )
    if folder is not None:
        ensure_alias(client, folder, args.records, url)
    options = RunOptions(
        url,
        client,
        opensearch_pid(client),
        args.data,
        args.threads,
        args.connections,
        args.duration,
        args.direct_duration,
        args.api_workers,
    )
    rows = []
    try:
        for spec in specs:
            rows.append(measure_row(spec, options))
            print(json.dumps(rows[-1], indent=2), flush=True)
    finally:
        drop_bench_indices(client)
    synthetic = next((r for r in rows if r["mix"] == "synthetic"), None)
    result = {
        "benchmark": "api_latency",
        "rows": rows,
        # bench/soak_load.py paces its synthetic checks at this rate by default.
        "checks_per_second": synthetic["checks_per_second"] if synthetic else None,
        "warmup_seconds": WARMUP_SECONDS,
        "targets": TARGETS,
        "machine": {**machine, "load_average_at_end": load_average()},
        "code": {"at_start": code_at_start, "at_end": code_version()},
        "profiled": bool(os.environ.get(PROFILE_ENV)),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_result(args.out, result, shown={"rows": [_short(r) for r in rows]})


def _short(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "row": row["row"],
        "records": row["records"],
        "checks_per_second": row["checks_per_second"],
        "p50_ms": row["p50_ms"],
        "p99_ms": row["p99_ms"],
        "errors": row["errors"],
        "cpu_ms_per_check": row["cpu_ms_per_check"],
        "direct_p50_ms": row["direct_opensearch"]["p50_ms"],
        "ratio": row["api_p50_over_direct_p50"],
        "targets_met": row["targets_met"],
    }


if __name__ == "__main__":
    run_script(main)
