"""Beacon settings -> dbt target and the variables dbt/profiles.yml reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from beacon.settings import Settings
from orchestration.dbt_env import dbt_target


def test_duckdb_target_points_at_the_settings_file(tmp_path):
    target = dbt_target(Settings(home=tmp_path, warehouse_url=None))
    assert target.name == "duckdb"
    assert Path(target.env["BEACON_DUCKDB_PATH"]) == (tmp_path / "warehouse.duckdb").resolve()


def test_postgres_target_splits_the_url_and_keeps_the_password_secret():
    target = dbt_target(Settings(warehouse_url="postgresql://wh:p%40ss@db.internal:6432/warehouse"))
    assert target.name == "postgres"
    assert target.env == {
        "BEACON_DBT_TARGET": "postgres",
        "BEACON_PG_HOST": "db.internal",
        "BEACON_PG_PORT": "6432",
        "BEACON_PG_USER": "wh",
        "DBT_ENV_SECRET_BEACON_PG_PASSWORD": "p@ss",
        "BEACON_PG_DBNAME": "warehouse",
    }


def test_postgres_url_without_database_is_rejected():
    with pytest.raises(ValueError, match="names no database"):
        dbt_target(Settings(warehouse_url="postgresql://wh@db.internal"))
