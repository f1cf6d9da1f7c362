"""``serve`` without ``--workers``: one per core, but one alone when partner keys are set,
because a counter clerk's session lives in one process (another worker would sign them out)."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from mochinushi import cli

RUNNER = CliRunner()


def _workers(monkeypatch: pytest.MonkeyPatch, *args: str, **env: str) -> tuple[int, str]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    monkeypatch.setattr(cli, "available_cores", lambda: 2)
    monkeypatch.setattr(cli, "serving_app", lambda: object())
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = RUNNER.invoke(cli.app, ["serve", *args])
    assert result.exit_code == 0, result.output
    return calls[0].get("workers", 1), result.output


def test_one_worker_per_core_without_partner_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOCHINUSHI_PARTNER_KEYS", raising=False)
    workers, _ = _workers(monkeypatch, "--forwarded-allow-ips", "127.0.0.1")
    assert workers == 2


def test_one_worker_when_partner_keys_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    workers, output = _workers(
        monkeypatch, MOCHINUSHI_PARTNER_KEYS="city-1:municipal:key-0123456789abcdef"
    )
    assert workers == 1
    assert "counter (/counter) sessions live in one process" in output


def test_an_explicit_worker_count_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    workers, _ = _workers(
        monkeypatch,
        "--workers",
        "2",
        MOCHINUSHI_PARTNER_KEYS="city-1:municipal:key-0123456789abcdef",
    )
    assert workers == 2
