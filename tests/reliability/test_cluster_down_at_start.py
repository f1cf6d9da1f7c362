"""The API started while its cluster is down: 503 and not ready, then right answers once the
cluster is up, without restarting the API (a deployment may start the API first)."""

from __future__ import annotations

import asyncio
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from bench.faults import api_client, app_settings, check_found, drop_alias_indices
from mochinushi.localdev.node import LocalNode
from mochinushi.localdev.settings import LocalNodeSettings
from search_api.app import create_app
from tests.reliability.conftest import (
    FOUND_CHECK,
    NOT_FOUND_CHECK,
    build_tiny_index,
    free_node_ports,
)

pytestmark = [pytest.mark.faults, pytest.mark.opensearch]

BOUND_SECONDS = 300  # a cold node start on a busy 2-core machine takes up to a minute


@pytest.fixture()
def spare_node() -> Iterator[LocalNode]:
    """A second single node on free ports of its own, sharing the cached distribution; down at
    start, and its folder removed afterwards (each run starts a fresh one)."""
    settings = LocalNodeSettings()
    port = free_node_ports()
    node = LocalNode(settings.home, settings.opensearch_version, port=port, heap="512m")
    try:
        yield node
    finally:
        node.down()
        shutil.rmtree(node.paths.root, ignore_errors=True)


async def test_api_started_before_its_cluster_answers_once_the_cluster_is_up(
    spare_node: LocalNode, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, unique_name: str
) -> None:
    alias = unique_name
    monkeypatch.setenv("MOCHINUSHI_OPENSEARCH_URL", spare_node.url)
    app = create_app(app_settings(alias), log_stream=io.StringIO())
    async with asyncio.timeout(BOUND_SECONDS), api_client(app) as http:
        down = await http.post("/v1/existence-checks", json=FOUND_CHECK)
        assert down.status_code == 503 and down.json()["error"] == "search_unavailable"
        assert down.headers["retry-after"]
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["ready"] is False

        await asyncio.to_thread(spare_node.up)
        client = OpenSearch(hosts=[spare_node.url], timeout=60)
        try:
            drop_alias_indices(client, alias)
            assert (await http.get("/readyz")).json()["reason"] == "alias missing"
            await asyncio.to_thread(build_tiny_index, client, alias, tmp_path)
            assert (await http.get("/readyz")).json() == {"ready": True}
            assert await check_found(http, FOUND_CHECK) == (200, True)
            assert await check_found(http, NOT_FOUND_CHECK) == (200, False)
        finally:
            drop_alias_indices(client, alias)
            client.close()
