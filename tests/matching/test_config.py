"""``matching.toml`` is validated on load: a misspelt level is an error, never a silent 0."""

from __future__ import annotations

import re

import pytest

from matching.config import MatchingConfig, MatchingConfigError, default_config_path


def _shipped() -> str:
    return default_config_path().read_text(encoding="utf-8")


def test_the_shipped_file_loads() -> None:
    config = MatchingConfig.load()
    assert config.surname["exact"] > config.surname["none"]
    assert config.candidates > 0


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("[surname]\nexact = 8.0", "[surname]\nexakt = 8.0", "exakt"),
        ("[given]\nexact = 8.0", "[given]\nexact = 8.0\nortographic = 7.0", "ortographic"),
        ("[birth_date]\nexact = 6.0", "[birth_date]\nexact = 6.0\nwithin_a_week = 1.0", "within"),
        ("[gender]", "[genders]", "genders"),
        ("token_records = ", "threshhold = 12\ntoken_records = ", "threshhold"),
    ],
)
def test_an_unknown_key_is_an_error_that_names_it(old: str, new: str, named: str) -> None:
    text = _shipped()
    assert old in text
    with pytest.raises(MatchingConfigError, match=named):
        MatchingConfig.from_toml(text.replace(old, new, 1))


def test_a_missing_required_weight_is_an_error() -> None:
    text = re.sub(r"(?m)^none_female = .*$", "", _shipped(), count=1)
    with pytest.raises(MatchingConfigError, match="none_female"):
        MatchingConfig.from_toml(text)


def test_a_weight_that_is_not_a_number_is_an_error() -> None:
    text = _shipped().replace("[gender]\nagree = 1.0", '[gender]\nagree = "yes"', 1)
    with pytest.raises(MatchingConfigError, match="agree"):
        MatchingConfig.from_toml(text)
