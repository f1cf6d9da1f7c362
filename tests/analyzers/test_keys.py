"""analyzers.keys: the shortcut for parts without readings builds the same PartKeys."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from analyzers.kana import kana_keys, remove_voicing
from analyzers.kanji import fold_kanji
from analyzers.keys import PartKeys, part_keys


@given(st.text(max_size=12), st.one_of(st.none(), st.text(max_size=6)))
def test_part_without_readings_is_keyed_as_with_empty_reading_sets(
    kana: str, kanji: str | None
) -> None:
    folded = fold_kanji(kanji) if kanji else None
    empty: frozenset[str] = frozenset()
    expected = PartKeys(
        levels=kana_keys(kana),
        readings=empty,
        kanji=folded or None,
        composed=empty,
        readings_voiceless=frozenset(remove_voicing(r) for r in empty),
    )
    assert part_keys(kana, kanji) == expected
    assert part_keys(kana, kanji, frozenset(), frozenset()) == expected
