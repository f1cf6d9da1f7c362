"""The whole flow in a real headless Chromium, against the app served by uvicorn on loopback.

These run over the fake search of ``tests.web.support`` (real tokens, fake records). The same
flow against the real app and the real OpenSearch node is ``test_real_backend_flow`` in
``test_web_real_app.py``.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from playwright.sync_api import Page, expect

from search_api.web.pages import BUSY_MESSAGE
from tests.web.conftest import ARTIFACTS, Shots
from tests.web.support import FOUND_FORM, NOT_FOUND_FORM, RECORD_IDS, STAFF_KEY, FakeService

pytestmark = pytest.mark.browser

FOUND_HEADING = "ご入力の条件に一致する記録がありました"
NOT_FOUND_HEADING = "ご入力の条件に一致する記録は見つかりませんでした"


def fill_check_form(page: Page, form: dict[str, str]) -> None:
    for name in (
        "surname_kana",
        "given_name_kana",
        "surname_kanji",
        "given_name_kanji",
        "former_kana_1",
        "former_kanji_1",
        "birth_year",
        "birth_month",
        "birth_day",
    ):
        if form.get(name):
            page.fill(f"#f-{name}", form[name])
    page.select_option("#f-birth_era", form["birth_era"])
    page.check(f"#f-gender-{form['gender']}")


def assert_no_personal_data_in_url(page: Page) -> None:
    assert "?" not in page.url and "#" not in page.url
    for value in ("やまだ", "%E3%82%84", "1938", "13"):
        assert value not in page.url.split("//", 1)[1]


def token_on(page: Page) -> str:
    return "".join(page.locator("p.token").inner_text().split())


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


def test_found_reference_print_and_staff_resolution(
    page: Page, fake_server: str, shots: Shots
) -> None:
    page.goto(fake_server + "/")
    expect(page.locator("h1")).to_have_text("年金記録があるか調べる")
    body_px = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert body_px >= 20
    shots.take(page, "01-check-form-empty")
    expect(page.get_by_role("textbox", name=re.compile(r"^姓（ふりがな）"))).to_have_attribute(
        "id", "f-surname_kana"
    )
    fill_check_form(page, FOUND_FORM)
    shots.take(page, "02-check-form-filled", readme_name="check.png")

    page.get_by_role("button", name="記録があるか調べる").click()
    expect(page.locator("h1")).to_have_text(FOUND_HEADING)
    assert_no_personal_data_in_url(page)
    shots.take(page, "03-found-next-steps")

    page.fill("#f-employer_name", "山田商店")
    page.get_by_role("button", name="印刷用の結果を表示する").click()
    expect(page.locator("#answer-title")).to_have_text(FOUND_HEADING)
    assert_no_personal_data_in_url(page)
    expect(page.get_by_role("button", name="この結果を印刷する")).to_be_visible()
    expect(page.locator("figure.qr svg")).to_be_visible()
    token = token_on(page)
    assert re.fullmatch(r"([2-9A-HJKMNP-Z]{3}-){5}[2-9A-HJKMNP-Z]{3}", token)
    number_px = page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('p.token')).fontSize)"
    )
    assert number_px >= 1.5 * body_px  # the number large, to read aloud
    number_box = page.locator("p.token").bounding_box()
    assert number_box is not None and number_box["height"] < 2 * number_px  # on one line
    shots.take(page, "04-result-screen")

    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator(".steps")).to_be_hidden()
    expect(page.get_by_role("button", name="この結果を印刷する")).to_be_hidden()
    qr_box = page.locator("figure.qr svg").bounding_box()
    assert qr_box is not None and 90 < qr_box["width"] < 110  # 26mm at 96 dpi is about 98px
    number_box = page.locator("p.token").bounding_box()
    assert number_box is not None and number_box["height"] < 60  # on one line, large
    shots.take(page, "05-result-print", readme_name="print.png")
    pdf = page.pdf(format="A4", print_background=True)
    (ARTIFACTS / "05-result-print.pdf").write_bytes(pdf)
    assert pdf_pages(pdf) == 1, "the printable result should fit on one A4 page"
    page.emulate_media(media="screen")
    page.set_viewport_size({"width": 1024, "height": 900})

    page.goto(fake_server + "/staff")
    page.fill("#f-staff_key", STAFF_KEY)
    page.fill("#f-token", token.lower().replace("-", " "))  # typed: lower case, spaces
    page.press("#f-token", "Enter")
    expect(page.locator("#staff-result-title")).to_have_text("照会結果")
    expect(page.locator("td.record-id")).to_have_text(list(RECORD_IDS))
    expect(page.locator("table.summary").last).to_contain_text("山田商店")
    assert page.url == fake_server + "/staff/resolve"
    shots.take(page, "06-staff-resolution")

    # Scanned: a keyboard-wedge QR reader types the printed form and presses Enter.
    page.fill("#f-staff_key", STAFF_KEY)
    page.fill("#f-token", "")
    page.type("#f-token", token)
    page.press("#f-token", "Enter")
    expect(page.locator("td.record-id")).to_have_text(list(RECORD_IDS))

    # One character mistyped: told apart from a number that was never issued.
    wrong = token[:-1] + ("2" if token[-1] != "2" else "3")
    page.fill("#f-staff_key", STAFF_KEY)
    page.fill("#f-token", wrong)
    page.press("#f-token", "Enter")
    expect(page.locator("#f-token-error")).to_contain_text("照会番号の入力に誤りがあります")
    expect(page.locator("td.record-id")).to_have_count(0)
    expect(page.locator("#f-token")).to_have_value(wrong)  # kept, to compare and correct
    shots.take(page, "06b-staff-mistyped")


def test_not_found_then_busy_is_never_a_no(
    page: Page, fake_server: str, fake_state: FakeService, shots: Shots
) -> None:
    page.goto(fake_server + "/")
    fill_check_form(page, NOT_FOUND_FORM)
    page.get_by_role("button", name="記録があるか調べる").click()
    expect(page.locator("h1")).to_have_text(NOT_FOUND_HEADING)
    shots.take(page, "07-not-found")

    fake_state.down = True
    page.get_by_role("button", name="もう一度調べる").click()
    expect(page.get_by_role("alert")).to_have_text(BUSY_MESSAGE)
    expect(page.locator("body")).not_to_contain_text("見つかりませんでした")
    expect(page.locator("#f-surname_kana")).to_have_value("たなか")
    assert page.evaluate("document.activeElement.classList.contains('notice-busy')")
    shots.take(page, "08-busy")

    fake_state.down = False
    page.get_by_role("button", name="記録があるか調べる").click()
    expect(page.locator("h1")).to_have_text(NOT_FOUND_HEADING)


def test_errors_are_announced_and_lead_to_their_fields(
    page: Page, fake_server: str, shots: Shots
) -> None:
    page.goto(fake_server + "/")
    page.fill("#f-surname_kana", "山田")
    page.get_by_role("button", name="記録があるか調べる").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("姓（ふりがな）は、ひらがなかカタカナで入力してください。")
    expect(page.locator("#f-surname_kana")).to_have_accessible_description(
        re.compile("ひらがなかカタカナで入力してください")
    )
    shots.take(page, "09-errors")
    summary.get_by_role("link", name=re.compile("名（ふりがな）を入力")).click()
    expect(page.locator("#f-given_name_kana")).to_be_focused()


def test_the_whole_form_works_from_the_keyboard(page: Page, fake_server: str) -> None:
    page.goto(fake_server + "/")

    def tab_to(element_id: str) -> None:
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == element_id

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Tab")  # the site name link
    tab_to("f-surname_kana")
    shadow = page.evaluate("getComputedStyle(document.activeElement).boxShadow")
    assert "rgb(255, 221, 0)" in shadow  # a visible focus ring
    page.keyboard.type("やまだ")
    tab_to("f-given_name_kana")
    page.keyboard.type("きょうこ")
    tab_to("f-surname_kanji")
    tab_to("f-given_name_kanji")
    tab_to("f-former_kana_1")
    tab_to("f-former_kanji_1")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "旧姓の欄を増やす"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "f-former_kana_2"
    page.keyboard.type("すずき")
    tab_to("f-former_kanji_2")
    page.keyboard.press("Tab")  # the add button again
    tab_to("f-birth_era")
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    expect(page.locator("#f-birth_era")).to_have_value("昭和")
    tab_to("f-birth_year")
    page.keyboard.type("13")
    tab_to("f-birth_month")
    page.keyboard.type("5")
    tab_to("f-birth_day")
    page.keyboard.type("3")
    tab_to("f-gender-M")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "f-gender-F"
    expect(page.locator("#f-gender-F")).to_be_checked()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "submit"
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text(FOUND_HEADING)


def test_everything_basic_works_without_javascript(
    browser: object, fake_server: str, fake_state: FakeService, shots: Shots
) -> None:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(java_script_enabled=False, locale="ja-JP")
    page = context.new_page()
    try:
        page.goto(fake_server + "/")
        rows = page.locator("[data-former-row]")
        assert [rows.nth(i).is_visible() for i in range(5)] == [True, True, True, False, False]
        expect(page.locator("[data-add-former]")).to_be_hidden()
        fill_check_form(page, FOUND_FORM)
        page.fill("#f-former_kana_3", "すずき")
        page.get_by_role("button", name="記録があるか調べる").click()
        expect(page.locator("h1")).to_have_text(FOUND_HEADING)
        assert [f.kana for f in fake_state.received[-1].former_surnames] == ["さとう", "すずき"]
        page.get_by_role("button", name="印刷用の結果を表示する").click()
        expect(page.locator("p.token")).to_be_visible()
        expect(page.locator("[data-print]")).to_be_hidden()
        expect(page.get_by_text("ブラウザの印刷機能")).to_be_visible()
        shots.take(page, "10-no-javascript-result")
    finally:
        context.close()


def test_a_phone_needs_no_sideways_scrolling(
    browser: object, fake_server: str, shots: Shots
) -> None:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(
        viewport={"width": 360, "height": 780},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="ja-JP",
    )
    page = context.new_page()
    try:
        page.goto(fake_server + "/")
        overflow = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        assert page.evaluate(overflow) <= 0
        shots.take(page, "11-phone-form")
        fill_check_form(page, FOUND_FORM)
        page.get_by_role("button", name="記録があるか調べる").click()
        page.get_by_role("button", name="印刷用の結果を表示する").click()
        expect(page.locator("p.token")).to_be_visible()
        assert page.evaluate(overflow) <= 0
        shots.take(page, "12-phone-result")
    finally:
        context.close()


@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbarimg (apt: zbar-tools) not found")
def test_the_printed_qr_code_scans_back_to_the_token(
    page: Page, fake_server: str, fake_state: FakeService, shots: Shots
) -> None:
    page.goto(fake_server + "/")
    fill_check_form(page, FOUND_FORM)
    page.get_by_role("button", name="記録があるか調べる").click()
    page.fill("#f-address", "埼玉県浦和市")
    page.get_by_role("button", name="印刷用の結果を表示する").click()
    page.set_viewport_size({"width": 794, "height": 1123})
    page.emulate_media(media="print")
    shot = shots.take(page, "13-print-for-scanning")
    scanned = subprocess.run(
        ["zbarimg", "--raw", "-q", str(shot)], capture_output=True, text=True, timeout=60
    )
    assert scanned.returncode == 0, "no QR code found on the printed page"
    assert scanned.stdout.strip() == token_on(page)
