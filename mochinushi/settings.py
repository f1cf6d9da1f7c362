"""All configuration of mochinushi in one typed object.

Every value comes from the environment (prefix ``MOCHINUSHI_``) or its default; command-line
flags override by constructing ``Settings(**overrides)``. Nothing reads ``os.environ`` elsewhere
(the local development node has settings of its own, ``mochinushi.localdev.settings``).

Secrets (the token keys, the staff keys, the cluster password) are ``SecretStr``: their
``repr``, ``str`` and JSON dumps show ``**********``, so a settings object that ends up in a log
line, a traceback or a debugger shows no key. Only the methods below unwrap them, for the one
place each is used.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TracingMode = Literal["off", "console"]

_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
"""A browser origin: scheme, host and optional port; no path, no wildcard."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOCHINUSHI_", extra="ignore")

    opensearch_url: str = "http://127.0.0.1:9200"
    opensearch_user: str | None = None
    opensearch_password: SecretStr | None = None
    opensearch_verify_certs: bool = True
    opensearch_timeout_seconds: float = Field(default=2.0, gt=0)

    alias: str = "unmatched-records"
    staff_api_keys: SecretStr = SecretStr("")
    token_secret: SecretStr | None = None
    token_ttl_days: int = Field(default=90, ge=1, le=3650)
    rate_limit: str = "30/minute"
    dev_mode: bool = True

    # Reference numbers (search_api/references.py) and the staff limiter.
    staff_rate_limit: str = "60/minute"
    reference_index: str = "mochinushi-references"
    reference_grace_days: int = Field(default=30, ge=0, le=3650)
    # Partner channels, rate-limit storage and trusted proxies (search_api/partners.py,
    # ratelimit.py), the campaign report (report.py) and the counter (web/counter.py).
    partner_keys: SecretStr = SecretStr("")
    partner_rate_limit: str = "600/minute"
    rate_limit_storage: SecretStr = SecretStr("memory://")
    forwarded_allow_ips: str = ""
    report_index: str = "mochinushi-campaign"
    report_flush_seconds: float = Field(default=5.0, gt=0, le=300)
    counter_session_minutes: int = Field(default=30, ge=1, le=720)

    tracing: TracingMode = "off"
    """OpenTelemetry spans of the API: ``off`` (none, whatever else the process configured)
    or ``console`` (one JSON span per request on stdout, named by route template)."""
    cors_origins: str = ""
    """Comma-separated browser origins allowed to call the API cross-origin; empty: none (no
    CORS headers at all)."""

    snapshot_repository: str = "mochinushi-backups"
    snapshot_location: str = "mochinushi"
    """Filesystem snapshot repository location: relative to the nodes' ``path.repo`` (the local
    node's is ``<node>/snapshots``), or an absolute path listed in every node's ``path.repo``."""

    @field_validator("alias")
    @classmethod
    def _alias_is_index_name(cls, value: str) -> str:
        if not value or value != value.lower() or any(c in value for c in ' "*\\<|,>/?#:'):
            raise ValueError("MOCHINUSHI_ALIAS must be a lowercase OpenSearch index name")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _cors_origins_are_origins(cls, value: str) -> str:
        for origin in (o.strip() for o in value.split(",")):
            if origin and not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    "MOCHINUSHI_CORS_ORIGINS must list origins such as https://app.example "
                    "(scheme, host, optional port; no path and no wildcard)"
                )
        return value

    def opensearch_hosts(self) -> list[str]:
        """Several comma-separated URLs spread requests and survive the loss of one node."""
        return [url.strip() for url in self.opensearch_url.split(",") if url.strip()]

    def opensearch_auth(self) -> tuple[str, str] | None:
        if not self.opensearch_user:
            return None
        password = self.opensearch_password.get_secret_value() if self.opensearch_password else ""
        return (self.opensearch_user, password)

    def staff_keys(self) -> tuple[str, ...]:
        keys = self.staff_api_keys.get_secret_value()
        return tuple(k.strip() for k in keys.split(",") if k.strip())

    def partner_keys_text(self) -> str:
        """The ``office_id:kind:key,…`` text of ``MOCHINUSHI_PARTNER_KEYS``."""
        return self.partner_keys.get_secret_value()

    def rate_limit_storage_url(self) -> str:
        """``MOCHINUSHI_RATE_LIMIT_STORAGE`` (a redis URL may carry a password)."""
        return self.rate_limit_storage.get_secret_value()

    def token_secret_text(self) -> str | None:
        """The ``kid:secret,…`` text of ``MOCHINUSHI_TOKEN_SECRET`` (None when unset or empty)."""
        text = self.token_secret.get_secret_value() if self.token_secret else ""
        return text or None

    def cors_origin_list(self) -> tuple[str, ...]:
        return tuple(o.strip() for o in self.cors_origins.split(",") if o.strip())
