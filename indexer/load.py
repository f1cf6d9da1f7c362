"""Bulk loading: chunks of documents to ``_bulk`` with bounded, jittered retries.

Transient failures (connection errors, timeouts, 429 and 5xx, whole-request or per item) are
retried with tenacity; a document the cluster rejects for good (e.g. a mapping conflict) is
reported back so that the caller quarantines it: nothing is lost silently.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})

# What ``_send`` reads of a bulk response: the whole response repeats index, id, version, shard
# counts and sequence numbers for every item, about ten times the bytes to build and parse.
BULK_RESPONSE_FIELDS = "errors,items.*.status,items.*.error.type"


class TransientBulkError(RuntimeError):
    """Some items of a bulk request were refused for now (429 / 5xx)."""


def _retryable(error: BaseException) -> bool:
    if isinstance(error, (OSConnectionError, ConnectionTimeout, TransientBulkError)):
        return True
    return isinstance(error, TransportError) and error.status_code in RETRYABLE_STATUS


class Action(NamedTuple):
    """One bulk operation, with the source line it came from (for quarantine).

    ``source`` is the document already serialised as JSON (``serialise``), done as soon as the
    document is built: measured at 100k records, that costs ~8 µs per record less CPU than
    holding chunks of 2,000 document dicts and serialising them later (the fresh dicts are
    still in the CPU caches, and a waiting chunk is 2,000 bytes objects for the garbage
    collector instead of ~50,000 containers). A named tuple: several times cheaper to create
    than a dataclass, and one is made per record.
    """

    op: str  # "index" | "delete"
    doc_id: str
    line_number: int
    source: bytes | None = None


def serialise(doc: dict[str, Any]) -> bytes:
    """A document as the JSON line of a bulk body (orjson: several times faster than json)."""
    return orjson.dumps(doc)


@dataclass(frozen=True)
class Rejected:
    action: Action
    reason: str


def _chunks(actions: Iterable[Action], size: int) -> Iterator[list[Action]]:
    chunk: list[Action] = []
    for action in actions:
        chunk.append(action)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _body(chunk: list[Action]) -> bytes:
    """The NDJSON of a chunk: an action line, then the document for an ``index``."""
    lines: list[bytes] = []
    for action in chunk:
        lines.append(b'{"%s":{"_id":%s}}' % (action.op.encode(), orjson.dumps(action.doc_id)))
        if action.op == "index":
            assert action.source is not None
            lines.append(action.source)
    lines.append(b"")
    return b"\n".join(lines)


def _triage(
    actions: list[Action], items: list[dict[str, Any]]
) -> tuple[list[Action], list[Rejected]]:
    """(actions to retry later, actions refused for good) of a bulk response with errors."""
    retry_later: list[Action] = []
    rejected: list[Rejected] = []
    for action, item in zip(actions, items, strict=True):
        result = next(iter(item.values()))
        status = int(result.get("status", 500))
        if status < 300 or (action.op == "delete" and status == 404):
            continue
        if status in RETRYABLE_STATUS:
            retry_later.append(action)
        else:
            kind = (result.get("error") or {}).get("type", f"status_{status}")
            rejected.append(Rejected(action, f"rejected_by_cluster:{kind}"))
    return retry_later, rejected


class BulkLoader:
    def __init__(
        self,
        client: OpenSearch,
        index: str,
        *,
        chunk_size: int = 2000,
        attempts: int = 6,
        max_wait_seconds: float = 30.0,
        in_flight: int = 4,
    ) -> None:
        # Up to four chunks in flight (three while the main thread builds the next) keep the
        # cluster's write threads fed (two left them idle about a quarter of the time: 1M end
        # to end 73 → 67 s).
        self.in_flight = max(1, in_flight)
        self.client = client
        self.index = index
        self.chunk_size = chunk_size
        self.attempts = attempts
        self.max_wait_seconds = max_wait_seconds

    def _send(self, chunk: list[Action]) -> list[Rejected]:
        """Send one chunk; retry the items refused for now; return those refused for good."""
        pending = chunk
        rejected: list[Rejected] = []
        for attempt in Retrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self.attempts),
            wait=wait_random_exponential(multiplier=0.5, max=self.max_wait_seconds),
            reraise=True,
        ):
            with attempt:
                response = self.client.bulk(
                    body=_body(pending),
                    index=self.index,
                    request_timeout=120,
                    filter_path=BULK_RESPONSE_FIELDS,
                )
                # Without errors every item succeeded (a delete of a missing id is no error).
                retry_later: list[Action] = []
                if response["errors"]:
                    retry_later, refused = _triage(pending, response["items"])
                    rejected.extend(refused)
                if retry_later:
                    pending = retry_later
                    raise TransientBulkError(f"{len(retry_later)} items refused for now")
        return rejected

    def load(self, actions: Iterable[Action]) -> Iterator[tuple[int, list[Rejected]]]:
        """Load every action; yields (actions sent, rejected) per chunk for progress.

        Sending runs in background threads (the HTTP wait releases the GIL) while the caller's
        thread builds the next documents; at most ``in_flight`` chunks are pending, so memory
        stays bounded whatever the extract size.
        """
        pending: deque[Future[list[Rejected]]] = deque()
        sizes: deque[int] = deque()
        with ThreadPoolExecutor(max_workers=self.in_flight, thread_name_prefix="bulk") as pool:
            for chunk in _chunks(actions, self.chunk_size):
                pending.append(pool.submit(self._send, chunk))
                sizes.append(len(chunk))
                while len(pending) >= self.in_flight:
                    yield sizes.popleft(), pending.popleft().result()
            while pending:
                yield sizes.popleft(), pending.popleft().result()
