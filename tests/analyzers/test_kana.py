"""Table tests for analyzers.kana: each way kana get keyed wrong in the ledgers (small kana keyed
large, voicing marks lost, long vowels, old kana, look-alike kana, half width), plus properties."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzers.kana import (
    KANA_LEVELS,
    enlarge_small_kana,
    fold_confusables,
    fold_long_vowels,
    fold_old_kana,
    is_kana,
    is_normalized_kana,
    kana_key,
    kana_keys,
    normalize_kana,
    remove_voicing,
    single_deletions,
)


@pytest.mark.parametrize(
    ("text", "expected", "why"),
    [
        ("ｻﾄｳ ﾊﾅｺ", "サトウ ハナコ", "half-width kana, as in CP932 extracts"),
        ("ｶﾞｯｺｳ", "ガッコウ", "half-width dakuten composes"),
        ("ﾊﾟﾝ", "パン", "half-width handakuten composes"),
        ("ｳﾞｧｲｵﾘﾝ", "ヴァイオリン", "half-width ヴ and small ァ"),
        ("さとう はなこ", "サトウ ハナコ", "hiragana input"),
        ("きょうこ", "キョウコ", "small hiragana stays small (folded later)"),
        ("サトウ　ハナコ", "サトウ ハナコ", "ideographic space"),
        ("  サトウ\t\t ハナコ  ", "サトウ ハナコ", "tabs, runs of spaces, padding"),
        ("サトウハナコ", "サトウハナコ", "missing space is kept as is"),
        ("ジョン・スミス", "ジョンスミス", "middle dot dropped"),
        ("ｼﾞｮﾝ･ｽﾐｽ", "ジョンスミス", "half-width middle dot dropped"),
        ("イチロー", "イチロー", "ー kept"),
        ("イチローｰ", "イチローー", "half-width ｰ becomes ー"),
        ("イチロ-", "イチロー", "hyphen typed for ー"),
        ("イチロ－", "イチロー", "full-width hyphen typed for ー"),
        ("カ゛ク", "ガク", "spacing dakuten composes onto the kana"),
        ("ミスヾ", "ミスズ", "voiced iteration mark expanded"),
        ("みすゞ", "ミスズ", "hiragana voiced iteration mark expanded"),
        ("ササヽ", "サササ", "iteration mark expanded"),
        ("ヽサ", "サ", "stray leading iteration mark dropped"),
        ("サトウ。", "サトウ", "punctuation dropped"),
        ("サ\u200bトウ", "サトウ", "zero-width space dropped"),
        ("山田 ハナコ", "山田 ハナコ", "kanji kept (is_kana rejects it)"),
        ("", "", "empty"),
    ],
)
def test_normalize_kana(text: str, expected: str, why: str) -> None:
    assert normalize_kana(text) == expected, why


@pytest.mark.parametrize(
    ("text", "expected", "why"),
    [
        ("サトウ ハナコ", True, "katakana with a space"),
        ("さとう はなこ", True, "hiragana"),
        ("ｻﾄｳ ﾊﾅｺ", True, "half-width"),
        ("イチロー", True, "long vowel mark"),
        ("ジョン・スミス", True, "middle dot is dropped, not rejected"),
        ("山田", False, "kanji"),
        ("Sato", False, "latin"),
        ("サトウ1", False, "digit"),
        ("ー", False, "no kana letter"),
        ("", False, "empty"),
        ("   ", False, "blank"),
    ],
)
def test_is_kana(text: str, expected: bool, why: str) -> None:
    assert is_kana(text) is expected, why


@pytest.mark.parametrize(
    ("fold", "text", "expected", "why"),
    [
        (enlarge_small_kana, "キョウコ", "キヨウコ", "small ョ keyed large"),
        (enlarge_small_kana, "ジュンイチ", "ジユンイチ", "small ュ keyed large"),
        (enlarge_small_kana, "ハットリ", "ハツトリ", "small ッ keyed large"),
        (
            enlarge_small_kana,
            "ァィゥェォヮヵヶ",
            "アイウエオワカケ",
            "every small vowel and ヮヵヶ",
        ),
        (fold_old_kana, "シヅオ", "シズオ", "四つ仮名 ヅ"),
        (fold_old_kana, "ハナヂ", "ハナジ", "四つ仮名 ヂ"),
        (fold_old_kana, "カヲル", "カオル", "old kana ヲ"),
        (fold_old_kana, "ヰヱヴ", "イエブ", "old kana ヰ ヱ and ヴ"),
        (fold_long_vowels, "オオノ", "オノ", "long o spelled オオ"),
        (fold_long_vowels, "オーノ", "オノ", "long o spelled ー"),
        (fold_long_vowels, "オノ", "オノ", "short spelling unchanged"),
        (fold_long_vowels, "ユウコ", "ユコ", "long u spelled ウ"),
        (fold_long_vowels, "ユーコ", "ユコ", "long u spelled ー"),
        (fold_long_vowels, "イチロウ", "イチロ", "o-row + ウ"),
        (fold_long_vowels, "イチロー", "イチロ", "o-row + ー"),
        (fold_long_vowels, "ケイコ", "ケコ", "judgement call: e-row + イ"),
        (fold_long_vowels, "ケーコ", "ケコ", "e-row + ー is spelled イ, then folded"),
        (fold_long_vowels, "ニシー", "ニシイ", "i-row + ー is spelled イ and kept like ニシイ"),
        (fold_long_vowels, "ニーミ", "ニイミ", "i-row + ー inside a name"),
        (fold_long_vowels, "キョウコ", "キョコ", "vowel of the small kana counts"),
        (fold_long_vowels, "タナカアキコ", "タナカアキコ", "ア after a-row is not a long vowel"),
        (fold_long_vowels, "モリイチロウ", "モリイチロ", "イ after i-row is not a long vowel"),
        (fold_long_vowels, "アオイ", "アオイ", "distinct vowels stay"),
        (fold_long_vowels, "コンオ", "コンオ", "ン has no vowel to lengthen"),
        (remove_voicing, "ナカジマ", "ナカシマ", "濁点 dropped"),
        (remove_voicing, "ヤマザキ", "ヤマサキ", "濁点 dropped"),
        (remove_voicing, "パピプペポ", "ハヒフヘホ", "半濁点 dropped"),
        (remove_voicing, "ヂヅ", "チツ", "voiced 四つ仮名 too"),
        (fold_confusables, "ソノダ", "ンノダ", "ソ and ン share a symbol"),
        (fold_confusables, "ツジ", "シジ", "ツ and シ share a symbol"),
        (fold_confusables, "ヌス", "ヌス", "ヌ/ス deliberately not folded"),
    ],
)
def test_folds(fold: Callable[[str], str], text: str, expected: str, why: str) -> None:
    assert fold(text) == expected, why


@pytest.mark.parametrize(
    ("record", "query", "first_equal_level", "why"),
    [
        ("ｻﾄｳ ﾊﾅｺ", "サトウ ハナコ", "exact", "half-width"),
        ("サトウ ハナコ", "さとう　はなこ", "exact", "hiragana and ideographic space"),
        ("サトウハナコ", "サトウ ハナコ", "exact", "missing space"),
        ("キヨウコ", "キョウコ", "orthographic", "small kana keyed large"),
        ("ジユンイチ", "ジュンイチ", "orthographic", "small kana keyed large"),
        ("ハツトリ", "ハットリ", "orthographic", "small ッ keyed large"),
        ("オーノ", "オオノ", "orthographic", "長音 spelled ー"),
        ("オノ", "オオノ", "orthographic", "長音 not written"),
        ("ユーコ", "ユウコ", "orthographic", "長音 spelled ー"),
        ("イチロー", "イチロウ", "orthographic", "長音 spelled ー"),
        ("ニシー", "ニシイ", "orthographic", "i-row 長音 spelled ー (西井)"),
        ("シヅオ", "シズオ", "orthographic", "四つ仮名"),
        ("ハナヂ", "ハナジ", "orthographic", "ジ / ヂ"),
        ("カヲル", "カオル", "orthographic", "オ / ヲ"),
        ("ナカシマ", "ナカジマ", "voiceless", "濁点 dropped"),
        ("ヤマサキ", "ヤマザキ", "voiceless", "濁点 dropped"),
        ("ナカジマ", "ナカシマ", "voiceless", "濁点 added"),
        ("ヘツホ", "ベッポ", "voiceless", "small ッ and 半濁点 together"),
        ("ンノダ", "ソノダ", "confusable", "ソ read as ン"),
        ("ソノダ", "ンノダ", "confusable", "ン read as ソ"),
        ("ツマダ", "シマダ", "confusable", "シ read as ツ"),
        ("マシイ", "マツイ", "confusable", "ツ read as シ, then イ lengthens"),
        ("キヨウコ", "キョーコ", "orthographic", "small kana and ー at once"),
    ],
)
def test_levels_pairs(record: str, query: str, first_equal_level: str, why: str) -> None:
    record_keys, query_keys = kana_keys(record), kana_keys(query)
    first = KANA_LEVELS.index(first_equal_level)
    for index, level in enumerate(KANA_LEVELS):
        assert (record_keys[level] == query_keys[level]) is (index >= first), f"{why} @ {level}"


@pytest.mark.parametrize(
    ("record", "query", "why"),
    [
        ("ヤマダ", "ヤマモト", "different names"),
        ("ヌマタ", "スマタ", "ヌ/ス not folded"),
        ("サトウ", "カトウ", "one kana mistyped is for the scorer, not for the keys"),
    ],
)
def test_levels_keep_different_names_apart(record: str, query: str, why: str) -> None:
    assert kana_key(record, "confusable") != kana_key(query, "confusable"), why


def test_kana_key_rejects_unknown_level() -> None:
    with pytest.raises(ValueError, match="exact"):
        kana_key("サトウ", "phonetic")


# ----- properties -----------------------------------------------------------------------------

FOLDS = (enlarge_small_kana, fold_old_kana, fold_long_vowels, remove_voicing, fold_confusables)
# A small alphabet makes collisions, long-vowel runs and confusables frequent.
kana_soup = st.text(alphabet="アイウエオカガキキョッツヅシジソンノーヲヴァ ", max_size=8)


@given(st.text())
def test_never_raises_on_any_text(text: str) -> None:
    normalized = normalize_kana(text)
    assert normalized == normalized.strip()
    assert "  " not in normalized
    is_kana(text)
    keys = kana_keys(text)
    assert list(keys) == list(KANA_LEVELS)
    for fold in FOLDS:
        fold(text)


@given(st.text())
def test_normalize_is_idempotent(text: str) -> None:
    assert normalize_kana(normalize_kana(text)) == normalize_kana(text)


@given(st.one_of(st.text(), kana_soup))
def test_folds_are_idempotent(text: str) -> None:
    normalized = normalize_kana(text)
    for fold in FOLDS:
        assert fold(fold(normalized)) == fold(normalized)


@given(st.one_of(st.text(), kana_soup))
def test_each_level_is_a_function_of_the_previous_key(text: str) -> None:
    keys = kana_keys(text)
    for lower, higher in itertools.pairwise(KANA_LEVELS):
        assert kana_keys(keys[lower])[higher] == keys[higher]


@given(st.one_of(st.text(), kana_soup))
def test_keys_are_fixed_points_of_their_level(text: str) -> None:
    for level, key in kana_keys(text).items():
        assert kana_key(key, level) == key


@given(kana_soup, kana_soup)
def test_match_at_a_level_implies_match_at_every_looser_level(a: str, b: str) -> None:
    keys_a, keys_b = kana_keys(a), kana_keys(b)
    matched = False
    for level in KANA_LEVELS:
        matched = matched or keys_a[level] == keys_b[level]
        if matched:
            assert keys_a[level] == keys_b[level]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("", ()),
        ("ア", ("",)),
        ("サトウ", ("トウ", "サウ", "サト")),
        ("ヤマモト", ("マモト", "ヤモト", "ヤマト", "ヤマモ")),
        ("ササキ", ("サキ", "ササ")),  # the two サ give one key
    ],
)
def test_single_deletions(key: str, expected: tuple[str, ...]) -> None:
    assert single_deletions(key) == expected


def _neighbourhood(key: str) -> set[str]:
    return {key, *single_deletions(key)}


_KANA = st.text(alphabet="アイウカキサシタトナ", min_size=1, max_size=8)


@given(
    _KANA, st.integers(min_value=0, max_value=7), st.sampled_from("アカサンー"), st.integers(0, 3)
)
def test_any_one_edit_shares_a_deletion_key(key: str, at: int, char: str, edit: int) -> None:
    """Substitution, insertion, deletion and adjacent swap are all found by term lookups."""
    i = at % len(key)
    slipped = [
        key[:i] + char + key[i + 1 :],
        key[:i] + char + key[i:],
        key[:i] + key[i + 1 :],
        key[:i] + key[i + 1 : i + 2] + key[i : i + 1] + key[i + 2 :],
    ][edit]
    assert _neighbourhood(key) & _neighbourhood(slipped)


# --- the shortcuts the indexer takes must not change any key -----------------------------------

# Every character a normalised kana name may hold: katakana letters, small katakana of the
# extension block, ー and the space.
NAME_CHARS = [chr(c) for c in range(ord("ァ"), ord("ヺ") + 1)]
NAME_CHARS += [chr(c) for c in range(ord("ㇰ"), ord("ㇿ") + 1)] + ["ー", " "]


def test_normalised_name_characters_are_left_as_they_are() -> None:
    """Normalised text is not normalised again: that is exact only because each character and
    each pair (NFKC composes only adjacent characters) comes out of the full pass unchanged."""
    from analyzers.kana import _normalize_chars_fully

    for a in NAME_CHARS:
        assert _normalize_chars_fully(a) == a
        for b in NAME_CHARS:
            assert _normalize_chars_fully(a + b) == a + b


def _is_kana_reference(text: str) -> bool:
    """``is_kana`` as first written: one loop per character."""

    def letter(char: str) -> bool:
        return "ァ" <= char <= "ヺ" or "ㇰ" <= char <= "ㇿ"

    normalized = normalize_kana(text)
    return any(letter(c) for c in normalized) and all(
        letter(c) or c in ("ー", " ") for c in normalized
    )


def test_is_kana_agrees_with_the_reference_on_every_character() -> None:
    for code_point in range(0x3000, 0x3200):
        char = chr(code_point)
        for text in (char, "ア" + char, char + " ー"):
            assert is_kana(text) is _is_kana_reference(text), repr(text)


@given(st.one_of(st.text(), kana_soup, st.text(alphabet="".join(NAME_CHARS) + "ゝヽ゛\u3000ｰ")))
def test_is_kana_agrees_with_the_reference(text: str) -> None:
    assert is_kana(text) is _is_kana_reference(text)
    assert is_normalized_kana(normalize_kana(text)) is is_kana(text)


@given(st.one_of(st.text(), kana_soup))
def test_long_vowel_fold_without_a_long_vowel_mark(text: str) -> None:
    """``fold_long_vowels`` skips spelling out ー when there is none; same result."""
    from analyzers.kana import _LENGTHENING_RUNS, _SPELLED_LONG_VOWEL, _spell_long_vowel

    spelled = _SPELLED_LONG_VOWEL.sub(_spell_long_vowel, text).replace("ー", "")
    assert fold_long_vowels(text) == _LENGTHENING_RUNS.sub("", spelled)
