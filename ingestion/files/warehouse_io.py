"""Bulk writes to the warehouse through the native drivers, one transaction per file.

DuckDB: Arrow batches are registered as views and copied with ``INSERT ... SELECT`` (no
per-row Python). PostgreSQL: batches are streamed with ``COPY ... FROM STDIN (FORMAT csv)``,
the CSV written by Arrow's C++ writer. Either way the caller opens one transaction per file and
commits the rows, their quarantine entries and the ``raw.file_loads`` row together, so a crash
leaves nothing half-loaded.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from beacon.settings import WarehouseKind
from beacon.warehouse import RAW_SCHEMA, duckdb_path, warehouse_kind
from ingestion.files.tables import RAW_TABLES_DDL

DUCKDB_MEMORY_LIMIT = "512MB"


class WarehouseWriter:
    """The operations a file load needs; one subclass per back end."""

    kind: WarehouseKind

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def ensure_tables(self) -> None:
        self.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
        for ddl in RAW_TABLES_DDL:
            self.execute(ddl)
        self.commit()

    def begin(self) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def execute(self, sql: str, params: tuple = ()) -> None:
        raise NotImplementedError

    def fetchall(self, sql: str, params: tuple = ()) -> list[tuple]:
        raise NotImplementedError

    def append(self, table: str, rows: pa.Table) -> None:
        """Append an Arrow table to ``raw.<table>`` (columns matched by name)."""
        raise NotImplementedError

    def _start_transaction(self) -> None:
        """Open the transaction now (PostgreSQL: the first statement does)."""

    def execute_atomically(self, statements: list[tuple[str, tuple]]) -> None:
        """Run ``(sql, params)`` statements in one transaction: all or nothing."""
        self.begin()
        self._start_transaction()
        try:
            for sql, params in statements:
                self.execute(sql, params)
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def append_new(self, table: str, rows: pa.Table, conflict_columns: tuple[str, ...]) -> int:
        """Append rows whose key is not in the table yet; return how many were inserted."""
        raise NotImplementedError


def _column_list(rows: pa.Table) -> str:
    return ", ".join(f'"{name}"' for name in rows.column_names)


class DuckDBWriter(WarehouseWriter):
    """DuckDB keeps a transaction's appended rows in memory, so a 10M-row file cannot be one
    transaction under 2 GB. Good rows are therefore appended (autocommitted, memory released) to
    a per-file staging table ``raw._staging_<sha>``; the file's one transaction then moves them
    into the target with a single ``INSERT ... SELECT`` (written straight to disk), writes the
    quarantine and ``file_loads`` rows, and drops the staging table. A crash leaves at most a
    staging table, which the next load of the same file replaces; the target never sees part
    of a file."""

    kind = WarehouseKind.duckdb

    def __init__(self, conn) -> None:
        super().__init__(conn)
        self._in_transaction = False
        self._staging: tuple[str, str] | None = None  # (target table, staging table)

    def begin(self) -> None:
        # The real BEGIN is deferred to the first write that must be atomic (see _transaction).
        self._in_transaction = False

    def _start_transaction(self) -> None:
        self._transaction()

    def _transaction(self) -> None:
        if not self._in_transaction:
            self.conn.begin()
            self._in_transaction = True
        if self._staging is not None:
            target, staging = self._staging
            self.conn.execute(f"INSERT INTO {RAW_SCHEMA}.{target} SELECT * FROM {RAW_SCHEMA}.{staging}").fetchall()
            self.conn.execute(f"DROP TABLE {RAW_SCHEMA}.{staging}").fetchall()
            self._staging = None

    def commit(self) -> None:
        if self._in_transaction:
            self.conn.commit()
            self._in_transaction = False

    def rollback(self) -> None:
        if self._in_transaction:
            self.conn.rollback()
            self._in_transaction = False
        if self._staging is not None:
            self.conn.execute(f"DROP TABLE IF EXISTS {RAW_SCHEMA}.{self._staging[1]}").fetchall()
            self._staging = None

    def register_lookups(self, lookups: dict[str, pa.Table]) -> None:
        for name, table in lookups.items():
            self.conn.register(name, table)

    def validate_and_append(
        self, select_sql: str, batch: pa.Table, table: str, columns: tuple[str, ...], constants: dict, conflict_key
    ) -> tuple[int, int, pa.Table]:
        """Validate a batch inside the warehouse and insert its good rows without leaving DuckDB.

        Returns (good rows, rows inserted, bad rows as Arrow). Without a conflict key the good
        rows go to the file's staging table; with one (provider events: small files, duplicates
        counted per row) straight into the target inside the file's transaction. The check runs
        twice (insert good rows, fetch bad ones) rather than into a temporary table.
        """
        if conflict_key:
            self._transaction()
            target = f"{RAW_SCHEMA}.{table}"
        else:
            if self._staging is None:
                staging = f"_staging_{constants['file_sha256'][:16]}"
                self.conn.execute(
                    f"CREATE OR REPLACE TABLE {RAW_SCHEMA}.{staging} AS SELECT * FROM {RAW_SCHEMA}.{table} LIMIT 0"
                ).fetchall()
                self._staging = (table, staging)
            target = f"{RAW_SCHEMA}.{self._staging[1]}"
        names = ", ".join(f'"{c}"' for c in (*columns, *constants))
        values = ", ".join([*(f'"{c}"' for c in columns), *("?" for _ in constants)])
        conflict = f" ON CONFLICT ({', '.join(conflict_key)}) DO NOTHING" if conflict_key else ""
        self.conn.register("_beacon_input", batch)
        try:
            before = self.conn.execute(f"SELECT count(*) FROM {target}").fetchall()[0][0] if conflict_key else 0
            self.conn.execute(
                f"INSERT INTO {target} ({names}) SELECT {values} FROM ({select_sql}) WHERE _reason IS NULL{conflict}",
                list(constants.values()),
            ).fetchall()
            bad = self.conn.sql(f"SELECT * FROM ({select_sql}) WHERE _reason IS NOT NULL").to_arrow_table()
            after = self.conn.execute(f"SELECT count(*) FROM {target}").fetchall()[0][0] if conflict_key else 0
        finally:
            self.conn.unregister("_beacon_input")
        good = batch.num_rows - bad.num_rows
        return good, (after - before) if conflict_key else good, bad

    def execute(self, sql: str, params: tuple = ()) -> None:
        # DuckDB 2 refuses new work on a connection with an unconsumed result: always drain.
        self.conn.execute(sql.replace("%s", "?"), list(params)).fetchall()

    def fetchall(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.conn.execute(sql.replace("%s", "?"), list(params)).fetchall()

    def append(self, table: str, rows: pa.Table) -> None:
        if rows.num_rows == 0:
            return
        self._transaction()
        self.conn.register("_beacon_batch", rows)
        try:
            self.conn.execute(
                f"INSERT INTO {RAW_SCHEMA}.{table} ({_column_list(rows)}) SELECT {_column_list(rows)} FROM _beacon_batch"
            ).fetchall()
        finally:
            self.conn.unregister("_beacon_batch")

    def append_new(self, table: str, rows: pa.Table, conflict_columns: tuple[str, ...]) -> int:
        if rows.num_rows == 0:
            return 0
        self._transaction()
        before = self.conn.execute(f"SELECT count(*) FROM {RAW_SCHEMA}.{table}").fetchall()[0][0]
        self.conn.register("_beacon_batch", rows)
        try:
            self.conn.execute(
                f"INSERT INTO {RAW_SCHEMA}.{table} ({_column_list(rows)}) SELECT {_column_list(rows)} "
                f"FROM _beacon_batch ON CONFLICT ({', '.join(conflict_columns)}) DO NOTHING"
            ).fetchall()
        finally:
            self.conn.unregister("_beacon_batch")
        return self.conn.execute(f"SELECT count(*) FROM {RAW_SCHEMA}.{table}").fetchall()[0][0] - before


def _as_csv(rows: pa.Table) -> bytes:
    # "all_valid" quotes every non-null value and leaves nulls bare, which is exactly how
    # PostgreSQL's CSV COPY tells NULL from the empty string.
    sink = io.BytesIO()
    pacsv.write_csv(rows, sink, pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
    return sink.getvalue()


class PostgresWriter(WarehouseWriter):
    kind = WarehouseKind.postgres

    def begin(self) -> None:
        # psycopg opens a transaction implicitly on the first statement (autocommit is off).
        pass

    def execute(self, sql: str, params: tuple = ()) -> None:
        self.conn.execute(sql, params or None)

    def fetchall(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.conn.execute(sql, params or None).fetchall()

    def _copy(self, qualified: str, rows: pa.Table) -> None:
        with self.conn.cursor() as cur:
            with cur.copy(f"COPY {qualified} ({_column_list(rows)}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(_as_csv(rows))

    def append(self, table: str, rows: pa.Table) -> None:
        if rows.num_rows:
            self._copy(f"{RAW_SCHEMA}.{table}", rows)

    def append_new(self, table: str, rows: pa.Table, conflict_columns: tuple[str, ...]) -> int:
        if rows.num_rows == 0:
            return 0
        self.conn.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS _beacon_stage (LIKE {RAW_SCHEMA}.{table}) ON COMMIT DROP"
        )
        self.conn.execute("TRUNCATE _beacon_stage")
        self._copy("_beacon_stage", rows)
        cur = self.conn.execute(
            f"INSERT INTO {RAW_SCHEMA}.{table} ({_column_list(rows)}) SELECT {_column_list(rows)} "
            f"FROM _beacon_stage ON CONFLICT ({', '.join(conflict_columns)}) DO NOTHING"
        )
        return cur.rowcount


@contextmanager
def open_writer(url: str, *, ensure: bool = True) -> Iterator[WarehouseWriter]:
    """A writer on the warehouse at ``url`` with the raw tables created."""
    if warehouse_kind(url) is WarehouseKind.duckdb:
        import duckdb

        path = duckdb_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = duckdb.connect(str(path))
        conn.execute("SET TimeZone = 'UTC'")
        # A whole file is one transaction; without a limit DuckDB keeps its uncommitted rows in
        # memory (up to 80% of RAM). With one, large appends are written to the database file
        # as they come and memory stays bounded whatever the file size.
        conn.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        # Row order inside raw tables carries no meaning (source_line does); DuckDB's advice for
        # large loads under a memory limit.
        conn.execute("SET preserve_insertion_order = false")
        conn.execute("SET enable_progress_bar = false")  # never write to the caller's stdout
        writer: WarehouseWriter = DuckDBWriter(conn)
    else:
        import psycopg

        conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        conn.execute("SET TIME ZONE 'UTC'")
        conn.commit()
        writer = PostgresWriter(conn)
    try:
        if ensure:
            writer.ensure_tables()
        yield writer
    finally:
        conn.close()
