"""Running a check against OpenSearch: query → candidates → decision.

The same function bodies serve the API (async client) and the indexer's validation gate and
the relevance tools (sync client). A search that failed, timed out or answered from only some
shards raises ``SearchUnavailable``: a partial answer must never become ``found: false``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opensearchpy import AsyncOpenSearch, OpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, NotFoundError, TransportError

from analyzers.readings import ReadingDictionary
from mappings import MAPPING_VERSION
from search_api.checks import Check, CheckKeys, check_keys
from search_api.query import candidate_query
from search_api.scoring import Decision, MatchingConfig, NameStats, decide


class SearchUnavailable(RuntimeError):
    """The cluster could not give a complete answer; ``kind`` is a metrics label."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"search unavailable ({kind}){': ' + detail if detail else ''}")
        self.kind = kind


@dataclass(frozen=True)
class Finder:
    """Everything a check needs besides the cluster client."""

    alias: str
    config: MatchingConfig
    readings: ReadingDictionary
    stats: NameStats
    request_timeout: float = 2.0

    def body(self, check: Check, named: bool = False) -> tuple[CheckKeys, dict[str, Any]]:
        keys = check_keys(check, self.readings)
        return keys, candidate_query(
            keys,
            size=self.config.candidates,
            window_days=self.config.date_window_days,
            named=named,
        )

    def decide(self, keys: CheckKeys, response: Mapping[str, Any]) -> Decision:
        hits = hits_of(response)
        return decide(keys, [h["_source"] for h in hits], self.config, self.stats)

    def find(self, client: OpenSearch, check: Check) -> Decision:
        keys, body = self.body(check)
        try:
            response = client.search(
                index=self.alias, body=body, request_timeout=self.request_timeout
            )
        except Exception as error:
            raise classify_error(error) from error
        return self.decide(keys, response)

    async def find_async(self, client: AsyncOpenSearch, check: Check) -> Decision:
        keys, body = self.body(check)
        try:
            response = await client.search(
                index=self.alias, body=body, request_timeout=self.request_timeout
            )
        except Exception as error:
            raise classify_error(error) from error
        return self.decide(keys, response)


def hits_of(response: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The hits of a *complete* response; raises when any shard failed or time ran out."""
    if response.get("timed_out"):
        raise SearchUnavailable("timeout", "search timed out")
    shards = response.get("_shards", {})
    if shards.get("failed", 0) or shards.get("successful", 0) < shards.get("total", 0):
        raise SearchUnavailable("shard_failure", f"{shards.get('failed', 0)} shards failed")
    hits: list[Mapping[str, Any]] = response["hits"]["hits"]
    return hits


def classify_error(error: Exception) -> SearchUnavailable:
    if isinstance(error, SearchUnavailable):
        return error
    if isinstance(error, ConnectionTimeout):
        return SearchUnavailable("timeout")
    if isinstance(error, OSConnectionError):
        return SearchUnavailable("unreachable")
    if isinstance(error, NotFoundError):
        return SearchUnavailable("no_index", "the alias serves no index")
    if isinstance(error, TransportError):
        return SearchUnavailable("other", f"status {error.status_code}")
    return SearchUnavailable("other", type(error).__name__)


def index_meta(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``_meta`` of the index behind an alias, refused unless this code can query it.

    The query looks fields up by name: against an index of another mapping version (say, after
    a rollback past a mapping change) a missing field silently matches nothing, and checks
    would say "not found" for records that are there.
    """
    meta: Mapping[str, Any] = next(iter(mapping.values()))["mappings"].get("_meta", {})
    version = meta.get("mapping_version")
    if version != MAPPING_VERSION:
        raise SearchUnavailable(
            "mapping_version",
            f"the index has mapping version {version}, this code queries version "
            f"{MAPPING_VERSION}",
        )
    return meta


def load_name_stats(client: OpenSearch, alias: str) -> NameStats:
    return NameStats.from_meta(index_meta(client.indices.get_mapping(index=alias)))


async def load_name_stats_async(client: AsyncOpenSearch, alias: str) -> NameStats:
    return NameStats.from_meta(index_meta(await client.indices.get_mapping(index=alias)))
