"""Resources: settings-driven, resolved when a run starts (never at import)."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource, DbtProject

from ingestion.replication import ReplicationResult, replicate


class ReplicationResource(ConfigurableResource):
    """Copies the operational DB into ``raw``; empty fields mean "from Beacon's settings"."""

    operational_url: str | None = None
    warehouse_url: str | None = None

    def replicate(self, tables: list[str] | None = None) -> ReplicationResult:
        return replicate(self.operational_url, self.warehouse_url, tables=tables)


def dbt_resource(project: DbtProject) -> DbtCliResource:
    from orchestration.dbt_project import dbt_executable

    return DbtCliResource(
        project_dir=project, profiles_dir=str(Path(project.project_dir)), dbt_executable=dbt_executable()
    )
