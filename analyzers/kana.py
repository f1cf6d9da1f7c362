"""Katakana name normalisation and the graded folds that undo keying errors.

A kana name is compared at four cumulative levels (``KANA_LEVELS``):

* ``exact``         — normalised (width, script, spaces, punctuation), spaces removed;
* ``orthographic``  — + small kana keyed large, old kana (四つ仮名, ヲ ヰ ヱ ヴ) and long vowels;
* ``voiceless``     — + 濁点/半濁点 dropped;
* ``confusable``    — + handwriting confusables ソ/ン and シ/ツ read back wrong.

Each level is a function of the previous level's key, so two names that agree at one level
agree at every looser level: the scorer can treat "first level that matches" as an ordered
comparison (as Splink does) and blocking keys at a loose level never lose a closer match.

The spaces are removed at ``exact`` already because records are often keyed without the
space between surname and given name; every later fold therefore runs across that boundary
too (サトウ オサム folds like サトウオサム), which is what keeps the two spellings equal.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

import jaconv

__all__ = [
    "CONFUSABLE_KANA",
    "KANA_LEVELS",
    "OLD_KANA",
    "SMALL_KANA",
    "VOICED_KANA",
    "enlarge_small_kana",
    "fold_confusables",
    "fold_long_vowels",
    "fold_old_kana",
    "is_kana",
    "is_normalized_kana",
    "kana_key",
    "kana_keys",
    "normalize_kana",
    "opensearch_char_filters",
    "remove_voicing",
]

# --- tables -------------------------------------------------------------------------------------
# Plain dicts frozen behind MappingProxyType: module constants that nobody can mutate. They are
# the single source for both the Python folds and the OpenSearch char filters.

# Small kana that keyers of the 1979 katakana-only systems could not represent (キョウコ was
# keyed キヨウコ). jaconv.enlarge_smallkana covers the common ones but not ヮ nor the small
# katakana extension ㇰ-ㇿ, and we need the table itself for OpenSearch, hence our own.
SMALL_KANA: Final[Mapping[str, str]] = MappingProxyType(
    {
        "ァ": "ア", "ィ": "イ", "ゥ": "ウ", "ェ": "エ", "ォ": "オ",
        "ッ": "ツ", "ャ": "ヤ", "ュ": "ユ", "ョ": "ヨ", "ヮ": "ワ", "ヵ": "カ", "ヶ": "ケ",
        "ㇰ": "ク", "ㇱ": "シ", "ㇲ": "ス", "ㇳ": "ト", "ㇴ": "ヌ", "ㇵ": "ハ", "ㇶ": "ヒ",
        "ㇷ": "フ", "ㇸ": "ヘ", "ㇹ": "ホ", "ㇺ": "ム", "ㇻ": "ラ", "ㇼ": "リ", "ㇽ": "ル",
        "ㇾ": "レ", "ㇿ": "ロ",
    }
)  # fmt: skip

# 四つ仮名 and historical kana: the same sound, different spellings (シヅオ / シズオ, カヲル /
# カオル). ヴ and the rare ヷ-ヺ are foreign-sound spellings of バ行 sounds.
OLD_KANA: Final[Mapping[str, str]] = MappingProxyType(
    {
        "ヂ": "ジ", "ヅ": "ズ", "ヲ": "オ", "ヰ": "イ", "ヱ": "エ",
        "ヴ": "ブ", "ヷ": "バ", "ヸ": "ビ", "ヹ": "ベ", "ヺ": "ボ",
    }
)  # fmt: skip


def _voicing_table() -> dict[str, str]:
    # Derived from Unicode rather than typed: every katakana letter whose canonical
    # decomposition is base + (han)dakuten. Yields ガ→カ … パ→ハ, ヴ→ウ, ヷ→ワ and nothing else.
    table = {}
    for code_point in range(ord("ァ"), ord("ヺ") + 1):
        letter = chr(code_point)
        decomposed = unicodedata.normalize("NFD", letter)
        if len(decomposed) == 2 and decomposed[1] in "\u3099\u309a":
            table[letter] = decomposed[0]
    return table


# 濁点/半濁点 were dropped or added when keying (ナカジマ ↔ ナカシマ, ヤマザキ ↔ ヤマサキ).
VOICED_KANA: Final[Mapping[str, str]] = MappingProxyType(_voicing_table())

# Handwriting confusables read back wrong from paper forms. Only the two pairs known to be
# misread often (docs/DOMAIN-NOTES.md); ヌ/ス, ワ/ウ, ク/ワ were considered and left out — no
# evidence that they occur, and each fold costs precision on every name containing them.
# Representatives: ン and シ, the more frequent letter in names, so keys stay readable.
CONFUSABLE_KANA: Final[Mapping[str, str]] = MappingProxyType({"ソ": "ン", "ツ": "シ"})

# Vowel of each kana (small ones included: キョ ends in o). ン and ッ have none.
_VOWEL_ROWS: Final[Mapping[str, str]] = MappingProxyType(
    {
        letter: vowel
        for vowel, letters in (
            ("a", "アカガサザタダナハバパマヤラワァャヮヵヷ"),
            ("i", "イキギシジチヂニヒビピミリヰィヸ"),
            ("u", "ウクグスズツヅヌフブプムユルゥュヴ"),
            ("e", "エケゲセゼテデネヘベペメレヱェヶヹ"),
            ("o", "オコゴソゾトドノホボポモヨロヲォョヺ"),
        )
        for letter in letters
    }
)

# Which large vowel merely lengthens a mora of which row, as long vowels are spelled in names:
# ウ after a u-row mora (ユウコ = ユーコ), ウ or オ after an o-row mora (イチロウ = イチロー,
# オオノ = オーノ), イ after an e-row mora (ケイコ, said ケーコ).
# JUDGEMENT: エイ → エ folds pronunciation, not spelling; it is in because records were keyed
# from what clerks heard, and it merges mostly with non-names (ケイコ/ケコ, セイジ/セジ).
# Deliberately out: ア after a-row, イ after i-row, エ after e-row. Names do not spell long
# vowels that way, and since keys have no space the fold also runs across the surname/given
# boundary, where these would eat the first vowel of very common given names (タナカ アキコ,
# モリ イチロウ). ー itself is always dropped, whatever precedes it.
_LENGTHENING_VOWELS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "a": frozenset(),
        "i": frozenset(),
        "u": frozenset("ウ"),
        "e": frozenset("イ"),
        "o": frozenset("オウ"),
    }
)

_LONG_VOWEL_MARK: Final = "ー"

# Dashes and rules people type or systems store for the long vowel mark (ｰ becomes ー by NFKC).
# Box drawing ─ ━ stood in for ー in some old character sets.
_DASHES_AS_LONG_VOWEL: Final = frozenset(
    "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2500\u2501\ufe58\ufe63"
)

# Spacing (han)dakuten ゛゜ become " " + combining mark under NFKC and would not compose with
# the preceding kana; turning them into the combining marks first lets NFKC compose カ゛ → ガ.
_SPACING_TO_COMBINING_MARKS: Final = str.maketrans({"\u309b": "\u3099", "\u309c": "\u309a"})

_ITERATION_MARK: Final = "ヽ"
_VOICED_ITERATION_MARK: Final = "ヾ"
# Plain → 濁点 form (カ → ガ), for ヾ. Handakuten forms (パ) are not what ヾ means.
_VOICE: Final[Mapping[str, str]] = MappingProxyType(
    {
        plain: voiced
        for voiced, plain in VOICED_KANA.items()
        if unicodedata.normalize("NFD", voiced)[1] == "\u3099"
    }
)


def _is_katakana_letter(char: str) -> bool:
    return "ァ" <= char <= "ヺ" or "ㇰ" <= char <= "ㇿ"


# --- translate tables ---------------------------------------------------------------------------
# The hot path (every record at index time, every check at query time) is C-level
# ``str.translate`` over tables built once, instead of a Python loop over characters.


def _compose(*tables: Mapping[str, str]) -> dict[int, str]:
    """One ``str.translate`` table that applies single-character ``tables`` in order."""
    composed: dict[int, str] = {}
    for source in dict.fromkeys(key for table in tables for key in table):
        target = source
        for table in tables:
            target = table.get(target, target)
        composed[ord(source)] = target
    return composed


class _CharTable(dict[int, str]):
    """A ``str.translate`` table computed per code point on first use.

    The per-character rules depend on the Unicode category, so the table cannot be written out
    for all of Unicode; it is filled with the code points that actually occur. The cache is
    bounded so that arbitrary input cannot grow it without limit; past the bound a code point
    is computed on every use, with the same result.
    """

    MAX_ENTRIES: Final = 8192

    def __init__(self, rule: Callable[[str], str]) -> None:
        super().__init__()
        self._rule = rule

    def __missing__(self, code_point: int) -> str:
        result = self._rule(chr(code_point))
        if len(self) < self.MAX_ENTRIES:
            self[code_point] = result
        return result


# --- normalisation ------------------------------------------------------------------------------

# Both marks in katakana and hiragana: checked for before hiragana is made katakana.
_ANY_ITERATION_MARK: Final = re.compile(
    f"[{_ITERATION_MARK}{_VOICED_ITERATION_MARK}"
    f"{jaconv.kata2hira(_ITERATION_MARK + _VOICED_ITERATION_MARK)}]"
)


def _expand_iteration_marks(text: str) -> str:
    """ヽ repeats the previous kana, ヾ its voiced form (ミスヾ = ミスズ, as in みすゞ)."""
    expanded: list[str] = []
    for char in text:
        if char in (_ITERATION_MARK, _VOICED_ITERATION_MARK):
            if not expanded or not _is_katakana_letter(expanded[-1]):
                continue  # nothing to repeat: drop the stray mark
            previous = VOICED_KANA.get(expanded[-1], expanded[-1])
            if char == _VOICED_ITERATION_MARK:
                previous = _VOICE.get(previous, previous)
            expanded.append(previous)
        else:
            expanded.append(char)
    return "".join(expanded)


def _normalize_char(char: str) -> str:
    """One character after NFKC and kana conversion: kept, made a space, made ー, or dropped."""
    if char.isspace():
        return " "
    if char in _DASHES_AS_LONG_VOWEL:
        return _LONG_VOWEL_MARK
    category = unicodedata.category(char)
    # P*: punctuation incl. ・ and 〜; C*: controls, format chars (zero-width space),
    # unassigned; Mn/Me: combining marks that NFKC could not compose onto a kana.
    if category[0] in "PC" or category in ("Mn", "Me"):
        return ""
    return char


# ``_normalize_char`` of every character, and of every character made katakana first. The
# second is the usual path; iteration marks need the previous character, so text with one
# takes the three steps one after the other.
_NORMALIZED_CHAR: Final = _CharTable(_normalize_char)
_KATAKANA_NORMALIZED_CHAR: Final = _CharTable(lambda char: _normalize_char(jaconv.hira2kata(char)))


# What a valid kana name is made of once normalised: the letters of ``_is_katakana_letter``,
# ー and spaces. Each is a composed starter that NFKC keeps and the character tables map to
# itself, so such text is already normalised: name parts and whole names are passed on in this
# form and would otherwise be normalised again for every key.
_KANA_NAME_CHARS: Final = re.compile(f"[ァ-ヺㇰ-ㇿ{_LONG_VOWEL_MARK} ]*")


def _normalized_chars(text: str) -> str:
    """``normalize_kana`` up to, not including, collapsing the spaces."""
    if _KANA_NAME_CHARS.fullmatch(text):
        return text
    return _normalize_chars_fully(text)


def _normalize_chars_fully(text: str) -> str:
    if "\u309b" in text or "\u309c" in text:
        text = text.translate(_SPACING_TO_COMBINING_MARKS)
    text = unicodedata.normalize("NFKC", text)
    if _ANY_ITERATION_MARK.search(text) is None:
        return text.translate(_KATAKANA_NORMALIZED_CHAR)
    return _expand_iteration_marks(jaconv.hira2kata(text)).translate(_NORMALIZED_CHAR)


def normalize_kana(text: str) -> str:
    """Normalise a kana name as typed or keyed: katakana, full width, single ASCII spaces.

    NFKC turns half-width ｻﾄｳ and ｶﾞ into サトウ and ガ; hiragana becomes katakana; every run of
    whitespace (U+3000, tabs) becomes one space; ・ and other punctuation are dropped; dashes
    become ー. Characters that are not kana (kanji, latin) are kept so that ``is_kana`` can
    reject them. Never raises.
    """
    # Every whitespace character is a space by now, and split() drops runs and padding.
    return " ".join(_normalized_chars(text).split())


def is_kana(text: str) -> bool:
    """Input validation: after normalisation only katakana, ー and spaces, and some katakana."""
    return is_normalized_kana(normalize_kana(text))


def is_normalized_kana(normalized: str) -> bool:
    """``is_kana`` of a string that ``normalize_kana`` returned (the indexer normalises once)."""
    # A regex over the whole string instead of a Python loop per character: this runs for
    # every record of an extract. strip() leaves something only if a letter is present.
    return (
        _KANA_NAME_CHARS.fullmatch(normalized) is not None
        and normalized.strip(f"{_LONG_VOWEL_MARK} ") != ""
    )


# --- folds (each a pure, idempotent function on normalised katakana) ----------------------------


_SMALL_KANA_TABLE: Final = str.maketrans(dict(SMALL_KANA))
_OLD_KANA_TABLE: Final = str.maketrans(dict(OLD_KANA))
_VOICED_KANA_TABLE: Final = str.maketrans(dict(VOICED_KANA))
_CONFUSABLE_KANA_TABLE: Final = str.maketrans(dict(CONFUSABLE_KANA))
_SMALL_THEN_OLD_KANA_TABLE: Final = _compose(SMALL_KANA, OLD_KANA)


def _lengthening_runs() -> re.Pattern[str]:
    """A pattern for the vowels ``fold_long_vowels`` drops, once every ー is gone.

    A vowel is dropped when the last *kept* letter before it is a mora of a row that it
    lengthens; a run of such vowels goes at once (オオオ → オ). The pattern only sees the
    letter just before, which is the last kept letter unless that letter ended a dropped run.
    It then agrees too provided a run's vowels lengthen nothing beyond the run itself
    (ウ lengthens only ウ, and ウ is in the o-row run): checked here, so that a change of the
    tables that breaks it fails at import instead of folding differently.
    """
    alternatives = []
    for vowel, lengthening in _LENGTHENING_VOWELS.items():
        if not lengthening:
            continue
        for letter in lengthening:
            row = _VOWEL_ROWS.get(letter)
            if row is not None and not _LENGTHENING_VOWELS[row] <= lengthening:
                raise AssertionError(f"{letter} lengthens more than the {vowel}-row run")
        row_letters = "".join(sorted(k for k, v in _VOWEL_ROWS.items() if v == vowel))
        alternatives.append(f"(?<=[{row_letters}])[{''.join(sorted(lengthening))}]+")
    # The lookahead lets the regex engine skip every letter that is no lengthening vowel
    # without trying each lookbehind on it (about twice as fast on names).
    any_lengthening = "".join(sorted(frozenset().union(*_LENGTHENING_VOWELS.values())))
    return re.compile(f"(?=[{any_lengthening}])(?:{'|'.join(alternatives)})")


_LENGTHENING_RUNS: Final = _lengthening_runs()


def enlarge_small_kana(text: str) -> str:
    """キョウコ → キヨウコ, ハットリ → ハツトリ: small kana as the old systems keyed them."""
    return text.translate(_SMALL_KANA_TABLE)


def fold_old_kana(text: str) -> str:
    """シヅオ → シズオ, ヂ → ジ, カヲル → カオル, ヰ → イ, ヱ → エ, ヴ → ブ."""
    return text.translate(_OLD_KANA_TABLE)


# How a long vowel is spelled after a mora of each row, as names write it (ユウ, ロウ, ケイ).
_LONG_VOWEL_SPELLING: Final[Mapping[str, str]] = MappingProxyType(
    {"a": "ア", "i": "イ", "u": "ウ", "e": "イ", "o": "ウ"}
)
_SPELLED_LONG_VOWEL: Final = re.compile(f"([{''.join(sorted(_VOWEL_ROWS))}]){_LONG_VOWEL_MARK}+")


def _spell_long_vowel(match: re.Match[str]) -> str:
    letter = match.group(1)
    return letter + _LONG_VOWEL_SPELLING[_VOWEL_ROWS[letter]]


def fold_long_vowels(text: str) -> str:
    """Drop ー and every vowel that only lengthens the mora before it.

    オオノ / オーノ / オノ → オノ, ユウコ / ユーコ → ユコ, イチロウ / イチロー → イチロ,
    ケイコ → ケコ. Word-initial vowels stay (オオノ keeps its first オ). The fold cannot see
    morpheme boundaries, so オオウチ (大内) folds to オチ like 越智, and サトウオサム to
    サトサム: a blocking key, not a verdict — the scorer still sees the exact level. For the
    same reason, fold name parts or suffixes *after* cutting them, never cut a folded key.
    """
    # ー first becomes the vowel it stands for (ニシー → ニシイ, ケーコ → ケイコ, オーノ → オウノ),
    # so that it meets the spelled-out form wherever the lengthening rules keep that vowel.
    if _LONG_VOWEL_MARK in text:
        text = _SPELLED_LONG_VOWEL.sub(_spell_long_vowel, text).replace(_LONG_VOWEL_MARK, "")
    return _LENGTHENING_RUNS.sub("", text)


def remove_voicing(text: str) -> str:
    """ナカジマ → ナカシマ, ヤマザキ → ヤマサキ, パ → ハ: 濁点 and 半濁点 dropped."""
    return text.translate(_VOICED_KANA_TABLE)


def fold_confusables(text: str) -> str:
    """ソ → ン and ツ → シ: handwritten pairs that were read back wrong."""
    return text.translate(_CONFUSABLE_KANA_TABLE)


# --- levels -------------------------------------------------------------------------------------

KANA_LEVELS: Final[tuple[str, ...]] = ("exact", "orthographic", "voiceless", "confusable")


def _exact(text: str) -> str:
    return "".join(_normalized_chars(text).split())


def _orthographic(exact_key: str) -> str:
    return fold_long_vowels(exact_key.translate(_SMALL_THEN_OLD_KANA_TABLE))


def _confusable(voiceless_key: str) -> str:
    # Long vowels are folded again because the confusable map changes a mora's vowel row
    # (マツイ → マシイ), which can leave a lengthening vowel behind; folding again keeps every
    # key a fixed point of its own level.
    return fold_long_vowels(fold_confusables(voiceless_key))


def kana_keys(text: str) -> dict[str, str]:
    """The key of ``text`` at every level of ``KANA_LEVELS``, loosest last.

    Each level's key is computed from the previous level's key, never from ``text``.
    """
    exact = _exact(text)
    orthographic = _orthographic(exact)
    voiceless = remove_voicing(orthographic)
    return {
        "exact": exact,
        "orthographic": orthographic,
        "voiceless": voiceless,
        "confusable": _confusable(voiceless),
    }


def kana_key(text: str, level: str) -> str:
    """The key of ``text`` at one level.

    Raises:
        ValueError: ``level`` is not one of ``KANA_LEVELS``.
    """
    if level not in KANA_LEVELS:
        raise ValueError(f"unknown kana level; expected one of {', '.join(KANA_LEVELS)}")
    # Each level is made from the one before (as in ``kana_keys``): stop at the one asked for.
    key = _exact(text)
    if level == "exact":
        return key
    key = _orthographic(key)
    if level == "orthographic":
        return key
    key = remove_voicing(key)
    if level == "voiceless":
        return key
    return _confusable(key)


def single_deletions(key: str) -> tuple[str, ...]:
    """Every distinct string left when one character of ``key`` is removed, in order.

    Two strings within one edit (substitution, insertion, deletion or an adjacent swap) share a
    member of ``{s} ∪ single_deletions(s)``, so one-kana slips are found with exact term
    lookups instead of a fuzzy automaton walked over the whole term dictionary (a symmetric
    deletion neighbourhood; a few pairs two edits apart share one too, and the scorer, which
    measures the distance itself, drops them).
    """
    return tuple(dict.fromkeys([key[:i] + key[i + 1 :] for i in range(len(key))]))


# --- OpenSearch ---------------------------------------------------------------------------------


def _mapping_rules(table: Mapping[str, str]) -> list[str]:
    """Lucene mapping rules for a katakana table plus its hiragana counterpart.

    Char filters run before the token filter that turns hiragana into katakana, so the
    hiragana spellings (ぢ → じ) are listed too. Letters without hiragana (ㇰ, ヷ) appear once.
    """
    rules: dict[str, str] = {}
    for source, target in table.items():
        rules[source] = target
        rules.setdefault(jaconv.kata2hira(source), jaconv.kata2hira(target))
    return [f"{source}=>{target}" for source, target in rules.items()]


def opensearch_char_filters() -> dict[str, dict[str, object]]:
    """The ``char_filter`` section of ``analyzers/opensearch/analysis.json``.

    Generated from the same tables as the Python folds; a test asserts the JSON equals this.
    """
    return {
        "kana_nfkc": {"type": "icu_normalizer", "name": "nfkc", "mode": "compose"},
        "kana_remove_separators": {
            "type": "mapping",
            "mappings": ["\\u0020=>", "\\u3000=>", "・=>", "･=>"],
        },
        "kana_small_to_large": {"type": "mapping", "mappings": _mapping_rules(SMALL_KANA)},
        "kana_old_to_modern": {"type": "mapping", "mappings": _mapping_rules(OLD_KANA)},
        "kana_remove_voicing": {"type": "mapping", "mappings": _mapping_rules(VOICED_KANA)},
        "kana_confusables": {"type": "mapping", "mappings": _mapping_rules(CONFUSABLE_KANA)},
    }
