"""How dates, the reference token and a submitted check are shown to people.

Dates are written the way a Japanese reader expects them (``昭和13年5月3日``, Japan time); the
reference number is shown in its groups of three so it can be read aloud and typed in again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Final

import segno
from markupsafe import Markup

from analyzers.dates import BirthDate, DateFormatError, InvalidDateError, parse_user_date, to_era

__all__ = [
    "GENDERS",
    "JST",
    "TOKEN_GROUP",
    "birth_date_display",
    "group_token",
    "japanese_date",
    "japanese_datetime",
    "qr_svg",
    "submitted_rows",
    "token_groups",
]

JST: Final = dt.timezone(dt.timedelta(hours=9), "JST")
TOKEN_GROUP: Final = 6
GENDERS: Final = (("M", "男性"), ("F", "女性"))


# --- dates ------------------------------------------------------------------------------------


def _era_year(name: str, year: int) -> str:
    return f"{name}{'元' if year == 1 else year}年"


def japanese_date(day: dt.date) -> str:
    """``2025年11月27日（令和7年）``."""
    era = to_era(BirthDate(day.year, day.month, day.day))
    suffix = f"（{_era_year(*era)}）" if era else ""
    return f"{day.year}年{day.month}月{day.day}日{suffix}"


def japanese_datetime(moment: dt.datetime) -> str:
    """``2025年11月27日 10時30分``, in Japan time whatever the zone of ``moment``."""
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


# --- the reference token ----------------------------------------------------------------------


def token_groups(token: str) -> list[str]:
    """A reference number's groups (``ABC-DEF-…``), or a v1.0 token cut into groups of six."""
    if "-" in token and len(token) <= 24:
        return token.split("-")
    return [token[i : i + TOKEN_GROUP] for i in range(0, len(token), TOKEN_GROUP)]


def group_token(token: str) -> str:
    """The number's groups joined by hyphens, as printed (the staff page ignores them)."""
    return "-".join(token_groups(token))


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


# --- the submitted check ----------------------------------------------------------------------


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
