"""Settings of the local development node, apart from the service's: a deployment never
needs them (it points ``MOCHINUSHI_OPENSEARCH_URL`` at its own cluster)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

OPENSEARCH_VERSION = "2.15.0"
"""The one OpenSearch version we run and test against.

2.15.0 is the newest release for which Maven Central carries every piece a runnable node with
the Japanese plugins needs: the integ-test distribution zip, ``analysis-icu-client`` and
``analysis-kuromoji`` (2.16–2.19 lack either the distribution or the two plugin jars).
"""


def default_home() -> Path:
    """Where the fetched OpenSearch distribution and local node data live (outside the repo).

    As root the node must run as an unprivileged user (OpenSearch refuses root), and that
    user cannot enter ``/root``; so root uses a world-traversable ``/var/cache`` folder.
    """
    if os.geteuid() == 0:
        return Path("/var/cache/mochinushi")
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "mochinushi"


class LocalNodeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOCHINUSHI_", extra="ignore")

    home: Path = Field(default_factory=default_home)
    opensearch_version: str = OPENSEARCH_VERSION
    opensearch_heap: str = "1g"
    opensearch_port: int = Field(default=9200, ge=1024, le=65535)

    @field_validator("opensearch_heap")
    @classmethod
    def _heap_is_jvm_size(cls, value: str) -> str:
        text = value.strip().lower()
        if not text[:-1].isdigit() or text[-1] not in "mg":
            raise ValueError("MOCHINUSHI_OPENSEARCH_HEAP must look like 512m or 1g")
        return text
