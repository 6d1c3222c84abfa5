"""Jobs across domains."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job

from orchestration.clv import customer_predictions_asset
from orchestration.files import load_inbox_files
from orchestration.replication import replicate_operational_db
from orchestration.segments import segment_memberships_asset
from orchestration.warehouse import beacon_dbt_assets

PIPELINE_JOB = "replicate_and_build_warehouse"


def build_defs() -> Definitions:
    pipeline = define_asset_job(
        PIPELINE_JOB,
        selection=AssetSelection.assets(replicate_operational_db, load_inbox_files)
        | AssetSelection.assets(beacon_dbt_assets(), customer_predictions_asset(), segment_memberships_asset()),
        description="Replicate the operational DB and load new inbox files into raw (blocking quality checks), "
        "then dbt build staging and marts.",
    )
    return Definitions(jobs=[pipeline])
