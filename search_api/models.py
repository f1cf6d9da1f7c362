"""The HTTP request and response bodies (checks, token resolution, readiness), and their validation.

Validation errors name the field and say what is expected; they never echo the submitted
value (it is personal data), so ``input`` is stripped from FastAPI's error details.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from analyzers.dates import DateFormatError, InvalidDateError, parse_user_date
from analyzers.kana import is_kana, normalize_kana
from analyzers.kanji import is_kanji_name
from matching.checks import Check, FormerSurname

MAX_KANA = 30
MAX_KANJI = 20
MAX_REFERENCE = 200
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def _clean(value: str) -> str:
    if CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value.strip()


def _kana(value: str) -> str:
    value = _clean(value)
    if not value:
        raise ValueError("must not be empty")
    if not is_kana(value):
        raise ValueError("must be written in kana (hiragana or katakana, any width)")
    return value


def _kanji(value: str | None) -> str | None:
    if value is None:
        return None
    value = _clean(value)
    if not value:
        return None
    if not is_kanji_name(value):
        raise ValueError("must be a name written in kanji")
    return value


class FormerSurnameIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kana: str = Field(max_length=MAX_KANA, description="Former surname in kana (e.g. 旧姓)")
    kanji: str | None = Field(default=None, max_length=MAX_KANJI)

    _kana = field_validator("kana")(_kana)
    _kanji = field_validator("kanji")(_kanji)


class ReferenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    employer_name: str | None = Field(default=None, max_length=MAX_REFERENCE)
    address: str | None = Field(default=None, max_length=MAX_REFERENCE)

    @field_validator("employer_name", "address")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return _clean(value) or None if value is not None else None


class ExistenceCheckIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "surname_kana": "やまだ",
                    "given_name_kana": "キョウコ",
                    "surname_kanji": "山田",
                    "given_name_kanji": "京子",
                    "former_surnames": [{"kana": "サトウ", "kanji": "佐藤"}],
                    "birth_date": "昭和13年5月3日",
                    "gender": "F",
                    "reference": {"employer_name": "山田商店", "address": "埼玉県浦和市"},
                }
            ]
        },
    )

    surname_kana: str = Field(max_length=MAX_KANA)
    given_name_kana: str = Field(max_length=MAX_KANA)
    surname_kanji: str | None = Field(default=None, max_length=MAX_KANJI)
    given_name_kanji: str | None = Field(default=None, max_length=MAX_KANJI)
    former_surnames: list[FormerSurnameIn] = Field(default_factory=list, max_length=5)
    birth_date: str = Field(
        max_length=40,
        description="YYYY-MM-DD or 和暦 (昭和13年5月3日, 昭和１３年５月３日, S13.5.3)",
    )
    gender: Literal["M", "F"]
    reference: ReferenceIn | None = None

    _kana = field_validator("surname_kana", "given_name_kana")(_kana)
    _kanji = field_validator("surname_kanji", "given_name_kanji")(_kanji)

    @field_validator("birth_date")
    @classmethod
    def _date(cls, value: str) -> str:
        value = _clean(value)
        try:
            parse_user_date(value)
        except InvalidDateError as error:
            raise ValueError(f"is not a real date: {error}") from None
        except DateFormatError:
            raise ValueError(
                "must be a date such as 1950-01-31, 昭和25年1月31日 or S25.1.31"
            ) from None
        return value

    def to_check(self) -> Check:
        reference = self.reference or ReferenceIn()
        return Check(
            surname_kana=normalize_kana(self.surname_kana),
            given_name_kana=normalize_kana(self.given_name_kana),
            birth_date=parse_user_date(self.birth_date),
            gender=self.gender,
            surname_kanji=self.surname_kanji,
            given_name_kanji=self.given_name_kanji,
            former_surnames=tuple(FormerSurname(f.kana, f.kanji) for f in self.former_surnames),
            employer_name=reference.employer_name,
            address=reference.address,
        )

    def as_submitted(self) -> dict[str, Any]:
        """The check as the staff will see it (sealed inside the reference token)."""
        data: dict[str, Any] = self.model_dump(exclude_none=True, exclude_defaults=True)
        data["gender"] = self.gender
        return data


class ExistenceCheckOut(BaseModel):
    found: bool
    reference_token: str | None = Field(
        description="When found: the reference number (contract v1.1), 18 characters of "
        "23456789ABCDEFGHJKMNPQRSTUVWXYZ in groups of three, e.g. ABC-DEF-GHJ-KMN-PQR-STU; "
        "the last is a check character"
    )


class TokenResolutionOut(BaseModel):
    record_ids: list[str]
    issued_at: str
    expires_at: str
    check: dict[str, Any]


# ---- error and operations bodies, for the OpenAPI schema (what clients can rely on) ----------


class ErrorOut(BaseModel):
    """Every 4xx/5xx body of the API: a stable code and a human sentence, never a value."""

    error: str = Field(description="Stable code: invalid_input, rate_limited, unknown_token, …")
    message: str


class FieldErrorOut(BaseModel):
    field: str = Field(description="Dotted path of the field, e.g. former_surnames.0.kana")
    message: str = Field(description="What is expected; never the submitted value")
    type: str


class InvalidInputOut(ErrorOut):
    """The 422 body: which fields are wrong and why, without echoing what was sent."""

    fields: list[FieldErrorOut]


class ReadinessOut(BaseModel):
    ready: bool
    reason: str | None = Field(default=None, description="Why not ready (503 only)")


RETRY_AFTER_HEADER: dict[str, Any] = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}
EXISTENCE_CHECK_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        # Raised by FastAPI itself (a body that is not UTF-8), hence its own shape.
        "description": "Body cannot be decoded at all",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"detail": {"type": "string"}},
                    "required": ["detail"],
                }
            }
        },
    },
    401: {
        "model": ErrorOut,
        "description": "An Authorization header that is no partner office's key "
        "(partners send `Bearer <key>`; the public sends none)",
        "headers": {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
    },
    413: {"model": ErrorOut, "description": "Request body over 16 KiB"},
    422: {"model": InvalidInputOut, "description": "Invalid fields (named, values never echoed)"},
    429: {
        "model": ErrorOut,
        "description": "Rate limit exceeded",
        "headers": RETRY_AFTER_HEADER,
    },
    503: {
        "model": ErrorOut,
        "description": "Search unavailable: try later (never a 'no')",
        "headers": RETRY_AFTER_HEADER,
    },
}
TOKEN_RESOLUTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorOut,
        "description": "No or wrong staff key",
        "headers": {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
    },
    404: {
        "model": ErrorOut,
        "description": "error `mistyped`: not a well-formed reference number (its check "
        "character does not match); error `unknown_token`: well-formed but never issued here, "
        "removed after expiry, or an altered or forged v1.0 token",
    },
    410: {"model": ErrorOut, "description": "Expired token"},
    422: {"model": InvalidInputOut, "description": "Malformed request"},
    429: {
        "model": ErrorOut,
        "description": "Too many resolutions with this staff key",
        "headers": RETRY_AFTER_HEADER,
    },
    503: {
        "model": ErrorOut,
        "description": "The reference index is unavailable: try later",
        "headers": RETRY_AFTER_HEADER,
    },
}
READINESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ReadinessOut,
        "description": "Cluster unreachable, alias missing, or its index unservable by this code "
        "(mapping version not supported, statistics unreadable, not searchable)",
    },
}
