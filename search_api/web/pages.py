"""The pages of the web flow: what each page shows, handed to the templates of this package.

The templates are autoescaped (see ``render``), so the values passed here are plain text; only
``Markup`` (the QR code's SVG, a rendered staff result) goes into a page as it is. How dates,
the token and the submitted check read is ``display``'s business; how fields look is the macros'
of ``widgets.html``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from markupsafe import Markup

from search_api.web.display import (
    JST,
    group_token,
    japanese_date,
    japanese_datetime,
    qr_svg,
    submitted_rows,
    token_groups,
)
from search_api.web.forms import FORMER_ROWS, FORMER_ROWS_WITHOUT_JS, filled_former_rows
from search_api.web.render import render

__all__ = [
    "BUSY_MESSAGE",
    "JST",
    "busy_page",
    "counter_form_page",
    "counter_result_page",
    "counter_signin_page",
    "error_page",
    "form_page",
    "found_page",
    "group_token",
    "not_found_page",
    "printable_page",
    "qr_svg",
    "staff_page",
    "staff_result",
    "submitted_rows",
]

BUSY_MESSAGE: Final = (
    "ただいま混み合っています。時間をおいて再度お試しください。記録が無いという意味ではありません。"
)
"""Shown for 429 and 503: the search did not run, which must never read as "no record"."""

SITE_NAME: Final = "持ち主不明の年金記録の検索"
STAFF_SITE_NAME: Final = "照会番号の確認（年金事務所 職員用）"
STAFF_LABELS: Final = {"staff_key": "職員キー", "token": "照会番号"}

# Where an error summary link for a group of controls lands: its first control.
_TARGETS: Final = {"birth_date": "f-birth_era", "gender": "f-gender-M"}


def _page(template: str, title: str, *, staff: bool = False, **values: object) -> str:
    site_name = STAFF_SITE_NAME if staff else SITE_NAME
    return str(render(template, title=title, site_name=site_name, staff=staff, **values))


def _error_links(errors: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(_TARGETS.get(name, f"f-{name}"), message) for name, message in errors.items()]


def _former_visible(values: Mapping[str, str], errors: Mapping[str, str]) -> int:
    """How many former-surname rows show without the script: each filled or wrong one, at least."""
    wanted = [
        *filled_former_rows(values),
        *(
            row
            for row in range(1, FORMER_ROWS + 1)
            if f"former_kana_{row}" in errors or f"former_kanji_{row}" in errors
        ),
    ]
    return max([FORMER_ROWS_WITHOUT_JS, *wanted])


# --- public pages -----------------------------------------------------------------------------


def form_page(
    values: Mapping[str, str], errors: Mapping[str, str] | None = None, *, busy: bool = False
) -> str:
    """Step 1: the check form, empty, or filled again with messages."""
    errors = errors or {}
    return _page(
        "form_page.html",
        ("入力エラー：" if errors else "") + "年金記録があるか調べる",
        values=values,
        errors=errors,
        former_visible=_former_visible(values, errors),
        busy_message=BUSY_MESSAGE if busy else None,
        error_links=_error_links(errors),
    )


def found_page(values: Mapping[str, str], submitted: Mapping[str, Any]) -> str:
    """Step 2 (a record exists) and step 3 (add reference information)."""
    return _page(
        "found.html", "記録がありました", values=values, submitted=submitted_rows(submitted)
    )


def not_found_page(values: Mapping[str, str], submitted: Mapping[str, Any]) -> str:
    """Step 2 (no matching record): what that means, and the form to try again."""
    return _page(
        "not_found.html",
        "一致する記録は見つかりませんでした",
        values=values,
        former_visible=_former_visible(values, {}),
        submitted=submitted_rows(submitted),
    )


def reference_page(
    values: Mapping[str, str], errors: Mapping[str, str], *, busy: bool = False
) -> str:
    """Step 3 again, when the reference fields were wrong or the service was busy."""
    return _page(
        "reference_page.html",
        ("入力エラー：" if errors else "") + "参考情報の入力",
        values=values,
        errors=errors,
        busy_message=BUSY_MESSAGE if busy else None,
        error_links=_error_links(errors),
    )


def busy_page(values: Mapping[str, str], *, step: str) -> str:
    """429 / 503: the search did not run; keep what was typed so trying again is one press."""
    if step == "reference":
        return reference_page(values, {}, busy=True)
    return form_page(values, busy=True)


def printable_page(
    submitted: Mapping[str, Any], token: str, issued: dt.datetime, expires: dt.datetime
) -> str:
    """Step 4: the result to print (A4) and take to a pension office."""
    return _page(
        "printable.html",
        "検索結果（印刷用）",
        issued_date=japanese_date(issued.astimezone(JST).date()),
        expires_date=japanese_date(expires.astimezone(JST).date()),
        qr=qr_svg(token),
        token_groups=token_groups(token),
        submitted=submitted_rows(submitted),
    )


def error_page(status: int) -> str:
    """Anything else that went wrong: still never a "no record" answer."""
    text = (
        "送信された内容を読み取れませんでした。最初からやり直してください。"
        if status < 500
        else "エラーが発生しました。時間をおいて再度お試しください。"
        "記録が無いという意味ではありません。"
    )
    return _page("error.html", "エラー", message=text)


# --- staff pages ------------------------------------------------------------------------------


def _japanese_moment(value: object) -> str:
    """An ISO timestamp in Japan time; anything else as it came."""
    try:
        return japanese_datetime(dt.datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value)


def staff_result(resolution: Mapping[str, Any]) -> Markup:
    """The resolved token: candidate record ids (best first), validity, the submitted check."""
    check = resolution.get("check")
    return render(
        "staff_result.html",
        record_ids=[str(i) for i in resolution.get("record_ids", [])],
        validity=[
            (label, _japanese_moment(resolution.get(key, "")))
            for key, label in (("issued_at", "発行日時"), ("expires_at", "有効期限"))
        ],
        check=submitted_rows(check if isinstance(check, Mapping) else {}),
    )


def staff_page(
    errors: Mapping[str, str] | None = None, result: Markup | None = None, token: str = ""
) -> str:
    """The staff tool: a key and a token in, the resolution (or what went wrong) out."""
    errors = errors or {}
    return _page(
        "staff.html",
        "照会番号の確認",
        staff=True,
        values={"token": token},
        errors=errors,
        labels=STAFF_LABELS,
        error_links=[
            (f"f-{name}", f"{STAFF_LABELS[name]}：{message}") for name, message in errors.items()
        ],
        result=result or Markup(""),
    )


# --- counter pages (/counter) -------------------------------------------------------------------

COUNTER_SITE_NAME: Final = "持ち主不明の年金記録の検索（窓口）"
COUNTER_KINDS: Final = {
    "municipal": "市区町村",
    "welfare": "福祉事務所",
    "pension_office": "年金事務所",
}


def _office_label(office_id: str, kind: str) -> str:
    return f"{COUNTER_KINDS.get(kind, kind)} {office_id}"


def counter_signin_page(csrf: str, error: str | None = None) -> str:
    errors = {"office_key": error} if error else {}
    return str(
        render(
            "counter_signin.html",
            title=("入力エラー：" if error else "") + "窓口モード：サインイン",
            site_name=COUNTER_SITE_NAME,
            staff=False,
            csrf=csrf,
            errors=errors,
            error_links=_error_links(errors),
        )
    )


def counter_form_page(
    office_id: str,
    kind: str,
    csrf: str,
    values: Mapping[str, str],
    errors: Mapping[str, str] | None = None,
    *,
    busy: bool = False,
) -> str:
    errors = errors or {}
    return str(
        render(
            "counter_form.html",
            title=("入力エラー：" if errors else "") + "窓口：記録があるか調べる",
            site_name=COUNTER_SITE_NAME,
            staff=False,
            office=_office_label(office_id, kind),
            csrf=csrf,
            values=values,
            errors=errors,
            former_visible=_former_visible(values, errors),
            busy_message=BUSY_MESSAGE if busy else None,
            error_links=_error_links(errors),
        )
    )


def counter_result_page(office_id: str, kind: str, csrf: str, answer: Mapping[str, Any]) -> str:
    """The slip to print at once (found), or what "not found" means; from the session's state."""
    found = bool(answer.get("found"))
    token = str(answer.get("token") or "")
    issued = answer["issued"]
    expires = answer["expires"]
    return str(
        render(
            "counter_result.html",
            title="検索結果（印刷用）" if found else "一致する記録は見つかりませんでした",
            site_name=COUNTER_SITE_NAME,
            staff=False,
            office=_office_label(office_id, kind),
            csrf=csrf,
            found=found,
            issued_date=japanese_date(issued.astimezone(JST).date()),
            expires_date=japanese_date(expires.astimezone(JST).date()),
            qr=qr_svg(token) if found else None,
            token_groups=token_groups(token) if found else [],
            submitted=submitted_rows(answer.get("submitted", {})),
        )
    )
