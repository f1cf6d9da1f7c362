"""Counter mode (/counter) on the real app and the real node: staff sign in with their office's
partner key, check for the person in front of them, print the slip at once, and "次の方" leaves
nothing of that person — not on the server, not behind the back button."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opensearchpy import OpenSearch
from playwright.sync_api import Browser, Page, expect

from mochinushi.settings import Settings
from search_api.app import create_app
from tests.conftest import TEST_OPENSEARCH_URL
from tests.web.conftest import Shots
from tests.web.support import serve
from tests.web.test_web_browser import fill_check_form

pytestmark = pytest.mark.opensearch

OFFICE_KEY = "city-01-counter-key-for-tests-01"
PERSON = {  # in katakana, unlike the form's hints (例：やまだ): a leak cannot hide behind them
    "surname_kana": "ヤマダ",
    "given_name_kana": "キョウコ",
    "birth_era": "昭和",
    "birth_year": "13",
    "birth_month": "5",
    "birth_day": "3",
    "gender": "F",
}
NOBODY = {**PERSON, "surname_kana": "ヌノビキ", "given_name_kana": "ペポコ"}
EMPLOYER = "丸山製糸"
PERSONAL = ("ヤマダ", "キョウコ", EMPLOYER, "ヌノビキ", "ペポコ")


@pytest.fixture()
def indices(os_client: OpenSearch, unique_name: str) -> Iterator[dict[str, str]]:
    names = {"reference_index": f"{unique_name}-refs", "report_index": f"{unique_name}-campaign"}
    yield names
    for name in names.values():
        os_client.indices.delete(index=name, ignore_unavailable=True)
        if os_client.indices.exists_index_template(name=name):
            os_client.indices.delete_index_template(name=name)


def counter_settings(alias: str, indices: dict[str, str], **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "opensearch_url": TEST_OPENSEARCH_URL,
        "alias": alias,
        **indices,
        "partner_keys": f"city-01:municipal:{OFFICE_KEY}",
        "staff_api_keys": "staff-key-for-counter-tests-01",
        "token_secret": "k1:counter-tests-token-secret-0001",
        "rate_limit": "off",
        "partner_rate_limit": "off",
        "dev_mode": False,
        "opensearch_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


def assert_nothing_personal(page: Page, number: str) -> None:
    body = page.content()
    for value in (*PERSONAL, number, number.replace("-", "")):
        assert value not in body, value
    for field in ("surname_kana", "given_name_kana", "surname_kanji", "employer_name"):
        if page.locator(f"#f-{field}").count():
            expect(page.locator(f"#f-{field}")).to_have_value("")


@pytest.mark.browser
def test_a_counter_visit_then_next_leaves_nothing_behind_the_back_button(
    browser: Browser, crafted_alias: str, indices: dict[str, str], shots: Shots
) -> None:
    app = create_app(counter_settings(crafted_alias, indices), log_stream=io.StringIO())
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    try:
        with serve(app) as base_url:
            first = page.goto(base_url + "/counter")
            assert first is not None and first.headers["cache-control"] == "no-store"
            expect(page.locator("h1")).to_have_text("窓口モード：サインイン")
            cookie = next(c for c in context.cookies() if c["name"] == "mochinushi_counter")
            assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
            assert cookie["path"] == "/counter"

            page.fill("#f-office_key", "not-the-key-of-any-office")
            page.get_by_role("button", name="サインインする").click()
            expect(page.locator("#f-office_key-error")).to_contain_text("正しくありません")
            page.fill("#f-office_key", OFFICE_KEY)
            page.get_by_role("button", name="サインインする").click()
            expect(page.locator(".counter-office")).to_have_text("窓口：市区町村 city-01")
            signed_in = next(c for c in context.cookies() if c["name"] == "mochinushi_counter")
            assert signed_in["value"] != cookie["value"], "a new session id at sign-in"

            form = page.locator("form.check-form")
            expect(form).to_have_attribute("autocomplete", "off")
            for field in ("surname_kana", "given_name_kana", "surname_kanji", "given_name_kanji",
                          "former_kana_1", "birth_year", "birth_month", "birth_day",
                          "employer_name", "address"):  # fmt: skip
                expect(page.locator(f"#f-{field}")).to_have_attribute("autocomplete", "off")
            fill_check_form(page, PERSON)
            page.fill("#f-employer_name", EMPLOYER)
            shots.take(page, "30-counter-form")
            page.get_by_role("button", name="調べる", exact=True).click()

            expect(page.locator("#answer-title")).to_have_text(
                "ご入力の条件に一致する記録がありました"
            )
            assert page.url == base_url + "/counter/result"
            number = "".join(page.locator("p.token").inner_text().split())
            assert re.fullmatch(r"([2-9A-HJKMNP-Z]{3}-){5}[2-9A-HJKMNP-Z]{3}", number)
            expect(page.locator("figure.qr svg")).to_be_visible()
            expect(page.get_by_role("button", name="この紙を印刷する")).to_be_visible()
            expect(page.locator("table.summary")).to_contain_text(EMPLOYER)
            shots.take(page, "31-counter-slip")
            page.emulate_media(media="print")
            expect(page.locator(".counter-bar")).to_be_hidden()
            page.emulate_media(media="screen")

            page.get_by_role("button", name="次の方").click()
            expect(page.locator("h1")).to_have_text("窓口：記録があるか調べる")
            assert page.url == base_url + "/counter"
            assert_nothing_personal(page, number)
            shots.take(page, "32-counter-next")

            # The back button: the slip's page, then the filled form's, are fetched again
            # (no-store) and the server has nothing of that person any more.
            page.go_back()
            expect(page.locator("h1")).to_have_text("窓口：記録があるか調べる")
            assert_nothing_personal(page, number)
            page.go_back()
            expect(page.locator("h1")).to_contain_text("窓口")
            assert_nothing_personal(page, number)
            shots.take(page, "33-counter-back-after-next")
            page.go_forward()
            page.go_forward()
            assert_nothing_personal(page, number)

            # the office's check counts under its channel; a not-found visit reads as such
            page.goto(base_url + "/counter")
            fill_check_form(page, NOBODY)
            page.get_by_role("button", name="調べる", exact=True).click()
            expect(page.locator("#answer-title")).to_have_text(
                "ご入力の条件に一致する記録は見つかりませんでした"
            )
            expect(page.locator("body")).to_contain_text(
                "記録が無いと決まったという意味ではありません"
            )
            page.get_by_role("button", name="次の方").click()
            metrics = page.request.get(base_url + "/metrics").text()
            assert 'mochinushi_channel_checks_total{channel="municipal",outcome="found"} 1.0' in (
                metrics
            )
            assert 'channel="municipal",outcome="not_found"} 1.0' in metrics
            assert "city-01" not in metrics
    finally:
        context.close()


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def test_every_form_needs_the_sessions_csrf_token_and_next_drops_the_server_state(
    crafted_alias: str, indices: dict[str, str]
) -> None:
    app = create_app(counter_settings(crafted_alias, indices), log_stream=io.StringIO())
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        signin = client.get("/counter")
        assert signin.headers["cache-control"] == "no-store"
        set_cookie = signin.headers["set-cookie"]
        for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/counter"):
            assert flag.lower() in set_cookie.lower(), flag
        token = _csrf(signin.text)
        refused = client.post("/counter/sign-in", data={"office_key": OFFICE_KEY})
        assert refused.status_code == 403
        wrong = client.post(
            "/counter/sign-in", data={"office_key": OFFICE_KEY, "csrf": "x" + token}
        )
        assert wrong.status_code == 403
        ok = client.post("/counter/sign-in", data={"office_key": OFFICE_KEY, "csrf": token})
        assert ok.status_code == 303 and ok.headers["location"] == "/counter"
        form = client.get("/counter")
        assert form.status_code == 200
        csrf = _csrf(form.text)
        assert csrf != token, "a fresh token for the signed-in session"
        body = {**PERSON, "employer_name": EMPLOYER}
        assert client.post("/counter/check", data=body).status_code == 403
        assert client.post("/counter/check", data={**body, "csrf": token}).status_code == 403
        done = client.post("/counter/check", data={**body, "csrf": csrf})
        assert done.status_code == 303 and done.headers["location"] == "/counter/result"
        assert "ヤマダ" not in done.text
        result = client.get("/counter/result")
        assert result.status_code == 200 and result.headers["cache-control"] == "no-store"
        assert EMPLOYER in result.text
        old_cookie = client.cookies.get("mochinushi_counter")
        assert client.post("/counter/next", data={"csrf": ""}).status_code == 403
        nxt = client.post("/counter/next", data={"csrf": csrf})
        assert nxt.status_code == 303
        assert client.cookies.get("mochinushi_counter") != old_cookie
        after = client.get("/counter/result")
        assert after.status_code == 303 and after.headers["location"] == "/counter"
        assert "ヤマダ" not in client.get("/counter").text
        # the previous cookie names a session that no longer exists on the server
        client.cookies.set("mochinushi_counter", old_cookie or "", path="/counter")
        stale = client.get("/counter/result")
        assert stale.status_code == 303
        assert "サインイン" in client.get("/counter").text
        # an invalid form comes back filled (from the session), with the field named
        client.cookies.clear()
        fresh = client.get("/counter")
        client.post("/counter/sign-in", data={"office_key": OFFICE_KEY, "csrf": _csrf(fresh.text)})
        page = client.get("/counter")
        bad = client.post(
            "/counter/check", data={**PERSON, "birth_month": "13", "csrf": _csrf(page.text)}
        )
        assert bad.status_code == 303
        again = client.get("/counter")
        assert again.status_code == 422
        assert 'id="f-birth_month-error"' in again.text or "f-birth_date-error" in again.text
        assert 'value="ヤマダ"' in again.text
