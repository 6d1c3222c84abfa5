"""Run Alembic migrations programmatically (``beacon db upgrade`` and the tests use this)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from beacon.schema.db import normalise_url
from beacon.settings import get_settings

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")


def alembic_config(url: str | None = None) -> Config:
    config = Config(str(ALEMBIC_INI))
    # configparser treats % as interpolation: escape it (percent-encoded passwords).
    url = normalise_url(url or get_settings().operational_url).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", url)
    return config


def modelled(name: str | None, type_: str, _parent_names: dict) -> bool:
    """Whether autogenerate compares this object with the models: not the contact search of migration 0008
    (SQLite's FTS5 table with its shadow tables, PostgreSQL's trigram indexes), which the models do not declare."""
    return not (name or "").startswith(("contacts_search", "ix_contacts_search"))


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
