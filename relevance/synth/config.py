"""What to generate (``SynthConfig``) and what comes out (``SynthSet``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SynthConfig:
    """What to generate. ``owner_share`` is the share of checks whose person has a record;
    ``density`` is "production" or "uniform" (see ``relevance.synth.population``)."""

    records: int
    checks: int
    seed: int = 7
    density: str = "production"
    owner_share: float = 0.5

    def __post_init__(self) -> None:
        if self.records < 1 or self.checks < 0:
            raise ValueError("records must be >= 1 and checks >= 0")
        if self.density not in ("production", "uniform"):
            raise ValueError(f"density must be 'production' or 'uniform', not {self.density!r}")
        if not 0.0 <= self.owner_share <= 1.0:
            raise ValueError("owner_share must be within [0, 1]")


@dataclass
class SynthSet:
    """The extract (``records``), the checks with their truth, and summary ``stats``."""

    config: SynthConfig
    records: list[dict[str, str]]
    checks: list[dict[str, Any]]
    stats: dict[str, Any] = field(default_factory=dict)
