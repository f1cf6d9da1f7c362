"""``/docs`` and ``/redoc`` come from this host only, and not at all outside dev mode.

The browser test loads each page in the real (Debian) Chromium and records every request the
page makes — scripts, styles, fonts, images, the OpenAPI document, workers — asserting each
one goes to the API's own host. It runs once on 127.0.0.1 and once under a host name mapped to
127.0.0.1 by Chromium's resolver: a page may behave differently on a loopback address (Swagger
UI, for one, never offers its online validator for one), and must not ask elsewhere under a
real-looking name either.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Route

from mochinushi.settings import Settings
from search_api.app import DOCS_ASSETS, STATIC_DOCS, create_app
from tests.ops.conftest import MAPPED_HOST
from tests.web.support import serve

LOCAL_SCHEMES = ("data", "blob", "about")

PAGES = {
    # page → what shows once it has rendered the OpenAPI document
    "/docs": (".swagger-ui .info .title", "mochinushi"),
    "/redoc": ("h1", "mochinushi"),
}


def _settings(**overrides: object) -> Settings:
    return Settings(alias="test-docs-no-such-alias", **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def docs_server() -> Iterator[str]:
    with serve(create_app(_settings())) as base_url:
        yield base_url


@pytest.mark.browser
@pytest.mark.parametrize("host", ["127.0.0.1", MAPPED_HOST])
@pytest.mark.parametrize("path", sorted(PAGES))
def test_docs_page_asks_no_other_host(
    ops_browser: Browser, docs_server: str, host: str, path: str
) -> None:
    port = urlsplit(docs_server).port
    base = f"http://{host}:{port}"
    requested: list[str] = []
    context = ops_browser.new_context(service_workers="block")
    context.on("request", lambda request: requested.append(request.url))

    def only_this_host(route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.hostname == host and url.port == port:
            route.continue_()
        else:
            route.abort()  # recorded by the request event all the same

    context.route("**/*", only_this_host)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    try:
        page.goto(base + path)
        selector, text = PAGES[path]
        page.wait_for_selector(f"{selector}:has-text('{text}')", timeout=30_000)
        page.wait_for_load_state("networkidle")
        if path == "/docs":
            # Open an operation: Swagger UI renders its schemas lazily.
            page.click(".opblock-summary >> nth=0")
            page.wait_for_selector(".opblock-body", timeout=10_000)
            page.wait_for_load_state("networkidle")
    finally:
        context.close()
    assert requested, "the page made no request at all: nothing was observed"
    assert any(urlsplit(u).path == "/openapi.json" for u in requested), requested
    assert any(urlsplit(u).path.startswith(DOCS_ASSETS) for u in requested), requested
    elsewhere = [
        u
        for u in requested
        if urlsplit(u).scheme not in LOCAL_SCHEMES
        and (urlsplit(u).hostname != host or urlsplit(u).port != port)
    ]
    assert elsewhere == [], f"{path} asked another host: {elsewhere}"
    blocked = [line for line in console if "Content Security Policy" in line]
    assert blocked == [], blocked


def test_docs_are_off_outside_dev_mode() -> None:
    app = create_app(_settings(dev_mode=False, token_secret="k1:" + "s" * 32))
    with TestClient(app) as client:
        for path in ("/docs", "/redoc", f"{DOCS_ASSETS}/swagger-ui-bundle.js"):
            assert client.get(path).status_code == 404, path
        assert client.get("/openapi.json").status_code == 200


def test_docs_pages_name_only_local_assets() -> None:
    with TestClient(create_app(_settings())) as client:
        for path in PAGES:
            page = client.get(path)
            assert page.status_code == 200
            assert "http://" not in page.text and "https://" not in page.text, page.text
            assert "default-src 'none'" in page.headers["content-security-policy"]
        assert '"validatorUrl": null' in client.get("/docs").text
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
            served = client.get(f"{DOCS_ASSETS}/{asset}")
            assert served.status_code == 200
            assert served.content == (STATIC_DOCS / asset).read_bytes()
