"""indexer.load against the real node: what the cluster refuses comes back, nothing is lost."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from opensearchpy import OpenSearch

from indexer.load import Action, BulkLoader, _body, _triage, serialise
from mappings import index_body


@pytest.fixture()
def index(os_client: OpenSearch, unique_name: str) -> Iterator[str]:
    os_client.indices.create(index=unique_name, body=index_body())
    yield unique_name
    os_client.indices.delete(index=unique_name, ignore_unavailable=True)


def good_doc(record_id: str) -> dict[str, object]:
    return {"record_id": record_id, "gender": "F", "birth_key": "19380503"}


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
