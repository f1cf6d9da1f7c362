"""Kana keying errors: another reading of the kanji, small kana, voicing marks, long vowels,
old and confusable kana, and typos."""

from __future__ import annotations

from dataclasses import replace
from random import Random

from relevance.synth.draft import Draft
from relevance.synth.kana import (
    CONFUSABLE,
    GOJUON_ROWS,
    LONG_AFTER,
    OLD_KANA,
    ROW_COL,
    SMALL_TO_LARGE,
    VOICEABLE,
    VOICED,
    VOWEL_OF,
    fold_kana_loose,
)
from relevance.synth.names import Person
from relevance.synth.sampling import pick


def _set_part(draft: Draft, part: int, text: str) -> Draft:
    return replace(draft, surname_kana=text) if part == 0 else replace(draft, given_kana=text)


def _parts(draft: Draft) -> tuple[str, str]:
    return draft.surname_kana, draft.given_kana


def inject_alt_reading(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """The clerk used another valid reading of the same kanji (幸子 ユキコ for サチコ)."""
    options = [
        (i, e, kana)
        for i, (e, kana) in enumerate(
            ((draft.surname, draft.surname_kana), (draft.given, draft.given_kana))
        )
        if len(e.readings) > 1
    ]
    if not options:
        return None
    part, entry, current = rng.choice(options)
    others = [
        (r, w) for r, w in zip(entry.readings, entry.reading_weights, strict=True) if r != current
    ]
    return _set_part(draft, part, rng.choices([r for r, _ in others], [w for _, w in others])[0])


def inject_small_kana(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """Small kana could not be keyed: every small kana became large (キョウコ → キヨウコ)."""
    if not any(ch in SMALL_TO_LARGE for ch in draft.surname_kana + draft.given_kana):
        return None
    table = str.maketrans(SMALL_TO_LARGE)
    return replace(
        draft,
        surname_kana=draft.surname_kana.translate(table),
        given_kana=draft.given_kana.translate(table),
    )


def inject_voicing(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """A 濁点/半濁点 dropped (ナカジマ → ナカシマ) or, less often, added (ヤマサキ → ヤマザキ)."""
    drops = [(p, i) for p, s in enumerate(_parts(draft)) for i, ch in enumerate(s) if ch in VOICED]
    adds = [
        (p, i)
        for p, s in enumerate(_parts(draft))
        for i, ch in enumerate(s)
        if i > 0 and ch in VOICEABLE
    ]
    if drops and (not adds or rng.random() < 0.7):
        p, i = rng.choice(drops)
        new = VOICED
    elif adds:
        p, i = rng.choice(adds)
        new = VOICEABLE
    else:
        return None
    text = _parts(draft)[p]
    return _set_part(draft, p, text[:i] + new[text[i]] + text[i + 1 :])


def inject_long_vowel(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """A long vowel spelt otherwise: ユウコ → ユーコ / ユコ, オオノ → オーノ / オノ,
    イチロウ → イチロー, ケイコ → ケーコ."""
    spots = [
        (p, i)
        for p, s in enumerate(_parts(draft))
        for i in range(1, len(s))
        if s[i] in "ウオイ" and VOWEL_OF.get(s[i - 1], "") in LONG_AFTER[s[i]]
    ]
    if not spots:
        return None
    p, i = rng.choice(spots)
    text = _parts(draft)[p]
    if rng.random() < 0.6 or len(text) <= 2:
        return _set_part(draft, p, text[:i] + "ー" + text[i + 1 :])
    return _set_part(draft, p, text[:i] + text[i + 1 :])


def inject_old_kana(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """四つ仮名 and old kana: シズオ → シヅオ, ジ → ヂ, オ → ヲ (or back)."""
    spots = [
        (p, i) for p, s in enumerate(_parts(draft)) for i, ch in enumerate(s) if ch in OLD_KANA
    ]
    if not spots:
        return None
    p, i = rng.choice(spots)
    text = _parts(draft)[p]
    return _set_part(draft, p, text[:i] + OLD_KANA[text[i]] + text[i + 1 :])


def inject_confusable_kana(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """Handwriting read back wrong: ソ ↔ ン, シ ↔ ツ."""
    spots = [
        (p, i) for p, s in enumerate(_parts(draft)) for i, ch in enumerate(s) if ch in CONFUSABLE
    ]
    if not spots:
        return None
    p, i = rng.choice(spots)
    text = _parts(draft)[p]
    return _set_part(draft, p, text[:i] + CONFUSABLE[text[i]] + text[i + 1 :])


def _near_kana(rng: Random, kana: str) -> str:
    row, col = ROW_COL[kana]
    if rng.random() < 0.5:
        options = [k for k in GOJUON_ROWS[row] if k not in ("・", kana)]
    else:
        options = [r[col] for r in GOJUON_ROWS if r[col] not in ("・", kana)]
    return rng.choice(options)


def inject_kana_typo(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """One kana substituted by a neighbour in the 50-sound table, dropped, or inserted; never
    one that a loose fold would undo (that would be another pattern, not a typo)."""
    for _ in range(8):
        p = 1 if rng.random() < 0.55 else 0
        text = _parts(draft)[p]
        op = pick(rng, {"sub": 2.0, "drop": 1.0, "insert": 1.0})
        if op == "sub":
            spots = [i for i, ch in enumerate(text) if ch in ROW_COL]
            if not spots:
                continue
            i = rng.choice(spots)
            new = text[:i] + _near_kana(rng, text[i]) + text[i + 1 :]
        elif op == "drop":
            if len(text) < 3:
                continue
            i = rng.randrange(len(text))
            new = text[:i] + text[i + 1 :]
        else:
            i = rng.randint(1, len(text))
            new = text[:i] + rng.choice([k for k in ROW_COL if k not in "ヲ"]) + text[i:]
        if fold_kana_loose(new) != fold_kana_loose(text):
            return _set_part(draft, p, new)
    return None
