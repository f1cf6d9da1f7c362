"""Schemathesis against the app's own OpenAPI schema, in-process (ASGI), on the real node.

Every documented operation is fuzzed (positive and negative data, the schema's examples, the
coverage phase) with the staff key sent, so the token endpoint is exercised past its 401. The
checks: no 5xx at all (the node is up, so even a 503 would be a bug here), documented status
codes, content types, headers (Retry-After, WWW-Authenticate) and bodies, schema-invalid data
rejected, and a custom check that no response ever repeats a submitted string.

Why a catalogue for the echo check: a 422 legitimately says "must be written in kana", so a
generated value "kana" is "in the response" without being echoed. The catalogue holds every
string the API's error answers contain, learnt once per module from a battery of probe requests
whose own values are asserted not to come back. A response string that is in the catalogue
cannot carry a submitted value; every other string of the response, and every header the app
does not set from a constant, must not contain any submitted value of 4 or more characters.
Schemathesis' error feedback (which mines response strings and submits them again) is switched
off so generated values stay independent of response text, and the seed is fixed so a run is
reproducible (MOCHINUSHI_FUZZ_SEED changes it).

The app is built at import because the pytest integration of schemathesis cannot take the
schema from a fixture under pytest 9 (``from_fixture`` reads ``request.node._nodeid``, which
pytest 9 no longer has). Building it touches no cluster; the module fixture ``bound_app`` then
points it at the ``crafted_alias`` fixture's alias before the first request.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import socket
from collections.abc import Iterator
from typing import Any

import jaconv
import pytest
import requests
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from analyzers.dates import parse_ledger_date
from analyzers.kana import normalize_kana
from search_api.app import create_app
from search_api.references import format_number, new_number
from search_api.tokens import issue_token
from tests.conftest import CRAFTED_RECORDS
from tests.security.support import (
    STAFF_KEY,
    Clock,
    render_date,
    security_settings,
    staff_headers,
)

pytestmark = pytest.mark.opensearch

Case = schemathesis.Case[Any]

PLACEHOLDER_ALIAS = "bound-at-test-time"  # see the bound_app fixture
SEED = int(os.environ.get("MOCHINUSHI_FUZZ_SEED", "20261127"))
MIN_CHARS = 4
"""Shorter values (M, F, 1, ア) occur in any text by chance; an echo of them proves nothing."""
MIN_CHARS_IN_TOKEN = 8
"""A ~200-character random token holds a given 4-character string about once in 10⁵ tokens,
an 8-character one practically never (and the sealed plaintext cannot show through)."""

APP = create_app(security_settings(PLACEHOLDER_ALIAS), clock=Clock(), log_stream=io.StringIO())
OPENAPI: dict[str, Any] = APP.openapi()
schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    APP,
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": staff_headers(),
            "phases": {"fuzzing": {"error-feedback": {"enabled": False}}},
        }
    ),
)


# ---- the catalogue of strings the API writes by itself ---------------------------------------

VALID: dict[str, Any] = {
    "surname_kana": "ワタナベ",
    "given_name_kana": "ススム",
    "birth_date": "1950-10-10",
    "gender": "M",
}
PROBE_VALUES: list[Any] = [
    None, 0, 1.5, True, [], {}, "", " ", "ABCD", "\u0000", "ア" * 41, "ア" * 201,
    "1938-02-30", "3000-01-01", "昭和0年1月1日", "大正1年1月1日", "昭和70年1月1日", "M",
    "QWERTY漢字", "ｶﾀｶﾅ", "\u200bアイ",
]  # fmt: skip
TOP_FIELDS = [
    "surname_kana", "given_name_kana", "surname_kanji", "given_name_kanji",
    "former_surnames", "birth_date", "gender", "reference",
]  # fmt: skip


def _probe_bodies() -> Iterator[Any]:
    yield from ([], "", 0, None, {}, {"unexpected": 1}, "ABCDEFG")
    for name in TOP_FIELDS:
        for value in PROBE_VALUES:
            yield {**VALID, name: value}
        yield {key: value for key, value in VALID.items() if key != name}
    for value in PROBE_VALUES:
        yield {**VALID, "former_surnames": [{"kana": value}]}
        yield {**VALID, "former_surnames": [{"kana": "サトウ", "kanji": value}]}
        yield {**VALID, "former_surnames": [value]}
        yield {**VALID, "reference": {"address": value}}
        yield {**VALID, "reference": {"employer_name": value}}
    yield {**VALID, "former_surnames": [{"kana": "サトウ"}] * 6}
    yield {**VALID, "former_surnames": [{"kana": "サトウ", "unexpected": 1}]}
    yield {**VALID, "reference": {"unexpected": 1}}


def _leaves(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)


def _probe_strings(value: object) -> Iterator[str]:
    for text in _string_values(value):
        if len(text.strip()) >= MIN_CHARS:
            yield text.strip()


def _learn_catalogue(alias: str) -> frozenset[str]:
    """Every string of the API's error answers to the probes, proving none echoes a probe.

    Only error bodies are learnt (a 200 carries nothing but ``found`` and a token). The token
    for the 401/404/410 answers is sealed directly with the app's key ring, so the catalogue
    does not depend on the cluster finding anybody.
    """
    clock = Clock()
    app = create_app(security_settings(alias), clock=clock, log_stream=io.StringIO())
    learnt: set[str] = set()
    with TestClient(app) as client:

        def learn(response: Any, sent: object) -> None:
            for value in _probe_strings(sent):
                assert value not in response.text, f"probe value echoed: {value!r}"
            if response.status_code >= 400:
                learnt.update(_shape(leaf) for leaf in _leaves(response.json()))

        for body in _probe_bodies():
            learn(client.post("/v1/existence-checks", json=body), body)
        for raw in (b"{", b"\xff\xfe", b"[1,", b'{"surname_kana": "\\ud800"}'):
            learn(
                client.post(
                    "/v1/existence-checks",
                    content=raw,
                    headers={"content-type": "application/json"},
                ),
                raw.decode("utf-8", errors="ignore"),
            )
        token, _ = issue_token(app.state.service.ring, ["R-PROBE"], VALID, clock())
        learn(client.get("/v1/reference-tokens/unknown-token", headers=staff_headers()), "")
        never_issued = format_number(new_number())  # well-formed, so "unknown", not "mistyped"
        learn(client.get(f"/v1/reference-tokens/{never_issued}", headers=staff_headers()), "")
        learn(client.get("/v1/reference-tokens/a%2Fb", headers=staff_headers()), "")
        learn(client.get(f"/v1/reference-tokens/{token}"), "")
        clock.now = clock.now.replace(year=clock.now.year + 1)
        learn(client.get(f"/v1/reference-tokens/{token}", headers=staff_headers()), "")
        learn(client.get("/readyz"), "")
        learn(client.get("/healthz"), "")
    return frozenset(learnt)


def _shape(text: str) -> str:
    """Pydantic's "at most 5 items after validation, not 7" is one sentence for every count."""
    return re.sub(r", not [0-9]+$", ", not N", text)


def _schema_names(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "properties" and isinstance(item, dict):
                yield from item
            yield from _schema_names(item)
    elif isinstance(value, list):
        for item in value:
            yield from _schema_names(item)


PROPERTY_NAMES = frozenset(_schema_names(OPENAPI))
_catalogue: frozenset[str] | None = None


def catalogue() -> frozenset[str]:
    if _catalogue is None:
        raise RuntimeError("the echo catalogue is learnt by the module fixture bound_app")
    return _catalogue


@pytest.fixture(scope="module", autouse=True)
def bound_app(crafted_alias: str) -> None:
    """Point APP at the crafted alias (whatever its name) and learn the catalogue, once."""
    global _catalogue
    state = APP.state.service
    state.settings = security_settings(crafted_alias)
    state.forget_served_index()
    _catalogue = _learn_catalogue(crafted_alias)


# ---- the echo check --------------------------------------------------------------------------


def _submitted(case: Case, response: schemathesis.Response) -> tuple[set[str], set[str]]:
    """(string values of the request, key names of its JSON body)."""
    values: set[str] = {STAFF_KEY}
    # No operation declares header parameters; the one header sent is the staff key.
    for part in (case.path_parameters, case.query, case.cookies):
        values.update(_string_values(part))
    if isinstance(case.body, str | bytes | dict | list):
        values.update(_string_values(case.body))
    raw = response.request.body
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="ignore")
    if isinstance(raw, str):
        try:
            values.update(_string_values(json.loads(raw)))
        except ValueError:
            values.add(raw)
    keys = {key for key in _keys(case.body)}
    return {value.strip() for value in values if len(value.strip()) >= MIN_CHARS}, keys


def _string_values(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("utf-8", errors="ignore")
    elif isinstance(value, dict):
        for item in value.values():
            yield from _string_values(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _string_values(item)


def _keys(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _keys(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _keys(item)


def _field_path_is_structural(path: str, keys: set[str]) -> bool:
    """``former_surnames.0.kana``: made of schema names, indices and the body's own keys."""
    parts = path.split(".")
    return all(
        part in PROPERTY_NAMES or part.isdigit() or part in keys or part == "body" for part in parts
    )


FIXED_HEADERS = frozenset(
    {"content-type", "content-length", "allow", "retry-after", "www-authenticate", "x-request-id"}
)
"""Headers the framework or the app set from constants (and the request id a client may send,
which comes back by design); a generated "json" is in "application/json" by chance."""


def no_submitted_value_echoed(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Case
) -> None:
    values, keys = _submitted(case, response)
    known = catalogue()
    suspects: list[tuple[str, int]] = []
    text = response.content.decode("utf-8", errors="replace")
    try:
        body: object = json.loads(text)
    except ValueError:
        suspects.append((text, MIN_CHARS))
    else:
        if isinstance(body, dict) and isinstance(body.get("fields"), list):
            for entry in body["fields"]:
                if isinstance(entry, dict) and isinstance(entry.get("field"), str):
                    if not _field_path_is_structural(entry["field"], keys):
                        suspects.append((entry["field"], MIN_CHARS))
                    entry = {k: v for k, v in entry.items() if k != "field"}
                suspects.extend(
                    (leaf, MIN_CHARS) for leaf in _leaves(entry) if _shape(leaf) not in known
                )
            body = {k: v for k, v in body.items() if k != "fields"}
        if isinstance(body, dict) and isinstance(body.get("reference_token"), str):
            suspects.append((body["reference_token"], MIN_CHARS_IN_TOKEN))
            body = {k: v for k, v in body.items() if k != "reference_token"}
        suspects.extend((leaf, MIN_CHARS) for leaf in _leaves(body) if _shape(leaf) not in known)
    for name, header_values in response.headers.items():
        if name.lower() not in FIXED_HEADERS:
            suspects.extend((value, MIN_CHARS) for value in header_values)
    for value in values:
        for suspect, minimum in suspects:
            if len(value) >= minimum and value in suspect:
                raise AssertionError(f"response repeats a submitted value: {json.dumps(value)}")


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    no_submitted_value_echoed,
]


@schema.parametrize()
@settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms_and_never_echoes(case: Case) -> None:
    case.call_and_validate(checks=CHECKS)


# Schema-driven generation almost never produces kana names and real dates, so nearly every
# generated check is a 422. These are checks as people type them, half of them the crafted
# records' own names, so the 200 paths (found and not found) are fuzzed through the same checks.
KATAKANA_LETTERS = "".join(chr(c) for c in range(0x30A1, 0x30F7))
SPELLINGS = [
    lambda kana: kana,
    jaconv.kata2hira,
    lambda kana: jaconv.z2h(kana, kana=True, ascii=False),
]


def _crafted_people() -> list[tuple[str, str, str | None, dt.date]]:
    people = []
    for _, kana, kanji, keyed, *_ in CRAFTED_RECORDS:
        born = parse_ledger_date(keyed).as_date()
        if born is not None and " " in normalize_kana(kana):
            surname, given = normalize_kana(kana).split(" ", 1)
            people.append((surname, given, kanji, born))
    return people


kana_name = st.text(alphabet=KATAKANA_LETTERS + "ー", min_size=1, max_size=7)
any_birth_date = st.dates(dt.date(1926, 12, 25), dt.date(1960, 12, 31))
person = st.one_of(
    st.sampled_from(_crafted_people()),
    st.tuples(kana_name, kana_name, st.none(), any_birth_date),
)
realistic_check = st.builds(
    lambda person, spell, style, gender, kanji, reference: {
        "surname_kana": spell(person[0]),
        "given_name_kana": spell(person[1]),
        "birth_date": render_date(person[3], style),
        "gender": gender,
        **({"surname_kanji": person[2].split()[0]} if kanji and person[2] else {}),
        **({"reference": reference} if reference else {}),
    },
    person,
    st.sampled_from(SPELLINGS),
    st.integers(0, 19),
    st.sampled_from(["M", "F"]),
    st.booleans(),
    st.one_of(
        st.none(),
        st.fixed_dictionaries(
            {}, optional={"employer_name": st.text(max_size=40), "address": st.text(max_size=40)}
        ),
    ),
)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(body=realistic_check)
def test_realistic_checks_conform_and_never_echo(body: dict[str, Any]) -> None:
    case = schema["/v1/existence-checks"]["POST"].Case(body=body, media_type="application/json")
    response = case.call_and_validate(checks=CHECKS)
    assert response.status_code in (200, 422), response.status_code


def test_catalogue_learnt_the_messages_and_the_operations_are_all_fuzzed() -> None:
    """Guards the guard: the probes ran, and schemathesis sees every documented operation."""
    known = catalogue()
    assert "Some fields are invalid." in known
    assert "No such reference token." in known
    assert any("kana" in text for text in known)
    operations = {
        f"{method.upper()} {path}" for path, item in OPENAPI["paths"].items() for method in item
    }
    assert operations == {
        "POST /v1/existence-checks",
        "GET /v1/reference-tokens/{token}",
        "GET /v1/reports/campaign",
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
    }


def test_echo_check_catches_an_echo() -> None:
    """The custom check fails on a response that quotes a value, and passes on catalogue text."""
    sent = {**VALID, "surname_kana": "ZZTOPSECRET"}
    case = schema["/v1/existence-checks"]["POST"].Case(body=sent, media_type="application/json")
    leaked = _fake_response(422, {"error": "invalid_input", "message": "bad ZZTOPSECRET"}, sent)
    with pytest.raises(AssertionError, match="ZZTOPSECRET"):
        no_submitted_value_echoed(None, leaked, case)  # type: ignore[arg-type]
    fine = _fake_response(
        422, {"error": "invalid_input", "message": "Some fields are invalid."}, sent
    )
    no_submitted_value_echoed(None, fine, case)  # type: ignore[arg-type]


def _fake_response(
    status: int, body: dict[str, Any], sent: dict[str, Any]
) -> schemathesis.Response:
    prepared = requests.Request(
        "POST", "http://testserver/v1/existence-checks", json=sent
    ).prepare()
    content = json.dumps(body, ensure_ascii=False).encode()
    return schemathesis.Response(
        status_code=status,
        headers={"content-type": ["application/json"]},
        content=content,
        request=prepared,
        elapsed=0.0,
        verify=False,
    )


CONFORMANCE = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    no_submitted_value_echoed,
]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"rate_limit": "1/minute"}, [200, 429]),
        (
            {"opensearch_url": "http://127.0.0.1:{port}", "opensearch_timeout_seconds": 0.5},
            [503, 503],
        ),
    ],
    ids=["429", "503"],
)
def test_documented_429_and_503_match_the_real_responses(
    crafted_alias: str, overrides: dict[str, Any], expected: list[int]
) -> None:
    """The fuzz run never sees 429/503 (no limit, healthy node); here they are provoked."""
    values = {k: v.format(port=_closed_port()) if isinstance(v, str) else v
              for k, v in overrides.items()}  # fmt: skip
    app = create_app(security_settings(crafted_alias, **values), log_stream=io.StringIO())
    local = schemathesis.openapi.from_asgi("/openapi.json", app)
    statuses = []
    for _ in expected:
        case = local["/v1/existence-checks"]["POST"].Case(body=VALID, media_type="application/json")
        response = case.call_and_validate(checks=CONFORMANCE)
        statuses.append(response.status_code)
        if response.status_code != 200:
            assert int(response.headers["retry-after"][0]) >= 1
    assert statuses == expected


def test_a_503_without_retry_after_breaks_the_documented_contract() -> None:
    case = schema["/v1/existence-checks"]["POST"].Case(body=VALID, media_type="application/json")
    bare = _fake_response(503, {"error": "search_unavailable", "message": "later"}, VALID)
    with pytest.raises(AssertionError, match="Retry-After"):
        response_headers_conformance(None, bare, case)  # type: ignore[arg-type]
