"""Blocking data-quality checks on the raw tables: a failure stops everything downstream in the run.

Each check runs a Great Expectations suite (``ingestion.quality``); the orders table also gets
the nothing-lost accounting (read = loaded + quarantined + duplicates, per file).
"""

# No `from __future__ import annotations`: Dagster inspects the decorated functions' annotations.

from datetime import UTC, datetime

from dagster import AssetCheckResult, AssetCheckSeverity, AssetChecksDefinition, Definitions, MetadataValue, asset_check

from beacon.settings import get_settings
from beacon.warehouse import warehouse_engine
from ingestion.files.accounting import check_file_loads
from ingestion.quality import SUITES, validate_table
from orchestration.replication import raw_asset_key

CHECKED_TABLES = ("orders", "provider_events", "events", "contacts")


def _suite_check(table: str) -> AssetChecksDefinition:
    @asset_check(
        asset=raw_asset_key(table),
        name=f"great_expectations_{table}",
        blocking=True,
        description=f"Great Expectations suite on raw.{table}: {SUITES[table].description}",
    )
    def check() -> AssetCheckResult:
        engine = warehouse_engine()
        try:
            result = validate_table(engine, table, now=datetime.now(UTC))
        finally:
            engine.dispose()
        return AssetCheckResult(
            passed=result.success,
            severity=AssetCheckSeverity.ERROR,
            description=result.summary(),
            metadata={"rows": result.rows, "failures": MetadataValue.json(result.failures)},
        )

    return check


@asset_check(
    asset=raw_asset_key("orders"),
    name="nothing_lost",
    blocking=True,
    description="Every ingested file adds up: rows read = loaded + quarantined + duplicates, and the tables agree.",
)
def nothing_lost() -> AssetCheckResult:
    problems = check_file_loads(get_settings().warehouse)
    return AssetCheckResult(
        passed=not problems,
        severity=AssetCheckSeverity.ERROR,
        description="all files accounted for" if not problems else f"{len(problems)} files do not add up",
        metadata={"problems": MetadataValue.json([f"{p.file_path}: {p.problem}" for p in problems])},
    )


def build_defs() -> Definitions:
    return Definitions(asset_checks=[*(_suite_check(t) for t in CHECKED_TABLES), nothing_lost])
