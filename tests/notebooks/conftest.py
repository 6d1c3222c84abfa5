"""A demo-like warehouse for the notebooks, built once per back end with the real pipeline:
migrate, generate the tiny dataset, run the Dagster job (ingestion + dbt build + CLV fit)."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime

import pytest
from dagster import DagsterInstance

SEED = 11
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def _built_warehouses(request, tmp_path_factory, migrated_database):
    """Back end -> BEACON_* environment of its built warehouse, built on first use.

    A cache rather than a session fixture parametrized by back end, which pytest tears down and
    builds again whenever consecutive tests alternate between its params. Under xdist each worker
    that runs these tests still builds its own (the suite's runs show both workers taking some)."""
    built: dict[str, dict[str, str]] = {}
    with ExitStack() as stack:

        def get(backend: str) -> dict[str, str]:
            if backend not in built:
                built[backend] = _build(request, tmp_path_factory, stack.enter_context(
                    migrated_database(backend, "nb_op")), backend)
            return built[backend]

        yield get


def _build(request, tmp_path_factory, op_url: str, backend: str) -> dict[str, str]:
    from beacon.generate import GenerateConfig, generate
    from orchestration.run import run_pipeline

    work = tmp_path_factory.mktemp(f"notebooks_{backend}")
    if backend == "sqlite":
        warehouse_url = f"duckdb:///{work / 'warehouse.duckdb'}"
    else:
        warehouse_url = request.getfixturevalue("pg_server").rpartition("/")[0] + "/" + _pg_database(request)
    values = {"BEACON_HOME": str(work / "home"), "BEACON_DATABASE_URL": op_url, "BEACON_WAREHOUSE_URL": warehouse_url}
    with pytest.MonkeyPatch.context() as env:
        for key, value in values.items():
            env.setenv(key, value)
        generate(GenerateConfig(database_url=op_url, out=work / "home", seed=SEED, scale="tiny", as_of=AS_OF))
        with DagsterInstance.ephemeral() as instance:
            summary = run_pipeline(instance=instance, log_level="WARNING")
    assert summary.success, (summary.failed_steps, summary.failed_checks)
    return values


@pytest.fixture(params=["embedded", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo_warehouse(request, _built_warehouses, monkeypatch):
    """Sets the BEACON_* environment of a built warehouse for one test and yields it."""
    values = _built_warehouses("sqlite" if request.param == "embedded" else "postgres")
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    yield values


def _pg_database(request) -> str:
    """A warehouse database on the test server, dropped when the session ends."""
    import uuid

    import psycopg
    from psycopg import sql

    server = request.getfixturevalue("pg_server")
    name = f"beacon_nb_wh_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop() -> None:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    request.addfinalizer(drop)
    return name
