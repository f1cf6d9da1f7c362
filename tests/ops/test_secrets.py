"""Secrets are typed as secrets: never shown by a settings object, unwrapped only where used;
``mochinushi keys new`` prints fresh keys the services accept."""

from __future__ import annotations

import base64
import re

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from mochinushi.clients import api_client, cli_client
from mochinushi.settings import Settings
from search_api.service import token_ring
from search_api.tokens import TokenKeyRing

TOKEN_SECRET = "k2:second-secret-for-ops-tests-1,k1:first-secret-for-ops-tests-01"
STAFF = "staff-key-ops-aaaaaaaaaaaaaaaa,staff-key-ops-bbbbbbbbbbbbbbbb"
PASSWORD = "cluster-password-ops-tests"
RUNNER = CliRunner()


def _secret_settings() -> Settings:
    return Settings(
        token_secret=TOKEN_SECRET,
        staff_api_keys=STAFF,
        opensearch_user="mochinushi",
        opensearch_password=PASSWORD,
    )


def test_secret_fields_are_secret_str_and_never_shown() -> None:
    settings = _secret_settings()
    for field in ("token_secret", "staff_api_keys", "opensearch_password"):
        assert isinstance(getattr(settings, field), SecretStr), field
    shown = [repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())]
    for text in shown:
        for secret in (TOKEN_SECRET, "first-secret", "staff-key-ops", PASSWORD):
            assert secret not in text


def test_secrets_from_the_environment_are_unwrapped_where_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MOCHINUSHI_TOKEN_SECRET", TOKEN_SECRET)
    monkeypatch.setenv("MOCHINUSHI_STAFF_API_KEYS", f" {STAFF} ,")
    monkeypatch.setenv("MOCHINUSHI_OPENSEARCH_USER", "mochinushi")
    monkeypatch.setenv("MOCHINUSHI_OPENSEARCH_PASSWORD", PASSWORD)
    settings = Settings()
    assert settings.staff_keys() == tuple(STAFF.split(","))
    assert settings.token_secret_text() == TOKEN_SECRET
    assert token_ring(settings).kids == ("k2", "k1")
    assert settings.opensearch_auth() == ("mochinushi", PASSWORD)
    # The clients send the password itself, not its masked form.
    basic = "Basic " + base64.b64encode(f"mochinushi:{PASSWORD}".encode()).decode()
    connection = cli_client(settings).transport.get_connection()
    assert connection.headers["authorization"] == basic
    assert api_client(settings).transport.kwargs["http_auth"] == ("mochinushi", PASSWORD)


def test_empty_secrets() -> None:
    settings = Settings(token_secret="", staff_api_keys="")
    assert settings.token_secret_text() is None
    assert settings.staff_keys() == ()
    assert Settings(opensearch_user="u").opensearch_auth() == ("u", "")


def test_keys_new_prints_a_fresh_token_key_the_ring_accepts() -> None:
    first = RUNNER.invoke(app_cli(), ["keys", "new"])
    second = RUNNER.invoke(app_cli(), ["keys", "new"])
    assert first.exit_code == 0 and second.exit_code == 0
    entry = first.stdout.strip()
    assert re.fullmatch(r"k\d{12}:[A-Za-z0-9_-]{43}", entry), entry
    assert entry.split(":")[1] != second.stdout.strip().split(":")[1]
    assert TokenKeyRing(entry).kids == (entry.split(":")[0],)
    # It joins an existing ring as the rotation in the README does.
    assert TokenKeyRing(f"{TOKEN_SECRET},{entry}").kids[-1] == entry.split(":")[0]


def test_keys_new_with_a_kid_and_for_staff() -> None:
    named = RUNNER.invoke(app_cli(), ["keys", "new", "--kid", "k3"])
    assert named.exit_code == 0 and named.stdout.startswith("k3:")
    staff = RUNNER.invoke(app_cli(), ["keys", "new", "--staff"])
    assert staff.exit_code == 0
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", staff.stdout.strip())
    bad = RUNNER.invoke(app_cli(), ["keys", "new", "--kid", "no spaces allowed"])
    assert bad.exit_code == 2


def app_cli():  # type: ignore[no-untyped-def]
    from mochinushi.cli import app

    return app
