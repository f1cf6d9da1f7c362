"""The check form: parse the posted fields, build an ``ExistenceCheckIn``, say what is wrong.

Validation is the request model's (the same as the JSON API's); this module only assembles the
model's input from the form's fields and turns the model's errors into Japanese sentences tied to
the field that caused them. The one check done here is the shape of the three date boxes, which
the JSON API does not have.

Why ``parse_qsl`` and not FastAPI's ``Form``: ``Form`` needs python-multipart, a dependency for
one content type that the standard library reads in two lines.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl

from pydantic import ValidationError

from analyzers.dates import ERAS
from search_api.models import MAX_KANA, MAX_KANJI, MAX_REFERENCE, ExistenceCheckIn

__all__ = [
    "CHECK_FIELDS",
    "ERA_CHOICES",
    "FORMER_ROWS",
    "FORMER_ROWS_WITHOUT_JS",
    "GREGORIAN",
    "KNOWN_FIELDS",
    "LABELS",
    "MAX_FORM_FIELDS",
    "REFERENCE_FIELDS",
    "STAFF_FIELDS",
    "FormError",
    "Validated",
    "birth_date_text",
    "filled_former_rows",
    "parse_form",
    "validate",
]

FORMER_ROWS: Final = 5
"""As many rows as the API accepts former surnames."""
FORMER_ROWS_WITHOUT_JS: Final = 3
"""Rows shown when the page has no JavaScript (the script reveals the others one by one)."""

GREGORIAN: Final = "西暦"
ERA_CHOICES: Final[tuple[str, ...]] = (*(era.name for era in ERAS), GREGORIAN)


def _kanji_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


ERA_PERIODS: Final[dict[str, str]] = {
    era.name: f"{_kanji_date(era.first_day)}から"
    + (f"{_kanji_date(after.first_day - dt.timedelta(days=1))}まで" if after else "")
    for era, after in zip(ERAS, (*ERAS[1:], None), strict=True)
}
"""Each era's first and last day, for the message when a date lies outside the era chosen."""

NAME_FIELDS: Final = ("surname_kana", "given_name_kana", "surname_kanji", "given_name_kanji")
FORMER_FIELDS: Final = tuple(
    name
    for row in range(1, FORMER_ROWS + 1)
    for name in (f"former_kana_{row}", f"former_kanji_{row}")
)
DATE_FIELDS: Final = ("birth_era", "birth_year", "birth_month", "birth_day")
CHECK_FIELDS: Final[tuple[str, ...]] = (*NAME_FIELDS, *FORMER_FIELDS, *DATE_FIELDS, "gender")
REFERENCE_FIELDS: Final[tuple[str, ...]] = ("employer_name", "address")
KNOWN_FIELDS: Final[tuple[str, ...]] = (*CHECK_FIELDS, *REFERENCE_FIELDS, "step")
STAFF_FIELDS: Final[tuple[str, ...]] = ("staff_key", "token")
MAX_FORM_FIELDS: Final = 64

LABELS: Final[dict[str, str]] = {
    "surname_kana": "姓（ふりがな）",
    "given_name_kana": "名（ふりがな）",
    "surname_kanji": "姓（漢字）",
    "given_name_kanji": "名（漢字）",
    **{f"former_kana_{row}": f"旧姓{row}（ふりがな）" for row in range(1, FORMER_ROWS + 1)},
    **{f"former_kanji_{row}": f"旧姓{row}（漢字）" for row in range(1, FORMER_ROWS + 1)},
    "birth_era": "元号",
    "birth_year": "年",
    "birth_month": "月",
    "birth_day": "日",
    "birth_date": "生年月日",
    "gender": "性別",
    "employer_name": "当時の勤務先",
    "address": "当時の住所",
}
"""Field labels as the page shows them; also the names used in error messages."""

MAX_LENGTHS: Final[dict[str, int]] = {
    "surname_kana": MAX_KANA,
    "given_name_kana": MAX_KANA,
    "surname_kanji": MAX_KANJI,
    "given_name_kanji": MAX_KANJI,
    **{f"former_kana_{row}": MAX_KANA for row in range(1, FORMER_ROWS + 1)},
    **{f"former_kanji_{row}": MAX_KANJI for row in range(1, FORMER_ROWS + 1)},
    "birth_year": 4,
    "birth_month": 2,
    "birth_day": 2,
    "employer_name": MAX_REFERENCE,
    "address": MAX_REFERENCE,
}

# Page order, so the error summary lists problems top to bottom.
_ORDER: Final = (
    *NAME_FIELDS,
    *FORMER_FIELDS,
    "birth_date",
    *DATE_FIELDS,
    "gender",
    *REFERENCE_FIELDS,
)


class FormError(ValueError):
    """The body is not a form this page could have sent (not UTF-8, too many fields)."""


@dataclass(frozen=True)
class Validated:
    """The outcome of validating a posted form."""

    values: Mapping[str, str]
    """What was typed (known fields only, missing ones as ""), to fill the form again."""
    check: ExistenceCheckIn | None
    errors: dict[str, str] = field(default_factory=dict)
    """Field name -> Japanese message, in page order; ``birth_date`` is the date as a whole."""


def parse_form(body: bytes, fields: Collection[str] = KNOWN_FIELDS) -> dict[str, str]:
    """Decode an ``application/x-www-form-urlencoded`` body: the first value of each of
    ``fields`` ("" when absent); anything else is ignored."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
            encoding="utf-8",
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError):
        raise FormError("not a form this page sends") from None
    values: dict[str, str] = {}
    for name, value in pairs:
        if name in fields and name not in values:
            values[name] = value
    return {name: values.get(name, "") for name in fields}


def filled_former_rows(values: Mapping[str, str]) -> list[int]:
    """Row numbers (1-based) of former-surname rows with anything typed in them."""
    return [
        row
        for row in range(1, FORMER_ROWS + 1)
        if values.get(f"former_kana_{row}", "").strip()
        or values.get(f"former_kanji_{row}", "").strip()
    ]


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def _date_parts(values: Mapping[str, str], errors: dict[str, str]) -> str | None:
    """The birth date as the text the API accepts, or None (and errors) if a box is wrong."""
    era = values.get("birth_era", "")
    year = _nfkc(values.get("birth_year", ""))
    month = _nfkc(values.get("birth_month", ""))
    day = _nfkc(values.get("birth_day", ""))
    if era not in ERA_CHOICES:
        errors["birth_era"] = (
            "生年月日の元号を選んでください。西暦で入力するときは「西暦」を選んでください。"
        )
    if not year:
        errors["birth_year"] = "生年月日の年を入力してください。"
    elif era == GREGORIAN and not re.fullmatch(r"[0-9]{4}", year):
        errors["birth_year"] = "生年月日の年は、西暦なら4けたの数字で入力してください（例：1938）。"
    elif era != GREGORIAN and not re.fullmatch(r"元|[0-9]{1,2}", year):
        errors["birth_year"] = "生年月日の年は数字で入力してください（例：13）。元年は「1」です。"
    for name, label, top in (("birth_month", "月", 12), ("birth_day", "日", 31)):
        text = month if name == "birth_month" else day
        if not text:
            errors[name] = f"生年月日の{label}を入力してください。"
        elif not re.fullmatch(r"[0-9]{1,2}", text) or not 1 <= int(text) <= top:
            errors[name] = f"生年月日の{label}は、1から{top}までの数字で入力してください。"
    if any(name in errors for name in DATE_FIELDS):
        return None
    if era == GREGORIAN:
        return f"{year}-{int(month):02d}-{int(day):02d}"
    return f"{era}{year}年{int(month)}月{int(day)}日"


def birth_date_text(values: Mapping[str, str]) -> str:
    """The three date boxes as one readable date (for messages), whatever their state."""
    era = values.get("birth_era", "")
    year, month, day = (_nfkc(values.get(n, "")) for n in DATE_FIELDS[1:])
    if era == GREGORIAN:
        return f"{year}年{month}月{day}日"
    return f"{era}{year}年{month}月{day}日"


def _date_message(message: str, values: Mapping[str, str]) -> str:
    shown = birth_date_text(values)
    era = values.get("birth_era", "")
    if "outside the era" in message and era in ERA_PERIODS:
        return (
            f"{shown}は{era}の期間にありません。{era}は{ERA_PERIODS[era]}です。"
            "元号と年をご確認ください。"
        )
    if "future" in message:
        return "生年月日が今日より後の日付になっています。ご確認ください。"
    if "starts at 1" in message:
        return "生年月日の年は1以上で入力してください（元年は1）。"
    if "calendar date" in message:
        return f"{shown}という日はありません。月と日をご確認ください。"
    return "生年月日をご確認ください。"


def _field_of(loc: Sequence[int | str], former_rows: Sequence[int]) -> str | None:
    match tuple(loc):
        case ("former_surnames", int(index), "kana" | "kanji" as part, *_):
            return f"former_{part}_{former_rows[index]}" if index < len(former_rows) else None
        case ("reference", str(name), *_):
            return name
        case (str(name), *_):
            return name
    return None


def _message(name: str, error: Mapping[str, Any], values: Mapping[str, str]) -> str:
    label = LABELS.get(name, "入力内容")
    kind = str(error.get("type", ""))
    text = str(error.get("msg", ""))
    context = error.get("ctx") or {}
    if name == "gender":
        return "性別を選んでください。"
    if name == "birth_date":
        return _date_message(text, values)
    if kind == "missing" or "must not be empty" in text:
        return f"{label}を入力してください。"
    if kind == "string_too_long":
        return f"{label}は{context.get('max_length', '')}文字以内で入力してください。"
    if "control characters" in text:
        return f"{label}に使えない文字（制御文字）が含まれています。"
    if "kana" in text:
        return f"{label}は、ひらがなかカタカナで入力してください。"
    if "kanji" in text:
        return f"{label}は漢字で入力してください。わからなければ空欄のままでかまいません。"
    return f"{label}の入力内容をご確認ください。"


def validate(values: Mapping[str, str], *, with_reference: bool) -> Validated:
    """Build the API request from the form, or say (in Japanese) which fields are wrong."""
    errors: dict[str, str] = {}
    birth_date = _date_parts(values, errors)
    former_rows = filled_former_rows(values)
    data: dict[str, Any] = {name: values.get(name, "") for name in NAME_FIELDS}
    data["former_surnames"] = [
        {
            "kana": values.get(f"former_kana_{row}", ""),
            "kanji": values.get(f"former_kanji_{row}", ""),
        }
        for row in former_rows
    ]
    if values.get("gender"):
        data["gender"] = values["gender"]
    if birth_date is not None:
        data["birth_date"] = birth_date
    if with_reference:
        reference = {name: values.get(name, "") for name in REFERENCE_FIELDS}
        if any(v.strip() for v in reference.values()):
            data["reference"] = reference
    check: ExistenceCheckIn | None = None
    try:
        check = ExistenceCheckIn.model_validate(data)
    except ValidationError as invalid:
        for error in invalid.errors(include_input=False, include_url=False):
            name = _field_of(error["loc"], former_rows)
            if name is None or (name == "birth_date" and birth_date is None):
                continue  # the date boxes already have their own messages
            errors.setdefault(name, _message(name, error, values))
        if not errors:
            errors["surname_kana"] = "入力内容をご確認ください。"
    ordered = {name: errors[name] for name in _ORDER if name in errors}
    return Validated(values=values, check=None if ordered else check, errors=ordered)
