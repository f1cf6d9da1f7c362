"""A slow cluster: answers held back 3 s by a loopback proxy, against a 0.5 s search timeout.

The check must give up inside the app's own deadline with a 503, never wait for the late answer
and never turn it into "not found"; once the cluster is fast again it answers correctly, and a
late answer to an abandoned request must not be read as the answer to a later one.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable
from types import TracebackType
from urllib.parse import urlsplit

import pytest

from bench.faults import api_client, app_settings, check_found
from search_api.app import CHECK_DEADLINE_SECONDS, create_app
from tests.reliability.conftest import FOUND_CHECK, NOT_FOUND_CHECK

pytestmark = [pytest.mark.faults, pytest.mark.opensearch]

SLOW_SECONDS = 3.0
TIMEOUT_SECONDS = 0.5


class DelayingProxy:
    """Forwards TCP on 127.0.0.1 to ``upstream``; holds each chunk of its answers ``delay`` s."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        if parts.hostname not in ("127.0.0.1", "localhost") or parts.port is None:
            raise ValueError(f"the proxy only forwards to a loopback node with a port: {upstream}")
        self.upstream_port = parts.port
        self.delay = 0.0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> DelayingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for connection in self._connections:
            connection.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            pipes = [
                asyncio.ensure_future(self._pipe(reader, up_writer, delayed=False)),
                asyncio.ensure_future(self._pipe(up_reader, writer, delayed=True)),
            ]
            # Either side hanging up ends the connection (the app drops timed-out ones).
            _, pending = await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            for pipe in pending:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            up_writer.close()
        finally:
            writer.close()
            self._connections.discard(task)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delayed: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                if delayed and self.delay:
                    await asyncio.sleep(self.delay)
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            return


async def _timed(call: Awaitable[tuple[int, bool | None]]) -> tuple[int, bool | None, float]:
    started = time.monotonic()
    status, found = await call
    return status, found, time.monotonic() - started


async def test_slow_cluster_is_a_quick_503_never_not_found(
    tiny_alias: str, opensearch_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with asyncio.timeout(60), DelayingProxy(opensearch_url) as proxy:
        monkeypatch.setenv("MOCHINUSHI_OPENSEARCH_URL", proxy.url)
        monkeypatch.setenv("MOCHINUSHI_OPENSEARCH_TIMEOUT_SECONDS", str(TIMEOUT_SECONDS))
        app = create_app(app_settings(tiny_alias), log_stream=io.StringIO())
        async with api_client(app) as http:
            # Slow from the start: the name statistics cannot even be loaded.
            proxy.delay = SLOW_SECONDS
            status, found, seconds = await _timed(check_found(http, NOT_FOUND_CHECK))
            assert (status, found) == (503, None)
            assert seconds < min(CHECK_DEADLINE_SECONDS, SLOW_SECONDS), seconds

            proxy.delay = 0.0
            assert await check_found(http, FOUND_CHECK) == (200, True)

            # Slow again once the statistics are cached: the search itself times out.
            proxy.delay = SLOW_SECONDS
            for _ in range(2):
                status, found, seconds = await _timed(check_found(http, NOT_FOUND_CHECK))
                assert (status, found) == (503, None)
                assert seconds < min(CHECK_DEADLINE_SECONDS, SLOW_SECONDS), seconds

            # Fast again. FOUND first: a late "not found" answer left in a reused connection
            # would show up here as a wrong answer.
            proxy.delay = 0.0
            assert await check_found(http, FOUND_CHECK) == (200, True)
            assert await check_found(http, NOT_FOUND_CHECK) == (200, False)
