"""Reference numbers (public contract v1.1): what a person is handed after a positive check.

A number a person can read aloud and type: 18 characters of a 31-symbol alphabet without
look-alikes (no 0/O, no 1/I/L), printed in six groups of three (``ABC-DEF-GHJ-KMN-PQR-STU``,
23 characters). Seventeen characters are random (84 bits, ``secrets``); the eighteenth is a
check character, so a mistyped number is told apart from one that was never issued:

* the check is ISBN-10's, over the prime 31: the weighted sum ``Σ position × value`` of all 18
  characters is 0 modulo 31. Every weight (1..18) is non-zero modulo 31, so **every single
  wrong character** and **every swap of two different characters** changes the sum and is
  caught; other slips pass with probability 1/31 and then almost surely name no issued number
  (84 random bits), which answers "unknown".

What a number refers to — the sealed token of ``search_api.tokens`` (candidate record ids, the
submitted check, issue and expiry time, channel and office, AES-256-GCM under the token keys)
— is kept server-side in an index of its own (``MOCHINUSHI_REFERENCE_INDEX``, strict mapping,
created on demand, with an index template so even an index auto-created after a deletion gets
the strict mapping), under ``HMAC-SHA256(lookup key, number)``: the index never holds the
number, and without the token secret it holds nothing readable. Every key of the ring derives a
lookup key, so numbers stored under a retired-but-still-accepted key are found, and numbers of
a removed key are gone with it, as tokens were. Any replica stores and finds (a GET by id is
real-time in OpenSearch; no refresh is waited for).

Expired entries are removed by ``cleanup`` (a delete-by-query on ``expires_at``), run by
``mochinushi references cleanup`` and opportunistically by the API after it issues (at most once
an hour per process). Entries stay ``grace`` days past their expiry first, so staff are told
"expired" (410) rather than "unknown" for a while.

Typed input is normalised before the check character is tested: NFKC (full-width letters and
digits from a Japanese IME), upper case, and every space, hyphen and dash-like mark (``-``,
``ー``, ``－``, ``‐``, ``・`` …) removed. The characters the alphabet leaves out (0, O, 1, I,
L) have no look-alike inside it to be mapped to, so a number containing one is "mistyped", with
a hint saying those characters are never used.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from typing import Any, Final

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError, RequestError

from search_api.tokens import TokenKeyRing

__all__ = [
    "ALPHABET",
    "CLEANUP_INTERVAL_SECONDS",
    "EXCLUDED",
    "GROUP",
    "LENGTH",
    "NumberCollision",
    "NumberMistyped",
    "ReferenceStore",
    "ReferenceStoreUnavailable",
    "check_character",
    "format_number",
    "looks_like_sealed_token",
    "lookup_ids",
    "new_number",
    "normalise",
    "parse_number",
    "reference_mapping",
]

ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
"""31 symbols (a prime, for the check character): digits 2-9 and A-Z without I, L and O."""
EXCLUDED: Final = "01ILO"
"""Never printed: 0/O and 1/I/L are read for one another. Typed, they make a number "mistyped"
(nothing in the alphabet is theirs to be mapped to)."""
RANDOM_CHARS: Final = 17
LENGTH: Final = RANDOM_CHARS + 1
GROUP: Final = 3
CLEANUP_INTERVAL_SECONDS: Final = 3600.0

_VALUES: Final = {symbol: value for value, symbol in enumerate(ALPHABET)}
_BASE: Final = len(ALPHABET)
# Spaces and every hyphen- or dash-like mark a keyboard, an IME or a copy may put in.
_SEPARATORS: Final = re.compile(r"[\s\-‐‑‒–—―−ー－・･_.]+")
_SEALED_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{40,}")


class NumberMistyped(ValueError):
    """The text is not a well-formed reference number (length, a character, the check)."""

    def __init__(self, excluded_character: bool = False) -> None:
        super().__init__("reference number is mistyped")
        self.excluded_character = excluded_character


class NumberCollision(Exception):
    """A freshly drawn number is already stored (2^-84 per pair): draw another."""


class ReferenceStoreUnavailable(Exception):
    """The reference index did not answer (or refused): never a "no record" answer."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"reference store unavailable: {kind}")
        self.kind = kind


# --- the number -------------------------------------------------------------------------------


def check_character(body: str) -> str:
    """The character that makes ``Σ position × value ≡ 0 (mod 31)`` for ``body`` + it."""
    if len(body) != RANDOM_CHARS or any(c not in _VALUES for c in body):
        raise ValueError("the body of a reference number is 17 alphabet characters")
    total = sum(position * _VALUES[c] for position, c in enumerate(body, start=1))
    # LENGTH × v ≡ -total (mod 31); 18 has an inverse modulo the prime 31.
    value = (-total * pow(LENGTH, -1, _BASE)) % _BASE
    return ALPHABET[value]


def new_number() -> str:
    """A fresh number in canonical form (18 characters, no separators)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_CHARS))
    return body + check_character(body)


def format_number(number: str) -> str:
    """``ABC-DEF-GHJ-KMN-PQR-STU``: the canonical number in groups of three for reading."""
    return "-".join(number[i : i + GROUP] for i in range(0, len(number), GROUP))


def normalise(text: str) -> str:
    """What was typed, pasted or scanned, as the alphabet's characters would spell it."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()


def parse_number(text: str) -> str:
    """The canonical number typed as ``text``; raise ``NumberMistyped`` if it cannot be one."""
    candidate = normalise(text)
    if any(c in EXCLUDED for c in candidate):
        raise NumberMistyped(excluded_character=True)
    if len(candidate) != LENGTH or any(c not in _VALUES for c in candidate):
        raise NumberMistyped()
    total = sum(position * _VALUES[c] for position, c in enumerate(candidate, start=1))
    if total % _BASE:
        raise NumberMistyped()
    return candidate


def looks_like_sealed_token(text: str) -> bool:
    """A v1.0 token (long url-safe base64): printed before reference numbers, still opened."""
    return bool(_SEALED_TOKEN.fullmatch(text))


def lookup_ids(ring: TokenKeyRing, number: str) -> list[str]:
    """The document ids ``number`` may be stored under: one per key of the ring, issuing first."""
    return [
        kid + "." + hmac.new(key, number.encode("ascii"), hashlib.sha256).hexdigest()
        for kid, key in ring.lookup_keys()
    ]


# --- the store --------------------------------------------------------------------------------


def reference_mapping() -> dict[str, Any]:
    """Strict: a document is a sealed blob and an expiry, nothing else can be added."""
    return {
        "dynamic": "strict",
        "properties": {
            "sealed": {"type": "keyword", "index": False, "doc_values": False},
            "expires_at": {"type": "date", "format": "epoch_second"},
            "resolved": {"type": "boolean"},
        },
    }


def _index_settings() -> dict[str, Any]:
    return {"number_of_shards": 1, "auto_expand_replicas": "0-1", "refresh_interval": "30s"}


@dataclass
class ReferenceStore:
    """The reference entries in OpenSearch (see the module docstring)."""

    client: AsyncOpenSearch
    index: str
    timeout: float = 2.0
    grace: dt.timedelta = dt.timedelta(days=30)
    _ready: bool = False
    _last_cleanup: float | None = None
    _cleanup_task: asyncio.Task[None] | None = None

    async def ensure_index(self) -> None:
        """The template (for auto-creation) and the index, each created if missing."""
        if self._ready:
            return
        body = {"settings": _index_settings(), "mappings": reference_mapping()}
        await self.client.indices.put_index_template(
            name=self.index,
            body={"index_patterns": [self.index], "priority": 1000, "template": body},
            params={"request_timeout": self.timeout},
        )
        if await self.client.indices.exists(
            index=self.index, params={"request_timeout": self.timeout}
        ):
            # An index made by an earlier version gets the fields added since (never removed).
            await self.client.indices.put_mapping(
                index=self.index,
                body=reference_mapping(),
                params={"request_timeout": self.timeout},
            )
        else:
            try:
                await self.client.indices.create(
                    index=self.index,
                    body=body,
                    params={"request_timeout": self.timeout, "wait_for_active_shards": "1"},
                )
            except RequestError as error:  # another replica created it meanwhile
                if error.error != "resource_already_exists_exception":
                    raise
        self._ready = True

    async def put(self, ring: TokenKeyRing, number: str, sealed: str, expires: dt.datetime) -> None:
        """Store ``sealed`` under ``number`` (issuing key's lookup id); it is durable on return.

        Raises ``NumberCollision`` when that id exists, ``ReferenceStoreUnavailable`` on any
        other failure.
        """
        try:
            await self.ensure_index()
            response = await self.client.index(
                index=self.index,
                id=lookup_ids(ring, number)[0],
                body={"sealed": sealed, "expires_at": int(expires.timestamp())},
                params={"op_type": "create", "request_timeout": self.timeout},
            )
        except ConflictError as error:
            raise NumberCollision() from error
        except Exception as error:
            raise ReferenceStoreUnavailable(type(error).__name__) from error
        shards = response.get("_shards", {})
        if response.get("result") != "created" or int(shards.get("successful", 0)) < 1:
            raise ReferenceStoreUnavailable("not_acknowledged")

    async def get(self, ring: TokenKeyRing, number: str) -> str | None:
        """The sealed token stored under ``number`` (by any key of the ring), or None."""
        found = await self.find(ring, number)
        return found[1] if found is not None else None

    async def mark_resolved(self, doc_id: str) -> bool:
        """Record that staff resolved this entry; True only for its first resolution (the
        campaign report counts each number once)."""
        script = (
            "if (ctx._source.resolved == true) { ctx.op = 'noop' } "
            "else { ctx._source.resolved = true }"
        )
        for attempt in range(2):
            try:
                response = await self.client.update(
                    index=self.index,
                    id=doc_id,
                    body={"script": {"source": script, "lang": "painless"}},
                    params={"request_timeout": self.timeout, "retry_on_conflict": "5"},
                )
            except RequestError as error:
                # An index of an earlier version: add the field, then once more.
                if attempt == 0 and "strict_dynamic_mapping" in str(error.error):
                    self._ready = False
                    await self.ensure_index()
                    continue
                raise
            return bool(response.get("result") == "updated")
        return False

    async def find(self, ring: TokenKeyRing, number: str) -> tuple[str, str] | None:
        """``(document id, sealed token)`` stored under ``number`` (by any key), or None."""
        try:
            response = await self.client.mget(
                index=self.index,
                body={"ids": lookup_ids(ring, number)},
                params={"request_timeout": self.timeout, "realtime": "true"},
            )
        except NotFoundError:
            return None  # no index: nothing was ever issued here
        except Exception as error:
            raise ReferenceStoreUnavailable(type(error).__name__) from error
        for doc in response.get("docs", []):
            if "error" in doc:
                if doc["error"].get("type") == "index_not_found_exception":
                    return None
                raise ReferenceStoreUnavailable("doc_error")
            if doc.get("found"):
                sealed = doc.get("_source", {}).get("sealed")
                return (str(doc["_id"]), sealed) if isinstance(sealed, str) else None
        return None

    async def cleanup(self, now: dt.datetime) -> int:
        """Delete the entries that expired more than ``grace`` ago; how many went."""
        cutoff = int((now - self.grace).timestamp())
        try:
            # Entries written since the last refresh are invisible to a search; a cleanup is
            # rare enough to make them visible first.
            await self.client.indices.refresh(
                index=self.index, params={"request_timeout": max(self.timeout, 30.0)}
            )
            response = await self.client.delete_by_query(
                index=self.index,
                body={"query": {"range": {"expires_at": {"lt": cutoff}}}},
                params={
                    "conflicts": "proceed",
                    "refresh": "true",
                    "request_timeout": max(self.timeout, 30.0),
                },
            )
        except NotFoundError:
            return 0
        return int(response.get("deleted", 0))

    def maybe_cleanup(self, now: dt.datetime, on_error: Any = None) -> None:
        """Start a cleanup in the background unless one ran within the hour."""
        moment = time.monotonic()
        if self._last_cleanup is not None and moment - self._last_cleanup < (
            CLEANUP_INTERVAL_SECONDS
        ):
            return
        if self._cleanup_task is not None and not self._cleanup_task.done():
            return
        self._last_cleanup = moment

        async def run() -> None:
            try:
                await self.cleanup(now)
            except Exception as error:  # opportunistic: the next issue tries again later
                self._last_cleanup = None
                if on_error is not None:
                    on_error(error)

        self._cleanup_task = asyncio.get_running_loop().create_task(run())

    async def close(self) -> None:
        """Wait for a cleanup still running (at shutdown)."""
        if self._cleanup_task is not None and not self._cleanup_task.done():
            try:
                await asyncio.wait_for(self._cleanup_task, timeout=5)
            except Exception:
                self._cleanup_task.cancel()
