"""The one way notebooks read the warehouse: ``query(sql, **params) -> pandas.DataFrame``.

Works on DuckDB and PostgreSQL alike (``BEACON_WAREHOUSE_URL``, the same settings every Beacon
command reads). Parameters are bound, never formatted into the SQL: write ``:org`` in the query and
pass ``org=...``. The marts hold every tenant; filter on ``organization_id`` (see docs/notebooks.md).
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Executable, text

from beacon.settings import get_settings
from beacon.warehouse import warehouse_engine


def query(sql: str | Executable, *, warehouse_url: str | None = None, **params: object) -> pd.DataFrame:
    """Run one read-only statement on the warehouse and return its rows as a DataFrame.

    ``sql`` is SQL text with ``:name`` parameters, or a SQLAlchemy statement (e.g. a compiled
    segment's ``count()``). ``warehouse_url`` overrides the configured warehouse
    (default: ``BEACON_WAREHOUSE_URL``).
    """
    if isinstance(sql, str):
        if not sql.strip():
            raise ValueError("query() needs a SQL statement; got an empty string")
        sql = text(sql)
    # An engine per call, disposed at once: a DuckDB file admits one process at a time, and a
    # kernel holding it between cells would block the pipeline (and other notebooks) from writing.
    engine = warehouse_engine(warehouse_url or get_settings().warehouse)
    try:
        with engine.connect() as conn:
            result = conn.execute(sql, params)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    finally:
        engine.dispose()


def organization_id(slug: str, *, warehouse_url: str | None = None) -> int:
    """The organization id of a tenant slug (``marts.dim_contacts`` carries it), for filtering marts."""
    found = query(
        "select distinct organization_id from marts.dim_contacts where organization_slug = :slug",
        warehouse_url=warehouse_url,
        slug=slug,
    )
    if found.empty:
        known = query("select distinct organization_slug from marts.dim_contacts order by 1", warehouse_url=warehouse_url)
        raise LookupError(f"no organization with slug {slug!r} in the warehouse; known: {', '.join(known.iloc[:, 0])}")
    return int(found.iloc[0, 0])


def has_relation(schema: str, name: str, *, warehouse_url: str | None = None) -> bool:
    """Whether ``schema.name`` exists, so a notebook can say which mart is not built yet."""
    found = query(
        "select count(*) as n from information_schema.tables where table_schema = :schema and table_name = :name",
        warehouse_url=warehouse_url,
        schema=schema,
        name=name,
    )
    return bool(found.iloc[0, 0])
