"""The API started while its cluster is down: 503 and not ready, then right answers once the
cluster is up, without restarting the API (a deployment may start the API first)."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from bench.faults import api_client, app_settings, check_found, drop_alias_indices
from mochinushi.localdev.node import LocalNode
from mochinushi.localdev.settings import LocalNodeSettings
from search_api.app import create_app
from tests.reliability.conftest import FOUND_CHECK, NOT_FOUND_CHECK, build_tiny_index

pytestmark = [pytest.mark.faults, pytest.mark.opensearch]

SPARE_PORT = 9250
ALIAS = "faults-down-at-start"
BOUND_SECONDS = 300  # a cold node start on a busy 2-core machine takes up to a minute


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture()
def spare_node() -> Iterator[LocalNode]:
    """A second single node on its own port, sharing the cached distribution; down at start."""
    settings = LocalNodeSettings()
    node = LocalNode(settings.home, settings.opensearch_version, port=SPARE_PORT, heap="512m")
    node.down()  # a node left running by an interrupted run would defeat "down at start"
    if _listening(SPARE_PORT):
        pytest.fail(f"port {SPARE_PORT} is used by a process that is not our spare node")
    yield node
    node.down()


async def test_api_started_before_its_cluster_answers_once_the_cluster_is_up(
    spare_node: LocalNode, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MOCHINUSHI_OPENSEARCH_URL", spare_node.url)
    app = create_app(app_settings(ALIAS), log_stream=io.StringIO())
    async with asyncio.timeout(BOUND_SECONDS), api_client(app) as http:
        down = await http.post("/v1/existence-checks", json=FOUND_CHECK)
        assert down.status_code == 503 and down.json()["error"] == "search_unavailable"
        assert down.headers["retry-after"]
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["ready"] is False

        await asyncio.to_thread(spare_node.up)
        client = OpenSearch(hosts=[spare_node.url], timeout=60)
        try:
            drop_alias_indices(client, ALIAS)
            assert (await http.get("/readyz")).json()["reason"] == "alias missing"
            await asyncio.to_thread(build_tiny_index, client, ALIAS, tmp_path)
            assert (await http.get("/readyz")).json() == {"ready": True}
            assert await check_found(http, FOUND_CHECK) == (200, True)
            assert await check_found(http, NOT_FOUND_CHECK) == (200, False)
        finally:
            drop_alias_indices(client, ALIAS)
            client.close()
