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

from analyzers.readings import ReadingDictionary, dictionary_edition
from mappings import MAPPING_VERSION, mapping_version_of
from matching.checks import Check, CheckKeys, check_keys
from matching.config import MatchingConfig
from matching.index_meta import DICTIONARY_EDITION_KEY, NameStats
from matching.query import candidate_query
from matching.scoring import Decision, decide


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
        keys = check_keys(check, self.readings, self.stats.ledger_readings)
        return keys, candidate_query(
            keys,
            size=self.config.candidates,
            window_days=self.config.date_window_days,
            name_agrees_window_days=self.config.name_agrees_window_days,
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


@dataclass(frozen=True)
class ServedIndex:
    """The concrete indices an alias serves at one moment, checked queryable, with their stats.

    Checks search these names, not the alias: were the alias moved to an index of another
    mapping version, a check sent to the alias would run there before anything noticed, and
    a field that index lacks silently matches nothing ("not found" for records that are
    there). A moved alias is picked up, and checked, at the next reload.
    """

    names: str
    """Comma-separated concrete index names (the form OpenSearch's ``index`` parameter takes)."""
    stats: NameStats


def served_index(mapping: Mapping[str, Any]) -> ServedIndex:
    """From a ``GET <alias>/_mapping`` response: every index behind the alias must be queryable
    by this code; the name statistics come from the newest one.

    Raises ``SearchUnavailable`` for every way the mapping can be unusable, never anything else:
    the caller must not take a malformed answer for a cluster that did not answer, and fall
    back to the index served before (checks against yesterday's index would answer "no record"
    for today's records).
    """
    try:
        return _served_index(mapping)
    except SearchUnavailable:
        raise
    except Exception as error:
        raise SearchUnavailable("bad_meta", "the index's mapping cannot be read") from error


def _served_index(mapping: Mapping[str, Any]) -> ServedIndex:
    for body in mapping.values():
        version = mapping_version_of(body)
        if version != MAPPING_VERSION:
            raise SearchUnavailable(
                "mapping_version",
                f"an index has mapping version {version}, this code queries version "
                f"{MAPPING_VERSION}",
            )
    if not mapping:
        raise SearchUnavailable("no_index", "the alias serves no index")
    edition = dictionary_edition()
    for body in mapping.values():
        built_with = body["mappings"].get("_meta", {}).get(DICTIONARY_EDITION_KEY)
        if built_with != edition:
            # Its keys were read with another dictionary: a name read differently would
            # silently match nothing ("not found" for a record that is there).
            raise SearchUnavailable(
                "dictionary_edition",
                f"an index was built with reading dictionary {built_with!r}, this code reads "
                f"with {edition!r}",
            )
    names = sorted(mapping)
    stats = NameStats.from_meta(mapping[names[-1]]["mappings"].get("_meta", {}))
    return ServedIndex(names=",".join(names), stats=stats)


def load_name_stats(client: OpenSearch, alias: str) -> NameStats:
    return served_index(client.indices.get_mapping(index=alias)).stats


async def resolve_served_index(
    client: AsyncOpenSearch, alias: str, previous: ServedIndex | None = None
) -> ServedIndex:
    """The indices ``alias`` serves now; ``previous`` again when they are still the same ones.

    The mapping carries the name statistics and learned readings (megabytes at 20 million
    records), so it is fetched and parsed only when the alias has moved: a served index's
    ``_meta`` is final once the build that wrote it has swapped the alias (an edit of a live
    index's ``_meta`` by hand is seen when the alias next moves, or after a restart).
    """
    try:
        names = ",".join(sorted(await client.indices.get_alias(index=alias)))
        if not names:  # never ask for the mapping of "" (every index)
            raise SearchUnavailable("no_index", "the alias serves no index")
        if previous is not None and names == previous.names:
            return previous
        mapping = await client.indices.get_mapping(index=names)
    except NotFoundError as error:
        raise SearchUnavailable("no_index", "the alias serves no index") from error
    return served_index(mapping)
