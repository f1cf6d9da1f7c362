"""The web pages over a fake search: rendering, validation messages, privacy headers, staff page.

Fast (no browser, no OpenSearch): FastAPI's TestClient against the web router wired to the
fakes of ``tests.web.support``, which answer like the JSON endpoints and issue real tokens.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from search_api.references import format_number, new_number, parse_number
from search_api.web.forms import FORMER_ROWS, FORMER_ROWS_WITHOUT_JS, parse_form, validate
from search_api.web.pages import BUSY_MESSAGE, group_token, qr_svg
from tests.web.html_probe import by_id, find, parse, text
from tests.web.support import (
    FIXED_NOW,
    FOUND_FORM,
    NOT_FOUND_FORM,
    RECORD_IDS,
    STAFF_KEY,
    FakeService,
    make_app,
)

PERSONAL_VALUES = ("やまだ", "きょうこ", "山田", "京子", "さとう", "佐藤", "13", "昭和")


@pytest.fixture()
def state() -> FakeService:
    return FakeService()


@pytest.fixture()
def client(state: FakeService) -> Iterator[TestClient]:
    with TestClient(make_app(state)) as test_client:
        yield test_client


def post(client: TestClient, path: str, form: dict[str, str]) -> Response:
    response: Response = client.post(path, data=form, follow_redirects=False)
    return response


def assert_private_html(response: Response) -> None:
    """What every HTML answer must carry, and what it must never do."""
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "location" not in response.headers  # no redirect, so nothing to carry data in a URL
    page = response.text
    assert not re.search(r"""(?:src|href|action)=["'](?:https?:)?//""", page), "external URL"
    for form in find(page, "form"):
        assert form.attrs["method"] == "post"
        assert form.attrs["action"] in ("/check", "/staff/resolve")
    for link in find(page, "a"):
        href = link.attrs.get("href", "")
        assert "?" not in href
        assert all(quote(v) not in href and v not in href for v in PERSONAL_VALUES[:6])


def assert_accessible_form(page: str) -> None:
    """Every control has a label; every aria-describedby points at something; ids unique."""
    elements = parse(page)
    ids = [e.attrs["id"] for e in elements if "id" in e.attrs]
    assert len(ids) == len(set(ids)), "duplicate ids"
    labelled = {e.attrs.get("for") for e in elements if e.tag == "label"}
    for control in elements:
        if control.tag in ("input", "select", "textarea"):
            if control.attrs.get("type") == "hidden":
                continue
            assert control.attrs.get("id") in labelled, control.attrs
        for ref in control.attrs.get("aria-describedby", "").split():
            assert ref in ids, ref


# --- the empty form ---------------------------------------------------------------------------


def test_the_form_page_is_japanese_private_and_labelled(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert_private_html(response)
    page = response.text
    assert '<html lang="ja">' in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert_accessible_form(page)
    ids = by_id(page)
    for name in (
        "surname_kana",
        "given_name_kana",
        "surname_kanji",
        "given_name_kanji",
        "birth_year",
        "birth_month",
        "birth_day",
    ):
        assert ids[f"f-{name}"].attrs.get("autocomplete") == "off"  # shared counter PCs
    assert ids["f-surname_kana"].attrs.get("required") is not None
    assert ids["f-surname_kanji"].attrs.get("required") is None
    assert [o.attrs["value"] for o in find(page, "option")] == [
        "",
        "明治",
        "大正",
        "昭和",
        "平成",
        "令和",
        "西暦",
    ]
    assert {e.attrs["value"] for e in find(page, "input", type="radio")} == {"M", "F"}


def test_without_javascript_three_former_surname_rows_show_and_five_exist(
    client: TestClient,
) -> None:
    page = client.get("/").text
    rows = [e for e in parse(page) if "data-former-row" in e.attrs]
    assert len(rows) == FORMER_ROWS
    assert [r.hidden() for r in rows] == [False] * FORMER_ROWS_WITHOUT_JS + [True] * (
        FORMER_ROWS - FORMER_ROWS_WITHOUT_JS
    )
    assert "hidden" in find(page, "button", type="button")[0].attrs  # the script's "add" button


def test_static_files_are_ours_and_nothing_else_is_served(client: TestClient) -> None:
    css = client.get("/static/site.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "html { font-size: 125%; " in css.text  # 20px base at the browser's default 16px
    assert "@media print" in css.text and "size: A4" in css.text
    js = client.get("/static/site.js")
    assert js.status_code == 200
    assert "javascript" in js.headers["content-type"]
    for name in ("../app.py", "forms.py", "layout.html", "%2e%2e%2fapp.py", "site.css.map"):
        assert client.get(f"/static/{name}").status_code == 404


def test_the_post_only_paths_send_a_get_back_to_the_start(client: TestClient) -> None:
    for path, start in (("/check", "/"), ("/staff/resolve", "/staff")):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == start


# --- the flow -------------------------------------------------------------------------------


def test_found_shows_next_steps_and_the_reference_form_with_the_check_carried(
    client: TestClient, state: FakeService
) -> None:
    response = post(client, "/check", FOUND_FORM)
    assert response.status_code == 200
    assert_private_html(response)
    page = response.text
    assert "ご入力の条件に一致する記録がありました" in page
    assert "年金事務所" in page
    assert_accessible_form(page)
    # the reference form carries the check in hidden fields (POST body, never a URL)
    form = find(page, "form")[0]
    assert form.attrs["action"] == "/check"
    hidden = {e.attrs["name"]: e.attrs["value"] for e in find(page, "input", type="hidden")}
    assert hidden["step"] == "reference"
    for name, value in FOUND_FORM.items():
        if name != "step":
            assert hidden[name] == value
    assert {"f-employer_name", "f-address"} <= set(by_id(page))
    assert len(state.received) == 1
    assert state.received[0].birth_date == "昭和13年5月3日"
    assert state.received[0].former_surnames[0].kana == "さとう"


def test_adding_reference_information_gives_the_printable_result(
    client: TestClient, state: FakeService
) -> None:
    form = {**FOUND_FORM, "step": "reference", "employer_name": "山田商店", "address": ""}
    response = post(client, "/check", form)
    assert response.status_code == 200
    assert_private_html(response)
    page = response.text
    assert state.received[-1].reference is not None
    assert state.received[-1].reference.employer_name == "山田商店"
    # the reference number in its groups of three, and the same number as an inline QR code
    token_text = find(page, "p", class_="token")[0].text
    token = "".join(token_text.split())
    assert re.fullmatch(r"([2-9A-HJKMNP-Z]{3}-){5}[2-9A-HJKMNP-Z]{3}", token)
    assert len(token) <= 24
    assert token == group_token(token)
    assert parse_number(token) in state.numbers  # what is printed is what was stored
    svg = qr_svg(token)
    assert svg is not None and svg in page
    assert "<img" not in page  # generated server side and inline, nothing fetched
    # the date in Japan, the expiry, plain instructions
    assert "作成日：2025年11月27日（令和7年）" in page
    assert "有効期限：2026年2月25日（令和8年）まで" in page
    assert "年金事務所へお持ちください" in page
    assert "山田商店" in page
    assert "data-print" in page and "Ctrl キー＋P キー" in page


def test_not_found_says_what_it_means_and_offers_the_filled_form_again(
    client: TestClient,
) -> None:
    response = post(client, "/check", NOT_FOUND_FORM)
    assert response.status_code == 200
    assert_private_html(response)
    page = response.text
    assert "ご入力の条件に一致する記録は見つかりませんでした" in page
    assert "記録が無いと決まったという意味ではありません" in page
    assert not find(page, "p", class_="token")
    ids = by_id(page)
    assert ids["f-surname_kana"].attrs["value"] == "たなか"
    assert ids["f-birth_year"].attrs["value"] == "13"
    assert "selected" in find(page, "option", value="昭和")[0].attrs
    assert "checked" in ids["f-gender-F"].attrs


def test_not_found_offers_the_reference_step_and_sends_it_with_the_check(
    client: TestClient, state: FakeService
) -> None:
    page = post(client, "/check", NOT_FOUND_FORM).text
    assert "当時の勤め先や住所を加えて、もう一度調べる" in page
    assert "結婚前の姓" in page  # why it helps: records under a surname not remembered
    form = next(f for f in find(page, "form") if f.attrs.get("class") == "reference-form")
    assert form.attrs["method"] == "post" and form.attrs["action"] == "/check"
    response = post(
        client,
        "/check",
        {**NOT_FOUND_FORM, "step": "reference", "employer_name": "山田商店", "address": ""},
    )
    assert response.status_code == 200
    sent = state.received[-1]
    assert sent.reference is not None and sent.reference.employer_name == "山田商店"
    assert sent.surname_kana == "たなか"


def test_gregorian_and_full_width_dates_reach_the_api_as_it_accepts_them(
    client: TestClient, state: FakeService
) -> None:
    post(
        client,
        "/check",
        {
            **FOUND_FORM,
            "birth_era": "西暦",
            "birth_year": "１９３８",
            "birth_month": "０５",
            "birth_day": "3",
        },
    )
    assert state.received[-1].birth_date == "1938-05-03"
    post(
        client,
        "/check",
        {
            **FOUND_FORM,
            "birth_era": "昭和",
            "birth_year": "元",
            "birth_month": "12",
            "birth_day": "25",
        },
    )
    assert state.received[-1].birth_date == "昭和元年12月25日"


# --- errors ---------------------------------------------------------------------------------


def test_an_empty_form_names_every_missing_field_next_to_it(
    client: TestClient, state: FakeService
) -> None:
    response = post(client, "/check", {"step": "check"})
    assert response.status_code == 422
    assert_private_html(response)
    page = response.text
    assert_accessible_form(page)
    assert not state.received
    summary = by_id(page)["error-summary-title"]
    assert summary.text == "入力内容を確認してください"
    ids = by_id(page)
    expected = {
        "surname_kana": "姓（ふりがな）を入力してください。",
        "given_name_kana": "名（ふりがな）を入力してください。",
        "birth_era": "生年月日の元号を選んでください。",
        "birth_year": "生年月日の年を入力してください。",
        "birth_month": "生年月日の月を入力してください。",
        "birth_day": "生年月日の日を入力してください。",
        "gender": "性別を選んでください。",
    }
    for name, message in expected.items():
        error = ids[f"f-{name}-error"]
        assert message in error.text
        if name == "gender":
            assert "f-gender-error" in ids["field-gender"].attrs["aria-describedby"]
        else:
            control = ids[f"f-{name}"]
            assert control.attrs["aria-invalid"] == "true"
            assert f"f-{name}-error" in control.attrs["aria-describedby"]
    links = [a.attrs["href"] for a in find(page, "a") if a.attrs.get("href", "").startswith("#f-")]
    assert links == [
        "#f-surname_kana",
        "#f-given_name_kana",
        "#f-birth_era",
        "#f-birth_year",
        "#f-birth_month",
        "#f-birth_day",
        "#f-gender-M",
    ]
    assert 'class="error-summary" role="alert" tabindex="-1" autofocus' in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"surname_kana": "山田"},
            "surname_kana",
            "姓（ふりがな）は、ひらがなかカタカナで入力してください。",
        ),
        (
            {"given_name_kana": "kyoko"},
            "given_name_kana",
            "名（ふりがな）は、ひらがなかカタカナで入力してください。",
        ),
        ({"given_name_kanji": "Kyoko"}, "given_name_kanji", "名（漢字）は漢字で入力してください。"),
        (
            {"surname_kana": "や" * 31},
            "surname_kana",
            "姓（ふりがな）は30文字以内で入力してください。",
        ),
        ({"surname_kana": "やま\u0007だ"}, "surname_kana", "使えない文字（制御文字）"),
        ({"former_kana_1": ""}, "former_kana_1", "旧姓1（ふりがな）を入力してください。"),
        ({"former_kana_4": "ｽｽﾞｷ1"}, "former_kana_4", "旧姓4（ふりがな）は、ひらがなかカタカナ"),
        (
            {"birth_month": "2", "birth_day": "30"},
            "birth_date",
            "昭和13年2月30日という日はありません。月と日をご確認ください。",
        ),
        (
            {"birth_year": "70"},
            "birth_date",
            "昭和70年5月3日は昭和の期間にありません。昭和は1926年12月25日から1989年1月7日までです。",
        ),
        ({"birth_era": "令和", "birth_year": "40"}, "birth_date", "今日より後の日付"),
        ({"birth_era": "西暦", "birth_year": "38"}, "birth_year", "西暦なら4けたの数字"),
        ({"birth_year": "十三"}, "birth_year", "生年月日の年は数字で入力してください"),
        ({"birth_month": "13"}, "birth_month", "生年月日の月は、1から12までの数字"),
        ({"birth_day": "0"}, "birth_day", "生年月日の日は、1から31までの数字"),
        ({"birth_era": "天保"}, "birth_era", "生年月日の元号を選んでください。"),
        ({"gender": "X"}, "gender", "性別を選んでください。"),
    ],
)
def test_each_wrong_field_gets_a_japanese_message_next_to_it(
    client: TestClient, state: FakeService, changes: dict[str, str], field: str, message: str
) -> None:
    response = post(client, "/check", {**FOUND_FORM, **changes})
    assert response.status_code == 422
    page = response.text
    ids = by_id(page)
    assert message in ids[f"f-{field}-error"].text
    assert len(find(page, "p", class_="error-message")) == 1, text(page)
    assert not state.received
    assert_accessible_form(page)


def test_an_error_in_a_fourth_former_surname_row_keeps_that_row_visible(
    client: TestClient,
) -> None:
    page = post(client, "/check", {**FOUND_FORM, "former_kana_4": "x"}).text
    rows = {e.attrs["data-former-row"]: e for e in parse(page) if "data-former-row" in e.attrs}
    assert not rows["4"].hidden()
    assert rows["5"].hidden()


def test_typed_values_come_back_escaped(client: TestClient) -> None:
    nasty = '"><script>alert(1)</script>'
    response = post(client, "/check", {**FOUND_FORM, "surname_kanji": nasty})
    assert response.status_code == 422
    assert "<script>alert" not in response.text
    assert by_id(response.text)["f-surname_kanji"].attrs["value"] == nasty  # as typed, inert


def test_reference_text_is_escaped_on_the_printout(client: TestClient) -> None:
    nasty = "<img src=x onerror=alert(1)>商店"
    response = post(client, "/check", {**FOUND_FORM, "step": "reference", "employer_name": nasty})
    assert response.status_code == 200
    assert "<img" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;商店" in response.text


def test_invalid_counts_as_an_invalid_check(client: TestClient, state: FakeService) -> None:
    post(client, "/check", {"step": "check"})
    assert 'mochinushi_checks_total{outcome="invalid"} 1.0' in state.metrics.render().decode()


@pytest.mark.parametrize("step", ["check", "reference"])
@pytest.mark.parametrize(("knob", "status"), [("down", 503), ("rate_limited", 429)])
def test_busy_or_down_is_never_a_no(
    client: TestClient, state: FakeService, knob: str, status: int, step: str
) -> None:
    setattr(state, knob, True)
    response = post(client, "/check", {**FOUND_FORM, "step": step, "address": "浦和"})
    assert response.status_code == status
    assert_private_html(response)
    page = response.text
    assert BUSY_MESSAGE in page
    assert BUSY_MESSAGE == (
        "ただいま混み合っています。時間をおいて再度お試しください。記録が無いという意味ではありません。"
    )
    assert "見つかりませんでした" not in page
    assert response.headers["retry-after"] == ("5" if status == 503 else "7")
    ids = by_id(page)
    if step == "check":  # what was typed stays, so trying again is one press
        assert ids["f-surname_kana"].attrs["value"] == "やまだ"
    else:
        assert ids["f-address"].attrs["value"] == "浦和"
        hidden = {e.attrs["name"]: e.attrs["value"] for e in find(page, "input", type="hidden")}
        assert hidden["surname_kana"] == "やまだ"


def test_an_unexpected_failure_is_an_error_page_not_a_no(
    client: TestClient, state: FakeService
) -> None:
    state.explode = True
    response = post(client, "/check", FOUND_FORM)
    assert response.status_code == 500
    assert_private_html(response)
    assert "記録が無いという意味ではありません" in response.text
    assert "見つかりませんでした" not in response.text


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"surname_kana=%FF%FE", "application/x-www-form-urlencoded"),
        (b"\xff\xfe", "application/x-www-form-urlencoded"),
        ("&".join(f"x{i}=1" for i in range(100)).encode(), "application/x-www-form-urlencoded"),
        (b"a=" + b"x" * 20_000, "application/x-www-form-urlencoded"),
        (b'{"surname_kana": "x"}', "application/json"),
    ],
)
def test_bodies_this_page_never_sends_are_refused_plainly(
    client: TestClient, content: bytes, content_type: str
) -> None:
    for path in ("/check", "/staff/resolve"):
        response = client.post(path, content=content, headers={"content-type": content_type})
        assert response.status_code == 400
        assert_private_html(response)


def test_the_rate_limit_key_is_the_clients(client: TestClient, state: FakeService) -> None:
    post(client, "/check", FOUND_FORM)
    assert state.client_keys == ["testclient"]


# --- staff ----------------------------------------------------------------------------------


def _token(state: FakeService, now: dt.datetime = FIXED_NOW) -> str:
    check = {
        "surname_kana": "やまだ",
        "given_name_kana": "きょうこ",
        "birth_date": "昭和13年5月3日",
        "gender": "F",
        "former_surnames": [{"kana": "さとう", "kanji": "佐藤"}],
        "reference": {"address": "<b>浦和</b>"},
    }
    return state.issue(check, now)


def test_the_staff_page_asks_for_a_key_and_a_token(client: TestClient) -> None:
    response = client.get("/staff")
    assert response.status_code == 200
    assert_private_html(response)
    ids = by_id(response.text)
    assert ids["f-staff_key"].attrs["type"] == "password"
    assert ids["f-token"].attrs["type"] == "text"
    assert_accessible_form(response.text)


def test_staff_see_candidates_best_first_and_the_submitted_check(
    client: TestClient, state: FakeService
) -> None:
    token = _token(state)
    # Typed in lower case with spaces for hyphens, or scanned with line breaks: all ignored.
    scanned = "\n" + token.lower().replace("-", " ") + "\r\n"
    response = post(client, "/staff/resolve", {"staff_key": STAFF_KEY, "token": scanned})
    assert response.status_code == 200
    assert_private_html(response)
    page = response.text
    assert [e.text for e in find(page, "td", class_="record-id")] == list(RECORD_IDS)
    assert "候補の記録（一致度の高い順）" in page
    assert "2025年11月27日 10時30分" in page  # issued, in Japan time
    body = text(page)
    assert "氏名（ふりがな） やまだ きょうこ" in body
    assert "生年月日 昭和13年5月3日（1938年5月3日）" in body
    assert "旧姓 さとう（佐藤）" in body
    assert "&lt;b&gt;浦和&lt;/b&gt;" in page
    assert STAFF_KEY not in page  # the key is never echoed
    assert by_id(page)["f-token"].attrs.get("value") is None  # ready for the next visitor


@pytest.mark.parametrize(
    ("key", "token_kind", "status", "field", "message"),
    [
        ("wrong-key", "good", 401, "staff_key", "職員キーが正しくありません。"),
        (STAFF_KEY, "garbage", 404, "token", "照会番号の入力に誤りがあります"),
        (STAFF_KEY, "altered", 404, "token", "最後の確認用の文字が合いません"),
        (STAFF_KEY, "swapped", 404, "token", "照会番号の入力に誤りがあります"),
        (STAFF_KEY, "look-alike", 404, "token", "0・O・1・I・L は使われていません"),
        (STAFF_KEY, "unknown", 404, "token", "打ち間違いではありません"),
        (STAFF_KEY, "expired", 410, "token", "有効期限が切れています"),
        ("", "good", 422, "staff_key", "職員キーを入力してください。"),
        (STAFF_KEY, "empty", 422, "token", "照会番号を入力してください。"),
    ],
)
def test_staff_errors_are_explained_next_to_the_field(
    client: TestClient,
    state: FakeService,
    key: str,
    token_kind: str,
    status: int,
    field: str,
    message: str,
) -> None:
    good = _token(state)
    swap = next(
        i for i in range(len(good) - 1) if "-" not in good[i : i + 2] and good[i] != good[i + 1]
    )
    token = {
        "good": good,
        "garbage": "not-a-token",
        "altered": good[:-2] + ("AA" if good[-2:] != "AA" else "BB"),
        "swapped": good[:swap] + good[swap + 1] + good[swap] + good[swap + 2 :],
        "look-alike": "0" + good[1:],
        "unknown": format_number(new_number()),
        "expired": _token(state, FIXED_NOW - dt.timedelta(days=91)),
        "empty": "  ",
    }[token_kind]
    response = post(client, "/staff/resolve", {"staff_key": key, "token": token})
    assert response.status_code == status
    assert_private_html(response)
    assert message in by_id(response.text)[f"f-{field}-error"].text
    assert "record-id" not in response.text
    if key:
        assert key not in response.text


# --- units ----------------------------------------------------------------------------------


def test_parse_form_keeps_known_fields_and_their_first_value() -> None:
    values = parse_form(b"surname_kana=%E3%82%84&surname_kana=x&evil=1&gender=F")
    assert values["surname_kana"] == "や"
    assert values["gender"] == "F"
    assert "evil" not in values
    assert values["given_name_kana"] == ""


def test_validate_builds_the_api_request() -> None:
    result = validate(
        {**FOUND_FORM, "former_kana_3": "すずき", "employer_name": "x"}, with_reference=False
    )
    assert result.errors == {}
    assert result.check is not None
    assert [f.kana for f in result.check.former_surnames] == ["さとう", "すずき"]
    assert result.check.reference is None  # only the reference step sends reference fields
    with_ref = validate({**FOUND_FORM, "employer_name": " 山田商店 "}, with_reference=True)
    assert with_ref.check is not None and with_ref.check.reference is not None
    assert with_ref.check.reference.employer_name == "山田商店"


def test_a_token_too_long_for_any_qr_code_still_prints_as_text() -> None:
    assert qr_svg("A" * 600) is not None
    assert qr_svg("a" * 2_500) is not None  # needs the lower error correction level
    assert qr_svg("a" * 3_500) is None
