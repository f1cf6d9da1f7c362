"""Kanji name folding: old and variant character forms to one form, and input validation.

Records keyed from the 1957 punch-card number codes and later host systems carry old
(旧字体) and variant (異体字) forms — 髙橋, 山﨑, 渡邉, 齋藤, 澤田 — while people type the
common form, or the other way round. ``fold_kanji`` maps both to one form so they compare
equal; it is a matching key, never a display value.

Why a table of our own: kyujipy is not installed and misses 髙 﨑 邉 anyway
(docs/DOMAIN-NOTES.md); jntajis' MJ shrink maps are complete but CC BY-SA. CJK
*compatibility* ideographs (神 U+FA19, 塚 U+FA10, 﨟 …) need no table: NFKC maps them to their
unified counterparts. The dozen compatibility code points that are unified ideographs in their
own right (﨑 U+FA11, 﨔, 﨣 …) have no decomposition and must be listed — hence 﨑 below.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["KANJI_VARIANTS", "fold_kanji", "is_kanji_name"]

# Variant → the form we fold to (usually the 新字体 / 常用 form). Reviewed by hand: every entry
# is a character that occurs in Japanese surnames or given names; entries with a doubt say so.
KANJI_VARIANTS: Final[Mapping[str, str]] = MappingProxyType(
    {
        # The variants that matter most in names (docs/DOMAIN-NOTES.md).
        "髙": "高",  # はしご高; not in JIS X 0208, keyed as 高 by most systems
        "﨑": "崎",  # たつさき (U+FA11, a unified ideograph NFKC leaves alone)
        "嵜": "崎",
        "碕": "崎",  # DOUBT: a separate character in dictionaries, but used as 崎 in surnames
        "邊": "辺",
        "邉": "辺",
        "齋": "斎",
        "齊": "斎",  # strictly the old form of 斉, not 斎 — see 斉 below
        "斉": "斎",  # DOUBT: 斉藤 and 斎藤 are different characters and officially different
        #              surnames, but they are the classic confusion (docs/DOMAIN-NOTES.md)
        "澤": "沢",
        "濱": "浜",
        "濵": "浜",
        "廣": "広",
        "國": "国",
        "圀": "国",  # 則天文字 variant (光圀)
        "𠮷": "吉",  # つちよし U+20BB7, outside the BMP and outside JIS X 0208
        # Old forms common in names.
        "櫻": "桜",
        "德": "徳",
        "惠": "恵",
        "瀨": "瀬",
        "藏": "蔵",
        "壽": "寿",
        "萬": "万",
        "與": "与",
        "眞": "真",
        "實": "実",
        "彌": "弥",
        "禮": "礼",
        "條": "条",
        "關": "関",
        "驛": "駅",
        "圓": "円",
        "榮": "栄",
        "豐": "豊",
        "龜": "亀",
        "寶": "宝",
        "寳": "宝",
        "兒": "児",  # 兒玉 / 児玉
        "黑": "黒",
        "淸": "清",
        "靑": "青",
        "靜": "静",
        "鐵": "鉄",
        "傳": "伝",
        "學": "学",
        "巖": "巌",
        "嚴": "厳",
        "來": "来",
        "亞": "亜",
        "樂": "楽",
        "曾": "曽",  # 曾根 / 曽根
        "增": "増",  # 增田 / 増田 (U+589E vs U+5897)
        "淺": "浅",
        "濟": "済",
        "爲": "為",
        "稻": "稲",
        "將": "将",
        "穗": "穂",
        "卷": "巻",
        "綠": "緑",
        "顯": "顕",
        "莊": "荘",
        "鄕": "郷",
        "鄉": "郷",
        "經": "経",
        "聰": "聡",
        "晉": "晋",
        "愼": "慎",
        "歲": "歳",
        "澁": "渋",
        "澀": "渋",
        "瀧": "滝",
        "嶽": "岳",
        "戶": "戸",  # U+6236 and U+6237 render like 戸 but are separate code points
        "户": "戸",
        # Variants (異体字) rather than old forms.
        "嶋": "島",
        "嶌": "島",
        "冨": "富",
        "槇": "槙",  # both forms are standard in names; folded in one direction only
        "桒": "桑",
        "舘": "館",
        "篭": "籠",  # 籠 is 常用 since 2010; 篭 was its common substitute
        "峯": "峰",
        "栁": "柳",
        "禰": "祢",
        "檜": "桧",
        "淵": "渕",  # 淵上 / 渕上: 渕 is the customary form, 淵 the 正字
        "靍": "鶴",
        "靏": "鶴",
        "鷗": "鴎",
        # JUDGEMENT: 龍 → 竜. 竜 is the 新字体 of 龍 and both are name characters; a person
        # named 龍雄 may be on the ledger as 竜雄. The kana reading still has to agree, so the
        # fold costs little precision.
        "龍": "竜",
        # Small ヶ / ヵ in names (一ヶ谷, 霞ヶ関) are keyed large just as often.
        "ヶ": "ケ",
        "ヵ": "カ",
    }
)

_ITERATION_MARKS: Final = frozenset("々〻")


def _expand_iteration_marks(text: str) -> str:
    """佐々木 → 佐佐木: records carry both spellings. A leading mark stays as it is."""
    expanded: list[str] = []
    for char in text:
        expanded.append(expanded[-1] if char in _ITERATION_MARKS and expanded else char)
    return "".join(expanded)


def fold_kanji(text: str) -> str:
    """The comparison form of a kanji name: NFKC, no spaces, one form per variant, 々 spelled out.

    髙橋 → 高橋, 山﨑 → 山崎, 渡邉 → 渡辺, 齋藤 → 斎藤, 佐々木 → 佐佐木. Never raises.
    """
    # NFKC again after removing spaces: NFKC turns some characters into space + combining
    # mark (¯ → " ̄"), and once the space is gone the mark composes differently.
    compact = "".join(unicodedata.normalize("NFKC", text).split())
    normalized = unicodedata.normalize("NFKC", compact)
    folded = "".join(KANJI_VARIANTS.get(char, char) for char in normalized)
    return _expand_iteration_marks(folded)


def _is_name_char(char: str) -> bool:
    code_point = ord(char)
    return (
        0x4E00 <= code_point <= 0x9FFF  # CJK Unified Ideographs
        or 0x3400 <= code_point <= 0x4DBF  # Extension A
        or 0x20000 <= code_point <= 0x3134F  # Extensions B-G and compatibility supplement
        or 0xF900 <= code_point <= 0xFAFF  # compatibility ideographs (﨑)
        or char in "々〻〆ヶヵ"
        or 0x3041 <= code_point <= 0x3096  # hiragana (names such as 山田はな)
        or 0x30A1 <= code_point <= 0x30FA  # katakana (一ノ瀬)
        or char == "ー"
    )


def is_kanji_name(text: str) -> bool:
    """Input validation: ideographs (incl. extension B such as 𠮷), 々, ヶ and kana only.

    Spaces are allowed between surname and given name; an empty name is not a name.
    """
    compact = "".join(unicodedata.normalize("NFKC", text).split())
    return bool(compact) and all(_is_name_char(char) for char in compact)
