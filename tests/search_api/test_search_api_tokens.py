"""Reference tokens: round trip, rotation, tamper resistance, expiry, and opacity."""

from __future__ import annotations

import base64
import logging
import random
import re
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search_api.tokens import (
    DEFAULT_TOKEN_TTL,
    MAX_TOKEN_CHARS,
    InvalidTokenSecret,
    ReferencePayload,
    TokenExpired,
    TokenInvalid,
    TokenKeyRing,
    TokenTooLarge,
    issue_token,
    open_token,
)

NOW = datetime(2025, 4, 1, 9, 30, 15, 123456, tzinfo=UTC)
SECRET_A = "alpha-secret-0123456789abcdef"
SECRET_B = "bravo-secret-0123456789abcdef"
RECORD_IDS = ("R0000123", "R0004567")
KANA_SURNAME = "ヤマダ"
KANA_GIVEN = "キョウコ"
CHECK: dict[str, Any] = {
    "surname_kana": KANA_SURNAME,
    "given_name_kana": KANA_GIVEN,
    "surname_kanji": "山田",
    "given_name_kanji": "京子",
    "former_surnames": [{"kana": "サトウ", "kanji": "佐藤"}],
    "birth_date": "昭和13年5月3日",
    "gender": "F",
    "reference": {"employer_name": "山田商店", "address": "埼玉県浦和市"},
}
TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@cache
def ring() -> TokenKeyRing:
    return TokenKeyRing(f"k1:{SECRET_A}")


@cache
def sample_token() -> str:
    token, _ = issue_token(ring(), RECORD_IDS, CHECK, NOW)
    return token


def b64decode(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# --- round trip -----------------------------------------------------------------------------


def test_round_trip_returns_the_issued_payload() -> None:
    token, issued = issue_token(ring(), RECORD_IDS, CHECK, NOW)
    opened = open_token(ring(), token, NOW + timedelta(days=1))
    assert opened == issued
    assert opened.record_ids == RECORD_IDS
    assert opened.check == CHECK


def test_payload_times_are_utc_whole_seconds_and_default_ttl_is_90_days() -> None:
    _, payload = issue_token(ring(), RECORD_IDS, CHECK, NOW)
    assert payload.issued_at == NOW.replace(microsecond=0)
    assert payload.issued_at.tzinfo == UTC
    assert payload.expires_at - payload.issued_at == DEFAULT_TOKEN_TTL == timedelta(days=90)


def test_now_in_another_timezone_is_converted_to_utc() -> None:
    jst = timezone(timedelta(hours=9))
    _, payload = issue_token(ring(), RECORD_IDS, CHECK, NOW.astimezone(jst))
    assert payload.issued_at == NOW.replace(microsecond=0)
    assert payload.issued_at.utcoffset() == timedelta(0)


def test_token_id_is_random_96_bit_url_safe() -> None:
    ids = {issue_token(ring(), RECORD_IDS, CHECK, NOW)[1].token_id for _ in range(50)}
    assert len(ids) == 50
    for token_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{16}", token_id)
        assert len(b64decode(token_id)) == 12


def test_same_input_gives_different_tokens() -> None:
    first, _ = issue_token(ring(), RECORD_IDS, CHECK, NOW)
    second, _ = issue_token(ring(), RECORD_IDS, CHECK, NOW)
    assert first != second


def test_token_is_url_safe_base64_without_padding() -> None:
    token = sample_token()
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert "=" not in token


def test_token_layout_version_and_kid() -> None:
    raw = b64decode(sample_token())
    assert raw[0] == 1
    assert raw[1] == len(b"k1")
    assert raw[2:4] == b"k1"


def test_check_is_normalised_through_json() -> None:
    check = {"former_surnames": ({"kana": "サトウ"},), "gender": "M"}
    token, payload = issue_token(ring(), ["R1"], check, NOW)
    assert payload.check == {"former_surnames": [{"kana": "サトウ"}], "gender": "M"}
    assert open_token(ring(), token, NOW) == payload


def test_issued_payload_is_independent_of_later_changes_to_the_check() -> None:
    check: dict[str, Any] = {"surname_kana": "ヤマダ", "reference": {"address": "埼玉"}}
    _, payload = issue_token(ring(), ["R1"], check, NOW)
    check["reference"]["address"] = "東京"
    assert payload.check["reference"]["address"] == "埼玉"


def test_many_candidates_and_unicode_record_ids_round_trip() -> None:
    ids = (*(f"R{n:010d}" for n in range(50)), "記録-1")
    token, _ = issue_token(ring(), ids, CHECK, NOW)
    assert open_token(ring(), token, NOW).record_ids == ids


def test_typical_token_is_compact() -> None:
    assert len(sample_token()) < 600


def test_payload_repr_does_not_show_the_check() -> None:
    _, payload = issue_token(ring(), RECORD_IDS, CHECK, NOW)
    assert KANA_SURNAME not in repr(payload)
    assert "山田" not in repr(payload)


# --- issuing: argument validation -----------------------------------------------------------


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        issue_token(ring(), RECORD_IDS, CHECK, NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="timezone-aware"):
        open_token(ring(), sample_token(), NOW.replace(tzinfo=None))


def test_empty_record_ids_are_rejected() -> None:
    with pytest.raises(ValueError, match="at least one record id"):
        issue_token(ring(), [], CHECK, NOW)


def test_a_bare_string_is_not_taken_as_record_ids() -> None:
    with pytest.raises(TypeError):
        issue_token(ring(), "R0000123", CHECK, NOW)


def test_empty_record_id_is_rejected() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        issue_token(ring(), ["R1", ""], CHECK, NOW)


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-5), timedelta(milliseconds=500)])
def test_ttl_below_one_second_is_rejected(ttl: timedelta) -> None:
    with pytest.raises(ValueError, match="ttl"):
        issue_token(ring(), RECORD_IDS, CHECK, NOW, ttl=ttl)


def test_non_json_check_is_rejected_at_issue() -> None:
    with pytest.raises(TypeError):
        issue_token(ring(), RECORD_IDS, {"when": NOW}, NOW)
    with pytest.raises(ValueError):
        issue_token(ring(), RECORD_IDS, {"score": float("nan")}, NOW)


def test_oversized_token_is_refused_at_issue() -> None:
    incompressible = base64.b64encode(random.Random(7).randbytes(14_000)).decode()
    big_check = {"reference": {"address": incompressible}}
    with pytest.raises(TokenTooLarge) as excinfo:
        issue_token(ring(), RECORD_IDS, big_check, NOW)
    assert str(MAX_TOKEN_CHARS) in str(excinfo.value)


# --- key ring -------------------------------------------------------------------------------


def test_bare_secret_gets_key_id_k1() -> None:
    assert TokenKeyRing(SECRET_A).kids == ("k1",)


def test_bare_secret_and_k1_entry_are_the_same_key() -> None:
    token, payload = issue_token(TokenKeyRing(SECRET_A), RECORD_IDS, CHECK, NOW)
    assert open_token(TokenKeyRing(f"k1:{SECRET_A}"), token, NOW) == payload


def test_entries_are_newest_first_and_whitespace_tolerant() -> None:
    keys = TokenKeyRing(f"  k2 : {SECRET_B} ,k1:{SECRET_A}  ")
    assert keys.kids == ("k2", "k1")
    assert keys.issuing_kid == "k2"


def test_secret_may_contain_colons() -> None:
    keys = TokenKeyRing("k9:abc:def:ghi:jkl:mno:pqr")
    token, payload = issue_token(keys, RECORD_IDS, CHECK, NOW)
    assert open_token(TokenKeyRing("k9:abc:def:ghi:jkl:mno:pqr"), token, NOW) == payload


@pytest.mark.parametrize("text", ["", "   ", " , "])
def test_empty_secret_is_rejected(text: str) -> None:
    with pytest.raises(InvalidTokenSecret):
        TokenKeyRing(text)


@pytest.mark.parametrize("text", ["Qz7-wombat-x", "k1:Qz7wom", f"k2:{SECRET_B},k1:Qz7-kiwi"])
def test_short_secret_is_rejected_without_echoing_it(text: str) -> None:
    with pytest.raises(InvalidTokenSecret, match="shorter than 16") as excinfo:
        TokenKeyRing(text)
    for secret_piece in ("Qz7", "wombat", "kiwi", SECRET_B):
        assert secret_piece not in str(excinfo.value)


def test_fifteen_chars_rejected_sixteen_accepted() -> None:
    with pytest.raises(InvalidTokenSecret):
        TokenKeyRing("x" * 15)
    assert TokenKeyRing("x" * 16).kids == ("k1",)


@pytest.mark.parametrize(
    "text",
    [
        f"k1:{SECRET_A},{SECRET_B}",  # second entry lacks a kid
        f":{SECRET_A}",  # empty kid
        f"kid with space:{SECRET_A}",
        f"{'k' * 17}:{SECRET_A}",  # kid longer than 16
        f"ключ:{SECRET_A}",  # non-ASCII kid
    ],
)
def test_malformed_entries_are_rejected(text: str) -> None:
    with pytest.raises(InvalidTokenSecret) as excinfo:
        TokenKeyRing(text)
    assert SECRET_A not in str(excinfo.value)
    assert SECRET_B not in str(excinfo.value)


def test_duplicate_kid_is_rejected() -> None:
    with pytest.raises(InvalidTokenSecret, match="twice"):
        TokenKeyRing(f"k1:{SECRET_A},k1:{SECRET_B}")


def test_invalid_token_secret_is_a_value_error() -> None:
    assert issubclass(InvalidTokenSecret, ValueError)


def test_repr_of_ring_shows_kids_not_secrets() -> None:
    text = repr(TokenKeyRing(f"k2:{SECRET_B},k1:{SECRET_A}"))
    assert "k2" in text
    assert SECRET_A not in text
    assert SECRET_B not in text


def test_generate_dev_is_random_and_silent(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        first = TokenKeyRing.generate_dev()
        second = TokenKeyRing.generate_dev()
    assert caplog.records == []
    token, payload = issue_token(first, RECORD_IDS, CHECK, NOW)
    assert open_token(first, token, NOW) == payload
    with pytest.raises(TokenInvalid):
        open_token(second, token, NOW)


# --- rotation -------------------------------------------------------------------------------


def test_token_from_old_key_opens_after_a_new_key_is_prepended() -> None:
    old_ring = TokenKeyRing(f"k1:{SECRET_A}")
    token, payload = issue_token(old_ring, RECORD_IDS, CHECK, NOW)
    rotated = TokenKeyRing(f"k2:{SECRET_B},k1:{SECRET_A}")
    assert open_token(rotated, token, NOW) == payload


def test_new_tokens_use_the_first_key() -> None:
    rotated = TokenKeyRing(f"k2:{SECRET_B},k1:{SECRET_A}")
    token, payload = issue_token(rotated, RECORD_IDS, CHECK, NOW)
    assert b64decode(token)[2:4] == b"k2"
    assert open_token(TokenKeyRing(f"k2:{SECRET_B}"), token, NOW) == payload
    with pytest.raises(TokenInvalid):
        open_token(TokenKeyRing(f"k1:{SECRET_A}"), token, NOW)


def test_token_from_a_removed_key_is_invalid() -> None:
    token, _ = issue_token(TokenKeyRing(f"k1:{SECRET_A}"), RECORD_IDS, CHECK, NOW)
    with pytest.raises(TokenInvalid):
        open_token(TokenKeyRing(f"k2:{SECRET_B}"), token, NOW)


def test_same_kid_with_another_secret_is_invalid() -> None:
    token, _ = issue_token(TokenKeyRing(f"k1:{SECRET_A}"), RECORD_IDS, CHECK, NOW)
    with pytest.raises(TokenInvalid):
        open_token(TokenKeyRing(f"k1:{SECRET_B}"), token, NOW)


def test_relabelled_kid_does_not_open() -> None:
    """Both keys are in the ring, but the kid is bound as associated data: swapping it fails."""
    both = TokenKeyRing(f"k2:{SECRET_B},k1:{SECRET_A}")
    raw = bytearray(b64decode(issue_token(both, RECORD_IDS, CHECK, NOW)[0]))
    raw[2:4] = b"k1"
    with pytest.raises(TokenInvalid):
        open_token(both, b64encode(bytes(raw)), NOW)


# --- tampering, truncation, garbage ---------------------------------------------------------


def test_every_single_byte_flip_is_invalid() -> None:
    raw = b64decode(sample_token())
    for position in range(len(raw)):
        for delta in (0x01, 0x80, 0xFF):
            altered = bytearray(raw)
            altered[position] ^= delta
            with pytest.raises(TokenInvalid):
                open_token(ring(), b64encode(bytes(altered)), NOW)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_single_byte_alteration_is_invalid(data: st.DataObject) -> None:
    raw = b64decode(sample_token())
    position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1), label="position")
    new_byte = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b != raw[position]), label="byte"
    )
    altered = bytearray(raw)
    altered[position] = new_byte
    with pytest.raises(TokenInvalid):
        open_token(ring(), b64encode(bytes(altered)), NOW)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_single_character_change_is_invalid(data: st.DataObject) -> None:
    """Covers the string form too, including the unused low bits of the last character."""
    token = sample_token()
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1), label="position")
    char = data.draw(
        st.characters(codec="utf-8").filter(lambda c: c != token[position]), label="char"
    )
    altered = token[:position] + char + token[position + 1 :]
    with pytest.raises(TokenInvalid):
        open_token(ring(), altered, NOW)


def test_last_character_variants_with_same_decoded_bytes_are_invalid() -> None:
    token = sample_token()
    for char in TOKEN_ALPHABET:
        if char == token[-1]:
            continue
        with pytest.raises(TokenInvalid):
            open_token(ring(), token[:-1] + char, NOW)


def test_every_truncation_is_invalid() -> None:
    token = sample_token()
    for length in range(len(token)):
        with pytest.raises(TokenInvalid):
            open_token(ring(), token[:length], NOW)


def test_every_byte_level_truncation_is_invalid() -> None:
    raw = b64decode(sample_token())
    for length in range(len(raw)):
        with pytest.raises(TokenInvalid):
            open_token(ring(), b64encode(raw[:length]), NOW)


@pytest.mark.parametrize("suffix", ["A", "AA", "AAAA", "=", "==", " ", "\n", "\x00"])
def test_appended_characters_are_invalid(suffix: str) -> None:
    with pytest.raises(TokenInvalid):
        open_token(ring(), sample_token() + suffix, NOW)


def test_appended_bytes_are_invalid() -> None:
    raw = b64decode(sample_token())
    with pytest.raises(TokenInvalid):
        open_token(ring(), b64encode(raw + b"\x00"), NOW)


def test_surrounding_whitespace_is_not_stripped_silently() -> None:
    with pytest.raises(TokenInvalid):
        open_token(ring(), f" {sample_token()} ", NOW)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "=",
        "A",
        "AA",
        "AAAA",
        "!!!!",
        "null",
        "ヤマダキョウコ",
        "ｱｲｳｴｵ",
        "😀😀😀😀",
        "\x00\x00\x00\x00",
        "AQJrMQ",  # version 1, kid "k1", nothing else
        "../../etc/passwd",
        "AQ%3D%3D",
    ],
)
def test_garbage_is_invalid(garbage: str) -> None:
    with pytest.raises(TokenInvalid):
        open_token(ring(), garbage, NOW)


@settings(max_examples=500, deadline=None)
@given(garbage=st.text(max_size=400))
def test_arbitrary_text_is_invalid(garbage: str) -> None:
    with pytest.raises(TokenInvalid):
        open_token(ring(), garbage, NOW)


@settings(max_examples=300, deadline=None)
@given(garbage=st.binary(max_size=400))
def test_arbitrary_well_formed_base64_is_invalid(garbage: bytes) -> None:
    with pytest.raises(TokenInvalid):
        open_token(ring(), b64encode(garbage), NOW)


def test_too_long_token_is_invalid_without_decoding() -> None:
    with pytest.raises(TokenInvalid):
        open_token(ring(), "A" * (MAX_TOKEN_CHARS + 1), NOW)
    with pytest.raises(TokenInvalid):
        open_token(ring(), sample_token() + "A" * MAX_TOKEN_CHARS, NOW)


def test_non_string_token_is_invalid() -> None:
    with pytest.raises(TokenInvalid):
        open_token(ring(), b"bytes are not a token", NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [0, 2, 255])
def test_other_versions_are_invalid(version: int) -> None:
    raw = bytearray(b64decode(sample_token()))
    raw[0] = version
    with pytest.raises(TokenInvalid):
        open_token(ring(), b64encode(bytes(raw)), NOW)


@pytest.mark.parametrize("kid_length", [0, 3, 17, 255])
def test_bad_kid_length_is_invalid(kid_length: int) -> None:
    raw = bytearray(b64decode(sample_token()))
    raw[1] = kid_length
    with pytest.raises(TokenInvalid):
        open_token(ring(), b64encode(bytes(raw)), NOW)


def test_unknown_kid_is_invalid() -> None:
    token, _ = issue_token(TokenKeyRing(f"zz:{SECRET_A}"), RECORD_IDS, CHECK, NOW)
    with pytest.raises(TokenInvalid):
        open_token(ring(), token, NOW)


def test_invalid_message_reveals_nothing_specific() -> None:
    with pytest.raises(TokenInvalid) as first:
        open_token(ring(), "garbage", NOW)
    with pytest.raises(TokenInvalid) as second:
        open_token(TokenKeyRing(f"k2:{SECRET_B}"), sample_token(), NOW)
    assert str(first.value) == str(second.value) == "reference token is invalid"


# --- expiry ---------------------------------------------------------------------------------


def test_token_opens_until_just_before_expiry() -> None:
    token, payload = issue_token(ring(), RECORD_IDS, CHECK, NOW)
    assert open_token(ring(), token, payload.expires_at - timedelta(seconds=1)) == payload


def test_expired_token_raises_token_expired_with_token_id_only() -> None:
    token, payload = issue_token(ring(), RECORD_IDS, CHECK, NOW)
    with pytest.raises(TokenExpired) as excinfo:
        open_token(ring(), token, payload.expires_at)
    error = excinfo.value
    assert error.token_id == payload.token_id
    assert error.expired_at == payload.expires_at
    assert not isinstance(error, TokenInvalid)
    exposed = " ".join([str(error), repr(error), repr(vars(error))])
    for secret_bit in (*RECORD_IDS, KANA_SURNAME, KANA_GIVEN, "山田"):
        assert secret_bit not in exposed


def test_custom_ttl() -> None:
    token, payload = issue_token(ring(), RECORD_IDS, CHECK, NOW, ttl=timedelta(hours=1))
    assert payload.expires_at == NOW.replace(microsecond=0) + timedelta(hours=1)
    open_token(ring(), token, NOW + timedelta(minutes=59))
    with pytest.raises(TokenExpired):
        open_token(ring(), token, NOW + timedelta(hours=2))


def test_tampered_expired_token_is_invalid_not_expired() -> None:
    token, payload = issue_token(ring(), RECORD_IDS, CHECK, NOW, ttl=timedelta(seconds=1))
    raw = bytearray(b64decode(token))
    raw[-1] ^= 1
    with pytest.raises(TokenInvalid):
        open_token(ring(), b64encode(bytes(raw)), payload.expires_at + timedelta(days=1))


# --- opacity --------------------------------------------------------------------------------


def _all_decodings(token: str) -> list[bytes]:
    """The token string itself and its base64 decodings at every character alignment."""
    decodings = [token.encode("ascii")]
    for shift in range(4):
        chunk = token[shift:]
        chunk = chunk[: len(chunk) - len(chunk) % 4]
        decodings.append(base64.urlsafe_b64decode(chunk))
    return decodings


@pytest.mark.parametrize("record_ids", [RECORD_IDS, ("ヤマダ",), ("R" * 64,)])
def test_token_reveals_no_record_id_or_name_in_any_decoding(record_ids: tuple[str, ...]) -> None:
    token, _ = issue_token(ring(), record_ids, CHECK, NOW)
    needles = [record_id.encode("utf-8") for record_id in record_ids]
    needles += [
        KANA_SURNAME.encode("utf-8"),
        KANA_GIVEN.encode("utf-8"),
        "山田".encode(),
        b"surname",
        b"1938",
    ]
    for decoded in _all_decodings(token):
        for needle in needles:
            assert needle not in decoded


def test_token_length_does_not_depend_on_record_id_content() -> None:
    """No compression oracle: a guessed record id in a free-text field does not shorten it."""
    guessing_check = {**CHECK, "reference": {"address": "R0000123 " * 20}}
    right_guess, _ = issue_token(ring(), ["R0000123"], guessing_check, NOW)
    wrong_guess, _ = issue_token(ring(), ["Z9Y8X7W6"], guessing_check, NOW)
    assert len(right_guess) == len(wrong_guess)


def test_token_length_is_bucketed_by_record_id_bytes() -> None:
    short, _ = issue_token(ring(), ["R1"], CHECK, NOW)
    slightly_longer, _ = issue_token(ring(), ["R12"], CHECK, NOW)
    assert len(short) == len(slightly_longer)


def test_reference_payload_is_frozen() -> None:
    _, payload = issue_token(ring(), RECORD_IDS, CHECK, NOW)
    with pytest.raises(AttributeError):
        payload.token_id = "other"  # type: ignore[misc]
    assert isinstance(payload, ReferencePayload)


# --- uniform failure work -------------------------------------------------------------------


class _CountingDecoy:
    """Stands in for the ring's decoy key and counts decryption attempts."""

    def __init__(self) -> None:
        self.calls = 0

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        self.calls += 1
        from cryptography.exceptions import InvalidTag

        raise InvalidTag


@pytest.mark.parametrize(
    "make_token",
    [
        lambda: issue_token(TokenKeyRing(f"zz:{SECRET_A}"), RECORD_IDS, CHECK, NOW)[0],
        lambda: "AQJrMQ",
        lambda: "garbage",
        lambda: b64encode(b"\x02" + b64decode(sample_token())[1:]),
    ],
    ids=["unknown-kid", "header-only", "not-a-token", "wrong-version"],
)
def test_failures_before_the_tag_check_still_attempt_one_decryption(make_token: Any) -> None:
    keys = TokenKeyRing(f"k1:{SECRET_A}")
    decoy = _CountingDecoy()
    keys._decoy = decoy  # type: ignore[assignment]
    with pytest.raises(TokenInvalid):
        open_token(keys, make_token(), NOW)
    assert decoy.calls == 1
