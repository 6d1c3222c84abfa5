"""Vectorised row validation: one DuckDB SQL statement per batch decides each row's fate.

DuckDB is the compute engine for every warehouse back end (the warehouse connection itself when
the warehouse is DuckDB, so good rows never leave the engine; an in-memory one otherwise): the
batch (an Arrow table of strings) is registered as the view ``_beacon_input``, typed with
``TRY_CAST`` and checked with one ``CASE`` that yields the *first* failing rule's reason code
(the message is only built for bad rows). Rows with no reason are loaded; the others go to
``raw.quarantine``. No per-row Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

# A single value longer than this is quarantined (field_too_large) instead of landing in raw.
MAX_FIELD_CHARS = 100_000


@dataclass(frozen=True)
class Rule:
    condition: str  # SQL that is true when the row is bad
    reason: str
    message: str  # SQL string expression


def quoted(column: str) -> str:
    """SQL for a short, quoted preview of a raw value, for messages."""
    return f"'''' || left(coalesce(\"{column}\", ''), 60) || ''''"


def missing(column: str) -> Rule:
    return Rule(f'"{column}" IS NULL', f"missing_required:{column}", f"'required field {column} is empty'")


def too_large(column: str) -> Rule:
    return Rule(
        f'length("{column}") > {MAX_FIELD_CHARS}',
        f"field_too_large:{column}",
        f"'{column} is ' || length(\"{column}\") || ' characters (limit {MAX_FIELD_CHARS})'",
    )


def timestamp_ok(column: str) -> str:
    """SQL true when the text is an ISO 8601 timestamp with an explicit UTC offset."""
    return (
        f"(regexp_matches(\"{column}\", '^\\d{{4}}-\\d{{2}}-\\d{{2}}[Tt ]\\d{{2}}:\\d{{2}}.*([Zz]|[+-]\\d{{2}}(:?\\d{{2}})?)$')"
        f" AND TRY_CAST(\"{column}\" AS TIMESTAMPTZ) IS NOT NULL)"
    )


def bad_date(column: str) -> Rule:
    return Rule(
        f'"{column}" IS NOT NULL AND NOT {timestamp_ok(column)}',
        f"bad_date:{column}",
        f"'{column} ' || {quoted(column)} || ' is not an ISO 8601 timestamp with a UTC offset'",
    )


def invalid_amount(column: str) -> Rule:
    return Rule(
        f'"{column}" IS NOT NULL AND TRY_CAST("{column}" AS DECIMAL(14, 4)) IS NULL',
        f"invalid_amount:{column}",
        f"'{column} ' || {quoted(column)} || ' is not a decimal number'",
    )


def negative(column: str) -> Rule:
    return Rule(
        f'TRY_CAST("{column}" AS DECIMAL(14, 4)) < 0',
        f"negative_amount:{column}",
        f"'{column} ' || \"{column}\" || ' is negative'",
    )


def case_sql(rules: list[Rule]) -> tuple[str, str]:
    reason = "CASE " + " ".join(f"WHEN {r.condition} THEN '{r.reason}'" for r in rules) + " END"
    message = "CASE " + " ".join(f"WHEN {r.condition} THEN {r.message}" for r in rules) + " END"
    return reason, message


class BatchValidator:
    """Runs one source's SELECT over each batch; returns (good rows, bad rows with reasons)."""

    def __init__(self, select_sql: str, lookups: Mapping[str, pa.Table]) -> None:
        self.sql = select_sql
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")
        for name, table in lookups.items():
            self.con.register(name, table)

    def split(self, batch: pa.Table) -> tuple[pa.Table, pa.Table]:
        self.con.register("_beacon_input", batch)
        try:
            checked = self.con.sql(self.sql).to_arrow_table()
        finally:
            self.con.unregister("_beacon_input")
        is_bad = pc.is_valid(checked.column("_reason"))
        return checked.filter(pc.invert(is_bad)), checked.filter(is_bad)

    def close(self) -> None:
        self.con.close()
