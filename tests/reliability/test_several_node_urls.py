"""Several node URLs in MOCHINUSHI_OPENSEARCH_URL, one of them dead: the API keeps answering,
and answering right, from the live one."""

from __future__ import annotations

import io
import socket

import pytest
from fastapi.testclient import TestClient

from bench.faults import app_settings
from search_api.app import create_app
from tests.reliability.conftest import FOUND_CHECK, NOT_FOUND_CHECK

pytestmark = [pytest.mark.faults, pytest.mark.opensearch]

CHECKS = 12


def _dead_url() -> str:
    """A port nothing listens on: connections to it are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("dead_first", [True, False], ids=["dead_first", "dead_second"])
def test_a_dead_node_url_beside_a_live_one_keeps_the_api_answering(
    tiny_alias: str, opensearch_url: str, monkeypatch: pytest.MonkeyPatch, dead_first: bool
) -> None:
    dead = _dead_url()
    urls = [dead, opensearch_url] if dead_first else [opensearch_url, dead]
    monkeypatch.setenv("MOCHINUSHI_OPENSEARCH_URL", ",".join(urls))
    app = create_app(app_settings(tiny_alias), log_stream=io.StringIO())
    with TestClient(app) as client:
        assert app.state.service.settings.opensearch_hosts() == urls
        answers = [
            client.post("/v1/existence-checks", json=body)
            for _ in range(CHECKS // 2)
            for body in (FOUND_CHECK, NOT_FOUND_CHECK)
        ]
        assert [a.status_code for a in answers] == [200] * CHECKS, [a.text for a in answers]
        assert [a.json()["found"] for a in answers] == [True, False] * (CHECKS // 2)
        assert client.get("/readyz").json() == {"ready": True}
        # Not vacuous: the dead URL was tried, failed, and was set aside by the client.
        pool = app.state.service.client.transport.connection_pool
        assert dead in {connection.host for connection in pool.dead_count}
