"""The campaign report on the real node: two API apps take checks from the web and two offices,
staff at a pension office resolve some numbers days later, and the report (CLI and API) equals
what was done, per channel and per office. Also: increments survive a failed flush, and
concurrent flushes from several processes add up."""

from __future__ import annotations

import asyncio
import concurrent.futures
import csv
import datetime as dt
import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opensearchpy import AsyncOpenSearch, OpenSearch
from typer.testing import CliRunner

from mochinushi.cli import app as cli_app
from mochinushi.settings import Settings
from search_api.app import create_app
from search_api.report import COUNTERS, CampaignRecorder, campaign_report
from tests.conftest import TEST_OPENSEARCH_URL
from tests.fault_proxy import FaultProxy


def invoke_off_loop(runner: CliRunner, *args: Any, **kwargs: Any) -> Any:
    """The CLI runs asyncio.run itself: invoke it where no event loop is running."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(runner.invoke, *args, **kwargs).result()


def run_async(coroutine: Any) -> Any:
    """Run ``coroutine`` on a loop of its own in a worker thread: the browser tests' sync
    Playwright keeps an event loop running in the main thread, where asyncio.run refuses."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


pytestmark = pytest.mark.opensearch

SECRET = "k1:report-tests-token-secret-00001"
CITY_KEY = "city-01-key-for-report-tests-01"
CITY2_KEY = "city-02-key-for-report-tests-02"
WELFARE_KEY = "welfare-key-for-report-tests-3"
STAFF_KEY = "pension-staff-key-report-tests"
FOUND = {
    "surname_kana": "やまだ",
    "given_name_kana": "キョウコ",
    "birth_date": "昭和13年5月3日",
    "gender": "F",
    "reference": {"employer_name": "山田商店"},
}
NOT_FOUND = {
    "surname_kana": "ワタナベ",
    "given_name_kana": "ススム",
    "birth_date": "1950-10-10",
    "gender": "M",
}
PERSONAL = ("やまだ", "キョウコ", "昭和13年5月3日", "山田商店", "ワタナベ", "ススム", "R-SMALL")


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)  # 12:00 in Japan

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture()
def indices(os_client: OpenSearch, unique_name: str) -> Iterator[dict[str, str]]:
    names = {"report_index": f"{unique_name}-campaign", "reference_index": f"{unique_name}-refs"}
    yield names
    for name in names.values():
        os_client.indices.delete(index=name, ignore_unavailable=True)
        if os_client.indices.exists_index_template(name=name):
            os_client.indices.delete_index_template(name=name)


def settings(alias: str, indices: dict[str, str], **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "opensearch_url": TEST_OPENSEARCH_URL,
        "alias": alias,
        **indices,
        "staff_api_keys": f"pension-01:{STAFF_KEY}",
        "partner_keys": (
            f"city-01:municipal:{CITY_KEY},city-02:municipal:{CITY2_KEY},"
            f"welfare-07:welfare:{WELFARE_KEY}"
        ),
        "token_secret": SECRET,
        "rate_limit": "4/minute",
        "partner_rate_limit": "off",
        "staff_rate_limit": "off",
        "report_flush_seconds": 0.2,
        "dev_mode": False,
        "opensearch_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


def key(partner_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {partner_key}"}


def post(client: TestClient, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return client.post("/v1/existence-checks", json=body, headers=headers)


EXPECTED = {
    # (day, channel, office): checks, found, not_found, unavailable, invalid, rate_limited,
    #                         issued, resolved, median days
    ("2026-11-27", "web", None): (8, 2, 2, 1, 2, 1, 2, 0, None),
    ("2026-11-27", "municipal", "city-01"): (5, 3, 1, 0, 1, 0, 3, 0, None),
    ("2026-11-27", "municipal", "city-02"): (1, 0, 1, 0, 0, 0, 0, 0, None),
    ("2026-11-27", "welfare", "welfare-07"): (1, 1, 0, 0, 0, 0, 1, 0, None),
    ("2026-11-30", "web", None): (0, 0, 0, 0, 0, 0, 0, 1, 3.0),
    ("2026-11-30", "municipal", "city-01"): (0, 0, 0, 0, 0, 0, 0, 2, 3.0),
    ("2026-12-07", "welfare", "welfare-07"): (0, 0, 0, 0, 0, 0, 0, 1, 10.0),
}


def _by_channel() -> dict[tuple[str, str], tuple[Any, ...]]:
    merged: dict[tuple[str, str], list[int]] = {}
    medians: dict[tuple[str, str], Any] = {}
    for (day, channel, _office), values in EXPECTED.items():
        total = merged.setdefault((day, channel), [0] * 8)
        for i in range(8):
            total[i] += values[i]
        if values[8] is not None:
            medians[(day, channel)] = values[8]
    return {k: (*v, medians.get(k)) for k, v in merged.items()}


def test_two_apps_two_offices_and_staff_add_up_in_the_report(
    crafted_alias: str, indices: dict[str, str], tmp_path: Path
) -> None:
    clock = Clock()
    both = settings(crafted_alias, indices)
    logs = io.StringIO()
    numbers: dict[str, list[str]] = {"web": [], "city": [], "welfare": []}
    with (
        TestClient(create_app(both, clock=clock, log_stream=logs)) as first,
        TestClient(create_app(both, clock=clock, log_stream=logs)) as second,
    ):
        # the web, on the first app: 2 found, 2 not found, then the public limit (4/minute)
        for body in (FOUND, NOT_FOUND, FOUND, NOT_FOUND):
            answer = post(first, body)
            assert answer.status_code == 200
            if answer.json()["found"]:
                numbers["web"].append(answer.json()["reference_token"])
        assert post(first, NOT_FOUND).status_code == 429
        assert post(first, {"gender": "F"}).status_code == 422
        # the web form's invalid submission counts too (web channel)
        assert first.post("/check", data={"step": "check"}).status_code == 422
        # two municipal offices and a welfare office, on the second app
        for body in (FOUND, FOUND, NOT_FOUND, FOUND):
            answer = post(second, body, key(CITY_KEY))
            if answer.json()["found"]:
                numbers["city"].append(answer.json()["reference_token"])
        assert post(first, {"gender": "F"}, key(CITY_KEY)).status_code == 422
        assert post(second, NOT_FOUND, key(CITY2_KEY)).json()["found"] is False
        numbers["welfare"].append(post(second, FOUND, key(WELFARE_KEY)).json()["reference_token"])
        assert post(second, FOUND, {"Authorization": "Bearer nobody"}).status_code == 401

        # staff at pension office 01 resolve, days later, on either app
        staff = key(STAFF_KEY)
        clock.now += dt.timedelta(days=3)
        for client, number in (
            (second, numbers["web"][0]),
            (first, numbers["city"][0]),
            (second, numbers["city"][1]),
            (first, numbers["city"][1]),  # a second look: still one resolution
        ):
            assert client.get(f"/v1/reference-tokens/{number}", headers=staff).status_code == 200
        clock.now += dt.timedelta(days=7)
        welfare = numbers["welfare"][0]
        assert first.get(f"/v1/reference-tokens/{welfare}", headers=staff).status_code == 200
    # a search that could not run: a third app whose alias serves nothing (503, web channel)
    down = settings("no-such-alias-for-report-tests", indices)
    with TestClient(create_app(down, clock=Clock(), log_stream=logs)) as third:
        assert post(third, NOT_FOUND).status_code == 503

    # the API, by office (a fresh app: nothing of its own to flush)
    with TestClient(create_app(both, clock=clock, log_stream=logs)) as reader:
        query = "/v1/reports/campaign?from=2026-11-01&to=2026-12-31&by=office"
        assert reader.get(query).status_code == 401
        response = reader.get(query, headers=staff)
        assert response.status_code == 200, response.text
        rows = response.json()["rows"]
        by_channel = reader.get(query.replace("office", "channel"), headers=staff).json()["rows"]
        assert reader.get(query.replace("2026-12-31", "2026-10-01"), headers=staff).status_code == (
            422
        )
    got = {
        (row["day"], row["channel"], row.get("office")): (
            *(row[name] for name in COUNTERS),
            row["median_days_to_resolution"],
        )
        for row in rows
    }
    assert got == EXPECTED
    got_by_channel = {
        (row["day"], row["channel"]): (
            *(row[name] for name in COUNTERS),
            row["median_days_to_resolution"],
        )
        for row in by_channel
    }
    assert got_by_channel == _by_channel()
    assert all("office" not in row for row in by_channel)

    # the command line: CSV by office, the same numbers; a table and a plot
    runner = CliRunner()
    env = {
        "MOCHINUSHI_OPENSEARCH_URL": TEST_OPENSEARCH_URL,
        "MOCHINUSHI_REPORT_INDEX": indices["report_index"],
    }
    result = invoke_off_loop(
        runner,
        cli_app,
        [
            "report",
            "--from",
            "2026-11-01",
            "--to",
            "2026-12-31",
            "--by",
            "office",
            "--format",
            "csv",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    lines = list(csv.DictReader(io.StringIO(result.stdout)))
    from_csv = {
        (line["day"], line["channel"], None if line["office"] == "-" else line["office"]): (
            *(int(line[name]) for name in COUNTERS),
            float(line["median_days"]) if line["median_days"] else None,
        )
        for line in lines
    }
    assert from_csv == EXPECTED
    plot = tmp_path / "campaign.png"
    table = invoke_off_loop(
        runner,
        cli_app,
        ["report", "--from", "2026-11-27", "--to", "2026-11-27", "--plot", str(plot)],
        env=env,
    )
    assert table.exit_code == 0, table.output
    assert "municipal" in table.stdout and "2026-11-30" not in table.stdout
    assert plot.read_bytes().startswith(b"\x89PNG")

    # counts only: nothing personal in the report index, the API's answer or the logs
    raw = OpenSearch(hosts=[TEST_OPENSEARCH_URL]).search(
        index=indices["report_index"], body={"size": 1000}
    )
    written = json.dumps(raw, ensure_ascii=False) + json.dumps(rows, ensure_ascii=False)
    for value in (*PERSONAL, *(n for group in numbers.values() for n in group)):
        assert value not in written
        assert value not in logs.getvalue()


def _recorder(index: str, client: AsyncOpenSearch) -> CampaignRecorder:
    return CampaignRecorder(client, index, flush_seconds=3600, timeout=10)


def test_a_failed_flush_keeps_its_increments_and_concurrent_flushes_add(
    os_client: OpenSearch, indices: dict[str, str]
) -> None:
    index = indices["report_index"]
    moment = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)

    async def run() -> list[Any]:
        clients = [AsyncOpenSearch(hosts=[TEST_OPENSEARCH_URL], timeout=30) for _ in range(4)]
        try:
            first = _recorder(index, clients[0])
            first.check("found", "web", None, moment)
            await first.flush()  # creates the index
            os_client.indices.close(index=index)
            first.check("found", "web", None, moment)
            first.issued("web", None, moment)
            with pytest.raises(Exception):  # noqa: B017 - any cluster error will do
                await first.flush()
            assert first.pending() == 3  # found + checks + issued, kept
            os_client.indices.open(index=index, wait_for_active_shards="1")
            await first.flush()
            assert first.pending() == 0
            # several processes flushing the same day, channel and office at once
            others = [_recorder(index, client) for client in clients[1:]]
            for recorder in others:
                for _ in range(25):
                    recorder.check("not_found", "municipal", "city-01", moment)
            await asyncio.gather(*(recorder.flush() for recorder in others))
            return await campaign_report(
                clients[0], index, moment.date(), moment.date(), by="office"
            )
        finally:
            for client in clients:
                await client.close()

    rows = {(row.channel, row.office): row.counts for row in run_async(run())}
    assert rows[("web", None)]["found"] == 2
    assert rows[("web", None)]["checks"] == 2
    assert rows[("web", None)]["tokens_issued"] == 1
    assert rows[("municipal", "city-01")]["not_found"] == 75
    assert rows[("municipal", "city-01")]["checks"] == 75


def test_shutdown_during_a_flush_does_not_count_twice(
    os_client: OpenSearch, indices: dict[str, str]
) -> None:
    """The cluster applies a flush whose answer is slow; shutdown comes meanwhile. The flush in
    flight must finish rather than be cancelled and its increments sent again."""
    index = indices["report_index"]
    moment = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)

    in_flight = threading.Event()

    def slow_bulk_answer(path: str, answer: dict[str, Any]) -> dict[str, Any]:
        if "_bulk" in path:
            in_flight.set()
            time.sleep(1.0)  # applied by the node already; only the answer is late
        return answer

    with FaultProxy(TEST_OPENSEARCH_URL) as proxy:
        proxy.rewrite = slow_bulk_answer

        async def run() -> None:
            client = AsyncOpenSearch(hosts=[proxy.url], timeout=30)
            try:
                recorder = CampaignRecorder(client, index, flush_seconds=0.05, timeout=30)
                recorder.check("found", "welfare", "welfare-07", moment)
                deadline = time.monotonic() + 20
                while not in_flight.is_set() and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)  # until the periodic flush is in flight
                assert in_flight.is_set()
                await recorder.close()
            finally:
                await client.close()

        run_async(run())
        assert len(proxy.statuses("_bulk")) == 1, "nothing was left to send at shutdown"

    async def read() -> Any:
        client = AsyncOpenSearch(hosts=[TEST_OPENSEARCH_URL], timeout=30)
        try:
            return await campaign_report(client, index, moment.date(), moment.date(), "office")
        finally:
            await client.close()

    (row,) = run_async(read())
    assert row.counts["found"] == 1 and row.counts["checks"] == 1
