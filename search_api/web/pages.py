"""The pages of the web flow, built from the templates of this package.

Everything a person typed goes through ``render.escape`` on its way into the page: templates get
plain ``str`` values (escaped by ``render``), and the fragments built here escape each value
they insert and are then marked ``Markup``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

import segno

from analyzers.dates import BirthDate, DateFormatError, InvalidDateError, parse_user_date, to_era
from search_api.web.forms import (
    CHECK_FIELDS,
    ERA_CHOICES,
    FORMER_ROWS,
    FORMER_ROWS_WITHOUT_JS,
    LABELS,
    MAX_LENGTHS,
    filled_former_rows,
)
from search_api.web.render import Markup, attr, escape, join, render

__all__ = [
    "BUSY_MESSAGE",
    "JST",
    "busy_page",
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

JST: Final = dt.timezone(dt.timedelta(hours=9), "JST")
SITE_NAME: Final = "持ち主不明の年金記録の検索"
STAFF_SITE_NAME: Final = "照会番号の確認（年金事務所 職員用）"
TOKEN_GROUP: Final = 6
STEP_NAMES: Final = ("入力", "結果", "参考情報", "印刷")
GENDERS: Final = (("M", "男性"), ("F", "女性"))
_INVALID: Final = ' aria-invalid="true"'
_CURRENT: Final = ' aria-current="step"'
_DONE: Final = ' class="done"'


# --- formatting -------------------------------------------------------------------------------


def _era_year(name: str, year: int) -> str:
    return f"{name}{'元' if year == 1 else year}年"


def japanese_date(day: dt.date) -> str:
    """``2025年11月27日（令和7年）``."""
    era = to_era(BirthDate(day.year, day.month, day.day))
    suffix = f"（{_era_year(*era)}）" if era else ""
    return f"{day.year}年{day.month}月{day.day}日{suffix}"


def japanese_datetime(moment: dt.datetime) -> str:
    local = moment.astimezone(JST)
    return f"{local.year}年{local.month}月{local.day}日 {local.hour}時{local.minute:02d}分"


def birth_date_display(text: str) -> str:
    """``昭和13年5月3日（1938年5月3日）`` from anything the API accepted; else the text as is."""
    try:
        parsed = parse_user_date(text)
    except (DateFormatError, InvalidDateError):
        return text
    era = to_era(parsed)
    western = f"{parsed.year}年{parsed.month}月{parsed.day}日"
    if era is None:
        return western
    return f"{_era_year(*era)}{parsed.month}月{parsed.day}日（{western}）"


def group_token(token: str) -> str:
    """The token in groups of six characters, for reading it off paper."""
    return " ".join(token[i : i + TOKEN_GROUP] for i in range(0, len(token), TOKEN_GROUP))


def _token_groups(token: str) -> Markup:
    """Groups that never break inside (a token may contain ``-``, where lines would break)."""
    return join(
        (
            Markup(f'<span class="token-group">{escape(group)}</span>')
            for group in group_token(token).split(" ")
        ),
        " ",
    )


def qr_svg(token: str) -> Markup | None:
    """The token as an inline SVG QR code (just the token text), or None if it cannot fit."""
    for error in ("m", "l"):
        try:
            code = segno.make(token, error=error, micro=False, boost_error=False)
        except segno.DataOverflowError:
            continue
        svg: str = code.svg_inline(scale=1, border=4, omitsize=True, svgclass="qr-code")
        # The figure's caption names it; the pattern itself means nothing to a screen reader.
        return Markup(svg.replace("<svg ", '<svg aria-hidden="true" focusable="false" ', 1))
    return None


def submitted_rows(check: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The submitted check (``ExistenceCheckIn.as_submitted()`` shape) as labelled rows."""
    rows: list[tuple[str, str]] = []
    rest = dict(check)
    kana = " ".join(str(rest.pop(k, "")) for k in ("surname_kana", "given_name_kana")).strip()
    rows.append(("氏名（ふりがな）", kana))
    kanji = " ".join(str(rest.pop(k, "") or "") for k in ("surname_kanji", "given_name_kanji"))
    if kanji.strip():
        rows.append(("氏名（漢字）", kanji.strip()))
    formers = rest.pop("former_surnames", None) or []
    if formers:
        shown = []
        for former in formers:
            if isinstance(former, Mapping):
                kanji_part = former.get("kanji")
                suffix = f"（{kanji_part}）" if kanji_part else ""
                shown.append(f"{former.get('kana', '')}{suffix}")
            else:
                shown.append(str(former))
        rows.append(("旧姓", "、".join(shown)))
    if "birth_date" in rest:
        rows.append(("生年月日", birth_date_display(str(rest.pop("birth_date")))))
    if "gender" in rest:
        gender = rest.pop("gender")
        rows.append(("性別", dict(GENDERS).get(str(gender), str(gender))))
    reference = rest.pop("reference", None) or {}
    if isinstance(reference, Mapping):
        for key, label in (("employer_name", "当時の勤務先"), ("address", "当時の住所")):
            if reference.get(key):
                rows.append((label, str(reference[key])))
    for key, value in rest.items():  # fields added to the API later still show
        rows.append(
            (str(key), value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        )
    return rows


def _table(rows: Sequence[tuple[str, str]], caption: str, class_: str = "summary") -> Markup:
    body = join(
        Markup(f'<tr><th scope="row">{escape(label)}</th><td>{escape(value)}</td></tr>')
        for label, value in rows
    )
    return Markup(
        f'<table class="{class_}"><caption>{escape(caption)}</caption><tbody>{body}</tbody></table>'
    )


# --- form fragments ---------------------------------------------------------------------------


def _tag(required: bool) -> Markup:
    if required:
        return Markup('<span class="tag tag-required">必須</span>')
    return Markup('<span class="tag tag-optional">任意</span>')


def _error(name: str, errors: Mapping[str, str]) -> Markup:
    if name not in errors:
        return Markup("")
    return Markup(
        f'<p class="error-message" id="f-{name}-error">'
        f'<span class="visually-hidden">入力エラー：</span>{escape(errors[name])}</p>'
    )


def _described_by(*ids: str | None) -> Markup:
    present = [i for i in ids if i]
    return attr("aria-describedby", " ".join(present)) if present else Markup("")


def _text_field(
    name: str,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    *,
    required: bool = False,
    hint: str | None = None,
    width: str = "wide",
    label: str | None = None,
    inputmode: str | None = None,
    input_type: str = "text",
    tag: bool = True,
) -> Markup:
    hint_id = f"f-{name}-hint" if hint else None
    error_id = f"f-{name}-error" if name in errors else None
    hint_html = Markup(f'<p class="hint" id="{hint_id}">{escape(hint)}</p>') if hint else ""
    value = values.get(name, "") if input_type != "password" else ""
    max_length = MAX_LENGTHS.get(name)
    tag_html = _tag(required) if tag else Markup("")
    return Markup(
        f'<div class="field{" field-error" if error_id else ""}" id="field-{name}">'
        f'<label for="f-{name}">{escape(label or LABELS[name])}{tag_html}</label>'
        f"{hint_html}{_error(name, errors)}"
        f'<input class="input input-{width}" id="f-{name}" name="{name}" type="{input_type}"'
        f"{attr('value', value) if value else ''}"
        f"{attr('maxlength', str(max_length)) if max_length else ''}"
        f"{attr('inputmode', inputmode)}"
        f' autocomplete="off" autocapitalize="off" spellcheck="false"'
        f"{' required' if required else ''}"
        f"{_described_by(hint_id, error_id)}"
        f"{_INVALID if error_id else ''}>"
        f"</div>"
    )


def _former_rows(values: Mapping[str, str], errors: Mapping[str, str]) -> Markup:
    wanted = [
        *filled_former_rows(values),
        *(
            row
            for row in range(1, FORMER_ROWS + 1)
            if f"former_kana_{row}" in errors or f"former_kanji_{row}" in errors
        ),
    ]
    visible = max(FORMER_ROWS_WITHOUT_JS, *wanted) if wanted else FORMER_ROWS_WITHOUT_JS
    rows = []
    for row in range(1, FORMER_ROWS + 1):
        fields = _text_field(
            f"former_kana_{row}",
            values,
            errors,
            width="name",
            hint="例：さとう" if row == 1 else None,
        ) + _text_field(
            f"former_kanji_{row}",
            values,
            errors,
            width="name",
            hint="例：佐藤" if row == 1 else None,
        )
        rows.append(
            Markup(
                f'<div class="former-row name-pair" data-former-row="{row}"'
                f"{' hidden' if row > visible else ''}>{fields}</div>"
            )
        )
    return join(rows)


def _date_group(values: Mapping[str, str], errors: Mapping[str, str]) -> Markup:
    era_value = values.get("birth_era", "")
    options = join(
        [Markup('<option value="">選んでください</option>')]
        + [
            Markup(
                f'<option value="{escape(era)}"{" selected" if era == era_value else ""}>'
                f"{escape(era)}</option>"
            )
            for era in ERA_CHOICES
        ]
    )
    era_error = "f-birth_era-error" if "birth_era" in errors else None
    era_field = Markup(
        f'<div class="field field-era{" field-error" if era_error else ""}" id="field-birth_era">'
        f'<label for="f-birth_era">元号</label>{_error("birth_era", errors)}'
        f'<select class="select" id="f-birth_era" name="birth_era" required'
        f"{_described_by(era_error)}{_INVALID if era_error else ''}>"
        f"{options}</select></div>"
    )
    parts = join(
        _text_field(
            name, values, errors, width="digits", inputmode="numeric", required=True, tag=False
        )
        for name in ("birth_year", "birth_month", "birth_day")
    )
    group_error = "f-birth_date-error" if "birth_date" in errors else None
    return Markup(
        f'<fieldset class="group{" group-error" if group_error else ""}" id="field-birth_date"'
        f"{_described_by('birth-hint', group_error)}>"
        f'<legend class="group-legend">生年月日{_tag(True)}</legend>'
        f'<p class="hint" id="birth-hint">例：昭和 13 年 5 月 3 日。'
        f"西暦で入力するときは「西暦」を選んでください（例：1938 年 5 月 3 日）。</p>"
        f"{_error('birth_date', errors)}"
        f'<div class="date-parts">{era_field}{parts}</div></fieldset>'
    )


def _gender_group(values: Mapping[str, str], errors: Mapping[str, str]) -> Markup:
    error_id = "f-gender-error" if "gender" in errors else None
    radios = join(
        Markup(
            f'<div class="radio"><input type="radio" id="f-gender-{code}" name="gender"'
            f' value="{code}"{" checked" if values.get("gender") == code else ""} required'
            f"{_INVALID if error_id else ''}>"
            f'<label for="f-gender-{code}">{escape(label)}</label></div>'
        )
        for code, label in GENDERS
    )
    return Markup(
        f'<fieldset class="group{" group-error" if error_id else ""}" id="field-gender"'
        f"{_described_by(error_id)}>"
        f'<legend class="group-legend">性別{_tag(True)}</legend>'
        f'{_error("gender", errors)}<div class="radios">{radios}</div></fieldset>'
    )


_TARGETS: Final = {"birth_date": "f-birth_era", "gender": "f-gender-M"}


def _error_summary(errors: Mapping[str, str]) -> Markup:
    if not errors:
        return Markup("")
    items = join(
        Markup(f'<li><a href="#{_TARGETS.get(name, "f-" + name)}">{escape(message)}</a></li>')
        for name, message in errors.items()
    )
    return Markup(
        '<div class="error-summary" role="alert" tabindex="-1" autofocus'
        ' aria-labelledby="error-summary-title">'
        '<h2 id="error-summary-title">入力内容を確認してください</h2>'
        f'<ul class="error-list">{items}</ul></div>'
    )


def _busy_notice() -> Markup:
    return Markup(
        f'<div class="notice notice-busy" role="alert" tabindex="-1" autofocus>'
        f'<p class="notice-text">{escape(BUSY_MESSAGE)}</p></div>'
    )


def _hidden(values: Mapping[str, str], names: Sequence[str]) -> Markup:
    return join(
        Markup(f'<input type="hidden" name="{name}"{attr("value", values.get(name, ""))}>')
        for name in names
        if values.get(name, "")
    )


def _check_form(values: Mapping[str, str], errors: Mapping[str, str], button: str) -> Markup:
    return render(
        "check_form.html",
        surname_kana=_text_field(
            "surname_kana", values, errors, required=True, width="name", hint="例：やまだ"
        ),
        given_name_kana=_text_field(
            "given_name_kana", values, errors, required=True, width="name", hint="例：きょうこ"
        ),
        surname_kanji=_text_field("surname_kanji", values, errors, width="name", hint="例：山田"),
        given_name_kanji=_text_field(
            "given_name_kanji", values, errors, width="name", hint="例：京子"
        ),
        former_rows=_former_rows(values, errors),
        birth_date=_date_group(values, errors),
        gender=_gender_group(values, errors),
        button=button,
    )


def _reference_form(values: Mapping[str, str], errors: Mapping[str, str]) -> Markup:
    return render(
        "reference_form.html",
        hidden=_hidden(values, CHECK_FIELDS),
        employer_name=_text_field(
            "employer_name", values, errors, hint="例：山田商店、〇〇株式会社 〇〇工場"
        ),
        address=_text_field("address", values, errors, hint="例：埼玉県浦和市"),
    )


def _steps(current: int) -> Markup:
    items = join(
        Markup(
            f"<li{_CURRENT if number == current else ''}"
            f"{_DONE if number < current else ''}>"
            f'<span class="step-number">{number}</span>{escape(name)}</li>'
        )
        for number, name in enumerate(STEP_NAMES, start=1)
    )
    return Markup(f'<ol class="steps" aria-label="手続きの流れ">{items}</ol>')


def _page(title: str, content: Markup, *, staff: bool = False) -> str:
    return str(
        render(
            "layout.html",
            title=f"{title} | {STAFF_SITE_NAME if staff else SITE_NAME}",
            site_name=STAFF_SITE_NAME if staff else SITE_NAME,
            home="/staff" if staff else "/",
            body_class="staff" if staff else "public",
            content=content,
        )
    )


# --- public pages -----------------------------------------------------------------------------


def form_page(
    values: Mapping[str, str], errors: Mapping[str, str] | None = None, *, busy: bool = False
) -> str:
    """Step 1: the check form, empty, or filled again with messages."""
    errors = errors or {}
    notice = _busy_notice() if busy else _error_summary(errors)
    title = "年金記録があるか調べる"
    return _page(
        ("入力エラー：" if errors else "") + title,
        render(
            "form_page.html",
            steps=_steps(1),
            notice=notice,
            form=_check_form(values, errors, "記録があるか調べる"),
        ),
    )


def found_page(values: Mapping[str, str], submitted: Mapping[str, Any]) -> str:
    """Step 2 (a record exists) and step 3 (add reference information)."""
    return _page(
        "記録がありました",
        render(
            "found.html",
            steps=_steps(3),
            reference_form=_reference_form(values, {}),
            summary=_table(submitted_rows(submitted), "ご入力内容"),
        ),
    )


def not_found_page(values: Mapping[str, str], submitted: Mapping[str, Any]) -> str:
    """Step 2 (no matching record): what that means, and the form to try again."""
    return _page(
        "一致する記録は見つかりませんでした",
        render(
            "not_found.html",
            steps=_steps(2),
            summary=_table(submitted_rows(submitted), "ご入力内容"),
            form=_check_form(values, {}, "もう一度調べる"),
        ),
    )


def reference_page(
    values: Mapping[str, str], errors: Mapping[str, str], *, busy: bool = False
) -> str:
    """Step 3 again, when the reference fields were wrong or the service was busy."""
    notice = _busy_notice() if busy else _error_summary(errors)
    return _page(
        ("入力エラー：" if errors else "") + "参考情報の入力",
        render(
            "reference_page.html",
            steps=_steps(3),
            notice=notice,
            reference_form=_reference_form(values, errors),
        ),
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
    qr = qr_svg(token)
    figure = (
        Markup(f'<figure class="qr">{qr}<figcaption>照会番号のQRコード</figcaption></figure>')
        if qr is not None
        else Markup("")
    )
    return _page(
        "検索結果（印刷用）",
        render(
            "printable.html",
            steps=_steps(4),
            issued_date=japanese_date(issued.astimezone(JST).date()),
            expires_date=japanese_date(expires.astimezone(JST).date()),
            qr=figure,
            token=_token_groups(token),
            summary=_table(submitted_rows(submitted), "ご入力内容"),
        ),
    )


def error_page(status: int) -> str:
    """Anything else that went wrong: still never a "no record" answer."""
    text = (
        "送信された内容を読み取れませんでした。最初からやり直してください。"
        if status < 500
        else "エラーが発生しました。時間をおいて再度お試しください。"
        "記録が無いという意味ではありません。"
    )
    return _page("エラー", render("error.html", message=text))


# --- staff pages ------------------------------------------------------------------------------


def staff_result(resolution: Mapping[str, Any]) -> Markup:
    """The resolved token: candidate record ids (best first), validity, the submitted check."""
    ids = [str(i) for i in resolution.get("record_ids", [])]
    rows = join(
        Markup(
            f'<tr><td class="num">{rank}</td><td class="record-id">{escape(record_id)}</td></tr>'
        )
        for rank, record_id in enumerate(ids, start=1)
    )
    candidates = Markup(
        '<table class="candidates"><caption>候補の記録（一致度の高い順）</caption>'
        '<thead><tr><th scope="col">順位</th><th scope="col">記録ID</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )
    validity: list[tuple[str, str]] = []
    for key, label in (("issued_at", "発行日時"), ("expires_at", "有効期限")):
        try:
            validity.append(
                (label, japanese_datetime(dt.datetime.fromisoformat(str(resolution.get(key, "")))))
            )
        except ValueError:
            validity.append((label, str(resolution.get(key, ""))))
    check = resolution.get("check")
    return render(
        "staff_result.html",
        candidates=candidates,
        validity=_table(validity, "照会番号の有効期間"),
        check=_table(
            submitted_rows(check if isinstance(check, Mapping) else {}), "お客さまが入力した内容"
        ),
    )


def staff_page(
    errors: Mapping[str, str] | None = None, result: Markup | None = None, token: str = ""
) -> str:
    """The staff tool: a key and a token in, the resolution (or what went wrong) out."""
    errors = errors or {}
    values = {"token": token}
    labels = {"staff_key": "職員キー", "token": "照会番号"}
    summary = Markup("")
    if errors:
        items = join(
            Markup(f'<li><a href="#f-{name}">{escape(labels[name])}：{escape(message)}</a></li>')
            for name, message in errors.items()
        )
        summary = Markup(
            '<div class="error-summary" role="alert" tabindex="-1" autofocus'
            ' aria-labelledby="error-summary-title">'
            '<h2 id="error-summary-title">確認できませんでした</h2>'
            f'<ul class="error-list">{items}</ul></div>'
        )
    return _page(
        "照会番号の確認",
        render(
            "staff.html",
            notice=summary,
            staff_key=_text_field(
                "staff_key",
                values,
                errors,
                required=True,
                input_type="password",
                label=labels["staff_key"],
                width="name",
            ),
            token=_text_field(
                "token",
                values,
                errors,
                required=True,
                label=labels["token"],
                hint="QRコードリーダーで読み取るか、印刷物の文字を入力・貼り付けて"
                "ください。空白と改行は無視します。",
            ),
            result=result or Markup(""),
        ),
        staff=True,
    )
