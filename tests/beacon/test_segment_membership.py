"""Segment membership history on DuckDB and PostgreSQL: entries, exits, re-entries, sizes, idempotence,
tenant scoping and the entrants-since function automations use.

The marts are tables of the documented contract shape (docs/marts.md), written here so each case
can change who matches; tests/orchestration/test_clv_pipeline.py runs the same refresh on the
marts dbt builds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from beacon.segments.membership import (
    SegmentDefinition,
    close_removed_segments,
    ensure_tables,
    entrants_since,
    refresh_segment,
    segment_memberships,
    segment_sizes,
    size_history,
)
from beacon.tenancy import OrgId
from beacon.warehouse import warehouse_engine

ORG, OTHER = OrgId(1), OrgId(2)
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)

DIM_CONTACTS_DDL = (
    "CREATE TABLE marts.dim_contacts (organization_id BIGINT, contact_id BIGINT, email VARCHAR, "
    "first_name VARCHAR, last_name VARCHAR, lifecycle_stage VARCHAR, contact_type_code VARCHAR, contact_status VARCHAR, "
    "country_code VARCHAR, city VARCHAR, region VARCHAR, orders_count INTEGER, net_revenue NUMERIC(18,4), "
    "predicted_clv_12m NUMERIC(18,4), probability_alive DOUBLE PRECISION, last_order_at TIMESTAMP WITH TIME ZONE, "
    "last_engaged_at TIMESTAMP WITH TIME ZONE)"
)


def build_marts(engine: sa.Engine, contacts: list[dict], tags: list[tuple] = (), list_members: list[tuple] = ()) -> None:
    """marts.dim_contacts and the bridges, in the contract's shape. contacts: dicts of dim_contacts columns."""
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA IF NOT EXISTS marts"))
        conn.execute(sa.text(DIM_CONTACTS_DDL))
        conn.execute(sa.text("CREATE TABLE marts.bridge_contact_tags (organization_id BIGINT, contact_id BIGINT, tag VARCHAR)"))
        conn.execute(sa.text("CREATE TABLE marts.bridge_contact_custom_fields (organization_id BIGINT, contact_id BIGINT, "
                             "field_key VARCHAR, value_text VARCHAR, value_number DOUBLE PRECISION)"))
        conn.execute(sa.text("CREATE TABLE marts.bridge_list_members (organization_id BIGINT, list_id BIGINT, contact_id BIGINT)"))
        set_contacts(conn, contacts)
        if tags:
            conn.execute(sa.text("INSERT INTO marts.bridge_contact_tags VALUES (:o, :c, :t)"), [dict(o=o, c=c, t=t) for o, c, t in tags])
        if list_members:
            conn.execute(sa.text("INSERT INTO marts.bridge_list_members VALUES (:o, :l, :c)"),
                         [dict(o=o, l=lst, c=c) for o, lst, c in list_members])


def set_contacts(conn: sa.Connection, contacts: list[dict]) -> None:
    """Replace dim_contacts, as a dbt rebuild would."""
    conn.execute(sa.text("DELETE FROM marts.dim_contacts"))
    columns = sorted({key for row in contacts for key in row})
    conn.execute(
        sa.text(f"INSERT INTO marts.dim_contacts ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"),
        [{c: row.get(c) for c in columns} for row in contacts],
    )


def contact(contact_id: int, org: OrgId = ORG, stage: str = "customer", country: str = "US") -> dict:
    return {"contact_id": contact_id, "organization_id": org, "email": f"c{contact_id}@x.io",
            "lifecycle_stage": stage, "country_code": country, "contact_status": "active"}


CUSTOMERS = SegmentDefinition(ORG, 10, {"field": "lifecycle_stage", "op": "eq", "value": "customer"})
AMERICANS = SegmentDefinition(ORG, 11, {"field": "country", "op": "eq", "value": "US"})
OTHER_CUSTOMERS = SegmentDefinition(OTHER, 20, {"field": "lifecycle_stage", "op": "eq", "value": "customer"})


@pytest.fixture
def warehouse(warehouse_url):
    engine = warehouse_engine(warehouse_url)
    build_marts(engine, [contact(1), contact(2), contact(3, stage="lead"), contact(4, org=OTHER)])
    ensure_tables(engine)
    yield engine
    engine.dispose()


def refresh(engine, segment, as_of):
    with engine.begin() as conn:
        return refresh_segment(conn, segment, as_of)


def history(engine, segment_id: int) -> list[tuple]:
    m = segment_memberships.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(m.organization_id, m.contact_id, m.entered_at, m.exited_at)
                            .where(m.segment_id == segment_id).order_by(m.contact_id, m.entered_at)).all()
    return [(org, c, _utc(e), _utc(x)) for org, c, e, x in rows]


def _utc(value):
    return None if value is None else value.astimezone(UTC)


def test_entries_exits_and_reentry_keep_history(warehouse):
    t1, t2, t3 = T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    first = refresh(warehouse, CUSTOMERS, t1)
    assert (first.members, first.entered, first.exited) == (2, 2, 0)
    assert history(warehouse, 10) == [(ORG, 1, t1, None), (ORG, 2, t1, None)]

    with warehouse.begin() as conn:  # contact 2 lapses, contact 3 converts
        set_contacts(conn, [contact(1), contact(2, stage="churned"), contact(3), contact(4, org=OTHER)])
    second = refresh(warehouse, CUSTOMERS, t2)
    assert (second.members, second.entered, second.exited) == (2, 1, 1)

    with warehouse.begin() as conn:  # contact 2 comes back: a new stay, the old one untouched
        set_contacts(conn, [contact(1), contact(2), contact(3), contact(4, org=OTHER)])
    third = refresh(warehouse, CUSTOMERS, t3)
    assert (third.members, third.entered, third.exited) == (3, 1, 0)
    assert history(warehouse, 10) == [
        (ORG, 1, t1, None), (ORG, 2, t1, t2), (ORG, 2, t3, None), (ORG, 3, t2, None),
    ]
    with warehouse.connect() as conn:
        sizes = [(_utc(s.as_of), s.members, s.entered, s.exited) for s in size_history(conn, ORG, 10)]
    assert sizes == [(t3, 3, 1, 0), (t2, 2, 1, 1), (t1, 2, 2, 0)]  # newest first


def test_a_refresh_without_change_adds_no_history_only_a_size_snapshot(warehouse):
    refresh(warehouse, CUSTOMERS, T0)
    before = history(warehouse, 10)
    again = refresh(warehouse, CUSTOMERS, T0 + timedelta(minutes=5))
    assert (again.members, again.entered, again.exited) == (2, 0, 0)
    assert history(warehouse, 10) == before
    with warehouse.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(segment_sizes)).scalar_one() == 2


def test_a_contact_can_be_in_two_segments_and_tenants_never_mix(warehouse):
    refresh(warehouse, CUSTOMERS, T0)
    refresh(warehouse, AMERICANS, T0)
    other = refresh(warehouse, OTHER_CUSTOMERS, T0)
    assert {c for _, c, _, _ in history(warehouse, 10)} == {1, 2}
    assert {c for _, c, _, _ in history(warehouse, 11)} == {1, 2, 3}  # contact 1 and 2 in both
    assert history(warehouse, 20) == [(OTHER, 4, T0, None)] and other.members == 1
    # The same segment id under another organization sees nothing of ORG's rows.
    assert entrants_since(warehouse, OTHER, 10, T0 - timedelta(days=1)) == []


def test_entrants_since_returns_only_new_current_members(warehouse):
    t1, t2 = T0, T0 + timedelta(hours=1)
    refresh(warehouse, CUSTOMERS, t1)
    with warehouse.begin() as conn:  # 3 enters, 2 leaves
        set_contacts(conn, [contact(1), contact(2, stage="lead"), contact(3), contact(4, org=OTHER)])
    refresh(warehouse, CUSTOMERS, t2)
    assert entrants_since(warehouse, ORG, 10, t1 - timedelta(seconds=1)) == [1, 3]  # 2 entered then left
    assert entrants_since(warehouse, ORG, 10, t1) == [3]
    assert entrants_since(warehouse, ORG, 10, t2) == []
    with pytest.raises(ValueError, match="timezone-aware"):
        entrants_since(warehouse, ORG, 10, datetime(2026, 1, 1))


def test_deleted_segments_are_closed(warehouse):
    refresh(warehouse, CUSTOMERS, T0)
    refresh(warehouse, AMERICANS, T0)
    later = T0 + timedelta(hours=1)
    with warehouse.begin() as conn:
        assert close_removed_segments(conn, [AMERICANS], later) == 2
    assert [x for *_, x in history(warehouse, 10)] == [later, later]
    assert all(x is None for *_, x in history(warehouse, 11))


def test_static_list_segments_follow_the_list_bridge(warehouse_url):
    engine = warehouse_engine(warehouse_url)
    try:
        build_marts(engine, [contact(1), contact(2)], list_members=[(ORG, 7, 2), (OTHER, 7, 1)])
        ensure_tables(engine)
        size = refresh(engine, SegmentDefinition(ORG, 12, {"field": "list_id", "op": "in", "value": [7]}), T0)
        assert size.members == 1 and [c for _, c, _, _ in history(engine, 12)] == [2]
    finally:
        engine.dispose()


def test_naive_timestamps_are_refused(warehouse):
    with pytest.raises(ValueError, match="timezone-aware"):
        refresh(warehouse, CUSTOMERS, datetime(2026, 11, 1))
