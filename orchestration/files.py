"""File ingestion assets: the import inbox's order and provider-event files into ``raw``.

Loads only files not loaded before (path + sha256), so a scheduled or sensor-triggered run with
nothing new loads nothing. Every file is accounted for in ``raw.file_loads``.
"""

# No `from __future__ import annotations`: Dagster inspects the decorated function's annotations.

from dagster import AssetExecutionContext, AssetSpec, Definitions, MaterializeResult, MetadataValue, multi_asset

from beacon.settings import get_settings
from ingestion.files.inbox import load_inbox
from ingestion.files.loader import ORDERS, SENDGRID, TWILIO
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


def build_defs() -> Definitions:
    return Definitions(assets=[load_inbox_files])
