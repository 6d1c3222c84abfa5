"""Map Beacon's settings to the dbt target and the environment ``dbt/profiles.yml`` reads.

dbt runs as a subprocess (dagster-dbt), so the connection travels as environment variables;
the password goes in a ``DBT_ENV_SECRET_`` variable, which dbt scrubs from its logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from sqlalchemy.engine import make_url

from beacon.settings import Settings, WarehouseKind, get_settings


@dataclass(frozen=True)
class DbtTarget:
    name: str
    env: dict[str, str]


def dbt_target(settings: Settings | None = None) -> DbtTarget:
    settings = settings or get_settings()
    if settings.warehouse_kind is WarehouseKind.duckdb:
        path = settings.duckdb_path.resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return DbtTarget("duckdb", {"BEACON_DBT_TARGET": "duckdb", "BEACON_DUCKDB_PATH": str(path)})
    url = make_url(settings.warehouse)
    if not url.database:
        raise ValueError(f"the warehouse URL names no database: {url.render_as_string(hide_password=True)}")
    return DbtTarget(
        "postgres",
        {
            "BEACON_DBT_TARGET": "postgres",
            "BEACON_PG_HOST": url.host or "127.0.0.1",
            "BEACON_PG_PORT": str(url.port or 5432),
            "BEACON_PG_USER": url.username or "postgres",
            "DBT_ENV_SECRET_BEACON_PG_PASSWORD": unquote(url.password or ""),
            "BEACON_PG_DBNAME": url.database,
        },
    )
