"""The index behind the alias closed (an operator's mistake, or a restore in progress): 503,
never "not found"; reopened, the same API answers again."""

from __future__ import annotations

import asyncio
import io

import pytest
from opensearchpy import OpenSearch

from bench.faults import api_client, app_settings, check_found, wait_for_green
from indexer import lifecycle
from search_api.app import create_app
from tests.reliability.conftest import FOUND_CHECK, NOT_FOUND_CHECK

pytestmark = [pytest.mark.faults, pytest.mark.opensearch]


async def test_closed_index_is_503_and_reopened_index_answers(
    tiny_alias: str, opensearch_url: str, os_client: OpenSearch
) -> None:
    [index] = lifecycle.live_indices(os_client, tiny_alias)
    settings = app_settings(tiny_alias, opensearch_url=opensearch_url)
    app = create_app(settings, log_stream=io.StringIO())
    async with asyncio.timeout(60), api_client(app) as http:
        assert await check_found(http, FOUND_CHECK) == (200, True)
        os_client.indices.close(index=index)
        try:
            for body in (FOUND_CHECK, NOT_FOUND_CHECK):
                assert await check_found(http, body) == (503, None)
            ready = await http.get("/readyz")
            assert ready.status_code == 503 and ready.json()["ready"] is False
            # An API started while the index is closed cannot load its name statistics.
            fresh = create_app(settings, log_stream=io.StringIO())
            async with api_client(fresh) as fresh_http:
                assert await check_found(fresh_http, NOT_FOUND_CHECK) == (503, None)
        finally:
            os_client.indices.open(index=index)
            await asyncio.to_thread(wait_for_green, os_client, index, 30)
        assert await check_found(http, FOUND_CHECK) == (200, True)
        assert await check_found(http, NOT_FOUND_CHECK) == (200, False)
        assert (await http.get("/readyz")).json() == {"ready": True}
