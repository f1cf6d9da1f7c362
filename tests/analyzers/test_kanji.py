"""Table tests for analyzers.kanji: the old and variant forms names are keyed in (髙/高,
邊/邉/辺, 﨑/崎, …), and validation."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzers.kanji import KANJI_VARIANTS, fold_kanji, is_kanji_name


@pytest.mark.parametrize(
    ("text", "expected", "why"),
    [
        ("髙橋", "高橋", "はしご高"),
        ("山﨑", "山崎", "たつさき U+FA11, which NFKC leaves alone"),
        ("山嵜", "山崎", "崎 variant"),
        ("渡邊", "渡辺", "邊"),
        ("渡邉", "渡辺", "邉"),
        ("齋藤", "斎藤", "齋"),
        ("齊藤", "斎藤", "齊"),
        ("斉藤", "斎藤", "斉: classic confusion, folded on purpose"),
        ("澤田", "沢田", "澤"),
        ("濱田", "浜田", "濱"),
        ("廣瀬", "広瀬", "廣"),
        ("國分", "国分", "國"),
        ("𠮷田", "吉田", "つちよし, outside the BMP"),
        ("櫻井", "桜井", "櫻"),
        ("德永", "徳永", "德"),
        ("惠子", "恵子", "惠"),
        ("瀨川", "瀬川", "瀨"),
        ("大藏", "大蔵", "藏"),
        ("壽子", "寿子", "壽"),
        ("眞理子", "真理子", "眞"),
        ("彌生", "弥生", "彌"),
        ("關口", "関口", "關"),
        ("中嶋", "中島", "嶋"),
        ("中嶌", "中島", "嶌"),
        ("冨田", "富田", "冨"),
        ("槇原", "槙原", "槇"),
        ("桒原", "桑原", "桒"),
        ("小舘", "小館", "舘"),
        ("兒玉", "児玉", "兒"),
        ("龍雄", "竜雄", "judgement call: 龍 folded to 竜"),
        ("淵上", "渕上", "淵 / 渕"),
        ("峯岸", "峰岸", "峯"),
        ("佐々木", "佐佐木", "々 spelled out"),
        ("々木", "々木", "leading 々 stays"),
        ("山田　花子", "山田花子", "ideographic space removed"),
        ("山田 花子", "山田花子", "space removed"),
        ("\ufa19田", "神田", "compatibility ideograph 神 handled by NFKC"),
        ("霞ヶ関", "霞ケ関", "small ヶ"),
        ("高橋", "高橋", "already folded"),
        ("", "", "empty"),
    ],
)
def test_fold_kanji(text: str, expected: str, why: str) -> None:
    assert fold_kanji(text) == expected, why


@pytest.mark.parametrize(
    ("text", "expected", "why"),
    [
        ("山田 花子", True, "plain"),
        ("𠮷田", True, "extension B"),
        ("山﨑", True, "compatibility block"),
        ("佐々木", True, "々"),
        ("一ヶ谷", True, "ヶ"),
        ("一ノ瀬", True, "katakana in a kanji name"),
        ("山田はな", True, "hiragana given name"),
        ("Yamada", False, "latin"),
        ("山田1", False, "digit"),
        ("山田・花子", False, "punctuation"),
        ("", False, "empty"),
        ("　", False, "blank"),
    ],
)
def test_is_kanji_name(text: str, expected: bool, why: str) -> None:
    assert is_kanji_name(text) is expected, why


def test_variant_table_is_reviewed_shape() -> None:
    assert len(KANJI_VARIANTS) >= 80
    for variant, common in KANJI_VARIANTS.items():
        assert variant != common
        assert common not in KANJI_VARIANTS, "no chains: one lookup must reach the final form"
        assert unicodedata.normalize("NFKC", variant) == variant, "NFKC runs first"


@given(st.text())
def test_fold_kanji_is_total_and_idempotent(text: str) -> None:
    folded = fold_kanji(text)
    assert fold_kanji(folded) == folded
    is_kanji_name(text)
