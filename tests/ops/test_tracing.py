"""FastAPI's OpenTelemetry, set explicitly: off unless configured, and when on, spans that name
the route template and never carry the staff endpoint's token (nor what a person typed)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opensearchpy import OpenSearch
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mochinushi.settings import Settings
from search_api.app import create_app

STAFF_KEY = "staff-key-for-tracing-tests-0123"
TOKEN_ROUTE = "/v1/reference-tokens/{token}"
FOUND = {
    "surname_kana": "やまだ",
    "given_name_kana": "キョウコ",
    "birth_date": "昭和13年5月3日",
    "gender": "F",
}
TYPED = ["やまだ", "キョウコ", "昭和13年5月3日", "ヤマダ"]


def _strings(span: ReadableSpan) -> list[str]:
    """Everything a span exports as text: name, attributes, events, links, resource."""
    texts = [span.name, json.dumps(dict(span.attributes or {}), ensure_ascii=False)]
    for event in span.events:
        texts += [event.name, json.dumps(dict(event.attributes or {}), ensure_ascii=False)]
    texts += [json.dumps(dict(link.attributes or {})) for link in span.links]
    texts.append(json.dumps(dict(span.resource.attributes)))
    return texts


def _mentions(spans: tuple[ReadableSpan, ...], value: str) -> list[str]:
    return [span.name for span in spans if any(value in text for text in _strings(span))]


@pytest.fixture()
def reference_index(os_client: OpenSearch) -> Iterator[str]:
    name = f"test-tracing-{uuid.uuid4().hex[:10]}-refs"
    yield name
    os_client.indices.delete(index=name, ignore_unavailable=True)
    if os_client.indices.exists_index_template(name=name):
        os_client.indices.delete_index_template(name=name)


@pytest.mark.opensearch
def test_a_resolution_span_names_the_route_and_never_the_token(
    crafted_alias: str, reference_index: str
) -> None:
    exporter = InMemorySpanExporter()
    settings = Settings(
        alias=crafted_alias,
        staff_api_keys=STAFF_KEY,
        token_secret="k1:tracing-test-secret-0123456789",
        rate_limit="off",
        tracing="console",
        reference_index=reference_index,
    )
    with TestClient(create_app(settings, span_exporter=exporter)) as client:
        check = client.post("/v1/existence-checks", json=FOUND)
        assert check.status_code == 200 and check.json()["found"], check.text
        token = check.json()["reference_token"]
        resolved = client.get(
            f"/v1/reference-tokens/{token}", headers={"Authorization": f"Bearer {STAFF_KEY}"}
        )
        assert resolved.status_code == 200, resolved.text
    spans = exporter.get_finished_spans()
    server = [s for s in spans if s.attributes and s.attributes.get("http.route") == TOKEN_ROUTE]
    assert [s.name for s in server] == [f"GET {TOKEN_ROUTE}"]
    assert server[0].attributes is not None
    assert server[0].attributes["http.response.status_code"] == 200
    assert "url.path" not in server[0].attributes
    assert _mentions(spans, token) == []
    # Nor the compact form of a printed number, nor anything the person typed.
    assert _mentions(spans, token.replace("-", "")) == []
    for typed in TYPED:
        assert _mentions(spans, typed) == [], typed


def test_the_same_request_through_fastapis_defaults_would_carry_the_token() -> None:
    """The check above can fail: FastAPI's own spans hold the concrete path."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = FastAPI(telemetry={"tracer_provider": provider})

    @app.get(TOKEN_ROUTE)
    async def resolve(token: str) -> dict[str, str]:
        return {}

    token = "ABC-DEF-GHJ-KMN-PQR-STU"
    with TestClient(app) as client:
        assert client.get(f"/v1/reference-tokens/{token}").status_code == 200
    assert _mentions(exporter.get_finished_spans(), token) != []


def test_console_tracing_prints_route_templates(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(alias="test-tracing-no-such-alias", tracing="console")
    token = "XYZ-XYZ-XYZ-XYZ-XYZ-XYZ"
    with TestClient(create_app(settings)) as client:
        assert client.get(f"/v1/reference-tokens/{token}").status_code == 401
    printed = capsys.readouterr().out
    assert f'"name": "GET {TOKEN_ROUTE}"' in printed
    assert token not in printed


OFF_PROBE = textwrap.dedent(
    """
    import json
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from mochinushi.settings import Settings
    from search_api.app import create_app

    # Another library of the process configures OpenTelemetry for itself.
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)

    counts = {}
    bare = FastAPI()
    bare.get("/v1/reference-tokens/{token}")(lambda token: {})
    for name, app in [("ours", create_app(Settings(alias="test-tracing-off"))), ("bare", bare)]:
        exporter.clear()
        with TestClient(app) as client:
            client.get("/v1/reference-tokens/ABC-DEF-GHJ-KMN-PQR-STU")
        counts[name] = len(exporter.get_finished_spans())
    print(json.dumps(counts))
    """
)


def test_tracing_is_off_by_default_even_when_the_process_configured_opentelemetry() -> None:
    assert Settings().tracing == "off"
    # A global tracer provider cannot be unset: this runs in a process of its own.
    result = subprocess.run(
        [sys.executable, "-c", OFF_PROBE], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    counts: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert counts["bare"] > 0, "the probe saw no spans at all: it would not notice ours"
    assert counts["ours"] == 0


def test_an_unknown_tracing_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="tracing"):
        Settings(tracing="otlp")  # type: ignore[arg-type]
