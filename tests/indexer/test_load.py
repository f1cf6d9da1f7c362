"""indexer.load against the real node: what the cluster refuses comes back, nothing is lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import orjson
import pytest
from opensearchpy import OpenSearch

from indexer.load import Action, BulkLoader, _body, _triage, serialise
from mappings import index_body
from mochinushi.clients import cli_client
from mochinushi.settings import Settings
from tests.fault_proxy import FaultProxy


@pytest.fixture()
def index(os_client: OpenSearch, unique_name: str) -> Iterator[str]:
    os_client.indices.create(index=unique_name, body=index_body())
    yield unique_name
    os_client.indices.delete(index=unique_name, ignore_unavailable=True)


def good_doc(record_id: str) -> dict[str, object]:
    return {"record_id": record_id, "gender": "F", "birth_key": "19380503"}


@pytest.mark.opensearch
def test_refused_documents_come_back_and_a_missing_delete_is_no_error(
    os_client: OpenSearch, index: str
) -> None:
    actions = [
        Action("index", "R1", 1, serialise(good_doc("R1"))),
        Action("index", "R2", 2, serialise({**good_doc("R2"), "birth_date": "not a date"})),
        Action("delete", "R-NONE", 3),
        Action("index", "R3", 4, serialise(good_doc("R3"))),
    ]
    loader = BulkLoader(os_client, index, chunk_size=3)
    results = list(loader.load(actions))
    assert [sent for sent, _ in results] == [3, 1]
    rejected = [r for _, refused in results for r in refused]
    assert [(r.action.doc_id, r.action.line_number) for r in rejected] == [("R2", 2)]
    assert rejected[0].reason == "rejected_by_cluster:mapper_parsing_exception"
    os_client.indices.refresh(index=index)
    assert os_client.count(index=index)["count"] == 2


def test_triage_of_a_response_with_errors() -> None:
    actions = [
        Action("index", "A", 1, b"{}"),
        Action("index", "B", 2, b"{}"),
        Action("delete", "C", 3),
        Action("index", "D", 4, b"{}"),
    ]
    items = [
        {"index": {"status": 201}},
        {"index": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}},
        {"delete": {"status": 404}},
        {"index": {"status": 400, "error": {"type": "mapper_parsing_exception"}}},
    ]
    retry_later, rejected = _triage(actions, items)
    assert [a.doc_id for a in retry_later] == ["B"]
    assert [(r.action.doc_id, r.reason) for r in rejected] == [
        ("D", "rejected_by_cluster:mapper_parsing_exception")
    ]


def test_bulk_body_lines() -> None:
    body = _body([Action("index", 'R"1', 1, serialise({"a": "ア"})), Action("delete", "R2", 2)])
    lines = body.split(b"\n")
    assert [orjson.loads(line) for line in lines[:-1]] == [
        {"index": {"_id": 'R"1'}},
        {"a": "ア"},
        {"delete": {"_id": "R2"}},
    ]
    assert lines[0] == orjson.dumps({"index": {"_id": 'R"1'}})
    assert lines[-1] == b""


INJECTED = [429, 502, 503, 429, 503, 502]


@pytest.mark.opensearch
@pytest.mark.faults
def test_bulk_retries_429_502_503_with_backoff_and_loses_or_duplicates_nothing(
    os_client: OpenSearch, opensearch_url: str, index: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first bulk requests are refused as a busy or restarting cluster refuses them; the
    command line's own client and the loader's defaults still land every document once."""
    failures = iter(INJECTED)
    lock = threading.Lock()

    def refuse(method: str, path: str, body: bytes) -> int | None:
        if "/_bulk" not in path:
            return None
        with lock:
            return next(failures, None)

    backoffs: list[float] = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        if threading.current_thread().name.startswith("bulk"):  # the loader's threads
            backoffs.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    ids = [f"R{n:04d}" for n in range(300)]
    actions = [Action("index", i, n, serialise(good_doc(i))) for n, i in enumerate(ids, start=1)]
    with FaultProxy(opensearch_url) as proxy:
        proxy.refuse = refuse
        client = cli_client(Settings(opensearch_url=proxy.url))
        try:
            results = list(BulkLoader(client, index, chunk_size=100).load(actions))
        finally:
            client.close()
    assert [sent for sent, _ in results] == [100, 100, 100]
    assert [refused for _, refused in results] == [[], [], []]
    statuses = proxy.statuses("/_bulk")
    assert sorted(s for s in statuses if s != 200) == sorted(INJECTED), "every fault was met"
    assert statuses.count(200) == 3, "each chunk reached the node exactly once"
    # 429 is never retried by the client itself: each one is a backed-off retry of the loader.
    assert len(backoffs) >= INJECTED.count(429) and all(s > 0 for s in backoffs), backoffs

    os_client.indices.refresh(index=index)
    found = os_client.search(
        index=index, body={"size": 1000, "version": True, "query": {"match_all": {}}}
    )["hits"]["hits"]
    assert sorted(hit["_id"] for hit in found) == ids, "nothing lost, nothing extra"
    assert {hit["_version"] for hit in found} == {1}, "no document written twice"
