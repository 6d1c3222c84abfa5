"""Replication of the operational DB into ``raw``: incremental, idempotent, crash-safe.

The first test runs on every back-end combination ``beacon_env`` gives (SQLite or PostgreSQL
operational DB x DuckDB or PostgreSQL warehouse); the others, which exercise dlt's state rather
than type mapping, run on the two shipped pairs (SQLite + DuckDB, PostgreSQL + PostgreSQL) to keep
the suite fast.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Uuid, text, update

from beacon.schema import migrate
from beacon.schema.db import make_engine, session_scope
from beacon.schema.models import Base, Contact, Event, EventType
from beacon.settings import get_settings
from beacon.store.organizations import contact_type_ids, create_organization
from beacon.warehouse import warehouse_engine
from ingestion.replication import REPLICATED_TABLES, replicate
from ingestion.replication.pipeline import UnknownTable

INCREMENTAL = [t.name for t in REPLICATED_TABLES if t.incremental]
FULL_COPY = [t.name for t in REPLICATED_TABLES if not t.incremental]


def _migrated_engine():
    url = get_settings().operational_url
    migrate.upgrade(url)
    return make_engine(url)


@pytest.fixture
def any_pair_op_engine(beacon_env):
    engine = _migrated_engine()
    yield engine
    engine.dispose()


@pytest.fixture
def op_engine(beacon_env):
    engine = _migrated_engine()
    yield engine
    engine.dispose()


def add_tenant(engine, slug: str = "shop", contacts: int = 3) -> int:
    with session_scope(engine) as session:
        org, _ = create_organization(session, type_code="ecommerce", name=slug.title(), slug=slug)
        customer = contact_type_ids(session, org)["customer"]
        session.add_all(
            Contact(
                organization_id=org,
                email=f"c{i}@{slug}.io",
                email_normalized=f"c{i}@{slug}.io",
                contact_type_id=customer,
                consent_email=i % 2 == 0,
            )
            for i in range(contacts)
        )
        session.add(
            Event(
                organization_id=org,
                event_type=EventType.opened,
                occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
                provider="beacon",
                provider_event_id=uuid.uuid4().hex,
            )
        )
    return org


def raw_rows(table: str, order_by: str = "id") -> list[tuple]:
    """A raw table's rows without dlt's load id (which differs between runs by design)."""
    engine = warehouse_engine()
    try:
        with engine.connect() as conn:
            # information_schema, not SQLAlchemy's inspector: duckdb_engine's inspector queries
            # PostgreSQL catalogs DuckDB does not have.
            columns = conn.scalars(
                text(
                    "select column_name from information_schema.columns where table_schema = 'raw' "
                    "and table_name = :table and column_name not like '\\_dlt%' escape '\\' order by ordinal_position"
                ),
                {"table": table},
            ).all()
            quoted = ", ".join(f'"{c}"' for c in columns)
            return [tuple(r) for r in conn.execute(text(f'select {quoted} from raw."{table}" order by "{order_by}"'))]
    finally:
        engine.dispose()


def raw_snapshot() -> dict[str, list[tuple]]:
    return {t.name: raw_rows(t.name, "send_id" if t.name == "sends" else "id") for t in REPLICATED_TABLES}


def test_first_run_copies_every_table_and_second_run_loads_nothing(any_pair_op_engine):
    add_tenant(any_pair_op_engine)
    first = replicate()
    assert first.rows_loaded["contacts"] == 3
    assert first.rows_loaded["organizations"] == 1
    assert first.rows_loaded["events"] == 1
    snapshot = raw_snapshot()
    # Every raw table exists from the first run, even those with no rows yet (dbt sources need them).
    assert snapshot["sends"] == [] and snapshot["campaigns"] == []
    assert len(snapshot["contacts"]) == 3

    # dlt's reflection must not touch the ORM models' types: a Send written after a replication
    # in the same process still takes a uuid.UUID (regression: Uuid.as_uuid was flipped to False).
    assert all(c.type.as_uuid for t in Base.metadata.tables.values() for c in t.columns if isinstance(c.type, Uuid))

    second = replicate()
    assert {name: second.rows_loaded[name] for name in INCREMENTAL} == {name: 0 for name in INCREMENTAL}
    # Tables without a change column are re-copied whole (replace), never duplicated.
    for name in FULL_COPY:
        assert second.rows_loaded[name] == len(snapshot[name]) > 0
    assert raw_snapshot() == snapshot


def test_updated_and_new_rows_are_picked_up_without_duplicates(op_engine):
    org = add_tenant(op_engine)
    replicate()
    with session_scope(op_engine) as session:
        # A late change: the row existed at the first run and is updated afterwards.
        session.execute(
            update(Contact)
            .where(Contact.email_normalized == "c1@shop.io")
            .values(first_name="Late", updated_at=datetime.now(UTC) + timedelta(seconds=1))
        )
        session.add(Contact(organization_id=org, email="new@shop.io", email_normalized="new@shop.io"))
        session.add(
            Event(
                organization_id=org,
                event_type=EventType.clicked,
                occurred_at=datetime(2026, 1, 2, tzinfo=UTC),
                provider="beacon",
                provider_event_id=uuid.uuid4().hex,
            )
        )
    result = replicate()
    assert result.rows_loaded["contacts"] == 2  # the changed row and the new one, nothing else
    assert result.rows_loaded["events"] == 1
    contacts = {row[3]: row for row in raw_rows("contacts")}  # by email
    assert len(contacts) == len(raw_rows("contacts")) == 4
    assert contacts["c1@shop.io"][6] == "Late"  # first_name
    assert len(raw_rows("events")) == 2


def test_rows_written_in_the_cursor_second_are_not_skipped(op_engine):
    """SQLite keeps second-resolution text timestamps: a row stamped in the same second as the
    cursor (after the run read it) must still arrive on the next run."""
    org = add_tenant(op_engine, contacts=1)
    replicate()
    with session_scope(op_engine) as session:
        session.add(Contact(organization_id=org, email="same@shop.io", email_normalized="same@shop.io"))
    with op_engine.begin() as conn:
        # Copy the stored value verbatim (SQLite: the second-resolution text CURRENT_TIMESTAMP wrote).
        conn.execute(
            text(
                "update contacts set updated_at = (select updated_at from contacts where email_normalized = 'c0@shop.io') "
                "where email_normalized = 'same@shop.io'"
            )
        )
    assert replicate().rows_loaded["contacts"] == 1
    assert len(raw_rows("contacts")) == 2


def _killed_after_extract(home: Path, env: dict[str, str], drop_working_folder: bool) -> None:
    """Run extract + normalize in a child process that SIGKILLs itself before loading."""
    script = textwrap.dedent(
        """
        import os, signal
        from beacon.settings import get_settings
        from ingestion.replication import build_pipeline, build_source
        settings = get_settings()
        pipeline = build_pipeline(settings.warehouse, settings.home / "dlt")
        pipeline.extract(build_source(settings.operational_url))
        pipeline.normalize()
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    child = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    if drop_working_folder:
        shutil.rmtree(home / "dlt")  # the worker's disk is gone too: only the destination state remains


@pytest.mark.parametrize("drop_working_folder", [False, True], ids=["pending-package", "lost-working-folder"])
def test_run_killed_between_extract_and_load_then_rerun_matches_uninterrupted(
    op_engine, beacon_env, tmp_path, monkeypatch, request, drop_working_folder
):
    add_tenant(op_engine, "shop")
    replicate()
    add_tenant(op_engine, "club", contacts=2)
    with session_scope(op_engine) as session:
        session.execute(update(Contact).where(Contact.email_normalized == "c0@shop.io").values(last_name="Changed"))

    home = Path(beacon_env["BEACON_HOME"])
    _killed_after_extract(home, {**os.environ, **beacon_env}, drop_working_folder)
    resumed = replicate()
    assert resumed.resumed_load_ids or drop_working_folder
    interrupted = raw_snapshot()

    # The same operational data replicated once, uninterrupted, into a fresh warehouse.
    kind = get_settings().warehouse_kind
    fresh = (
        f"duckdb:///{tmp_path / 'fresh.duckdb'}"
        if kind == "duckdb"
        else request.getfixturevalue("make_pg_database")("beacon_wh")
    )
    monkeypatch.setenv("BEACON_WAREHOUSE_URL", fresh)
    replicate(pipelines_dir=tmp_path / "fresh-dlt")
    assert raw_snapshot() == interrupted
    assert len(interrupted["contacts"]) == 5


def test_unknown_table_is_named(tmp_path):
    # Rejected before any database is touched.
    with pytest.raises(UnknownTable, match="users"):
        replicate("sqlite:///unused.db", f"duckdb:///{tmp_path}/unused.duckdb", tables=["contacts", "users"])
