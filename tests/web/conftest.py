"""Fixtures for the browser tests: Debian's headless Chromium driven by Playwright for Python.

Chromium is the distribution's (``apt-get install -y chromium``), not a Playwright download, so
the tests need no network. ``MOCHINUSHI_CHROMIUM`` overrides its path.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.web.support import FakeService, make_app, serve

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "web"
README_SCREENSHOTS = REPO / "docs" / "screenshots"
CHROMIUM = os.environ.get("MOCHINUSHI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Playwright]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install it with "
            "`apt-get update && apt-get install -y chromium fonts-noto-cjk` "
            "(or set MOCHINUSHI_CHROMIUM), or deselect with -m 'not browser'"
        )
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    chromium = playwright_session.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1024, "height": 900}, locale="ja-JP")
    new_page = context.new_page()
    yield new_page
    context.close()


@pytest.fixture()
def fake_state() -> FakeService:
    return FakeService()


@pytest.fixture()
def fake_server(fake_state: FakeService) -> Iterator[str]:
    with serve(make_app(fake_state)) as base_url:
        yield base_url


class Shots:
    """Screenshots of each step into test-artifacts/web/ (gitignored).

    With ``MOCHINUSHI_UPDATE_SCREENSHOTS=1`` the README's two screenshots are refreshed too.
    """

    def __init__(self) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(self, page: Page, name: str, readme_name: str | None = None) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if readme_name and os.environ.get("MOCHINUSHI_UPDATE_SCREENSHOTS") == "1":
            README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, README_SCREENSHOTS / readme_name)
        return path


@pytest.fixture(scope="session")
def shots() -> Shots:
    return Shots()
