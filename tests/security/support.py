"""Shared pieces of the security tests: settings, a controllable clock, the staff key."""

from __future__ import annotations

import datetime as dt
from typing import Any

from mochinushi.settings import Settings

STAFF_KEY = "security-staff-key-0123456789abcdef"
OTHER_STAFF_KEY = "second-staff-key-fedcba9876543210"
TOKEN_SECRET = "s2:security-second-secret-000001,s1:security-first-secret-0000001"
OTHER_DEPLOYMENT_SECRET = "s2:another-deployment-secret-0001"

FOUND_CHECK: dict[str, Any] = {
    "surname_kana": "やまだ",
    "given_name_kana": "キョウコ",
    "surname_kanji": "山田",
    "given_name_kanji": "京子",
    "former_surnames": [{"kana": "サトウ", "kanji": "佐藤"}],
    "birth_date": "昭和13年5月3日",
    "gender": "F",
    "reference": {"employer_name": "山田商店", "address": "埼玉県浦和市"},
}
NOT_FOUND_CHECK: dict[str, Any] = {
    "surname_kana": "ワタナベ",
    "given_name_kana": "ススム",
    "birth_date": "1950-10-10",
    "gender": "M",
}


class Clock:
    """A clock the test moves by hand (tokens expire on it)."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def security_settings(alias: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "alias": alias,
        "staff_api_keys": f"{STAFF_KEY},{OTHER_STAFF_KEY}",
        "token_secret": TOKEN_SECRET,
        "rate_limit": "off",
        "staff_rate_limit": "off",
        "dev_mode": False,
        "opensearch_timeout_seconds": 10.0,
    }
    values.update(overrides)
    return Settings(**values)


def staff_headers(key: str = STAFF_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


FULL_WIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)} | {" ": "\u3000"})
"""ASCII → full-width forms (ＳＴ１３．５．３), space → ideographic space."""

ERAS_BY_START = [
    (dt.date(2019, 5, 1), "令和", "R"),
    (dt.date(1989, 1, 8), "平成", "H"),
    (dt.date(1926, 12, 25), "昭和", "S"),
    (dt.date(1912, 7, 30), "大正", "T"),
    (dt.date(1868, 1, 25), "明治", "M"),
]


def render_date(day: dt.date, style: int) -> str:
    """``day`` in one of the spellings people type (the API accepts each; analyzers/dates.py)."""
    start, name, initial = next(era for era in ERAS_BY_START if day >= era[0])
    era_year = day.year - start.year + 1
    year = "元" if era_year == 1 and style % 2 else str(era_year)
    return [
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}.{day.month}.{day.day}",
        f"{day.year:04d}{day.month:02d}{day.day:02d}",
        f"{day.year}年{day.month}月{day.day}日",
        f"{name}{year}年{day.month}月{day.day}日",
        f"{initial}{era_year}.{day.month}.{day.day}",
        f"{name[0]}{year}.{day.month}.{day.day}",
        f"{initial.lower()}{era_year}-{day.month}-{day.day}",
        f"{name} {year} 年 {day.month} 月 {day.day} 日",
    ][style % 10]
