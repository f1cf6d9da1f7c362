"""The web pages on the real app (``create_app``): one code path with the JSON API.

Most need no OpenSearch:
they point the app at a closed port, which is exactly the "backend down" case. The last one runs
the whole flow in Chromium against the real node and an indexed alias.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect

from mochinushi.settings import Settings
from search_api.app import create_app
from search_api.routers.web import STAFF_MESSAGES
from search_api.tokens import TokenKeyRing, issue_token
from search_api.web.pages import BUSY_MESSAGE
from tests.conftest import TEST_OPENSEARCH_URL
from tests.web.conftest import Shots
from tests.web.support import FOUND_FORM, STAFF_KEY, free_port, serve
from tests.web.test_web_browser import FOUND_HEADING, NOT_FOUND_HEADING, fill_check_form

TOKEN_SECRET = "web-tests-token-secret-0123456789"
PERSONAL = ("やまだ", "ヤマダ", "きょうこ", "キョウコ", "山田", "京子", "1938", "昭和13")

# The person the ``indexed_alias`` fixture (tests/conftest.py) holds a record for: record R-SMALL,
# keyed ヤマダ キヨウコ, born 昭和13年5月3日, female.
CONTRACT_PERSON = {
    "surname_kana": "やまだ",
    "given_name_kana": "きょうこ",
    "surname_kanji": "山田",
    "given_name_kanji": "京子",
    "birth_era": "昭和",
    "birth_year": "13",
    "birth_month": "5",
    "birth_day": "3",
    "gender": "F",
}
NOBODY = {
    **CONTRACT_PERSON,
    "surname_kana": "ぬのびき",
    "given_name_kana": "ぺぽこ",
    "surname_kanji": "",
    "given_name_kanji": "",
    "birth_year": "2",
    "birth_month": "2",
    "birth_day": "28",
}


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "opensearch_url": f"http://127.0.0.1:{free_port()}",  # nothing listens: backend down
        "opensearch_timeout_seconds": 0.5,
        "staff_api_keys": STAFF_KEY,
        "token_secret": TOKEN_SECRET,
        "rate_limit": "off",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def wired(app: FastAPI) -> FastAPI:
    """The real app serves the web page's routes (a regression fails here, never skips)."""
    assert app.url_path_for("check_submit") == "/check"
    assert app.url_path_for("staff_resolve") == "/staff/resolve"
    return app


@pytest.fixture()
def log_stream() -> io.StringIO:
    return io.StringIO()


@pytest.fixture()
def down_client(log_stream: io.StringIO) -> Iterator[TestClient]:
    with TestClient(wired(create_app(settings(), log_stream=log_stream))) as client:
        yield client


def test_a_web_check_with_the_cluster_down_is_busy_never_no(
    down_client: TestClient, log_stream: io.StringIO
) -> None:
    response = down_client.post("/check", data=FOUND_FORM, follow_redirects=False)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.headers["cache-control"] == "no-store"
    assert BUSY_MESSAGE in response.text
    assert "見つかりませんでした" not in response.text
    metrics = down_client.get("/metrics").text
    assert 'mochinushi_checks_total{outcome="unavailable"} 1.0' in metrics
    assert re.search(r'route="/check"[^\n]*\} [1-9]', metrics), "the web route has its own label"
    logs = log_stream.getvalue()
    assert '"event": "check.unavailable"' in logs
    assert not any(value in logs for value in PERSONAL)


def test_an_invalid_web_check_counts_as_invalid(down_client: TestClient) -> None:
    response = down_client.post("/check", data={"step": "check"})
    assert response.status_code == 422
    assert 'mochinushi_checks_total{outcome="invalid"} 1.0' in down_client.get("/metrics").text


def test_the_web_form_and_the_api_share_one_rate_limit_budget() -> None:
    app = wired(create_app(settings(rate_limit="2/minute"), log_stream=io.StringIO()))
    with TestClient(app) as client:
        body = {
            "surname_kana": "やまだ",
            "given_name_kana": "きょうこ",
            "birth_date": "昭和13年5月3日",
            "gender": "F",
        }
        for _ in range(2):
            assert client.post("/v1/existence-checks", json=body).status_code == 503
        response = client.post("/check", data=FOUND_FORM)
        assert response.status_code == 429
        assert BUSY_MESSAGE in response.text


def test_the_staff_page_resolves_exactly_as_the_api_does(
    down_client: TestClient, log_stream: io.StringIO
) -> None:
    check = {
        "surname_kana": "やまだ",
        "given_name_kana": "きょうこ",
        "birth_date": "昭和13年5月3日",
        "gender": "F",
    }
    token, _ = issue_token(TokenKeyRing(TOKEN_SECRET), ["R1", "R2"], check, dt.datetime.now(dt.UTC))
    api = down_client.get(
        f"/v1/reference-tokens/{token}", headers={"Authorization": f"Bearer {STAFF_KEY}"}
    )
    assert api.status_code == 200 and api.json()["record_ids"] == ["R1", "R2"]
    page = down_client.post("/staff/resolve", data={"staff_key": STAFF_KEY, "token": token})
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert re.findall(r'<td class="record-id">([^<]*)</td>', page.text) == ["R1", "R2"]
    wrong = down_client.post("/staff/resolve", data={"staff_key": "nope", "token": token})
    assert wrong.status_code == 401
    unknown = down_client.post("/staff/resolve", data={"staff_key": STAFF_KEY, "token": "AAAA"})
    assert unknown.status_code == 404
    metrics = down_client.get("/metrics").text
    assert 'mochinushi_token_resolutions_total{result="ok"} 2.0' in metrics
    assert 'mochinushi_token_resolutions_total{result="unauthorized"} 1.0' in metrics
    logs = log_stream.getvalue()
    assert logs.count('"event": "token.resolved"') == 3  # audit-logged like the API
    assert STAFF_KEY not in logs and token not in logs
    assert not any(value in logs for value in PERSONAL)


class FutureClock:
    """The app's clock, ``days`` ahead of the real one: tokens issued now have expired."""

    def __init__(self, days: int) -> None:
        self.ahead = dt.timedelta(days=days)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.ahead


def test_the_staff_page_says_an_expired_token_is_gone(log_stream: io.StringIO) -> None:
    """410 through the real app: the page explains the expiry, exactly as the API says 410."""
    ttl_days = 90
    check = {
        "surname_kana": "やまだ",
        "given_name_kana": "きょうこ",
        "birth_date": "昭和13年5月3日",
        "gender": "F",
    }
    token, _ = issue_token(TokenKeyRing(TOKEN_SECRET), ["R1"], check, dt.datetime.now(dt.UTC))
    later = create_app(
        settings(token_ttl_days=ttl_days), clock=FutureClock(ttl_days + 1), log_stream=log_stream
    )
    with TestClient(wired(later)) as client:
        api = client.get(
            f"/v1/reference-tokens/{token}", headers={"Authorization": f"Bearer {STAFF_KEY}"}
        )
        assert api.status_code == 410
        page = client.post("/staff/resolve", data={"staff_key": STAFF_KEY, "token": token})
        assert page.status_code == 410
        assert page.headers["cache-control"] == "no-store"
        assert STAFF_MESSAGES[410][1] in page.text
        assert 'class="record-id"' not in page.text, "no record of an expired token is shown"
        metrics = client.get("/metrics").text
        assert 'mochinushi_token_resolutions_total{result="expired"} 2.0' in metrics
    assert token not in log_stream.getvalue() and STAFF_KEY not in log_stream.getvalue()


@pytest.mark.browser
def test_busy_in_the_browser_with_the_real_app(browser: Browser, shots: Shots) -> None:
    app = wired(create_app(settings(), log_stream=io.StringIO()))
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    try:
        with serve(app) as base_url:
            page.goto(base_url + "/")
            fill_check_form(page, FOUND_FORM)
            page.get_by_role("button", name="記録があるか調べる").click()
            expect(page.get_by_role("alert")).to_have_text(BUSY_MESSAGE)
            expect(page.locator("#f-surname_kana")).to_have_value("やまだ")
            shots.take(page, "20-real-app-backend-down")
    finally:
        context.close()


@pytest.mark.opensearch
@pytest.mark.browser
def test_real_backend_flow(indexed_alias: str, browser: Browser, shots: Shots) -> None:
    """Found, printed, resolved by staff; and not found — on the real node.

    ``indexed_alias`` holds a record for ``CONTRACT_PERSON`` and none for ``NOBODY``; a missing
    fixture or route is an error here, never a skip.
    """
    app = wired(
        create_app(
            settings(
                opensearch_url=TEST_OPENSEARCH_URL,
                alias=indexed_alias,
                opensearch_timeout_seconds=5.0,
            ),
            log_stream=io.StringIO(),
        )
    )
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    try:
        with serve(app) as base_url:
            page.goto(base_url + "/")
            fill_check_form(page, CONTRACT_PERSON)
            page.get_by_role("button", name="記録があるか調べる").click()
            expect(page.locator("h1")).to_have_text(FOUND_HEADING)
            page.fill("#f-employer_name", "山田商店")
            page.get_by_role("button", name="印刷用の結果を表示する").click()
            token = "".join(page.locator("p.token").inner_text().split())
            page.emulate_media(media="print")
            shots.take(page, "21-real-backend-print")
            page.emulate_media(media="screen")
            page.goto(base_url + "/staff")
            page.fill("#f-staff_key", STAFF_KEY)
            page.fill("#f-token", token)
            page.press("#f-token", "Enter")
            expect(page.locator("td.record-id").first).to_be_visible()
            shots.take(page, "22-real-backend-staff")

            page.goto(base_url + "/")
            fill_check_form(page, NOBODY)
            page.get_by_role("button", name="記録があるか調べる").click()
            expect(page.locator("h1")).to_have_text(NOT_FOUND_HEADING)
    finally:
        context.close()
