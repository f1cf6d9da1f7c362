"""Which levels one name part of a check reaches against a record's part (scorer side)."""

from __future__ import annotations

import pytest

from analyzers.keys import part_keys
from matching.scoring import part_levels


def _record(kana: str) -> dict[str, str]:
    keys = part_keys(kana, None)
    return dict(keys.levels)


@pytest.mark.parametrize(
    ("typed", "keyed", "one_edit"),
    [
        ("サトウ", "サチウ", True),  # one kana apart as keyed; two after the long-vowel fold
        ("ケイコ", "ケヒイコ", True),  # an inserted kana inside a folded long vowel
        ("ナガオ", "ナガウ", True),
        ("ネモト", "ネトト", True),
        ("ミツオ", "シオ", False),  # two edits
    ],
)
def test_one_edit_on_either_the_keyed_or_the_folded_kana(
    typed: str, keyed: str, one_edit: bool
) -> None:
    levels = part_levels(part_keys(typed, None), _record(keyed))
    assert ("one_edit" in levels) is one_edit, levels


@pytest.mark.parametrize(
    ("typed", "keyed", "voiceless"),
    [
        ("カツミ", "カヅミ", True),  # the 四つ仮名 fold (ヅ → ズ) must not hide the 濁点
        ("ミチコ", "ミヂコ", True),
        ("ハナコ", "バナコ", True),
        ("カツミ", "カズミ", False),  # another name, not a dropped 濁点
    ],
)
def test_voicing_differences_on_the_kana_as_keyed(typed: str, keyed: str, voiceless: bool) -> None:
    levels = part_levels(part_keys(typed, None), _record(keyed))
    assert ("voiceless" in levels) is voiceless, levels
