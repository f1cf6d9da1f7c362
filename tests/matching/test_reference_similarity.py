"""Reference information agrees only when it names the same firm or place."""

from __future__ import annotations

import pytest

from matching.config import MatchingConfig
from matching.scoring import _similar_address, _similar_employer

CONFIG = MatchingConfig.load()


@pytest.mark.parametrize(
    ("typed", "keyed", "agrees"),
    [
        ("大西呉服店", "(株)大西呉服店", True),
        ("株式会社大西呉服店", "大西呉服店(有)", True),
        ("大西呉服", "㈱大西呉服店", True),
        ("ｵｵﾆｼ商店", "オオニシ商店", True),
        # One character off is not tolerated: in a short firm name it is as often another
        # firm (協和/大和) as a slip, and reference agreement alone can say "found".
        ("大西呉服点", "大西呉服店", False),
        ("大和瓦斯", "㈱協和瓦斯", False),  # the trade word alone is not the firm
        ("西田材木店", "田原材木店有限会社", False),
        ("丸三通運", "木村染工場(有)", False),
        ("瓦斯", "㈱協和瓦斯", False),  # a trade word alone
        ("商店", "山田商店", False),
        ("製作所", "株式会社日立製作所", False),
        ("日本", "日本製鉄(株)", False),  # a stem alone
        ("東芝", "東芝機械", False),
        ("", "大西呉服店", False),
        ("株式会社", "(株)大西呉服店", False),  # nothing left once the legal form goes
    ],
)
def test_employer_similarity(typed: str, keyed: str, agrees: bool) -> None:
    minimum = CONFIG.reference["employer_min_similarity"]
    assert _similar_employer(typed, keyed, minimum) is agrees


@pytest.mark.parametrize(
    ("typed", "keyed", "agrees"),
    [
        ("佐賀県佐賀市", "佐賀県佐賀市箪笥町2丁目14番地", True),
        ("佐賀県佐賀市箪笥町2丁目14番地", "佐賀県佐賀市箪笥町2丁目14番地", True),
        ("長野県松本市", "佐賀県佐賀市箪笥町2丁目14番地", False),
    ],
)
def test_address_similarity(typed: str, keyed: str, agrees: bool) -> None:
    minimum = CONFIG.reference["address_min_similarity"]
    assert _similar_address(typed, keyed, minimum) is agrees
