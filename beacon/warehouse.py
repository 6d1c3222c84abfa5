"""The warehouse: DuckDB (embedded) or PostgreSQL, behind one SQLAlchemy engine.

Portable SQL goes through SQLAlchemy Core (``duckdb_engine`` dialect on DuckDB, psycopg 3 on
PostgreSQL). Bulk paths that need the native driver (Arrow scans, COPY) use ``raw_connection``.
Schemas: ``raw`` (ingestion writes), dbt's ``staging``/``intermediate``/``marts``, ``predictions``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from beacon.schema.db import normalise_url
from beacon.settings import WarehouseKind, get_settings

RAW_SCHEMA = "raw"


def warehouse_kind(url: str) -> WarehouseKind:
    return WarehouseKind.duckdb if url.startswith("duckdb") else WarehouseKind.postgres


def duckdb_path(url: str) -> Path:
    return Path(url.removeprefix("duckdb:///"))


def warehouse_engine(url: str | None = None) -> Engine:
    url = url or get_settings().warehouse
    if warehouse_kind(url) is WarehouseKind.duckdb:
        duckdb_path(url).parent.mkdir(parents=True, exist_ok=True)
        return create_engine(url)
    return create_engine(normalise_url(url), pool_pre_ping=True)


@contextmanager
def raw_connection(url: str | None = None) -> Iterator:
    """The native driver's connection (duckdb or psycopg), for Arrow and COPY bulk paths."""
    url = url or get_settings().warehouse
    if warehouse_kind(url) is WarehouseKind.duckdb:
        import duckdb

        duckdb_path(url).parent.mkdir(parents=True, exist_ok=True)
        conn = duckdb.connect(str(duckdb_path(url)))
    else:
        import psycopg

        conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        yield conn
    finally:
        conn.close()


def ensure_schema(engine: Engine, schema: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
