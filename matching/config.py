"""``matching.toml`` as typed, validated data.

Every key of the file is checked against the levels the scorer can produce: a misspelt level
(``ortographic``) or field would otherwise weigh a silent 0 or fall back to ``none``, and a
relevance engineer would tune a number that nothing reads.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

from analyzers.dates import DATE_DIFFERENCE_LEVELS

NAME_LEVELS: Final = frozenset(
    {
        "exact",
        "orthographic",
        "kanji",
        "reading",
        "composed_reading",
        "co_reading",
        "reading_voiceless",
        "kanji_differs",
        "voiceless",
        "confusable",
        "one_edit",
        "one_edit_other_name",
        "one_edit_common",
        "none",
    }
)
"""Levels at which one name part (surname or given name) can agree."""

SECTIONS: Final[Mapping[str, frozenset[str]]] = {
    "surname": NAME_LEVELS | {"none_female", "former_penalty"},
    "given": NAME_LEVELS,
    "full": frozenset(
        {
            "exact",
            "orthographic",
            "kanji",
            "reading",
            "composed_reading",
            "voiceless",
            "confusable",
            "one_edit",
            "given_suffix",
            "none",
        }
    ),
    "birth_date": frozenset(DATE_DIFFERENCE_LEVELS),
    "gender": frozenset({"agree", "disagree"}),
    "reference": frozenset(
        {"employer_agree", "address_agree", "employer_min_similarity", "address_min_similarity"}
    ),
    "frequency": frozenset(
        {
            "min_total",
            "reference_share",
            "min_bits",
            "max_bits",
            "common_min_count",
            "common_min_share",
            "real_name_min_count",
            "real_name_ratio",
        }
    ),
}
"""Every section of the file with the keys it must hold, no more and no fewer."""

REQUIRED_SECTION_KEYS: Final[Mapping[str, frozenset[str]]] = {
    **SECTIONS,
    # Not every level need be weighed: an unlisted one counts as the part's ``none``.
    "surname": frozenset({"none", "none_female", "former_penalty"}),
    "given": frozenset({"none"}),
    "full": frozenset({"none", "given_suffix"}),
}
BLOCKING_KEYS: Final = frozenset({"date_window_days", "name_agrees_window_days"})
TOP_LEVEL: Final = frozenset(
    {"version", "threshold", "candidates", "token_records", "blocking", *SECTIONS}
)


class MatchingConfigError(ValueError):
    """``matching.toml`` names a level, field or section the scorer does not know."""


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MatchingConfigError(f"{where} must be a number")
    return float(value)


def _section(data: Mapping[str, Any], name: str, source: str) -> dict[str, float]:
    section = data.get(name)
    if not isinstance(section, Mapping):
        raise MatchingConfigError(f"{source}: section [{name}] is missing")
    unknown = sorted(set(section) - SECTIONS[name])
    if unknown:
        raise MatchingConfigError(f"{source}: [{name}] has unknown keys {', '.join(unknown)}")
    missing = sorted(REQUIRED_SECTION_KEYS[name] - set(section))
    if missing:
        raise MatchingConfigError(f"{source}: [{name}] lacks {', '.join(missing)}")
    return {key: _number(value, f"{source}: [{name}] {key}") for key, value in section.items()}


@dataclass(frozen=True)
class MatchingConfig:
    """Weights per comparison level, the threshold and the candidate list's size."""

    threshold: float
    candidates: int
    token_records: int
    date_window_days: int
    name_agrees_window_days: int
    surname: Mapping[str, float]
    given: Mapping[str, float]
    full: Mapping[str, float]
    birth_date: Mapping[str, float]
    gender: Mapping[str, float]
    reference: Mapping[str, float]
    frequency: Mapping[str, float]
    source: str = "matching.toml"

    @classmethod
    def load(cls, path: Path | None = None) -> MatchingConfig:
        if path is None:
            text = default_config_path().read_text()
            source = "matching/matching.toml"
        else:
            text, source = path.read_text(), str(path)
        return cls.from_toml(text, source)

    @classmethod
    def from_toml(cls, text: str, source: str = "matching.toml") -> MatchingConfig:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise MatchingConfigError(f"{source}: {error}") from None
        unknown = sorted(set(data) - TOP_LEVEL)
        if unknown:
            raise MatchingConfigError(f"{source}: unknown keys {', '.join(unknown)}")
        blocking = data.get("blocking")
        if not isinstance(blocking, Mapping) or set(blocking) != BLOCKING_KEYS:
            raise MatchingConfigError(
                f"{source}: [blocking] must hold {', '.join(sorted(BLOCKING_KEYS))}"
            )
        sections = {name: _section(data, name, source) for name in SECTIONS}
        for key in ("threshold", "candidates", "token_records"):
            if key not in data:
                raise MatchingConfigError(f"{source}: {key} is missing")
        return cls(
            threshold=_number(data["threshold"], f"{source}: threshold"),
            candidates=int(_number(data["candidates"], f"{source}: candidates")),
            token_records=int(_number(data["token_records"], f"{source}: token_records")),
            date_window_days=int(
                _number(blocking["date_window_days"], f"{source}: date_window_days")
            ),
            name_agrees_window_days=int(
                _number(blocking["name_agrees_window_days"], f"{source}: name_agrees_window_days")
            ),
            source=source,
            **sections,
        )


def default_config_path() -> Path:
    return Path(str(resources.files("matching").joinpath("matching.toml")))
