"""File ingestion assets: the import inbox's order and provider-event files into ``raw``.

Loads only files not loaded before (path + sha256), so a scheduled or sensor-triggered run with
nothing new loads nothing. Every file is accounted for in ``raw.file_loads``.

Files are also time-shaped: each arrived on a day. ``reload_inbox_files_by_day`` is a job
partitioned by that day (UTC); a backfill over a day range forgets and reloads those days' files,
idempotently (``ingestion.files.reload``). It is a job rather than partitions on ``raw/orders``
itself, so the unpartitioned pipeline and schedules that load "whatever is new" stay as they are.
"""

# No `from __future__ import annotations`: Dagster inspects the decorated function's annotations.

from datetime import date

from dagster import (
    AssetExecutionContext,
    AssetMaterialization,
    AssetSpec,
    DailyPartitionsDefinition,
    Definitions,
    MaterializeResult,
    MetadataValue,
    OpExecutionContext,
    job,
    multi_asset,
    op,
)

from beacon.settings import get_settings
from ingestion.files.inbox import load_inbox
from ingestion.files.loader import ORDERS, SENDGRID, TWILIO
from ingestion.files.reload import reload_day
from orchestration.replication import OWNER, raw_asset_key

GROUP = "raw"
SOURCES = {
    "orders": ((ORDERS,), "Orders from the tenants' shop exports (CSV, NDJSON, Parquet); bad rows quarantined."),
    "provider_events": ((SENDGRID, TWILIO), "SendGrid event exports and Twilio status logs; duplicate deliveries loaded once."),
}


@multi_asset(
    specs=[
        AssetSpec(raw_asset_key(table), group_name=GROUP, owners=[OWNER], description=description,
                  kinds={"python", "arrow"}, skippable=True)
        for table, (_, description) in SOURCES.items()
    ],
    can_subset=True,
    name="load_inbox_files",
)
def load_inbox_files(context: AssetExecutionContext):
    """Load new files from ``$BEACON_HOME/inbox/<org>/...`` (streamed, bulk-loaded, quarantined)."""
    inbox = get_settings().home / "inbox"
    for key in sorted(context.selected_asset_keys):
        table = key.path[-1]
        kinds, _ = SOURCES[table]
        results = load_inbox(inbox, kinds=kinds) if inbox.exists() else []
        loaded = [r for r in results if r.status.value == "loaded"]
        rejected = [r for r in results if r.status.value == "rejected"]
        context.log.info(f"{table}: {len(loaded)} files loaded, {len(rejected)} rejected, {len(results) - len(loaded) - len(rejected)} already loaded")
        yield MaterializeResult(
            asset_key=key,
            metadata={
                "files_loaded": len(loaded),
                "files_rejected": len(rejected),
                "rows_loaded": sum(r.rows_loaded for r in results),
                "rows_quarantined": sum(r.rows_quarantined for r in results),
                "rows_duplicate": sum(r.rows_duplicate for r in results),
                "rejected": MetadataValue.json([{"file": r.file_path, "reason": r.reason} for r in rejected]),
            },
        )


# Inbox files arrived from Beacon's first release on; an older file still loads with the
# unpartitioned asset, it just has no day to reload by.
ARRIVAL_DAYS = DailyPartitionsDefinition(start_date="2024-01-01", end_offset=1, timezone="UTC")


@op(out={}, description="Forget and reload every inbox file that arrived on the partition's day (UTC).")
def reload_files_of_day(context: OpExecutionContext):
    day = date.fromisoformat(context.partition_key)
    inbox = get_settings().home / "inbox"
    results = reload_day(inbox, day)
    context.log.info(f"{day}: {len(results)} files reloaded")
    for table, (kinds, _) in SOURCES.items():
        mine = [r for r in results if r.source in {k.source.value for k in kinds}]
        if mine:  # the raw tables themselves are unpartitioned: their materialization notes the day
            yield AssetMaterialization(
                asset_key=raw_asset_key(table),
                description=f"files that arrived on {day} reloaded",
                metadata={
                    "arrival_day": str(day),
                    "files_reloaded": len(mine),
                    "rows_loaded": sum(r.rows_loaded for r in mine),
                    "rows_quarantined": sum(r.rows_quarantined for r in mine),
                    "rows_duplicate": sum(r.rows_duplicate for r in mine),
                },
            )


@job(partitions_def=ARRIVAL_DAYS, description="Reload the inbox files of one arrival day (UTC); backfill a range to reload it.")
def reload_inbox_files_by_day():
    reload_files_of_day()


def build_defs() -> Definitions:
    return Definitions(assets=[load_inbox_files], jobs=[reload_inbox_files_by_day])
