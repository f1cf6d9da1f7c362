"""The cluster client's orjson serializer: what the transport sends and reads back."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from opensearchpy.exceptions import SerializationError
from opensearchpy.serializer import JSONSerializer

from mochinushi.clients import api_client as opensearch_client
from mochinushi.cluster_json import OrjsonSerializer
from mochinushi.settings import Settings

SERIALIZER = OrjsonSerializer()
STDLIB = JSONSerializer()


@pytest.mark.parametrize(
    "body",
    [
        {"query": {"bool": {"filter": [{"term": {"name": "ヤマダ キヨウコ"}}]}}, "size": 30},
        [{"index": {"_id": "R1"}}, {"name": "山田"}],
        {"n": 1.5, "none": None, "yes": True, "tuple": (1, 2)},
        {"when": dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC), "day": dt.date(1938, 5, 3)},
        {"id": uuid.UUID(int=7), "amount": Decimal("1.25"), 3: "int key"},
        {"big": 2**70},
        [],
    ],
)
def test_dumps_reads_back_as_the_standard_library_would(body: Any) -> None:
    text = SERIALIZER.dumps(body)
    assert isinstance(text, str)
    assert json.loads(text) == json.loads(STDLIB.dumps(body))


@pytest.mark.parametrize("body", ['{"already": "text"}', b'{"already": "bytes"}'])
def test_strings_and_bytes_go_out_untouched(body: str | bytes) -> None:
    assert SERIALIZER.dumps(body) is body


def test_what_cannot_be_serialised_is_a_serialization_error() -> None:
    with pytest.raises(SerializationError):
        SERIALIZER.dumps({"x": object()})


@pytest.mark.parametrize(
    "raw", ['{"hits": {"hits": [{"_source": {"n": "ヤマダ"}}]}}', b'{"a": [1, 2.5]}']
)
def test_loads_takes_text_or_bytes(raw: str | bytes) -> None:
    assert SERIALIZER.loads(raw) == json.loads(raw)


def test_loads_falls_back_for_what_orjson_refuses() -> None:
    assert SERIALIZER.loads('{"n": NaN, "big": 123456789012345678901234567890}')["big"] == (
        123456789012345678901234567890
    )


def test_loads_of_garbage_is_a_serialization_error() -> None:
    with pytest.raises(SerializationError):
        SERIALIZER.loads("{not json")


async def test_the_api_client_uses_it() -> None:
    client = opensearch_client(Settings())
    try:
        assert isinstance(client.transport.serializer, OrjsonSerializer)
        assert isinstance(
            client.transport.deserializer.serializers["application/json"], OrjsonSerializer
        )
    finally:
        await client.close()
