"""Structured logging: allowlisted fields only, valid JSON lines, no personal data leaks."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from search_api.logs import (
    ALLOWED_FIELDS,
    LOGGER_NAME,
    DisallowedLogField,
    JsonFormatter,
    configure_logging,
    keyed_hash,
    log_event,
    log_request_event,
    request_log,
)


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Configure the mochinushi logger into a buffer, and restore the logger afterwards."""
    logger = logging.getLogger(LOGGER_NAME)
    saved = (list(logger.handlers), logger.level, logger.propagate)
    buffer = io.StringIO()
    configure_logging(logging.DEBUG, stream=buffer)
    yield buffer
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    for handler in saved[0]:
        logger.addHandler(handler)
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_event_with_allowed_fields_is_one_json_line(stream: io.StringIO) -> None:
    logger = logging.getLogger(LOGGER_NAME)
    log_event(
        logger,
        "check.completed",
        request_id="req-1",
        route="/v1/existence-checks",
        status=200,
        duration_ms=12.5,
        outcome="found",
        candidates=2,
        token_id="wh7wEX7jeO0R2500",
        client_hash="0123456789abcdef",
    )
    [line] = lines(stream)
    assert line["event"] == "check.completed"
    assert line["level"] == "info"
    assert line["logger"] == "mochinushi"
    assert line["status"] == 200
    assert line["duration_ms"] == 12.5
    assert line["candidates"] == 2
    assert line["ts"].endswith("+00:00")


def test_every_line_is_valid_json(stream: io.StringIO) -> None:
    logger = logging.getLogger(LOGGER_NAME)
    log_event(logger, "index.completed", records=10, indexed=9, quarantined=1, alias="a")
    log_event(logger, "index.swapped", index='idx-"quoted"\nnewline', alias="unmatched-records")
    log_event(logger, "service.started", level=logging.WARNING, host="127.0.0.1", port=8000)
    log_event(logger, "token.resolved", token_id=None, dev_mode=True)
    raw = stream.getvalue().splitlines()
    assert len(raw) == 4
    parsed = [json.loads(line) for line in raw]
    assert parsed[1]["index"] == 'idx-"quoted"\nnewline'
    assert parsed[2]["level"] == "warning"
    assert parsed[3]["token_id"] is None


@pytest.mark.parametrize(
    "field", ["surname_kana", "name", "birth_date", "address", "check", "record_ids", "payload"]
)
def test_disallowed_field_raises(stream: io.StringIO, field: str) -> None:
    logger = logging.getLogger(LOGGER_NAME)
    with pytest.raises(DisallowedLogField, match=field) as excinfo:
        fields: dict[str, Any] = {field: "ヤマダ キョウコ"}
        log_event(logger, "check.completed", **fields)
    assert "ヤマダ" not in str(excinfo.value)
    assert stream.getvalue() == ""


@pytest.mark.parametrize("field", ["ts", "logger", "event"])
def test_reserved_keys_cannot_be_overwritten(stream: io.StringIO, field: str) -> None:
    fields: dict[str, Any] = {field: "y"}
    with pytest.raises(DisallowedLogField):
        log_event(logging.getLogger(LOGGER_NAME), "x", **fields)


def test_level_must_be_an_int(stream: io.StringIO) -> None:
    with pytest.raises(TypeError):
        log_event(logging.getLogger(LOGGER_NAME), "x", level="ヤマダ")  # type: ignore[arg-type]
    assert stream.getvalue() == ""


@pytest.mark.parametrize(
    "value", [{"surname_kana": "ヤマダ"}, ["ヤマダ"], ("R1",), b"bytes", object()]
)
def test_non_scalar_values_raise(stream: io.StringIO, value: object) -> None:
    with pytest.raises(DisallowedLogField, match="scalar") as excinfo:
        log_event(logging.getLogger(LOGGER_NAME), "check.completed", outcome=value)  # type: ignore[arg-type]
    assert "ヤマダ" not in str(excinfo.value)
    assert stream.getvalue() == ""


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_raise(stream: io.StringIO, value: float) -> None:
    with pytest.raises(DisallowedLogField, match="finite"):
        log_event(logging.getLogger(LOGGER_NAME), "check.completed", duration_ms=value)


@pytest.mark.parametrize(
    "event",
    ["", "no match for ヤマダ", "Check.Completed", "check completed", "check..completed", "x" * 81],
)
def test_event_must_be_an_identifier(stream: io.StringIO, event: str) -> None:
    with pytest.raises(DisallowedLogField, match="identifier") as excinfo:
        log_event(logging.getLogger(LOGGER_NAME), event)
    assert "ヤマダ" not in str(excinfo.value)


def test_disallowed_field_raises_even_when_level_is_disabled(stream: io.StringIO) -> None:
    """Mistakes must fail in tests regardless of the configured level."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.ERROR)
    with pytest.raises(DisallowedLogField):
        log_event(logger, "check.completed", surname="ヤマダ")
    log_event(logger, "check.completed", outcome="found")
    assert stream.getvalue() == ""


def test_allowlist_holds_no_personal_keys() -> None:
    personal = {"name", "surname", "given_name", "birth_date", "address", "employer", "check"}
    assert not any(any(word in key for word in personal) for key in ALLOWED_FIELDS)
    for key in ("request_id", "route", "status", "duration_ms", "outcome", "candidates"):
        assert key in ALLOWED_FIELDS
    for key in ("token_id", "staff_key_id", "error_kind", "client_hash", "records"):
        assert key in ALLOWED_FIELDS
    for key in ("indexed", "quarantined", "index", "alias"):
        assert key in ALLOWED_FIELDS


def test_child_loggers_use_the_same_handler(stream: io.StringIO) -> None:
    log_event(logging.getLogger(f"{LOGGER_NAME}.api"), "check.completed", outcome="not_found")
    [line] = lines(stream)
    assert line["logger"] == "mochinushi.api"
    assert line["outcome"] == "not_found"


def test_plain_log_calls_never_render_their_arguments(stream: io.StringIO) -> None:
    logging.getLogger(f"{LOGGER_NAME}.legacy").warning("no match for %s born %s", "ヤマダ", "1938")
    [line] = lines(stream)
    assert line["event"] == "no match for %s born %s"
    assert "ヤマダ" not in stream.getvalue()
    assert "1938" not in stream.getvalue()


def test_exceptions_are_logged_without_their_message(stream: io.StringIO) -> None:
    logger = logging.getLogger(LOGGER_NAME)
    try:
        raise ValueError("could not parse birth date '昭和13年5月3日' of ヤマダ")
    except ValueError:
        logger.exception("check.failed")
    [line] = lines(stream)
    assert line["exc_type"] == "ValueError"
    assert line["exc_frames"]
    assert "test_search_api_logs.py" in line["exc_frames"][-1]
    assert "ヤマダ" not in stream.getvalue()
    assert "昭和" not in stream.getvalue()


def test_not_installed_on_root_and_does_not_propagate(stream: io.StringIO) -> None:
    logger = logging.getLogger(LOGGER_NAME)
    root = logging.getLogger()
    assert logger.propagate is False
    assert not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers)


def test_configure_logging_is_idempotent(stream: io.StringIO) -> None:
    second = io.StringIO()
    logger = configure_logging("warning", stream=second)
    assert logger.name == LOGGER_NAME
    assert logger.level == logging.WARNING
    assert sum(isinstance(h.formatter, JsonFormatter) for h in logger.handlers) == 1
    log_event(logger, "service.started", level=logging.WARNING, port=1)
    log_event(logger, "service.debug", port=2)  # below WARNING
    assert stream.getvalue() == ""
    assert [line["port"] for line in lines(second)] == [1]


def test_configure_logging_keeps_foreign_handlers(stream: io.StringIO) -> None:
    logger = logging.getLogger(LOGGER_NAME)
    foreign = logging.NullHandler()
    logger.addHandler(foreign)
    configure_logging(logging.INFO, stream=io.StringIO())
    assert foreign in logger.handlers


def test_keyed_hash_is_hmac_sha256_prefix() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"203.0.113.7", hashlib.sha256).hexdigest()[:16]
    assert keyed_hash(b"k", "203.0.113.7") == expected
    assert len(expected) == 16
    assert all(c in "0123456789abcdef" for c in expected)


def test_keyed_hash_depends_on_secret_and_value() -> None:
    assert keyed_hash(b"k1", "203.0.113.7") == keyed_hash(b"k1", "203.0.113.7")
    assert keyed_hash(b"k1", "203.0.113.7") != keyed_hash(b"k2", "203.0.113.7")
    assert keyed_hash(b"k1", "203.0.113.7") != keyed_hash(b"k1", "203.0.113.8")
    assert "203" not in keyed_hash(b"k1", "203.0.113.7")


def test_keyed_hash_handles_non_ascii() -> None:
    assert len(keyed_hash(b"k", "ヤマダ")) == 16


def test_keyed_hash_requires_a_secret() -> None:
    with pytest.raises(ValueError):
        keyed_hash(b"", "203.0.113.7")


def test_request_event_outside_a_request_is_a_line_of_its_own(stream: io.StringIO) -> None:
    log_request_event(logging.getLogger(LOGGER_NAME), "check.completed", outcome="found")
    [line] = lines(stream)
    assert (line["event"], line["outcome"]) == ("check.completed", "found")


def test_request_events_name_the_one_request_line(stream: io.StringIO) -> None:
    logger = logging.getLogger(LOGGER_NAME)
    with request_log() as line:
        log_request_event(logger, "check.unavailable", level=logging.WARNING, error_kind="timeout")
        log_request_event(logger, "check.completed", outcome="found")  # a second: its own line
        assert len(lines(stream)) == 1
        line.write(logger, request_id="r1", status=503)
    first, second = lines(stream)
    assert (first["event"], first["outcome"]) == ("check.completed", "found")
    assert second["event"] == "check.unavailable" and second["level"] == "warning"
    assert (second["error_kind"], second["request_id"], second["status"]) == ("timeout", "r1", 503)


def test_request_events_are_checked_at_once(stream: io.StringIO) -> None:
    with request_log(), pytest.raises(DisallowedLogField):
        log_request_event(logging.getLogger(LOGGER_NAME), "check.completed", surname="ヤマダ")


def test_a_request_line_without_events_is_the_access_line(stream: io.StringIO) -> None:
    with request_log() as line:
        pass
    line.write(logging.getLogger(LOGGER_NAME), request_id="r2", status=200)
    [written] = lines(stream)
    assert (written["event"], written["request_id"]) == ("http.request", "r2")
