"""Table tests for analyzers.names: splitting and given-name suffixes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzers.kana import kana_key, normalize_kana
from analyzers.names import (
    NameParts,
    given_name_suffixes,
    split_kana_name,
    split_kanji_name,
    split_normalized_kana_name,
)


@pytest.mark.parametrize(
    ("text", "expected", "why"),
    [
        ("サトウ ハナコ", NameParts("サトウ", "ハナコ", "サトウハナコ"), "plain"),
        ("ｻﾄｳ ﾊﾅｺ", NameParts("サトウ", "ハナコ", "サトウハナコ"), "half-width space too"),
        ("さとう　はなこ", NameParts("サトウ", "ハナコ", "サトウハナコ"), "hiragana, U+3000"),
        ("サトウハナコ", NameParts(None, None, "サトウハナコ"), "missing space: no guess"),
        ("サトウ ハナ コ", NameParts("サトウ", "ハナコ", "サトウハナコ"), "split on the first"),
        ("  ", NameParts(None, None, ""), "blank"),
    ],
)
def test_split_kana_name(text: str, expected: NameParts, why: str) -> None:
    assert split_kana_name(text) == expected, why


@pytest.mark.parametrize(
    ("text", "expected", "why"),
    [
        ("山田 花子", ("山田", "花子"), "plain"),
        ("山田　花子", ("山田", "花子"), "ideographic space"),
        ("山田花子", (None, None), "no space: no guess"),
        ("", (None, None), "empty"),
    ],
)
def test_split_kanji_name(text: str, expected: tuple[str | None, str | None], why: str) -> None:
    assert split_kanji_name(text) == expected, why


def test_given_name_suffixes_reach_the_given_name_of_an_unsplit_record() -> None:
    suffixes = given_name_suffixes("サトウハナコ")
    assert suffixes == ["ナコ", "ハナコ", "ウハナコ", "トウハナコ"]
    assert "サトウハナコ" not in suffixes, "a suffix leaves room for a surname"


def test_given_name_suffixes_start_on_a_mora() -> None:
    assert "ョウコ" not in given_name_suffixes("サトウキョウコ")
    assert "キョウコ" in given_name_suffixes("サトウキョウコ")


def test_given_name_suffixes_fold_after_cutting() -> None:
    """サトウオサム folds to サトサム as a whole; cut first, then fold each suffix."""
    suffixes = {kana_key(suffix, "orthographic") for suffix in given_name_suffixes("サトウオサム")}
    assert kana_key("オサム", "orthographic") in suffixes


@given(st.text(), st.integers(0, 8), st.integers(0, 8))
def test_never_raise(text: str, min_len: int, max_len: int) -> None:
    split_kana_name(text)
    split_kanji_name(text)
    for suffix in given_name_suffixes(text, min_len, max_len):
        assert min_len <= len(suffix) <= max_len


@given(st.text())
def test_split_of_a_normalised_name_is_the_split_of_the_name(text: str) -> None:
    assert split_normalized_kana_name(normalize_kana(text)) == split_kana_name(text)
