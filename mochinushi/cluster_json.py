"""The cluster client's JSON, with orjson.

Why: the client's own serializer is the standard library's ``json``, and every check encodes a
query of some kilobytes and decodes 30 candidates; orjson does both several times faster.

Why fall back to the standard library: orjson refuses a few things ``json`` accepts (integers
beyond 64 bits, ``NaN`` literals in a response). Those keep working exactly as before, only
without the speed-up.
"""

from __future__ import annotations

from typing import Any

import orjson
from opensearchpy.serializer import JSONSerializer

__all__ = ["OrjsonSerializer"]

_OPTIONS = orjson.OPT_NON_STR_KEYS


class OrjsonSerializer(JSONSerializer):
    """A drop-in ``JSONSerializer``: ``dumps`` gives text (bulk helpers join its results with
    newlines) and passes strings and bytes through untouched; ``loads`` takes text or bytes."""

    def dumps(self, data: Any) -> Any:
        if isinstance(data, str | bytes):
            return data
        try:
            return orjson.dumps(data, default=self.default, option=_OPTIONS).decode("utf-8")
        except orjson.JSONEncodeError:
            return super().dumps(data)

    def loads(self, s: str | bytes) -> Any:
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError:
            return super().loads(s)  # type: ignore[arg-type]
