"""docs/openapi.json, committed for front-end developers, is the API's own document.

After changing a route or a model: `make openapi` (MOCHINUSHI_UPDATE_OPENAPI=1) rewrites it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mochinushi.settings import Settings
from search_api.app import create_app

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def _current() -> dict[str, Any]:
    app = create_app(Settings(alias="unmatched-records", opensearch_url="http://127.0.0.1:9"))
    document: dict[str, Any] = app.openapi()
    return document


def test_docs_openapi_json_is_the_apis_document() -> None:
    current = _current()
    if os.environ.get("MOCHINUSHI_UPDATE_OPENAPI") == "1":
        DOCUMENT.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n")
    committed = json.loads(DOCUMENT.read_text())
    assert committed == current, "docs/openapi.json is stale: run `make openapi` and commit it"


def test_the_document_describes_the_public_endpoints() -> None:
    paths = json.loads(DOCUMENT.read_text())["paths"]
    assert "post" in paths["/v1/existence-checks"]
    assert "get" in paths["/v1/reference-tokens/{token}"]
    assert "/docs" not in paths and "/redoc" not in paths
