"""``mochinushi serve --workers 2``: two API processes on one port, sharing nothing but the
cluster, both answering checks (started as the real command, against the real node)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from opensearchpy import OpenSearch

from mochinushi.cli import available_cores

ROOT = Path(__file__).resolve().parents[2]
FOUND = {
    "surname_kana": "やまだ",
    "given_name_kana": "キョウコ",
    "birth_date": "昭和13年5月3日",
    "gender": "F",
}
WORKER = re.compile(r'^mochinushi_worker_info\{pid="(\d+)"\} 1\.0$', re.MULTILINE)
CHECKS = re.compile(r'^mochinushi_checks_total\{outcome="found"\} (\d+)\.0$', re.MULTILINE)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _children(pid: int) -> set[int]:
    children: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as listed:
            children |= {int(child) for child in listed.read().split()}
    return children


@pytest.fixture()
def two_workers(
    opensearch_url: str, indexed_alias: str, os_client: OpenSearch, tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``serve --workers 2`` on a free port over the crafted alias, until the test ends."""
    port = _free_port()
    suffix = uuid.uuid4().hex[:10]
    env = {
        **os.environ,
        "MOCHINUSHI_OPENSEARCH_URL": opensearch_url,
        "MOCHINUSHI_RATE_LIMIT": "off",
        "MOCHINUSHI_DEV_MODE": "true",
        "MOCHINUSHI_REFERENCE_INDEX": f"test-workers-{suffix}-refs",
        "MOCHINUSHI_REPORT_INDEX": f"test-workers-{suffix}-report",
    }
    env.pop("MOCHINUSHI_TOKEN_SECRET", None)
    log = (tmp_path / "serve.log").open("wb")
    command = [sys.executable, "-m", "mochinushi", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--alias", indexed_alias, "--workers", "2"]
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{base_url}/readyz", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        else:
            pytest.fail("serve --workers 2 was not ready within 120 s")
        yield base_url, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        for index in (env["MOCHINUSHI_REFERENCE_INDEX"], env["MOCHINUSHI_REPORT_INDEX"]):
            os_client.indices.delete(index=index, ignore_unavailable=True)


@pytest.mark.opensearch
def test_two_workers_both_answer_checks(
    two_workers: tuple[str, subprocess.Popen[bytes]],
) -> None:
    base_url, process = two_workers

    def check(_: int) -> str:
        # A new connection each time: the kernel hands each to whichever worker accepts it.
        with httpx.Client(base_url=base_url, timeout=10, trust_env=False) as client:
            answer = client.post("/v1/existence-checks", json=FOUND)
            assert answer.status_code == 200, answer.text
            assert answer.json()["found"] is True
            scrape = client.get("/metrics").text
        pids = WORKER.findall(scrape)
        assert len(pids) == 1, scrape
        return pids[0]

    seen: dict[str, int] = {}
    with ThreadPoolExecutor(8) as pool:
        for _ in range(10):  # rounds of 8 concurrent checks, until both workers have answered
            for pid in pool.map(check, range(8)):
                seen[pid] = seen.get(pid, 0) + 1
            if len(seen) >= 2:
                break
    workers = {str(pid) for pid in _children(process.pid)}
    assert len(seen) == 2, f"answers came from {seen}; workers {workers}"
    assert set(seen) <= workers  # the serve command's own worker processes
    assert str(process.pid) not in seen  # the supervisor only supervises

    # Each worker counts its own checks: scrapes reach one of them at a time.
    found_by_worker: dict[str, int] = {}
    with ThreadPoolExecutor(8) as pool:
        for _ in range(10):
            for scrape in pool.map(lambda _: httpx.get(f"{base_url}/metrics").text, range(8)):
                (pid,) = WORKER.findall(scrape)
                found_by_worker[pid] = int(CHECKS.findall(scrape)[0])
            if len(found_by_worker) >= 2:
                break
    assert set(found_by_worker) == set(seen)
    assert all(count > 0 for count in found_by_worker.values())


def test_default_workers_are_the_available_cores() -> None:
    cores = available_cores()
    assert 1 <= cores <= (os.cpu_count() or 1)
