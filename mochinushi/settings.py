"""All configuration of mochinushi in one typed object.

Every value comes from the environment (prefix ``MOCHINUSHI_``) or its default; command-line
flags override by constructing ``Settings(**overrides)``. Nothing reads ``os.environ`` elsewhere.
"""

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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOCHINUSHI_", extra="ignore")

    opensearch_url: str = "http://127.0.0.1:9200"
    opensearch_user: str | None = None
    opensearch_password: str | None = None
    opensearch_verify_certs: bool = True
    opensearch_timeout_seconds: float = Field(default=2.0, gt=0)

    alias: str = "unmatched-records"
    staff_api_keys: str = ""
    token_secret: str | None = None
    token_ttl_days: int = Field(default=90, ge=1, le=3650)
    rate_limit: str = "30/minute"
    dev_mode: bool = True

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

    @field_validator("alias")
    @classmethod
    def _alias_is_index_name(cls, value: str) -> str:
        if not value or value != value.lower() or any(c in value for c in ' "*\\<|,>/?#:'):
            raise ValueError("MOCHINUSHI_ALIAS must be a lowercase OpenSearch index name")
        return value

    def opensearch_hosts(self) -> list[str]:
        """Several comma-separated URLs spread requests and survive the loss of one node."""
        return [url.strip() for url in self.opensearch_url.split(",") if url.strip()]

    def opensearch_auth(self) -> tuple[str, str] | None:
        if not self.opensearch_user:
            return None
        return (self.opensearch_user, self.opensearch_password or "")

    def staff_keys(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in self.staff_api_keys.split(",") if k.strip())
