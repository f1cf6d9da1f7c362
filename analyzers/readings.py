"""Name readings from the SudachiPy dictionary: every kana a kanji name can be read as.

A record keyed in kana may carry another valid reading of the same kanji (幸子 サチコ / ユキコ,
河野 カワノ / コウノ, 長田 ナガタ / オサダ). When a person gives the kanji too, the search can
try each reading. ``Dictionary.lookup`` returns every dictionary entry for a surface without
running the analyser, which is exactly "all readings" — and cheap (a few µs).

What the dictionary really returns (sudachidict-core 20261015), and the rules that follow:

* 長田 → ナガタノ 人名/一般, オサダ 人名/姓, ナガタ 地名/一般, ナガタノ 地名/一般
* 小山 → コヤマ 人名/姓, オヤマ 地名/一般, コヤマ 普通名詞
* 小野 → オノ 人名/姓, オノノ 人名/姓, オノ 地名/一般
* 幸子 → サチコ, ユキコ (人名/名); 和子 → カズコ, マサコ (人名/名), ワコ 普通名詞

So surnames take 人名/姓 *and* 地名 entries (ナガタ and オヤマ exist only as place names), and
given names take 人名/名 entries. 普通名詞 readings (ワコ) and 人名/一般 entries (historical
full names such as 長田王) are not name readings and are ignored. A reading that is another
reading plus a final ノ (ナガタノ, オノノ) is the classical 氏+の of names like 小野妹子 and is
dropped when the reading without ノ is also present.

The SudachiPy dictionary is the only I/O of the analyzers package; it is loaded once per
``ReadingDictionary`` (about 0.1 s) and looked-up readings are cached per instance.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Final

from analyzers.kana import is_kana, normalize_kana
from analyzers.kanji import fold_kanji

if TYPE_CHECKING:
    from sudachipy import Dictionary

__all__ = ["ReadingDictionary", "default_reading_dictionary"]

_SURNAME_POS: Final = frozenset({("人名", "姓"), ("地名", "一般")})
_GIVEN_NAME_POS: Final = frozenset({("人名", "名")})
_CLASSICAL_GENITIVE: Final = "ノ"

_DEFAULT_CACHE_SIZE: Final = 1 << 15
_MAX_CHARACTER_READING: Final = 4
_MAX_COMPOSED: Final = 32


def _drop_classical_genitive(readings: set[str]) -> frozenset[str]:
    return frozenset(
        reading
        for reading in readings
        if not (reading.endswith(_CLASSICAL_GENITIVE) and reading[:-1] in readings)
    )


class ReadingDictionary:
    """Kana readings of kanji names, backed by one ``sudachipy.Dictionary``.

    Thread-safe for lookups (the dictionary is read-only and the caches are lru_caches).
    """

    def __init__(self, *, cache_size: int = _DEFAULT_CACHE_SIZE) -> None:
        # Imported here so that importing ``analyzers`` never loads the dictionary.
        from sudachipy import Dictionary

        self._dictionary: Dictionary = Dictionary()
        self._surname_cache: Callable[[str], frozenset[str]] = functools.lru_cache(
            maxsize=cache_size
        )(self._lookup_surname)
        self._given_name_cache: Callable[[str], frozenset[str]] = functools.lru_cache(
            maxsize=cache_size
        )(self._lookup_given_name)
        self._composed_cache: Callable[[str], frozenset[str]] = functools.lru_cache(
            maxsize=cache_size
        )(self._compose)

    def composed_readings(self, name_kanji: str) -> frozenset[str]:
        """Readings built character by character (清子 → セイコ, キヨコ, …; 金谷 → カネタニ).

        The dictionary lacks many name readings; each character's own readings cover most of
        them. Speculative by nature, so the scorer gives this level less weight than a
        dictionary reading. Only for names of two or three characters, and capped, because
        the number of combinations grows as a product.
        """
        return self._composed_cache(fold_kanji(name_kanji))

    def surname_readings(self, surname_kanji: str) -> frozenset[str]:
        """Readings of a surname (人名/姓 and 地名 entries), as normalised katakana.

        Variant forms are folded first (髙橋 is not in the dictionary, 高橋 is). Empty when the
        dictionary does not know the surname: the caller then relies on the kana as typed.
        """
        return self._surname_cache(fold_kanji(surname_kanji))

    def given_name_readings(self, given_name_kanji: str) -> frozenset[str]:
        """Readings of a given name (人名/名 entries), as normalised katakana."""
        return self._given_name_cache(fold_kanji(given_name_kanji))

    def full_name_readings(self, name_kanji: str) -> frozenset[str]:
        """Readings of a whole name, surname and given name concatenated without a space.

        With a space the split is the person's own; without one every split point where both
        halves have readings is tried (山田花子 → 山田|花子), which is cheap for names of a few
        characters and is how an unsplit kanji record can still yield readings.
        """
        parts = name_kanji.split(maxsplit=1)
        if len(parts) == 2:
            splits: Iterable[tuple[str, str]] = [(parts[0], parts[1])]
        else:
            folded = fold_kanji(name_kanji)
            splits = [(folded[:cut], folded[cut:]) for cut in range(1, len(folded))]
        return frozenset(
            surname + given
            for surname_kanji, given_kanji in splits
            for surname, given in itertools.product(
                self.surname_readings(surname_kanji), self.given_name_readings(given_kanji)
            )
        )

    def _readings(self, surface: str, parts_of_speech: frozenset[tuple[str, str]]) -> set[str]:
        if not surface:
            return set()
        readings = set()
        for morpheme in self._dictionary.lookup(surface):
            if tuple(morpheme.part_of_speech()[2:4]) in parts_of_speech:
                reading = normalize_kana(morpheme.reading_form()).replace(" ", "")
                if is_kana(reading):
                    readings.add(reading)
        return readings

    def _lookup_surname(self, folded_kanji: str) -> frozenset[str]:
        return _drop_classical_genitive(self._readings(folded_kanji, _SURNAME_POS))

    def _character_readings(self, char: str) -> list[str]:
        readings = set()
        for morpheme in self._dictionary.lookup(char):
            reading = normalize_kana(morpheme.reading_form()).replace(" ", "")
            if is_kana(reading) and len(reading) <= _MAX_CHARACTER_READING:
                readings.add(reading)
        return sorted(readings)

    def _compose(self, folded_kanji: str) -> frozenset[str]:
        if not 2 <= len(folded_kanji) <= 3:
            return frozenset()
        per_character = [self._character_readings(char) for char in folded_kanji]
        if not all(per_character):
            return frozenset()
        combined: set[str] = set()
        for parts in itertools.product(*per_character):
            combined.add("".join(parts))
            if len(combined) >= _MAX_COMPOSED:
                break
        return frozenset(combined)

    def _lookup_given_name(self, folded_kanji: str) -> frozenset[str]:
        return frozenset(self._readings(folded_kanji, _GIVEN_NAME_POS))


@functools.cache
def dictionary_edition() -> str:
    """Which reading dictionary (and analyser) builds the readings: both sides of a match must
    use the same one, since an edition that reads 正 differently gives other keys."""
    from importlib.metadata import version

    return f"sudachidict-core {version('sudachidict-core')}, sudachipy {version('sudachipy')}"


@functools.cache
def default_reading_dictionary() -> ReadingDictionary:
    """The one shared ``ReadingDictionary`` of a process (loading the dictionary is costly)."""
    return ReadingDictionary()
