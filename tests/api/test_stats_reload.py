"""Name statistics are reloaded once per expiry, not once per waiting check (real node)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mochinushi.settings import Settings
from search_api import app as app_module
from search_api.app import create_app

pytestmark = pytest.mark.opensearch


async def test_concurrent_checks_share_one_stats_reload(
    crafted_alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = app_module.resolve_served_index
    calls = 0

    async def counting(client: Any, alias: str) -> Any:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)  # a slow reload makes the other checks queue on the lock
        return await real(client, alias)

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
