"""A burst of varied traffic, then a scan of every log line and of /metrics for personal data.

The burst goes through the real app on the crafted alias: found and not-found checks typed in
katakana, hiragana and half-width kana with dates in every accepted spelling, invalid checks
that still carry real names and dates in their other fields, staff resolutions (ok, wrong key,
unknown, expired, personal data typed into the token path), the web form and the staff form,
rate-limited checks and a cluster outage. The scan then looks for each submitted name in every
spelling (katakana, hiragana, half-width, with and without the space, every match-key fold),
each kanji name (as typed and folded), each birth date in every accepted format plus its
8-digit key and ledger codes, addresses, employers, reference tokens, staff keys (right and
wrong), record ids and the client address. It also asserts that the JSON log stream and
/metrics are pure ASCII: the service never has a reason to write Japanese text there, so any
non-ASCII character is a leak, whatever spelling it is in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import logging
import socket
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jaconv
import pytest
from fastapi.testclient import TestClient

from analyzers.kana import (
    enlarge_small_kana,
    fold_confusables,
    fold_long_vowels,
    fold_old_kana,
    kana_keys,
    normalize_kana,
    remove_voicing,
)
from analyzers.kanji import fold_kanji
from search_api.app import create_app
from search_api.logs import ALLOWED_FIELDS
from search_api.references import format_number, new_number
from tests.conftest import CRAFTED_RECORDS
from tests.security.support import (
    FULL_WIDTH,
    OTHER_STAFF_KEY,
    STAFF_KEY,
    Clock,
    render_date,
    security_settings,
    staff_headers,
)

pytestmark = pytest.mark.opensearch

CLIENT_HOST = "testclient"  # what Starlette's TestClient reports as the client address
LINE_KEYS = {"ts", "level", "logger", "event", "exc_type", "exc_frames", *ALLOWED_FIELDS}


@dataclass(frozen=True)
class Person:
    surname: str
    given: str
    born: dt.date
    gender: str
    surname_kanji: str | None = None
    given_kanji: str | None = None
    former: tuple[tuple[str, str | None], ...] = ()
    employer: str | None = None
    address: str | None = None
    extra_secrets: tuple[str, ...] = field(default=())


PEOPLE = [
    # On file in the crafted alias (found).
    Person("ヤマダ", "キョウコ", dt.date(1938, 5, 3), "F", "山田", "京子",
           employer="山田商店", address="埼玉県浦和市"),
    Person("タカハシ", "セツコ", dt.date(1934, 10, 10), "F", "髙橋", "節子",
           address="東京都品川区大井"),
    Person("ヤマモト", "フミコ", dt.date(1936, 2, 2), "F",
           former=(("イシカワ", "石川"),), employer="株式会社石川織物"),
    Person("サトウ", "ハナコ", dt.date(1929, 12, 1), "F", address="神奈川県横浜市中区"),
    Person("マツモト", "キヨシ", dt.date(1930, 1, 30), "M", "松本", "清"),
    # Not on file.
    Person("ワタナベ", "ススム", dt.date(1950, 10, 10), "M", "渡邊", "進",
           employer="渡辺鉄工所", address="大阪府堺市堺区"),
    Person("コバヤシ", "ミノル", dt.date(1947, 8, 15), "M", "小林", "稔",
           former=(("ナカムラ", "中村"), ("ヨシダ", None)), address="福岡県北九州市門司区"),
    Person("ノグチ", "ヒデヨ", dt.date(1926, 12, 25), "F", "野口", "秀代",
           employer="野口製糸場", extra_secrets=("Noguchi", "Hideyo")),
]  # fmt: skip


def _kana_spellings(kana: str) -> set[str]:
    spellings = {kana, jaconv.kata2hira(kana), jaconv.z2h(kana, kana=True, ascii=False)}
    spellings |= {jaconv.kata2hira(jaconv.z2h(kana, kana=True)), normalize_kana(kana)}
    spellings |= set(kana_keys(kana).values())
    folds = (enlarge_small_kana, fold_old_kana, fold_long_vowels, remove_voicing, fold_confusables)
    spellings |= {fold(normalize_kana(kana)) for fold in folds}
    return {spelling for spelling in spellings if spelling}


def _date_spellings(day: dt.date) -> set[str]:
    spellings = {render_date(day, style) for style in range(20)}
    spellings |= {text.translate(FULL_WIDTH) for text in spellings}
    key = f"{day.year:04d}{day.month:02d}{day.day:02d}"
    era_code = {1868: "1", 1912: "3", 1926: "5", 1989: "7", 2019: "9"}
    start = max(year for year in era_code if dt.date(year, 1, 1) <= day)
    ledger = f"{day.year - start + 1:02d}{day.month:02d}{day.day:02d}"
    spellings |= {key, f"{day.year}/{day.month:02d}/{day.day:02d}", f"{day.month}月{day.day}日"}
    spellings |= {f"{era_code[start]}-{ledger}", f"{era_code[start]}{ledger}"}
    return spellings


def secrets_of(person: Person) -> set[str]:
    found: set[str] = set(person.extra_secrets)
    for kana in (person.surname, person.given, *(kana for kana, _ in person.former)):
        found |= _kana_spellings(kana)
    for joiner in (" ", "\u3000", ""):
        found |= _kana_spellings(person.surname + joiner + person.given)
    kanji = [person.surname_kanji, person.given_kanji, *(k for _, k in person.former)]
    for name in filter(None, kanji):
        found |= {name, fold_kanji(name)}
    if person.surname_kanji and person.given_kanji:
        found |= {person.surname_kanji + " " + person.given_kanji}
        found |= {fold_kanji(person.surname_kanji + person.given_kanji)}
    found |= _date_spellings(person.born)
    for text in filter(None, (person.employer, person.address)):
        found |= {text, text.translate(FULL_WIDTH)}
    return found


def _variant(person: Person, n: int) -> dict[str, Any]:
    """The person's check as typed in spelling ``n``: kana width/script and date format vary."""
    spellings: list[Callable[[str], str]] = [
        str,
        jaconv.kata2hira,
        lambda kana: str(jaconv.z2h(kana, kana=True, ascii=False)),
    ]
    spell = spellings[n % 3]
    body: dict[str, Any] = {
        "surname_kana": spell(person.surname),
        "given_name_kana": spell(person.given),
        "birth_date": render_date(person.born, n),
        "gender": person.gender,
    }
    if person.surname_kanji and n % 2 == 0:
        body["surname_kanji"] = person.surname_kanji
        body["given_name_kanji"] = person.given_kanji
    if person.former:
        body["former_surnames"] = [
            {"kana": kana, **({"kanji": kanji} if kanji else {})} for kana, kanji in person.former
        ]
    reference = {"employer_name": person.employer, "address": person.address}
    if any(reference.values()) and n % 2 == 1:
        body["reference"] = {k: v for k, v in reference.items() if v}
    return body


def _broken(person: Person) -> Iterator[dict[str, Any]]:
    """Invalid checks that still carry the person's real data in their valid fields."""
    good = _variant(person, 1)
    impossible = f"昭和{person.born.year - 1925}年2月30日"
    yield {**good, "gender": "X"}
    yield {**good, "birth_date": impossible}
    yield {**good, "birth_date": f"{person.born.year + 200}-{person.born.month}-{person.born.day}"}
    yield {**good, "surname_kana": person.extra_secrets[0] if person.extra_secrets else "Yamada"}
    yield {**good, "given_name_kana": person.given[:1] + "\u0000" + person.given[1:]}
    yield {**good, "reference": {"address": (person.address or "住所") * 30}}
    yield {**good, "nickname": person.given + "ちゃん"}
    yield {**good, "former_surnames": [{"kana": person.surname}] * 6}
    yield {**good, "surname_kanji": person.surname + "abc"}
    yield {key: value for key, value in good.items() if key != "gender"}


def _form(person: Person, step: str) -> dict[str, str]:
    form = {
        "surname_kana": jaconv.kata2hira(person.surname),
        "given_name_kana": person.given,
        "surname_kanji": person.surname_kanji or "",
        "given_name_kanji": person.given_kanji or "",
        "birth_era": "西暦",
        "birth_year": str(person.born.year),
        "birth_month": str(person.born.month),
        "birth_day": str(person.born.day),
        "gender": person.gender,
        "step": step,
    }
    for row, (kana, kanji) in enumerate(person.former, start=1):
        form[f"former_kana_{row}"] = kana
        form[f"former_kanji_{row}"] = kanji or ""
    if step == "reference":
        form["employer_name"] = person.employer or ""
        form["address"] = person.address or ""
    return form


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Burst:
    logs: str
    metrics: str
    other_loggers: str
    tokens: list[str]
    statuses: list[int]


@pytest.fixture(scope="module")
def burst(crafted_alias: str) -> Iterator[Burst]:
    stream = io.StringIO()
    clock = Clock()
    tokens: list[str] = []
    statuses: list[int] = []
    metrics: list[str] = []
    handler_stream = io.StringIO()
    other = logging.StreamHandler(handler_stream)
    # httpx logs the URLs the *test client* requests; that is not the service's log.
    other.addFilter(lambda record: not record.name.startswith(("httpx", "httpcore")))
    other.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(other)
    root.setLevel(logging.INFO)
    try:
        app = create_app(security_settings(crafted_alias), clock=clock, log_stream=stream)
        with TestClient(app) as client:

            def post(body: object) -> dict[str, Any]:
                response = client.post("/v1/existence-checks", json=body)
                statuses.append(response.status_code)
                return dict(response.json())

            for person in PEOPLE:
                for n in range(6):
                    answer = post(_variant(person, n))
                    if answer.get("reference_token"):
                        tokens.append(answer["reference_token"])
                for body in _broken(person):
                    post(body)
                for step in ("check", "reference"):
                    statuses.append(client.post("/check", data=_form(person, step)).status_code)
                wrong_date = {**_form(person, "check"), "birth_month": "13"}
                statuses.append(client.post("/check", data=wrong_date).status_code)
            for person in PEOPLE[:3]:
                typed = urllib.parse.quote(person.surname + person.given, safe="")
                statuses.append(client.get(f"/v1/reference-tokens/{typed}").status_code)
                response = client.get(f"/v1/reference-tokens/{typed}", headers=staff_headers())
                statuses.append(response.status_code)
            never_issued = format_number(new_number())  # well-formed: "unknown", not "mistyped"
            response = client.get(f"/v1/reference-tokens/{never_issued}", headers=staff_headers())
            statuses.append(response.status_code)
            for token in tokens:
                for key in (STAFF_KEY, OTHER_STAFF_KEY, STAFF_KEY[:-1], "", OTHER_STAFF_KEY + "0"):
                    response = client.get(
                        f"/v1/reference-tokens/{token}", headers=staff_headers(key)
                    )
                    statuses.append(response.status_code)
                for key in (STAFF_KEY, "wrong-" + STAFF_KEY):
                    form = {"staff_key": key, "token": token}
                    statuses.append(client.post("/staff/resolve", data=form).status_code)
            clock.now += dt.timedelta(days=400)
            for token in tokens[:3]:
                response = client.get(f"/v1/reference-tokens/{token}", headers=staff_headers())
                statuses.append(response.status_code)
                statuses.append(
                    client.post(
                        "/staff/resolve", data={"staff_key": STAFF_KEY, "token": token}
                    ).status_code
                )
            metrics.append(client.get("/metrics").text)

        limited = create_app(
            security_settings(crafted_alias, rate_limit="2/minute"), clock=clock, log_stream=stream
        )
        with TestClient(limited) as client:
            for n in range(4):
                statuses.append(
                    client.post("/v1/existence-checks", json=_variant(PEOPLE[n], n)).status_code
                )
            statuses.append(client.post("/check", data=_form(PEOPLE[0], "check")).status_code)
            metrics.append(client.get("/metrics").text)

        down = security_settings(
            crafted_alias,
            opensearch_url=f"http://127.0.0.1:{_closed_port()}",
            opensearch_timeout_seconds=0.5,
        )
        with TestClient(create_app(down, clock=clock, log_stream=stream)) as client:
            for person in PEOPLE[:2]:
                statuses.append(
                    client.post("/v1/existence-checks", json=_variant(person, 0)).status_code
                )
                statuses.append(client.post("/check", data=_form(person, "check")).status_code)
            metrics.append(client.get("/metrics").text)
    finally:
        root.removeHandler(other)
        root.setLevel(old_level)
    yield Burst(stream.getvalue(), "\n".join(metrics), handler_stream.getvalue(), tokens, statuses)


def _all_secrets(burst: Burst) -> dict[str, str]:
    """Secret → what it is (for a readable failure)."""
    found: dict[str, str] = {}
    for person in PEOPLE:
        for text in secrets_of(person):
            found.setdefault(text, f"{person.surname} {person.given}")
    for token in burst.tokens:
        found[token] = "reference token"
        found[token[:24]] = "reference token prefix"
    for key in (STAFF_KEY, OTHER_STAFF_KEY, STAFF_KEY[:-1], "wrong-" + STAFF_KEY):
        found[key] = "staff key"
    for record_id, *_ in CRAFTED_RECORDS:
        found[record_id] = "record id"
    found["Yamada"] = "romaji name"
    found[CLIENT_HOST] = "client address"
    return found


def test_the_burst_went_through_every_path(burst: Burst) -> None:
    counts = {status: burst.statuses.count(status) for status in set(burst.statuses)}
    assert {200, 401, 404, 410, 422, 429, 503} <= set(counts), counts
    assert len(burst.tokens) >= 10, "found checks must have issued tokens"
    events = [json.loads(line) for line in burst.logs.splitlines()]
    outcomes = {(e["event"], e.get("outcome")) for e in events}
    for expected in [
        ("check.completed", "found"),
        ("check.completed", "not_found"),
        ("token.resolved", "ok"),
        ("token.resolved", "unknown"),
        ("token.resolved", "expired"),
        ("check.unavailable", None),
    ]:
        assert expected in outcomes, expected
    assert len(events) > 400


def test_log_lines_are_json_with_allowlisted_keys_only(burst: Burst) -> None:
    for line in burst.logs.splitlines():
        event = json.loads(line)
        assert set(event) <= LINE_KEYS, set(event) - LINE_KEYS
        assert all(not isinstance(value, dict | list) for key, value in event.items()
                   if key != "exc_frames")  # fmt: skip


def test_logs_and_metrics_are_pure_ascii(burst: Burst) -> None:
    for name, text in (("logs", burst.logs), ("metrics", burst.metrics)):
        odd = sorted({char for char in text if not char.isascii()})
        assert not odd, f"{name} contain non-ASCII text: {''.join(odd)[:40]}"


RANDOM_FIELDS = frozenset({"request_id", "token_id", "staff_key_id", "client_hash"})
MIN_CHARS_IN_RANDOM = 8
"""Random ids and numbers contain any 3-character string (record id N-1) now and then; an
8-character one about once in 10¹⁴ tries, so only those are looked for there."""


def _split_opaque(where: str, text: str) -> tuple[str, str]:
    """(text to scan for every secret, random ids and numbers to scan for long ones only)."""
    scanned: list[str] = []
    opaque: list[str] = []
    for line in text.splitlines():
        if where == "logs":
            event = json.loads(line)
            randoms = {k: event.pop(k) for k in [*RANDOM_FIELDS, "ts", "duration_ms"] if k in event}
            scanned.append(json.dumps(event, ensure_ascii=False))
            opaque.append(json.dumps(randoms))
        elif where == "metrics" and not line.startswith("#") and " " in line:
            series, value = line.rsplit(" ", 1)  # a sample: name{labels} value
            scanned.append(series)
            opaque.append(value)
        else:
            scanned.append(line)
    return "\n".join(scanned), "\n".join(opaque)


def _leaks(burst: Burst, where: str) -> dict[str, str]:
    """Each secret found in ``burst.<where>`` → what it is."""
    scanned, opaque = _split_opaque(where, getattr(burst, where))
    return {
        secret: what
        for secret, what in _all_secrets(burst).items()
        if (len(secret) >= 2 and secret in scanned)
        or (len(secret) >= MIN_CHARS_IN_RANDOM and secret in opaque)
    }


@pytest.mark.parametrize("where", ["logs", "metrics", "other_loggers"])
def test_no_submitted_value_in_logs_or_metrics(burst: Burst, where: str) -> None:
    assert len(_all_secrets(burst)) > 300, "the scan list must cover every spelling"
    leaked = _leaks(burst, where)
    assert not leaked, sorted(f"{what}: {secret!r}" for secret, what in leaked.items())


def test_the_scan_would_see_a_leak(burst: Burst) -> None:
    """Not vacuous: every spelling of a name is in the list, and an echo would be caught."""
    secrets = _all_secrets(burst)
    for spelling in ("ヤマダ", "やまだ", "ﾔﾏﾀﾞ", "キヨウコ", "やまだ　きょうこ", "ﾔﾏﾀﾞｷｮｳｺ"):
        assert spelling in secrets, spelling
    dates = ["1938-05-03", "19380503", "昭和13年5月3日", "S13.5.3", "5-130503", "5130503"]
    for spelling in [*dates, "1938-05-03".translate(FULL_WIDTH), "昭和１３年５月３日"]:
        assert spelling in secrets, spelling
    assert "高橋" in secrets and "髙橋" in secrets
    assert burst.tokens[0] in secrets and STAFF_KEY in secrets


def _log_line(**fields: str) -> str:
    line = {"ts": "2026-11-27T12:00:00.000+00:00", "level": "info", "logger": "mochinushi"}
    return json.dumps({**line, **fields}, ensure_ascii=False)


def test_the_scan_catches_planted_leaks(burst: Burst) -> None:
    """Leaks planted in each stream, in the spellings and places a real leak could take, are
    all reported; the burst as recorded has none (``test_no_submitted_value_…``)."""
    token = burst.tokens[0]
    leaky = dataclasses.replace(
        burst,
        logs="\n".join(
            [
                burst.logs.rstrip("\n"),
                _log_line(event="check.completed", outcome="ﾔﾏﾀﾞｷｮｳｺ"),  # half-width, unspaced
                _log_line(event="http.request", route="/v1/reference-tokens/" + token),
                _log_line(event="http.request", request_id=STAFF_KEY),  # in a random-id field
            ]
        ),
        metrics=burst.metrics + '\nmochinushi_checks_total{outcome="S13.5.3"} 1.0',
        other_loggers=burst.other_loggers + "\nuvicorn INFO 山田 京子 埼玉県浦和市\n",
    )
    assert {"ﾔﾏﾀﾞｷｮｳｺ", token, STAFF_KEY} <= set(_leaks(leaky, "logs"))
    assert "S13.5.3" in _leaks(leaky, "metrics")
    assert {"山田", "京子", "埼玉県浦和市"} <= set(_leaks(leaky, "other_loggers"))
    for where in ("logs", "metrics", "other_loggers"):
        assert not _leaks(burst, where), where
