"""Name statistics are reloaded once per expiry, not once per waiting check, and read again only
when the alias has moved (real node)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from matching.finder import ServedIndex, resolve_served_index
from matching.index_meta import NameStats
from mochinushi.settings import Settings
from search_api import service as app_module
from search_api.app import create_app

pytestmark = pytest.mark.opensearch


async def test_concurrent_checks_share_one_stats_reload(
    crafted_alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = app_module.resolve_served_index
    calls = 0

    async def counting(client: Any, alias: str, previous: Any = None) -> Any:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)  # a slow reload makes the other checks queue on the lock
        return await real(client, alias, previous)

    monkeypatch.setattr(app_module, "resolve_served_index", counting)
    app = create_app(Settings(alias=crafted_alias, rate_limit="off"))
    state = app.state.service
    try:
        await asyncio.gather(*(state.finder() for _ in range(16)))
        assert calls == 1
        state._served_at -= app_module.STATS_TTL_SECONDS + 1  # expire
        await asyncio.gather(*(state.finder() for _ in range(16)))
        assert calls == 2
    finally:
        await state.client.close()


async def test_stats_are_read_again_only_when_the_alias_moves(crafted_alias: str) -> None:
    app = create_app(Settings(alias=crafted_alias, rate_limit="off"))
    client = app.state.service.client
    try:
        first = await resolve_served_index(client, crafted_alias)
        assert first.stats.total > 0
        assert await resolve_served_index(client, crafted_alias, first) is first
        moved = ServedIndex(names=f"{first.names}-before", stats=NameStats())
        again = await resolve_served_index(client, crafted_alias, moved)
        assert again is not moved
        assert again.names == first.names and again.stats == first.stats
    finally:
        await client.close()
