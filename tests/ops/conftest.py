"""Fixtures of the operations tests: Debian's Chromium (as in tests/web), with one extra host
name mapped to 127.0.0.1 so a page can be loaded under a real-looking name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

MAPPED_HOST = "docs.mochinushi.test"


@pytest.fixture(scope="module")
def ops_browser() -> Iterator[Browser]:
    """Module-scoped: Playwright's sync API runs one instance per thread, and tests/web starts
    its own for the session after these modules are done."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make browser-deps` installs it")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {MAPPED_HOST} 127.0.0.1"],
        )
        yield browser
        browser.close()
