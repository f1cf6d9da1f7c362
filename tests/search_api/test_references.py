"""Reference numbers (contract v1.1): the number itself, its store on the real node, and the
API's issue / resolve / expiry / cleanup, mistyped told apart from unknown."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import io
import json
import math
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from opensearchpy import AsyncOpenSearch, OpenSearch
from typer.testing import CliRunner

from mochinushi.cli import app as cli_app
from mochinushi.settings import Settings
from search_api.app import create_app
from search_api.references import (
    ALPHABET,
    LENGTH,
    RANDOM_CHARS,
    NumberCollision,
    NumberMistyped,
    ReferenceStore,
    check_character,
    format_number,
    lookup_ids,
    new_number,
    parse_number,
)
from search_api.tokens import TokenKeyRing, issue_token
from tests.conftest import TEST_OPENSEARCH_URL


def invoke_off_loop(runner: CliRunner, *args: Any, **kwargs: Any) -> Any:
    """The CLI runs asyncio.run itself: invoke it where no event loop is running."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(runner.invoke, *args, **kwargs).result()


def run_async(coroutine: Any) -> Any:
    """Run ``coroutine`` on a loop of its own in a worker thread: the browser tests' sync
    Playwright keeps an event loop running in the main thread, where asyncio.run refuses."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


STAFF_KEY = "staff-key-for-tests-0123456789"
OTHER_STAFF_KEY = "other-staff-key-for-tests-98765"
SECRET = "k2:second-secret-for-tests-0001,k1:first-secret-for-tests-00001"
FOUND = {
    "surname_kana": "やまだ",
    "given_name_kana": "キョウコ",
    "birth_date": "昭和13年5月3日",
    "gender": "F",
    "reference": {"address": "埼玉県浦和市"},
}
NOT_FOUND = {
    "surname_kana": "ワタナベ",
    "given_name_kana": "ススム",
    "birth_date": "1950-10-10",
    "gender": "M",
}
PERSONAL = ("やまだ", "キョウコ", "昭和13年5月3日", "埼玉県浦和市", "ワタナベ", "1950-10-10")
NUMBER_PATTERN = r"([2-9A-HJKMNP-Z]{3}-){5}[2-9A-HJKMNP-Z]{3}"


# --- the number -------------------------------------------------------------------------------


def test_the_alphabet_has_no_look_alikes_and_the_number_fits_24_characters() -> None:
    assert len(ALPHABET) == 31 and len(set(ALPHABET)) == 31
    assert not set("0O1IL") & set(ALPHABET)
    printed = format_number(new_number())
    assert len(printed) <= 24
    assert printed.count("-") == 5 and all(len(g) == 3 for g in printed.split("-"))
    assert RANDOM_CHARS * math.log2(len(ALPHABET)) >= 80  # random bits, the check aside


def test_every_single_wrong_character_and_every_swap_is_caught() -> None:
    for _ in range(20):
        number = new_number()
        assert parse_number(number) == number
        for position in range(LENGTH):
            for other in ALPHABET:
                if other == number[position]:
                    continue
                wrong = number[:position] + other + number[position + 1 :]
                with pytest.raises(NumberMistyped):
                    parse_number(wrong)
        for i in range(LENGTH):
            for j in range(i + 1, LENGTH):
                if number[i] == number[j]:
                    continue
                swapped = list(number)
                swapped[i], swapped[j] = swapped[j], swapped[i]
                with pytest.raises(NumberMistyped):
                    parse_number("".join(swapped))


@given(st.text(alphabet=ALPHABET, min_size=RANDOM_CHARS, max_size=RANDOM_CHARS))
def test_the_check_character_completes_any_body(body: str) -> None:
    assert parse_number(body + check_character(body)) == body + check_character(body)


def test_typed_pasted_or_scanned_spellings_all_read_as_the_number() -> None:
    number = new_number()
    printed = format_number(number)
    full_width = unicodedata.normalize("NFKC", printed)  # no-op, then make it wide:
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in full_width)
    for typed in (
        printed,
        number,
        printed.lower(),
        printed.replace("-", " "),
        " " + printed.replace("-", "  ") + "\n",
        printed.replace("-", "ー"),  # a long-vowel mark from a Japanese IME
        wide,  # full-width letters and digits
        printed.replace("-", "－"),
        "-".join(number[i : i + 4] for i in range(0, LENGTH, 4)),  # other grouping
    ):
        assert parse_number(typed) == number, typed


@pytest.mark.parametrize("bad", ["", "ABC", "A" * 40, "forged-token", "ABC-DEF-GHJ-KMN-PQR-ST"])
def test_malformed_input_is_mistyped(bad: str) -> None:
    with pytest.raises(NumberMistyped):
        parse_number(bad)


def test_a_look_alike_is_mistyped_with_its_own_hint() -> None:
    number = new_number()
    for look_alike in "0O1IL":
        with pytest.raises(NumberMistyped) as caught:
            parse_number(look_alike + number[1:])
        assert caught.value.excluded_character


def test_each_key_of_the_ring_stores_under_its_own_keyed_hash() -> None:
    number = new_number()
    ring = TokenKeyRing(SECRET)
    ids = lookup_ids(ring, number)
    assert len(ids) == 2 and ids[0].startswith("k2.") and ids[1].startswith("k1.")
    assert all(number not in i and number.lower() not in i for i in ids)
    assert lookup_ids(TokenKeyRing("k2:another-secret-entirely-000"), number)[0] != ids[0]


# --- the store, on the real node -------------------------------------------------------------


@pytest.fixture()
def reference_index(os_client: OpenSearch, unique_name: str) -> Iterator[str]:
    name = f"{unique_name}-refs"
    yield name
    os_client.indices.delete(index=name, ignore_unavailable=True)
    if os_client.indices.exists_index_template(name=name):
        os_client.indices.delete_index_template(name=name)


def _run(coroutine: Any) -> Any:
    return run_async(coroutine)


async def _with_store(index: str, action: Any, **options: Any) -> Any:
    client = AsyncOpenSearch(hosts=[TEST_OPENSEARCH_URL], timeout=30)
    try:
        return await action(ReferenceStore(client, index, timeout=10, **options))
    finally:
        await client.close()


@pytest.mark.opensearch
def test_the_store_keeps_only_a_sealed_blob_under_a_keyed_hash(
    os_client: OpenSearch, reference_index: str
) -> None:
    ring = TokenKeyRing(SECRET)
    now = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    sealed, payload = issue_token(ring, ["R1"], FOUND, now)
    number = new_number()

    async def put_and_get(store: ReferenceStore) -> str | None:
        await store.put(ring, number, sealed, payload.expires_at)
        with pytest.raises(NumberCollision):
            await store.put(ring, number, sealed, payload.expires_at)
        found: str | None = await store.get(ring, number)
        assert await store.get(ring, new_number()) is None
        return found

    assert _run(_with_store(reference_index, put_and_get)) == sealed
    mapping = os_client.indices.get_mapping(index=reference_index)[reference_index]["mappings"]
    assert mapping["dynamic"] == "strict"
    assert set(mapping["properties"]) == {"sealed", "expires_at", "resolved"}
    os_client.indices.refresh(index=reference_index)
    raw = json.dumps(os_client.search(index=reference_index)["hits"], ensure_ascii=False)
    for value in (number, number.lower(), format_number(number), "R1", *PERSONAL):
        assert value not in raw
    with pytest.raises(Exception, match="strict_dynamic_mapping_exception"):
        os_client.index(index=reference_index, body={"number": number, "sealed": "x"})


@pytest.mark.opensearch
def test_an_index_deleted_behind_the_apis_back_comes_back_strict(
    os_client: OpenSearch, reference_index: str
) -> None:
    ring = TokenKeyRing(SECRET)
    sealed, payload = issue_token(ring, ["R1"], FOUND, dt.datetime.now(dt.UTC))

    async def twice(store: ReferenceStore) -> None:
        await store.put(ring, new_number(), sealed, payload.expires_at)
        os_client.indices.delete(index=reference_index)  # the template stays
        await store.put(ring, new_number(), sealed, payload.expires_at)  # auto-created

    _run(_with_store(reference_index, twice))
    mapping = os_client.indices.get_mapping(index=reference_index)[reference_index]["mappings"]
    assert mapping["dynamic"] == "strict"


@pytest.mark.opensearch
def test_cleanup_deletes_only_entries_expired_past_the_grace(
    os_client: OpenSearch, reference_index: str
) -> None:
    ring = TokenKeyRing(SECRET)
    now = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    numbers = {}
    for label, age_days in (("fresh", 0), ("just_expired", 95), ("long_expired", 200)):
        issued = now - dt.timedelta(days=age_days)
        sealed, payload = issue_token(ring, ["R1"], FOUND, issued, dt.timedelta(days=90))
        numbers[label] = (new_number(), sealed, payload.expires_at)

    async def act(store: ReferenceStore) -> tuple[int, dict[str, bool]]:
        for number, sealed, expires in numbers.values():
            await store.put(ring, number, sealed, expires)
        deleted = await store.cleanup(now)
        left = {label: await store.get(ring, n) is not None for label, (n, _, _) in numbers.items()}
        return deleted, left

    deleted, left = _run(_with_store(reference_index, act, grace=dt.timedelta(days=30)))
    assert deleted == 1
    assert left == {"fresh": True, "just_expired": True, "long_expired": False}
    assert _run(_with_store(f"{reference_index}-never-made", lambda s: s.cleanup(now))) == 0


# --- through the API, on the real node -------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def _settings(alias: str, reference_index: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "opensearch_url": TEST_OPENSEARCH_URL,
        "alias": alias,
        "reference_index": reference_index,
        "staff_api_keys": f"{STAFF_KEY},{OTHER_STAFF_KEY}",
        "token_secret": SECRET,
        "rate_limit": "off",
        "staff_rate_limit": "off",
        "dev_mode": False,
        "opensearch_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


def _staff(key: str = STAFF_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def logs() -> io.StringIO:
    return io.StringIO()


@pytest.fixture()
def api(
    crafted_alias: str, reference_index: str, clock: Clock, logs: io.StringIO
) -> Iterator[TestClient]:
    app = create_app(_settings(crafted_alias, reference_index), clock=clock, log_stream=logs)
    with TestClient(app) as client:
        yield client


def _issue(client: TestClient) -> str:
    response = client.post("/v1/existence-checks", json=FOUND)
    assert response.status_code == 200, response.text
    assert response.json()["found"] is True
    number = response.json()["reference_token"]
    assert isinstance(number, str)
    return number


@pytest.mark.opensearch
def test_a_found_check_hands_out_a_number_that_any_replica_resolves(
    crafted_alias: str, reference_index: str, clock: Clock, logs: io.StringIO
) -> None:
    settings = _settings(crafted_alias, reference_index)
    with (
        TestClient(create_app(settings, clock=clock, log_stream=logs)) as issuer,
        TestClient(create_app(settings, clock=clock, log_stream=logs)) as other,
    ):
        number = _issue(issuer)
        assert re.fullmatch(NUMBER_PATTERN, number)
        for typed in (number, number.lower(), number.replace("-", ""), number.replace("-", " ")):
            response = other.get(f"/v1/reference-tokens/{typed}", headers=_staff())
            assert response.status_code == 200, typed
            body = response.json()
            assert set(body) == {"record_ids", "issued_at", "expires_at", "check"}
            assert body["record_ids"][0] == "R-SMALL"  # best first
            assert body["check"]["reference"]["address"] == "埼玉県浦和市"
            assert body["issued_at"] == "2026-11-27T12:00:00+00:00"
            assert body["expires_at"] == "2027-02-25T12:00:00+00:00"
        not_found = issuer.post("/v1/existence-checks", json=NOT_FOUND)
        assert not_found.json() == {"found": False, "reference_token": None}
        assert len(not_found.content) == len(
            issuer.post("/v1/existence-checks", json=FOUND).content
        )
    written = logs.getvalue()
    assert number not in written and number.replace("-", "") not in written
    assert not any(value in written for value in PERSONAL)


@pytest.mark.opensearch
def test_mistyped_is_told_apart_from_unknown(api: TestClient) -> None:
    number = _issue(api)
    last = number[-1]
    mistyped = number[:-1] + ("2" if last != "2" else "3")
    response = api.get(f"/v1/reference-tokens/{mistyped}", headers=_staff())
    assert response.status_code == 404
    assert response.json()["error"] == "mistyped"
    look_alike = api.get(f"/v1/reference-tokens/O{number[1:]}", headers=_staff())
    assert look_alike.status_code == 404 and look_alike.json()["error"] == "mistyped"
    assert "0, O, 1, I or L" in look_alike.json()["message"]
    never_issued = format_number(new_number())
    unknown = api.get(f"/v1/reference-tokens/{never_issued}", headers=_staff())
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "unknown_token", "message": "No such reference token."}
    metrics = api.get("/metrics").text
    assert 'mochinushi_token_resolutions_total{result="mistyped"} 2.0' in metrics
    assert 'mochinushi_token_resolutions_total{result="unknown"} 1.0' in metrics


@pytest.mark.opensearch
def test_expired_is_410_until_the_cleanup_then_unknown(
    api: TestClient, clock: Clock, crafted_alias: str, reference_index: str
) -> None:
    number = _issue(api)
    assert api.get(f"/v1/reference-tokens/{number}").status_code == 401
    clock.now += dt.timedelta(days=90)
    expired = api.get(f"/v1/reference-tokens/{number}", headers=_staff())
    assert expired.status_code == 410 and expired.json()["error"] == "expired"
    # The cleanup command (real wall clock: this entry expired in 2027 is kept) ...
    runner = CliRunner()
    env = {
        "MOCHINUSHI_OPENSEARCH_URL": TEST_OPENSEARCH_URL,
        "MOCHINUSHI_REFERENCE_INDEX": reference_index,
    }
    result = invoke_off_loop(runner, cli_app, ["references", "cleanup"], env=env)
    assert result.exit_code == 0, result.output
    assert "deleted 0 expired reference entries" in result.output
    # ... and past the grace, with the app's clock, as the API runs it opportunistically.
    clock.now += dt.timedelta(days=31)
    grace = dt.timedelta(days=30)  # the settings' default
    assert _run(_with_store(reference_index, lambda s: s.cleanup(clock.now), grace=grace)) == 1
    gone = api.get(f"/v1/reference-tokens/{number}", headers=_staff())
    assert gone.status_code == 404 and gone.json()["error"] == "unknown_token"


@pytest.mark.opensearch
def test_issuing_cleans_up_opportunistically(
    crafted_alias: str, reference_index: str, clock: Clock
) -> None:
    settings = _settings(crafted_alias, reference_index)
    with TestClient(create_app(settings, clock=clock, log_stream=io.StringIO())) as first:
        number = _issue(first)
    clock.now += dt.timedelta(days=90 + 31)
    with TestClient(create_app(settings, clock=clock, log_stream=io.StringIO())) as later:
        _issue(later)  # a fresh process: its first issue starts a cleanup
        deadline = dt.datetime.now() + dt.timedelta(seconds=20)
        status = 0
        while dt.datetime.now() < deadline:
            response = later.get(f"/v1/reference-tokens/{number}", headers=_staff())
            status = response.status_code
            if status == 404:
                break
        assert status == 404 and response.json()["error"] == "unknown_token"


@pytest.mark.opensearch
@pytest.mark.faults
def test_a_found_check_whose_number_cannot_be_stored_is_503_never_found(
    os_client: OpenSearch, api: TestClient, reference_index: str
) -> None:
    number = _issue(api)  # the index exists and works
    os_client.indices.close(index=reference_index)
    try:
        response = api.post("/v1/existence-checks", json=FOUND)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.json()["error"] == "search_unavailable"
        assert "found" not in response.json()
        resolve = api.get(f"/v1/reference-tokens/{number}", headers=_staff())
        assert resolve.status_code == 503  # not "unknown": the index did not answer
        page = api.post("/staff/resolve", data={"staff_key": STAFF_KEY, "token": number})
        assert page.status_code == 503 and "照会番号が無効という意味ではありません" in page.text
        metrics = api.get("/metrics").text
        assert 'mochinushi_checks_total{outcome="unavailable"} 1.0' in metrics
        web = api.post("/check", data=_form(step="reference"))
        assert web.status_code == 503 and "記録が無いという意味ではありません" in web.text
        assert 'class="token"' not in web.text
    finally:
        os_client.indices.open(index=reference_index)


def _form(step: str) -> dict[str, str]:
    return {
        "step": step,
        "surname_kana": "やまだ",
        "given_name_kana": "きょうこ",
        "birth_era": "昭和",
        "birth_year": "13",
        "birth_month": "5",
        "birth_day": "3",
        "gender": "F",
    }


@pytest.mark.opensearch
def test_staff_resolutions_are_limited_per_staff_key(
    crafted_alias: str, reference_index: str, clock: Clock
) -> None:
    settings = _settings(crafted_alias, reference_index, staff_rate_limit="3/minute")
    with TestClient(create_app(settings, clock=clock, log_stream=io.StringIO())) as client:
        number = _issue(client)
        statuses = [
            client.get(f"/v1/reference-tokens/{number}", headers=_staff()).status_code
            for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        limited = client.get(f"/v1/reference-tokens/{number}", headers=_staff())
        assert limited.json()["error"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        # mistyped attempts count too: guessing is what the limit is for
        other = [
            client.get("/v1/reference-tokens/AAA-AAA", headers=_staff(OTHER_STAFF_KEY)).status_code
            for _ in range(4)
        ]
        assert other == [404, 404, 404, 429]
        page = client.post("/staff/resolve", data={"staff_key": STAFF_KEY, "token": number})
        assert page.status_code == 429 and "多すぎます" in page.text
