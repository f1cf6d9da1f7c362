"""The one place that builds cluster clients, for the API and for the command line.

Both reach the same cluster with the same hosts, credentials and certificate checks; they differ
only where their work differs, and the differences are named here:

* the **API** client is asynchronous, gives up on a request after
  ``opensearch_timeout_seconds`` (a slow search is a 503, never a person kept waiting), never
  retries on its own (a check retries once inside its own deadline), keeps a pool large enough
  for peak concurrency, and speaks JSON through orjson;
* the **command-line** client is synchronous and patient: bulk loads, force-merges and
  evaluation runs take seconds per request, and a transient failure is retried by the
  indexer's own backoff.
"""

from __future__ import annotations

from opensearchpy import AsyncOpenSearch, OpenSearch

from mochinushi.cluster_json import OrjsonSerializer
from mochinushi.settings import Settings

API_POOL_SIZE = 64
"""Connections per node: the default 10 would queue checks behind each other at peak."""
CLI_TIMEOUT_SECONDS = 60.0


def api_client(settings: Settings) -> AsyncOpenSearch:
    return AsyncOpenSearch(
        hosts=settings.opensearch_hosts(),
        http_auth=settings.opensearch_auth(),
        verify_certs=settings.opensearch_verify_certs,
        timeout=settings.opensearch_timeout_seconds,
        max_retries=0,
        maxsize=API_POOL_SIZE,
        serializer=OrjsonSerializer(),
    )


def cli_client(settings: Settings) -> OpenSearch:
    return OpenSearch(
        hosts=settings.opensearch_hosts(),
        http_auth=settings.opensearch_auth(),
        verify_certs=settings.opensearch_verify_certs,
        timeout=CLI_TIMEOUT_SECONDS,
    )
