"""dbt models as Dagster assets (staging -> intermediate -> marts), built with ``dbt build``."""

# No `from __future__ import annotations`: Dagster inspects the decorated functions'
# annotations at definition time (context and resource types) and needs real classes.

from functools import cache

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, Definitions
from dagster_dbt import DbtCliResource, dbt_assets, get_asset_key_for_model

from orchestration.dbt_project import BeaconDbtTranslator, beacon_dbt_project, dbt_environment
from orchestration.resources import dbt_resource


@cache
def beacon_dbt_assets() -> AssetsDefinition:
    project = beacon_dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=BeaconDbtTranslator(),
        name="beacon_dbt_models",
    )
    def beacon_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource):
        """Build (run + test) the selected dbt models against the configured warehouse."""
        with dbt_environment():
            yield from dbt.cli(["build"], context=context).stream()

    return beacon_dbt_models


def dbt_model_key(model_name: str) -> AssetKey:
    """The asset key of a dbt model, for Python assets that depend on it (never a literal key)."""
    return get_asset_key_for_model([beacon_dbt_assets()], model_name)


def build_defs() -> Definitions:
    assets = beacon_dbt_assets()
    return Definitions(assets=[assets], resources={"dbt": dbt_resource(beacon_dbt_project())})
