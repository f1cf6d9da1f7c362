"""Shared fixtures. Tests run against a REAL OpenSearch node (``make test`` starts it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from opensearchpy import OpenSearch

TEST_OPENSEARCH_URL = os.environ.get("MOCHINUSHI_TEST_OPENSEARCH_URL", "http://127.0.0.1:9200")


@pytest.fixture(scope="session")
def opensearch_url() -> str:
    return TEST_OPENSEARCH_URL


@pytest.fixture(scope="session")
def os_client(opensearch_url: str) -> Iterator[OpenSearch]:
    client = OpenSearch(hosts=[opensearch_url], timeout=30)
    if not client.ping():
        pytest.fail(
            f"no OpenSearch answers at {opensearch_url}: run `make test` (it starts the local "
            "node) or `mochinushi opensearch up`, or set MOCHINUSHI_TEST_OPENSEARCH_URL"
        )
    yield client
    client.close()


@pytest.fixture()
def unique_name() -> str:
    """A fresh lowercase name for an index or alias that no other test uses."""
    return f"test-{uuid.uuid4().hex[:12]}"
