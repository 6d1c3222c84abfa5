"""One configuration object for every part of Beacon, read from the environment when asked.

Nothing here runs at import time: call :func:`get_settings` where a value is needed, so tests
and commands can change the environment first.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class WarehouseKind(StrEnum):
    duckdb = "duckdb"
    postgres = "postgres"


class Settings(BaseSettings):
    """Every setting is ``BEACON_<NAME>`` in the environment (or a ``.env`` file)."""

    model_config = SettingsConfigDict(env_prefix="BEACON_", env_file=".env", extra="ignore")

    home: Path = Field(Path(".beacon"), description="Folder for the embedded databases, inboxes and reports.")
    database_url: str | None = Field(
        None, description="Operational DB (SQLAlchemy URL). Default: a SQLite file in `home`."
    )
    warehouse_url: str | None = Field(
        None,
        description="Warehouse: `duckdb:///path.duckdb` or `postgresql://...`. Default: a DuckDB file in `home`.",
    )
    dbt_project_dir: Path = Field(REPO_ROOT / "dbt", description="The dbt project.")

    # Providers: absent credentials mean the local fake servers.
    sendgrid_api_key: SecretStr | None = None
    sendgrid_webhook_public_key: str | None = Field(
        None, description="SendGrid's ECDSA public key (base64) for signed event webhooks."
    )
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    stripe_api_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    sendgrid_sandbox_mode: bool = Field(
        False, description="Ask SendGrid to validate sends without delivering (a check against the real service)."
    )
    fake_providers_url: str = Field(
        "http://127.0.0.1:8025", description="Base URL of the local fake SendGrid/Twilio/Stripe server."
    )

    # Signing: the first key signs, every key verifies, so keys rotate without breaking sent links.
    signing_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=lambda: [SecretStr("beacon-dev-signing-key-change-me")],
        description="Comma-separated HMAC keys for tracking and unsubscribe tokens; first one signs.",
    )
    public_base_url: str = Field("http://127.0.0.1:8000", description="Where tracking links point.")

    @field_validator("signing_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def operational_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'beacon.db').resolve()}"

    @property
    def warehouse(self) -> str:
        return self.warehouse_url or f"duckdb:///{(self.home / 'warehouse.duckdb').resolve()}"

    @property
    def warehouse_kind(self) -> WarehouseKind:
        return WarehouseKind.duckdb if self.warehouse.startswith("duckdb") else WarehouseKind.postgres

    @property
    def duckdb_path(self) -> Path:
        if self.warehouse_kind is not WarehouseKind.duckdb:
            raise ValueError("the warehouse is not DuckDB")
        return Path(self.warehouse.removeprefix("duckdb:///"))

    @property
    def uses_fake_providers(self) -> bool:
        return self.sendgrid_api_key is None


def get_settings() -> Settings:
    """Read the settings now (never cached: the environment is the source of truth)."""
    return Settings()
