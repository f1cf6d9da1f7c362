"""The namesake guard with co-readings: a surname that merely shares a kanji spelling never
satisfies it, and never takes the place of a level that does."""

from __future__ import annotations

from typing import Any

from analyzers.dates import parse_user_date
from analyzers.kana import kana_keys
from analyzers.ledger_readings import LedgerReadings
from analyzers.readings import default_reading_dictionary
from matching.checks import Check, FormerSurname, check_keys
from matching.config import MatchingConfig
from matching.index_meta import NameStats
from matching.scoring import score_candidate

CONFIG = MatchingConfig.load()
BIRTH = "1950-04-01"


def _doc(surname: str, given: str) -> dict[str, Any]:
    return {
        "record_id": "R",
        "gender": "F",
        "birth_key": BIRTH.replace("-", ""),
        "birth_date": BIRTH,
        "sur": dict(kana_keys(surname)),
        "given": dict(kana_keys(given)),
        "full": dict(kana_keys(surname + given)),
    }


def _score(
    surname: str, given: str, doc: dict[str, Any], stats: NameStats, *formers: str
) -> tuple[str, bool]:
    check = Check(
        surname_kana=surname,
        given_name_kana=given,
        birth_date=parse_user_date(BIRTH),
        gender="F",
        former_surnames=tuple(FormerSurname(kana=f) for f in formers),
    )
    keys = check_keys(check, default_reading_dictionary(), stats.ledger_readings)
    score = score_candidate(keys, doc, CONFIG, stats)
    return score.contributions[0].level, score.surname_agrees


def _stats(learned: LedgerReadings, **counts: int) -> NameStats:
    return NameStats(
        total=200_000, surnames=counts, rarest_surname=min(counts.values()), ledger_readings=learned
    )


KAKUTA = LedgerReadings.from_tables([("角田", ("カクタ", "カドタ"))], [])
KAWANO = LedgerReadings.from_tables([("河野", ("カワノ", "コウノ"))], [])


def test_a_co_reading_alone_does_not_pass_the_guard() -> None:
    stats = _stats(KAWANO, カワノ=50, コウノ=50)
    assert _score("カワノ", "ユキコ", _doc("コウノ", "ユキコ"), stats) == ("co_reading", False)


def test_a_co_reading_does_not_hide_a_slip_that_passes_it() -> None:
    """カクタ/カドタ are one kana apart and both common (one_edit_common, weight −1), and both
    read 角田 (co_reading, weight 0): the heavier level is shown, the guard still passes."""
    doc = _doc("カドタ", "ハナコ")
    without = _stats(LedgerReadings(), カクタ=400, カドタ=400)
    assert _score("カクタ", "ハナコ", doc, without) == ("one_edit_common", True)
    learned = _stats(KAKUTA, カクタ=400, カドタ=400)
    assert _score("カクタ", "ハナコ", doc, learned) == ("co_reading", True)


def test_a_declared_former_surname_replaces_a_current_co_reading() -> None:
    """Current surname カワノ only co-reads the record's コウノ (weight 0); the declared former
    surname コウダ is a slip of it between two common names (weight −1.5 after the former
    penalty): lighter, but it agrees, so it is the one that counts."""
    stats = _stats(KAWANO, カワノ=400, コノ=400, コダ=400)  # counts are of orthographic keys
    doc = _doc("コウノ", "ユキコ")
    assert _score("カワノ", "ユキコ", doc, stats) == ("co_reading", False)
    assert _score("カワノ", "ユキコ", doc, stats, "コウダ") == ("one_edit_common", True)
