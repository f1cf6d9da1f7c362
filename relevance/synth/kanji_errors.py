"""Kanji keying errors: old / variant character forms, and another kanji of the same reading."""

from __future__ import annotations

from dataclasses import replace
from random import Random

from relevance.synth import names_data as nd
from relevance.synth.draft import Draft
from relevance.synth.names import NameEntry, Person, name_tables


def inject_kanji_variant(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """Kanji keyed in old / variant forms (高橋 → 髙橋, 渡辺 → 渡邊, 吉田 → 𠮷田): one
    character, or every one that has an old form (a clerk copying an old koseki)."""
    spots = [
        (p, i)
        for p, text in enumerate((draft.surname_kanji, draft.given_kanji))
        for i, ch in enumerate(text)
        if ch in nd.OLD_FORMS
    ]
    if not spots:
        return None
    chosen = spots if rng.random() < 0.5 else [rng.choice(spots)]
    parts = [list(draft.surname_kanji), list(draft.given_kanji)]
    for p, i in chosen:
        parts[p][i] = rng.choice(nd.OLD_FORMS[parts[p][i]])
    return replace(
        draft, surname_kanji="".join(parts[0]), given_kanji="".join(parts[1]), with_kanji=True
    )


def inject_kanji_homophone(rng: Random, draft: Draft, person: Person) -> Draft | None:
    """Another kanji with the same reading (恵子 → 啓子, 伊藤 → 伊東); the kana stay right."""
    names = name_tables()
    options: list[tuple[int, list[NameEntry]]] = []
    for p, (entry, kana) in enumerate(
        ((draft.surname, draft.surname_kana), (draft.given, draft.given_kana))
    ):
        others = [e for e in names.by_reading.get((entry.kind, kana), ()) if e.kanji != entry.kanji]
        if others:
            options.append((p, others))
    if not options:
        return None
    p, others = rng.choice(options)
    chosen = rng.choices(others, weights=[e.weight for e in others])[0]
    if p == 0:
        return replace(draft, surname_kanji=chosen.kanji, with_kanji=True)
    return replace(draft, given_kanji=chosen.kanji, with_kanji=True)
