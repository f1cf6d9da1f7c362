"""Incomplete answers from the real node, through a fault-injecting proxy: a search that timed
out, or that fewer shards answered than were asked (failed or not), is a 503 with Retry-After,
never a "found: false" (nor a "found: true") built from part of the index."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bench.faults import app_settings
from search_api.app import create_app
from search_api.service import RETRY_AFTER_SECONDS
from tests.fault_proxy import FaultProxy
from tests.reliability.conftest import FOUND_CHECK, NOT_FOUND_CHECK

pytestmark = [pytest.mark.faults, pytest.mark.opensearch]

Answer = dict[str, Any]


def _searches_only(change: Callable[[Answer], None]) -> Callable[[str, Answer], Answer]:
    """A rewrite of the node's ``_search`` answers (its hits are kept: only the flags lie)."""

    def rewrite(path: str, answer: Answer) -> Answer:
        if "/_search" in path.split("?")[0]:
            change(answer)
        return answer

    return rewrite


def _timed_out(answer: Answer) -> None:
    answer["timed_out"] = True


def _shards_missing(answer: Answer) -> None:
    """Two shards asked, one answered, none reported failed (a shard still relocating)."""
    answer["_shards"] = {"total": 2, "successful": 1, "skipped": 0, "failed": 0}


def _shard_failed(answer: Answer) -> None:
    answer["_shards"] = {"total": 2, "successful": 1, "skipped": 0, "failed": 1}


@pytest.fixture()
def proxied(tiny_alias: str, opensearch_url: str) -> Iterator[tuple[FaultProxy, TestClient]]:
    with FaultProxy(opensearch_url) as proxy:
        settings = app_settings(tiny_alias, opensearch_url=proxy.url)
        with TestClient(create_app(settings, log_stream=io.StringIO())) as client:
            yield proxy, client


def _found(client: TestClient, body: dict[str, str]) -> bool:
    response = client.post("/v1/existence-checks", json=body)
    assert response.status_code == 200, response.text
    found = response.json()["found"]
    assert isinstance(found, bool)
    return found


@pytest.mark.parametrize(
    ("fault", "kind"),
    [(_timed_out, "timeout"), (_shards_missing, "shard_failure"), (_shard_failed, "shard_failure")],
    ids=["timed_out", "fewer_shards_none_failed", "shard_failed"],
)
def test_an_incomplete_answer_is_503_with_retry_after(
    proxied: tuple[FaultProxy, TestClient], fault: Callable[[Answer], None], kind: str
) -> None:
    proxy, client = proxied
    # Through the proxy, untouched, both answers are right: the 503s below are the fault's.
    assert _found(client, FOUND_CHECK) is True
    assert _found(client, NOT_FOUND_CHECK) is False

    proxy.rewrite = _searches_only(fault)
    for body in (FOUND_CHECK, NOT_FOUND_CHECK):
        response = client.post("/v1/existence-checks", json=body)
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
        assert response.json()["error"] == "search_unavailable"
        assert "found" not in response.json()
    assert any(status == 200 for status in proxy.statuses("/_search")), "the node did answer"
    metrics = client.get("/metrics").text
    assert re.search(rf'backend_errors_total\{{kind="{kind}"\}} [1-9]', metrics), metrics

    proxy.rewrite = None
    assert _found(client, FOUND_CHECK) is True
    assert _found(client, NOT_FOUND_CHECK) is False
