"""Run a table's suite against the warehouse and summarise what failed, per expectation.

Why pandas and not GX's SQL datasource: GX 1.x's SQL path does not qualify DuckDB tables with
their schema (it queries ``FROM orders`` and fails on ``raw.orders``), so both warehouses go
through one path: read only the suite's columns, validate the frame. The columns are few, so
memory stays modest even on millions of rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import great_expectations as gx
import pandas as pd
import sqlalchemy as sa

from beacon.warehouse import RAW_SCHEMA
from ingestion.quality.suites import SUITES

logging.getLogger("great_expectations").setLevel(logging.ERROR)

# Columns some suites need that are derived, not stored.
_DERIVED = {
    "unaccounted_rows": "rows_read - rows_loaded - rows_quarantined - rows_duplicate",
}


@dataclass
class QualityResult:
    table: str
    rows: int
    success: bool
    failures: list[dict] = field(default_factory=list)  # expectation, column(s), unexpected count, examples

    def summary(self) -> str:
        if self.success:
            return f"raw.{self.table}: {self.rows} rows, all expectations met"
        parts = [f"{f['expectation']}({f['column']}): {f['unexpected_count']} bad, e.g. {f['examples']}" for f in self.failures]
        return f"raw.{self.table}: {len(self.failures)} failed — " + "; ".join(parts)


def _read(engine: sa.Engine, table: str, columns: tuple[str, ...]) -> pd.DataFrame | None:
    if not sa.inspect(engine).has_table(table, schema=RAW_SCHEMA):
        return None
    select_list = ", ".join(f"{_DERIVED[c]} AS {c}" if c in _DERIVED else f'"{c}"' for c in columns)
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(f'SELECT {select_list} FROM "{RAW_SCHEMA}"."{table}"'), conn)


def _exception_message(info: dict | None) -> str | None:
    """GX reports errors either flat or keyed by metric; return the first message, if any."""
    if not info:
        return None
    if info.get("raised_exception"):
        return info.get("exception_message")
    nested = [v for v in info.values() if isinstance(v, dict) and v.get("exception_message")]
    return nested[0]["exception_message"] if nested else None


def validate_table(engine: sa.Engine, table: str, *, now: datetime) -> QualityResult:
    """Validate ``raw.<table>``; a missing table (nothing ingested yet) passes with 0 rows."""
    suite_def = SUITES[table]
    frame = _read(engine, table, suite_def.columns)
    if frame is None or frame.empty:
        return QualityResult(table=table, rows=0, success=True)
    for column in frame.columns:  # GX compares timestamps against ISO strings: make both tz-aware UTC
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = pd.to_datetime(frame[column], utc=True)
    latest = (now + timedelta(days=1)).isoformat()

    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas(f"raw_{table}")
        .add_dataframe_asset(table)
        .add_batch_definition_whole_dataframe("all")
    )
    suite = context.suites.add(gx.ExpectationSuite(name=f"raw_{table}"))
    for expectation in suite_def.expectations(latest):
        suite.add_expectation(expectation)
    validation = context.validation_definitions.add(gx.ValidationDefinition(name=f"raw_{table}", data=batch, suite=suite))
    result = validation.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")

    failures = []
    for r in result.results:
        if r.success:
            continue
        kwargs = r.expectation_config.kwargs
        failures.append(
            {
                "expectation": r.expectation_config.type,
                "column": kwargs.get("column") or kwargs.get("column_list") or f"{kwargs.get('column_A')},{kwargs.get('column_B')}",
                "unexpected_count": r.result.get("unexpected_count"),
                "examples": [str(v) for v in (r.result.get("partial_unexpected_list") or [])[:3]],
                "error": _exception_message(r.exception_info),
            }
        )
    return QualityResult(table=table, rows=len(frame), success=bool(result.success), failures=failures)
