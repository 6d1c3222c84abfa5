"""Run the whole pipeline in-process (``beacon demo`` calls :func:`run_pipeline`).

The run is recorded in ``DAGSTER_HOME`` when it is set (so it shows up in ``dagster dev``),
otherwise in a throwaway instance.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from dagster import AssetKey, DagsterEventType, DagsterInstance


@dataclass
class PipelineSummary:
    success: bool
    run_id: str
    rows_replicated: dict[str, int] = field(default_factory=dict)
    materialized: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)


def dagster_instance() -> DagsterInstance:
    return DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()


def run_pipeline(
    instance: DagsterInstance | None = None,
    asset_selection: Sequence[AssetKey] | None = None,
    log_level: str = "INFO",
) -> PipelineSummary:
    """Replicate the operational DB into ``raw`` and ``dbt build`` the warehouse, for the settings now in force.

    ``asset_selection`` runs part of the job (e.g. one table's lineage); default: all of it.
    """
    from orchestration.definitions import build_definitions
    from orchestration.jobs import PIPELINE_JOB

    job = build_definitions().resolve_job_def(PIPELINE_JOB)
    with instance or dagster_instance() as active:
        result = job.execute_in_process(
            instance=active,
            raise_on_error=False,
            asset_selection=list(asset_selection) if asset_selection else None,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
    summary = PipelineSummary(success=result.success, run_id=result.run_id)
    for event in result.all_events:
        if event.event_type is DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            key = materialization.asset_key.to_user_string()
            summary.materialized.append(key)
            rows = materialization.metadata.get("rows_loaded")
            if rows is not None:
                summary.rows_replicated[materialization.asset_key.path[-1]] = rows.value
        elif event.event_type is DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed:
                summary.failed_checks.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}")
        elif event.event_type is DagsterEventType.STEP_FAILURE:
            summary.failed_steps.append(event.step_key or "?")
    return summary
