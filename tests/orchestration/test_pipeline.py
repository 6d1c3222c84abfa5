"""The thin path for real: op DB contacts -> raw.contacts -> stg_beacon__contacts -> dim_contacts,
materialized by the Dagster job in-process, on SQLite + DuckDB and on PostgreSQL + PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text, update

from beacon.schema.db import session_scope
from beacon.segments.compiler import compile_segment
from beacon.segments.compiler import contacts as dim
from beacon.schema.models import Contact, ContactStatus
from beacon.store.organizations import contact_type_ids, create_organization
from beacon.warehouse import warehouse_engine
from orchestration.run import run_pipeline

pytestmark = pytest.mark.slow


def _marts(sql: str) -> list[tuple]:
    engine = warehouse_engine()
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_contacts_reach_the_mart_and_changes_follow(pipeline_env):
    engine = pipeline_env
    with session_scope(engine) as session:
        org, _ = create_organization(session, type_code="church", name="Grace Chapel", slug="grace")
        types = contact_type_ids(session, org)
        session.add_all(
            [
                Contact(
                    organization_id=org,
                    email="Ann@Grace.org",
                    email_normalized="ann@grace.org",
                    first_name="Ann",
                    contact_type_id=types["new_member"],
                    consent_email=True,
                ),
                Contact(organization_id=org, email="bob@grace.org", email_normalized="bob@grace.org", phone="+15550100"),
            ]
        )

    first = run_pipeline()
    assert first.success, (first.failed_steps, first.failed_checks)
    assert first.failed_checks == []
    assert first.rows_replicated["contacts"] == 2
    assert {"raw/contacts", "staging/stg_beacon__contacts", "marts/dim_contacts"} <= set(first.materialized)
    rows = _marts(
        "select email_normalized, organization_name, contact_type_name, has_email_consent, is_email_marketable, "
        "contact_status from marts.dim_contacts order by email_normalized"
    )
    new_member = next(name for code, name in _contact_type_names() if code == "new_member")
    assert rows == [
        ("ann@grace.org", "Grace Chapel", new_member, True, True, "active"),
        ("bob@grace.org", "Grace Chapel", None, False, False, "active"),
    ]
    # dbt wrote exactly the schemas of the layout, not <target>_staging.
    schemas = {s for (s,) in _marts("select distinct table_schema from information_schema.tables")}
    assert {"raw", "staging", "marts"} <= schemas

    with session_scope(engine) as session:
        session.execute(
            update(Contact).where(Contact.email_normalized == "ann@grace.org").values(status=ContactStatus.unsubscribed)
        )
    # The whole job again: a partial dbt run on PostgreSQL re-creates a view with DROP ... CASCADE,
    # which drops the views built on it, so re-runs build everything downstream too.
    second = run_pipeline()
    assert second.success, (second.failed_steps, second.failed_checks)
    assert second.rows_replicated["contacts"] == 1  # only the changed contact travels
    assert second.rows_replicated["organizations"] == 0
    assert _marts("select contact_status, is_email_marketable from marts.dim_contacts where email_normalized = 'ann@grace.org'") == [
        ("unsubscribed", False)
    ]
    assert _marts("select count(*) from marts.dim_contacts") == [(2,)]
    # Segments compile against the mart dbt built, on this warehouse.
    assert _segment(org, {"field": "status", "op": "eq", "value": "active"}) == {"bob@grace.org"}
    assert _segment(org, {"all": [{"field": "orders_count", "op": "eq", "value": 0},
                                   {"field": "tags", "op": "has_none", "value": ["vip"]}]}) == {"Ann@Grace.org", "bob@grace.org"}


def _segment(org, criteria) -> set[str]:
    compiled = compile_segment(criteria, org, as_of=datetime.now(UTC))
    engine = warehouse_engine()
    try:
        with engine.connect() as conn:
            return {row.email for row in conn.execute(compiled.members(dim.c.email))}
    finally:
        engine.dispose()


def _contact_type_names() -> list[tuple]:
    return _marts("select contact_type_code, contact_type_name from staging.stg_beacon__contact_types")
