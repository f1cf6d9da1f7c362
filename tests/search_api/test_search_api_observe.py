"""The request middleware (pure ASGI): request ids, the body-size gate, metrics, one log line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import Receive, Scope, Send

from search_api.logs import configure_logging, log_request_event
from search_api.metrics import ServiceMetrics
from search_api.observe import MAX_BODY_BYTES, ObserveRequests


@dataclass
class Service:
    metrics: ServiceMetrics
    logger: logging.Logger


@pytest.fixture()
def logs() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    configure_logging(stream=buffer)
    yield buffer
    configure_logging()


@pytest.fixture()
def service(logs: io.StringIO) -> Service:
    return Service(
        ServiceMetrics(routes=("/items/{name}", "/check", "/boom")),
        logging.getLogger("mochinushi"),
    )


def _app(service: Service) -> FastAPI:
    app = FastAPI()

    @app.get("/items/{name}")
    async def item(name: str, request: Request) -> Response:
        return Response(request.state.request_id, headers={"x-request-id": "from-the-handler"})

    @app.post("/check")
    async def check(request: Request) -> Response:
        log_request_event(
            service.logger, "check.completed", request_id=request.state.request_id, outcome="found"
        )
        return Response(await request.body())

    @app.get("/boom")
    async def boom() -> Response:
        raise RuntimeError("ヤマダ")

    @app.get("/not-counted")
    async def not_counted() -> Response:
        return Response("ok")

    app.add_middleware(ObserveRequests, service=lambda: service)
    return app


@pytest.fixture()
def client(service: Service) -> Iterator[TestClient]:
    with TestClient(_app(service), raise_server_exceptions=False) as test_client:
        yield test_client


def _lines(logs: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in logs.getvalue().splitlines()]


def _requests(metrics: ServiceMetrics) -> dict[tuple[str, str], float]:
    counts: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            if sample.name == "mochinushi_requests_total":
                counts[(sample.labels["route"], sample.labels["status"])] = sample.value
    return counts


def test_a_plain_request_id_is_kept_and_sent_back_once(client: TestClient) -> None:
    response = client.get("/items/a", headers={"x-request-id": "abc.DEF_1-2"})
    assert response.text == "abc.DEF_1-2"
    assert response.headers.get_list("x-request-id") == ["abc.DEF_1-2"]


@pytest.mark.parametrize(
    "offered", ["", "has space", "ヤマダ", "a" * 65, "a/b", "1938-05-03;x", "%E3%83%A4"]
)
def test_any_other_request_id_is_replaced(client: TestClient, offered: str) -> None:
    headers = {"x-request-id": offered.encode()}
    response = client.get("/items/a", headers=headers)
    assert response.headers.get_list("x-request-id") == [response.text]
    assert len(response.text) == 32 and response.text != offered


def test_without_a_request_id_one_is_made(client: TestClient) -> None:
    first = client.get("/items/a").headers["x-request-id"]
    second = client.get("/items/a").headers["x-request-id"]
    assert len(first) == 32 and first != second


# b"\xb2" is "²" in latin-1: a digit to str.isdigit(), not to int().
@pytest.mark.parametrize("length", [b"%d" % (MAX_BODY_BYTES + 1), b"12a", b"-1", b"1e3", b"\xb2"])
def test_a_declared_body_too_large_or_malformed_is_413(
    client: TestClient, service: Service, logs: io.StringIO, length: bytes
) -> None:
    headers = {"content-length": length, "x-request-id": b"r1"}
    response = client.post("/check", content=b"{}", headers=headers)
    assert response.status_code == 413
    assert response.json() == {
        "error": "body_too_large",
        "message": "The request body is too large.",
    }
    assert response.headers["x-request-id"] == "r1"
    assert _requests(service.metrics)[("unmatched", "413")] == 1
    [line] = _lines(logs)
    assert line["event"] == "http.request" and line["status"] == 413


def test_a_body_at_the_limit_passes(client: TestClient) -> None:
    body = b"x" * MAX_BODY_BYTES
    assert client.post("/check", content=body).content == body


def test_requests_are_counted_by_route_template(client: TestClient, service: Service) -> None:
    client.get("/items/ヤマダ")
    client.get("/items/b")
    client.get("/no/such/path")
    client.get("/not-counted")  # a route outside the configured label set
    counts = _requests(service.metrics)
    assert counts[("/items/{name}", "200")] == 2
    assert counts[("unmatched", "404")] == 1
    assert counts[("unmatched", "200")] == 1
    assert "ヤマダ" not in service.metrics.render().decode()


def test_one_line_per_request_with_the_handlers_event(
    client: TestClient, logs: io.StringIO
) -> None:
    client.post("/check", content=b"{}", headers={"x-request-id": "r2"})
    client.get("/items/a", headers={"x-request-id": "r3"})
    check, item = _lines(logs)
    assert check["event"] == "check.completed" and check["outcome"] == "found"
    assert (check["request_id"], check["route"], check["status"]) == ("r2", "/check", 200)
    assert isinstance(check["duration_ms"], float)
    assert item["event"] == "http.request"
    assert (item["request_id"], item["route"], item["status"]) == ("r3", "/items/{name}", 200)


def test_a_failing_handler_is_counted_and_logged_as_500(
    client: TestClient, service: Service, logs: io.StringIO
) -> None:
    assert client.get("/boom").status_code == 500
    assert _requests(service.metrics)[("/boom", "500")] == 1
    [line] = _lines(logs)
    assert line["status"] == 500 and "ヤマダ" not in logs.getvalue()


async def test_other_scopes_pass_through(service: Service) -> None:
    seen: list[str] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def nothing() -> Any:
        return {}

    async def ignore(message: Any) -> None:
        return None

    await ObserveRequests(inner, service=lambda: service)({"type": "lifespan"}, nothing, ignore)
    assert seen == ["lifespan"]
    assert _requests(service.metrics) == {}
