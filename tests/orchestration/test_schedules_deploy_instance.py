"""The production Dagster instance config (deploy/dagster.yaml) works against a real PostgreSQL:
a scheduled job runs with its run and events stored there, and run retries are on."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest
from dagster import DagsterInstance
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from orchestration.definitions import build_definitions

DEPLOY_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "dagster.yaml"

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def production_instance(tmp_path, monkeypatch, make_pg_database):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY_CONFIG, home / "dagster.yaml")
    url = make_pg_database("beacon_dagster")
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with DagsterInstance.from_config(str(home)) as instance:
        yield instance, url


def test_production_instance_stores_runs_in_postgres(production_instance, pipeline_env):
    instance, url = production_instance
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 2

    job = build_definitions().resolve_job_def("ingest_raw_hourly")
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert result.success

    with psycopg.connect(url) as conn:
        (status,) = conn.execute("select status from runs where run_id = %s", (result.run_id,)).fetchone()
        (events,) = conn.execute("select count(*) from event_logs where run_id = %s", (result.run_id,)).fetchone()
    assert status == "SUCCESS"
    assert events > 0
    materialized = instance.get_latest_materialization_event(
        next(iter(job.asset_layer.selected_asset_keys))
    )
    assert materialized is not None and materialized.run_id == result.run_id
