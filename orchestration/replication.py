"""Replication assets: one ``raw/<table>`` asset per operational table, one dlt run for all.

Subsettable, so materializing ``raw/contacts`` alone replicates only that table.
"""

# No `from __future__ import annotations`: Dagster inspects the decorated functions'
# annotations at definition time (context and resource types) and needs real classes.

from dagster import AssetExecutionContext, AssetKey, AssetSpec, Definitions, MaterializeResult, multi_asset

from beacon.warehouse import RAW_SCHEMA
from ingestion.replication import REPLICATED_TABLES
from orchestration.resources import ReplicationResource

GROUP = "raw"
OWNER = "team:data-platform"


# The contacts inbox's asset (orchestration/contacts_inbox.py) writes the operational contacts
# that raw/contacts copies: declared here so the lineage shows, without a circular import.
CONTACT_FILES_KEY = AssetKey(["imports", "contact_files"])
UPSTREAM = {"contacts": [CONTACT_FILES_KEY]}


def raw_asset_key(table: str) -> AssetKey:
    return AssetKey([RAW_SCHEMA, table])


REPLICATION_SPECS = [
    AssetSpec(
        key=raw_asset_key(table.name),
        group_name=GROUP,
        owners=[OWNER],
        description=f"{table.description} Replicated from the operational DB by dlt ({table.write_disposition}"
        + (f", cursor `{table.cursor}`)." if table.cursor else ", full copy)."),
        kinds={"dlt", "python"},
        metadata={"write_disposition": table.write_disposition, "cursor": table.cursor or "none"},
        deps=UPSTREAM.get(table.name, []),
        skippable=True,
    )
    for table in REPLICATED_TABLES
]


@multi_asset(specs=REPLICATION_SPECS, can_subset=True, name="replicate_operational_db")
def replicate_operational_db(context: AssetExecutionContext, replication: ReplicationResource):
    """Copy new and changed operational rows into the warehouse ``raw`` schema (idempotent)."""
    tables = [key.path[-1] for key in sorted(context.selected_asset_keys)]
    result = replication.replicate(tables)
    context.log.info(f"replicated {result.total_rows} rows; loads {result.load_ids}; resumed {result.resumed_load_ids}")
    for table in tables:
        yield MaterializeResult(
            asset_key=raw_asset_key(table),
            metadata={"rows_loaded": result.rows_loaded.get(table, 0), "load_ids": ", ".join(result.load_ids)},
        )


def build_defs() -> Definitions:
    return Definitions(assets=[replicate_operational_db], resources={"replication": ReplicationResource()})
