"""The README's curl and fetch() examples, run as written against the API on the real node:
curl from the shell, fetch() in Chromium from a page of another origin (CORS allowlisted —
and refused when the origin is not listed)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from opensearchpy import OpenSearch
from playwright.sync_api import Browser

from mochinushi.settings import Settings
from search_api.app import create_app
from tests.web.support import free_port, serve

pytestmark = pytest.mark.opensearch

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
SECTION = README.split("### For front-end developers", 1)[1].split("\n## ", 1)[0]
EXAMPLE_BASE = "http://127.0.0.1:8000"


def _block(language: str) -> str:
    match = re.search(rf"```{language}\n(.*?)```", SECTION, re.S)
    assert match, f"no {language} example in the README"
    return match.group(1)


@pytest.fixture()
def reference_index(os_client: OpenSearch) -> Iterator[str]:
    name = f"test-readme-{uuid.uuid4().hex[:10]}-refs"
    yield name
    os_client.indices.delete(index=name, ignore_unavailable=True)
    if os_client.indices.exists_index_template(name=name):
        os_client.indices.delete_index_template(name=name)


def _api(crafted_alias: str, reference_index: str, origins: str) -> FastAPI:
    return create_app(
        Settings(
            alias=crafted_alias,
            reference_index=reference_index,
            rate_limit="off",
            cors_origins=origins,
        )
    )


@pytest.mark.skipif(not shutil.which("curl"), reason="no curl here")
def test_the_curl_example(crafted_alias: str, reference_index: str) -> None:
    command = _block("sh").split("\n#", 1)[0].replace("\\\n", " ")
    with serve(_api(crafted_alias, reference_index, "")) as api:
        argv = [a.replace(EXAMPLE_BASE, api) for a in shlex.split(command)]
        assert argv[0] == "curl"
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    answer = json.loads(result.stdout)
    assert answer["found"] is True and answer["reference_token"], answer


@pytest.mark.browser
def test_the_fetch_example_from_another_origin(
    ops_browser: Browser, crafted_alias: str, reference_index: str
) -> None:
    page_app = FastAPI()
    page_app.get("/")(lambda: HTMLResponse("<!doctype html><title>front end</title>"))
    script = _block("js")
    body = "async () => {\n" + script + "\nreturn { status: response.status, found };\n}"
    with serve(page_app) as front_end:
        with serve(_api(crafted_alias, reference_index, front_end)) as api:
            page = ops_browser.new_page()
            page.goto(front_end + "/")
            result = page.evaluate(body.replace(EXAMPLE_BASE, api))
            assert result == {"status": 200, "found": True}
            page.close()
        # The same page, its origin not in the allowlist: the browser refuses the answer.
        other = f"http://127.0.0.1:{free_port()}"
        with serve(_api(crafted_alias, reference_index, other)) as api:
            page = ops_browser.new_page()
            page.goto(front_end + "/")
            with pytest.raises(Exception, match="Failed to fetch"):
                page.evaluate(body.replace(EXAMPLE_BASE, api))
            page.close()
