"""Name structure: surname and given name, when the record says which is which.

Records are usually keyed "surname space given name", sometimes without the space. A missing
space is not guessed at: the full-name keys are indexed so that no split is needed, and a
given-name-only query (a married woman searching under her given name and maiden surname)
reaches unsplit records through ``given_name_suffixes``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Final

from analyzers.kana import SMALL_KANA, normalize_kana

__all__ = [
    "NameParts",
    "given_name_suffixes",
    "split_kana_name",
    "split_kanji_name",
    "split_normalized_kana_name",
]

# A given name cannot start with a small kana or ー (ョウコ is not a name), so suffixes
# starting with one are cut in the middle of a mora and are not offered.
_NOT_A_MORA_START: Final = frozenset(SMALL_KANA) | {"ー"}


@dataclass(frozen=True, slots=True)
class NameParts:
    """A kana name as normalised katakana; ``full`` has no spaces.

    ``surname`` and ``given`` are None when the name was keyed without a space: the full key
    still matches, and guessing the split from kana alone would be wrong too often.
    """

    surname: str | None
    given: str | None
    full: str


def split_kana_name(name_kana: str) -> NameParts:
    """Split a kana name on its first space (after normalisation: U+3000 and ﾊﾝｶｸ count).

    Further spaces belong to the given name and are removed (サトウ ハナ コ → サトウ | ハナコ).
    Never raises.
    """
    return split_normalized_kana_name(normalize_kana(name_kana))


def split_normalized_kana_name(normalized: str) -> NameParts:
    """``split_kana_name`` of a name that ``normalize_kana`` returned (not normalised again)."""
    full = normalized.replace(" ", "")
    surname, space, given = normalized.partition(" ")
    if not space:
        return NameParts(surname=None, given=None, full=full)
    return NameParts(surname=surname, given=given.replace(" ", ""), full=full)


def given_name_suffixes(full: str, min_len: int = 2, max_len: int = 6) -> list[str]:
    """Suffixes of an unsplit full name that could be its given name, shortest first.

    Each leaves at least one character for the surname and starts at a mora boundary.
    Pass the exact (unfolded) name and fold each suffix afterwards: folding the whole name
    first lets the long-vowel fold eat the given name's first vowel (サトウオサム → サトサム).
    """
    compact = normalize_kana(full).replace(" ", "")
    longest = min(max_len, len(compact) - 1)
    return [
        compact[-length:]
        for length in range(max(min_len, 1), longest + 1)
        if compact[-length] not in _NOT_A_MORA_START
    ]


def split_kanji_name(name_kanji: str) -> tuple[str | None, str | None]:
    """(surname, given name) split on the first space after NFKC; (None, None) without one.

    Variant forms are not folded here (see ``analyzers.kanji.fold_kanji``). Never raises.
    """
    parts = unicodedata.normalize("NFKC", name_kanji).split(maxsplit=1)
    if len(parts) != 2:
        return None, None
    return parts[0], "".join(parts[1].split())
