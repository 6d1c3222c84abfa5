"""Fixtures for both back ends.

``op_db_url`` and ``warehouse_url`` are parametrised over the embedded default (SQLite, DuckDB)
and PostgreSQL. Every PostgreSQL test gets databases of its own, created here and dropped after,
so parallel workers and concurrent CI runs never collide.

PostgreSQL comes from ``BEACON_TEST_PG_URL`` (default: the local server, user ``postgres``).
On a laptop without it the PostgreSQL cases skip, saying how to enable them; under ``CI=true``
a missing server is a failure, never a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

PG_SERVER = os.environ.get("BEACON_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _pg_available() -> str | None:
    try:
        with psycopg.connect(PG_SERVER, connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return str(exc).strip()


@pytest.fixture(scope="session")
def pg_server() -> str:
    problem = _pg_available()
    if problem:
        message = f"PostgreSQL not reachable at {PG_SERVER}: {problem}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: PostgreSQL tests must run)", pytrace=False)
        pytest.skip(f"{message}. Start PostgreSQL or set BEACON_TEST_PG_URL to run the PostgreSQL cases.")
    return PG_SERVER


def _server_url_for(database: str) -> str:
    base, _, _ = PG_SERVER.rpartition("/")
    return f"{base}/{database}"


def _create_pg_database(server: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def _drop_pg_database(server: str, name: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def migrated_database(request, tmp_path_factory):
    """A factory for session-long migrated operational DBs, for suites whose tests keep apart by
    tenant (each makes its own organization) and so can share one migration per back end."""
    from contextlib import contextmanager

    from beacon.schema import migrate

    @contextmanager
    def make(backend: str, prefix: str) -> Iterator[str]:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp(prefix) / 'beacon.db'}"
            migrate.upgrade(url)
            yield url
            return
        server = request.getfixturevalue("pg_server")
        name = _create_pg_database(server, f"beacon_{prefix}")
        try:
            url = _server_url_for(name)
            migrate.upgrade(url)
            yield url
        finally:
            _drop_pg_database(server, name)

    return make


@pytest.fixture
def make_pg_database(pg_server: str) -> Iterator:
    """Create throwaway databases; all are dropped at teardown."""
    created: list[str] = []

    def make(prefix: str = "beacon_test") -> str:
        name = _create_pg_database(pg_server, prefix)
        created.append(name)
        return _server_url_for(name)

    yield make
    for name in created:
        _drop_pg_database(pg_server, name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def op_db_url(request, tmp_path) -> str:
    """An empty operational database URL on each back end."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'beacon.db'}"
    return request.getfixturevalue("make_pg_database")("beacon_op")


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request, tmp_path) -> str:
    """An empty warehouse URL on each back end."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    return request.getfixturevalue("make_pg_database")("beacon_wh")


@pytest.fixture
def migrated_db(op_db_url: str) -> str:
    from beacon.schema import migrate

    migrate.upgrade(op_db_url)
    return op_db_url


@pytest.fixture(params=["embedded", pytest.param("postgres", marks=pytest.mark.postgres)])
def beacon_env(request, monkeypatch, tmp_path) -> dict[str, str]:
    """Point Beacon's settings at fresh databases of one shipped pair: SQLite + DuckDB, or PostgreSQL for both."""
    if request.param == "embedded":
        op_db, warehouse = f"sqlite:///{tmp_path / 'beacon.db'}", f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    else:
        make = request.getfixturevalue("make_pg_database")
        op_db, warehouse = make("beacon_op"), make("beacon_wh")
    env = {"BEACON_HOME": str(tmp_path / "home"), "BEACON_DATABASE_URL": op_db, "BEACON_WAREHOUSE_URL": warehouse}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
