"""Schedules: hourly ingestion, the nightly warehouse build, the weekly CLV refit, the daily billing close.

Every schedule runs at a UTC hour; tenants' own days are handled in the models (local dates come
from ``organizations.timezone``), see docs/operations.md. Each scheduled job retries its steps
on transient failures (``policies.TRANSIENT_RETRY``); dagster.yaml's ``run_retries`` re-runs a
run that died as a whole.

Selections are Dagster selection strings, not Python objects: they name assets by group or key,
so this module imports no other domain, and a key whose module is not deployed selects nothing
instead of failing the load (tests/orchestration/test_schedules.py checks they select what exists).
"""

from __future__ import annotations

from dataclasses import dataclass

from dagster import AssetSelection, DefaultScheduleStatus, Definitions, ScheduleDefinition, define_asset_job

from orchestration import jobs
from orchestration.policies import TRANSIENT_RETRY

NIGHTLY_BUILD_CRON = "0 2 * * *"


@dataclass(frozen=True)
class Cadence:
    job: str
    cron: str
    description: str
    selection: str | None  # None: the pipeline job's own selection


# UTC-12 is the last zone where a day ends: at 12:00 UTC every tenant's yesterday is over.
LAST_TENANT_MIDNIGHT_UTC_HOUR = 12

CADENCES = (
    Cadence(
        job="ingest_raw_hourly",
        cron="5 * * * *",
        description="Replicate the operational DB and load new inbox files into raw (blocking quality checks).",
        selection="group:raw",
    ),
    Cadence(
        job="build_warehouse_nightly",
        cron=NIGHTLY_BUILD_CRON,
        description="The whole pipeline: ingestion, dbt build of staging and marts, the CLV fit and segment "
        "membership refresh as the pipeline job defines them.",
        selection=None,
    ),
    Cadence(
        job="refit_customer_value_weekly",
        cron="0 4 * * 0",
        description="Refit BG/NBD + Gamma-Gamma per tenant (predictions.customer_predictions) and rebuild what reads it.",
        selection='key:"predictions/customer_predictions"+',
    ),
    Cadence(
        job="close_billing_daily",
        cron=f"15 {LAST_TENANT_MIDNIGHT_UTC_HOUR} * * *",
        description="After every tenant's day has ended: rebuild the billing marts from fresh raw data, then what reads "
        "them (usage exports, Stripe usage sync, reconciliation check).",
        selection=" or ".join(
            f'+key:"marts/{model}"+' for model in ("fct_billing_periods", "fct_usage_vs_plan", "fct_invoice_lines")
        ),
    ),
)


def _selection(cadence: Cadence) -> AssetSelection:
    if cadence.selection is not None:
        return AssetSelection.from_string(cadence.selection)
    (pipeline,) = (job for job in jobs.build_defs().jobs if job.name == jobs.PIPELINE_JOB)
    return pipeline.selection


def build_defs() -> Definitions:
    scheduled_jobs, schedules = [], []
    for cadence in CADENCES:
        job = define_asset_job(
            cadence.job,
            selection=_selection(cadence),
            description=cadence.description,
            op_retry_policy=TRANSIENT_RETRY,
            tags={"beacon/cadence": cadence.job.rsplit("_", 1)[-1]},
        )
        scheduled_jobs.append(job)
        schedules.append(
            ScheduleDefinition(
                name=f"{cadence.job}_schedule",
                job=job,
                cron_schedule=cadence.cron,
                execution_timezone="UTC",
                description=cadence.description,
                # Off until an operator turns it on (UI or `dagster schedule start`): a laptop running
                # `dagster dev` must not start hourly runs by itself.
                default_status=DefaultScheduleStatus.STOPPED,
            )
        )
    return Definitions(jobs=scheduled_jobs, schedules=schedules)
