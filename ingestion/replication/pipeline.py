"""The dlt pipeline that copies the operational DB into the warehouse ``raw`` schema.

Why dlt: it keeps each table's cursor in the destination (``raw._dlt_pipeline_state``) and
commits it in the same load package as the rows, so a run that dies between extract and load
resumes from the pending package (or, if the local working folder is lost, re-extracts from the
last committed cursor) without duplicates or gaps. Merge tables upsert on the primary key, so a
re-extracted row replaces itself.

Column types come from Beacon's own SQLAlchemy models (not reflection), so both operational back
ends produce the same raw types: timestamps as ``timestamp with time zone`` in UTC, uuids as
text, JSON as JSON.
"""

from __future__ import annotations

import copy

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dlt
from dlt.destinations.impl.postgres.configuration import PostgresCredentials
from dlt.sources.sql_database import TableLoader, sql_table
from dlt.sources.sql_database.arrow_helpers import row_tuples_to_arrow
from sqlalchemy import DateTime, MetaData, Table
from sqlalchemy.dialects import sqlite

from beacon.schema.db import normalise_url
from beacon.schema.models import Base
from beacon.settings import WarehouseKind, get_settings
from beacon.warehouse import RAW_SCHEMA, duckdb_path, warehouse_kind
from ingestion.replication.tables import REPLICATED_TABLES, TABLES_BY_NAME, ReplicatedTable

PIPELINE_NAME = "beacon_replication"
SOURCE_NAME = "beacon_operational"
# SQLite keeps timestamps as text, sometimes with and sometimes without a fraction
# ('12:00:00' from CURRENT_TIMESTAMP, '12:00:00.000000' from Python). Binding the cursor without
# the fraction makes the SQL filter a superset (text '12:00:00' < '12:00:00.000000'), and dlt
# drops the already-loaded rows by value, so no row written in the cursor's second is skipped.
_SQLITE_SECONDS = "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d"


class _ShapedTableLoader(TableLoader):
    """Yields an empty, fully typed Arrow batch when a table has no rows yet.

    dlt only creates a destination table once data arrives; dbt's sources need every raw table
    to exist (with its real types) from the first run, even for a tenant with no sends yet.
    """

    def _convert_result(self, result, backend_kwargs):
        yielded = False
        for batch in super()._convert_result(result, backend_kwargs):
            yielded = True
            yield batch
        if not yielded and self.backend == "pyarrow":
            yield row_tuples_to_arrow([], columns=self.columns, tz=backend_kwargs.get("tz", "UTC"))


@dataclass
class ReplicationResult:
    """What one :func:`replicate` call did."""

    rows_loaded: dict[str, int] = field(default_factory=dict)
    load_ids: list[str] = field(default_factory=list)
    resumed_load_ids: list[str] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.rows_loaded.values())


class UnknownTable(ValueError):
    pass


def _select_tables(names: Iterable[str] | None) -> list[ReplicatedTable]:
    if names is None:
        return list(REPLICATED_TABLES)
    unknown = sorted(set(names) - set(TABLES_BY_NAME))
    if unknown:
        raise UnknownTable(f"not a replicated table: {', '.join(unknown)} (known: {', '.join(TABLES_BY_NAME)})")
    return [TABLES_BY_NAME[name] for name in names]


def _model_tables(names: Sequence[str], *, for_sqlite: bool) -> MetaData:
    """A private copy of the model tables (never mutate the shared model metadata)."""
    metadata = MetaData()
    for name in names:
        table: Table = Base.metadata.tables[name].to_metadata(metadata)
        for column in table.columns:
            # to_metadata shares the type objects; dlt's reflection flips Uuid.as_uuid on them,
            # which would break the ORM models' UUID columns for the rest of the process.
            column.type = copy.copy(column.type)
            # Raw columns are nullable: a migration that adds a NOT NULL column must not stop dlt from
            # adding it to a raw table that already has rows (keys stay NOT NULL; GX checks the rest).
            if not column.primary_key:
                column.nullable = True
            if for_sqlite and isinstance(column.type, DateTime):
                column.type = sqlite.DATETIME(timezone=True, storage_format=_SQLITE_SECONDS)
    return metadata


def build_source(op_url: str, tables: Iterable[str] | None = None) -> dlt.sources.DltSource:
    """One dlt resource per replicated table, reading the operational DB at ``op_url``."""
    selected = _select_tables(tables)
    url = normalise_url(op_url)
    metadata = _model_tables([t.name for t in selected], for_sqlite=url.startswith("sqlite"))

    @dlt.source(name=SOURCE_NAME, max_table_nesting=0)
    def beacon_operational():
        for spec in selected:
            resource = sql_table(
                credentials=url,
                table=spec.name,
                metadata=metadata,
                backend="pyarrow",
                reflection_level="full",
                incremental=dlt.sources.incremental(spec.cursor) if spec.cursor else None,
                table_loader_class=_ShapedTableLoader,
            )
            resource.apply_hints(write_disposition=spec.write_disposition)
            yield resource

    return beacon_operational()


def _destination(warehouse_url: str):
    if warehouse_kind(warehouse_url) is WarehouseKind.duckdb:
        path = duckdb_path(warehouse_url)
        path.parent.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.duckdb(str(path))
    # dlt's PostgreSQL destination speaks psycopg2 and wants a plain URL; it treats a missing
    # password as missing configuration, but trust/peer auth has none: pass an explicit empty one.
    credentials = PostgresCredentials()
    credentials.parse_native_representation(warehouse_url.replace("postgresql+psycopg://", "postgresql://"))
    credentials.password = credentials.password or ""
    return dlt.destinations.postgres(credentials=credentials)


def build_pipeline(warehouse_url: str, pipelines_dir: Path) -> dlt.Pipeline:
    """The replication pipeline; its local working folder lives under ``pipelines_dir``."""
    pipelines_dir.mkdir(parents=True, exist_ok=True)
    # A load id per row lets dbt and analysts see when each raw row arrived.
    dlt.config["normalize.parquet_normalizer.add_dlt_load_id"] = True
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=_destination(warehouse_url),
        dataset_name=RAW_SCHEMA,
        pipelines_dir=str(pipelines_dir),
        progress="log" if logging.getLogger("dlt").isEnabledFor(logging.DEBUG) else None,
    )


def _finish_pending(pipeline: dlt.Pipeline) -> list[str]:
    """Load what an interrupted run extracted: its rows and cursor state travel together."""
    if not pipeline.has_pending_data:
        return []
    if pipeline.list_extracted_load_packages():
        pipeline.normalize()
    pending = list(pipeline.list_normalized_load_packages())
    if pending:
        pipeline.load()
    return pending


def replicate(
    op_url: str | None = None,
    warehouse_url: str | None = None,
    *,
    tables: Iterable[str] | None = None,
    pipelines_dir: Path | None = None,
    full_refresh: bool = False,
) -> ReplicationResult:
    """Copy new and changed operational rows into ``raw``; safe to re-run at any time.

    ``full_refresh`` drops the selected raw tables and their cursors and copies everything again
    (the way to pick up hard deletes, which cursors cannot see).
    """
    selected = [t.name for t in _select_tables(tables)]  # reject unknown names before any I/O
    settings = get_settings()
    op_url = op_url or settings.operational_url
    warehouse_url = warehouse_url or settings.warehouse
    pipeline = build_pipeline(warehouse_url, pipelines_dir or settings.home / "dlt")
    result = ReplicationResult(resumed_load_ids=_finish_pending(pipeline))
    info = pipeline.run(build_source(op_url, selected), refresh="drop_resources" if full_refresh else None)
    result.load_ids = list(info.loads_ids)
    normalize_info = pipeline.last_trace.last_normalize_info
    counts = normalize_info.row_counts if normalize_info else {}
    result.rows_loaded = {name: counts.get(name, 0) for name in selected}
    return result
