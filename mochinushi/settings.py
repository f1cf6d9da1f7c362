"""All configuration of mochinushi in one typed object.

Every value comes from the environment (prefix ``MOCHINUSHI_``) or its default; command-line
flags override by constructing ``Settings(**overrides)``. Nothing reads ``os.environ`` elsewhere
(the local development node has settings of its own, ``mochinushi.localdev.settings``).
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    # Reference numbers (search_api/references.py) and the staff limiter.
    staff_rate_limit: str = "60/minute"
    reference_index: str = "mochinushi-references"
    reference_grace_days: int = Field(default=30, ge=0, le=3650)

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
