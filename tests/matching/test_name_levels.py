"""Which levels one name part of a check reaches against a record's part (scorer side)."""

from __future__ import annotations

import pytest

from analyzers.keys import part_keys
from search_api.scoring import part_levels


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
