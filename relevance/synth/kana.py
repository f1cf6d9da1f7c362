"""Kana tables (gojūon grid, voicing, small kana, old and confusable kana), kana conversions,
and the loose kana and kanji folds of the negative filter.

The loose fold is written here from how kana names were miskeyed, never from our own
normalisers in ``analyzers/``: a generator that shared the folding code under test would only
measure that the code agrees with itself.
"""

from __future__ import annotations

import unicodedata
from typing import Final

import jaconv

from relevance.synth import names_data as nd

GOJUON_ROWS: Final = (
    "アイウエオ",
    "カキクケコ",
    "サシスセソ",
    "タチツテト",
    "ナニヌネノ",
    "ハヒフヘホ",
    "マミムメモ",
    "ヤ・ユ・ヨ",
    "ラリルレロ",
    "ワ・・・ヲ",
)
VOICED: Final = dict(
    zip(
        "ガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポヴ",
        "カキクケコサシスセソタチツテトハヒフヘホハヒフヘホウ",
        strict=True,
    )
)
VOICEABLE: Final = dict(
    zip(
        "カキクケコサシスセソタチツテトハヒフヘホ",
        "ガギグゲゴザジズゼゾダヂヅデドバビブベボ",
        strict=True,
    )
)
SMALL_TO_LARGE: Final = dict(zip("ァィゥェォッャュョヮ", "アイウエオツヤユヨワ", strict=True))
OLD_KANA: Final = {"ズ": "ヅ", "ジ": "ヂ", "オ": "ヲ", "ヅ": "ズ", "ヂ": "ジ"}
CONFUSABLE: Final = {"ソ": "ン", "ン": "ソ", "シ": "ツ", "ツ": "シ"}


def _build_vowels() -> dict[str, str]:
    vowels: dict[str, str] = {}
    for row in GOJUON_ROWS:
        for col, kana in enumerate(row):
            if kana != "・":
                vowels[kana] = "aiueo"[col]
    for voiced, plain in VOICED.items():
        vowels[voiced] = vowels[plain]
    for small, large in SMALL_TO_LARGE.items():
        if large in vowels:
            vowels[small] = vowels[large]
    vowels.pop("ッ", None)
    return vowels


VOWEL_OF: Final = _build_vowels()
ROW_COL: Final = {
    kana: (r, c) for r, row in enumerate(GOJUON_ROWS) for c, kana in enumerate(row) if kana != "・"
}
# A kana that only lengthens the vowel before it → the vowels it lengthens (コウ, ユウ, オオ, ケイ).
LONG_AFTER: Final = {"ウ": "ou", "オ": "o", "イ": "ei", "ア": "a", "エ": "e"}


def to_hiragana(katakana: str) -> str:
    return str(jaconv.kata2hira(katakana))


def to_halfwidth(katakana: str) -> str:
    return str(jaconv.z2h(katakana, kana=True, ascii=False, digit=False))


# One translate pass, so every source maps straight to its final class. Old kana (ヂ = ジ,
# ヅ = ズ), voicing (ヂ/チ, ヅ/ツ, ズ/ス, ジ/シ) and the シ/ツ confusion chain
# シ ジ ス ズ チ ヂ ツ ヅ ッ into one class; ン ソ ゾ into another.
_LOOSE: dict[str, str] = {**SMALL_TO_LARGE, **VOICED}
_LOOSE.update({ch: "シ" for ch in "シジスズチヂツヅッ"})
_LOOSE.update({"ン": "ソ", "ゾ": "ソ", "ヲ": "オ", "ヰ": "イ", "ヱ": "エ"})
_LOOSE_TABLE: Final = str.maketrans(_LOOSE)


def fold_kana_loose(text: str) -> str:
    """Fold a kana name so far that every kana variant the error patterns make of it (small
    kana, voicing, long vowels, old and confusable kana, width, script, spaces) collapses
    together; kana typos are deliberately not folded."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(chr(ord(ch) + 0x60) if "ぁ" <= ch <= "ゖ" else ch for ch in text)
    text = text.translate(_LOOSE_TABLE)
    out: list[str] = []
    for ch in text:
        if ch in " 　ー・":
            continue
        if out and ch in LONG_AFTER and VOWEL_OF.get(out[-1], "") in LONG_AFTER[ch]:
            continue
        out.append(ch)
    return "".join(out)


_NEW_FORM: Final = {old: new for new, olds in nd.OLD_FORMS.items() for old in olds}


def fold_kanji(text: str) -> str:
    """Old/variant kanji → standard form, spaces removed (for the negative filter)."""
    return "".join(_NEW_FORM.get(ch, ch) for ch in text if ch not in " 　")
