"""The segment membership asset as Dagster runs it: segments read from the operational DB, refreshed
on the warehouse's marts, metadata reported; on SQLite + DuckDB and PostgreSQL + PostgreSQL.
(The marts here have the contract's shape; test_clv_pipeline.py runs it after a real dbt build.)"""

from __future__ import annotations

import sqlalchemy as sa
from dagster import DagsterInstance, materialize

from beacon.schema import migrate
from beacon.schema.db import make_engine, session_scope
from beacon.schema.models import Segment
from beacon.settings import get_settings
from beacon.store.organizations import create_organization
from beacon.warehouse import warehouse_engine
from orchestration.segments import MEMBERSHIPS_KEY, SIZES_KEY, segment_memberships_asset
from tests.beacon.test_segment_membership import build_marts, contact


def _run(instance):
    result = materialize([segment_memberships_asset()], instance=instance)
    assert result.success
    return instance.get_latest_materialization_event(MEMBERSHIPS_KEY).asset_materialization.metadata


def test_refresh_reads_segments_reports_and_closes_deleted_ones(beacon_env):
    settings = get_settings()
    migrate.upgrade(settings.operational_url)
    op = make_engine(settings.operational_url)
    with session_scope(op) as session:
        org, _ = create_organization(session, type_code="ecommerce", name="Shop", slug="shop")
        other, _ = create_organization(session, type_code="church", name="Chapel", slug="chapel")
        session.add_all([
            Segment(organization_id=org, name="Customers", criteria={"field": "lifecycle_stage", "op": "eq", "value": "customer"}),
            Segment(organization_id=org, name="Germans", criteria={"field": "country", "op": "eq", "value": "DE"}),
            Segment(organization_id=other, name="Everyone", criteria={"field": "status", "op": "eq", "value": "active"}),
            # Saved before a field was renamed: reported, and the other segments still refresh.
            Segment(organization_id=other, name="Stale", criteria={"field": "ltv", "op": "gt", "value": 1}),
        ])
    wh = warehouse_engine()
    build_marts(wh, [contact(1, org=org), contact(2, org=org, country="DE"), contact(3, org=other)])

    with DagsterInstance.ephemeral() as instance:
        first = _run(instance)
        assert (first["segments"].value, first["entered"].value, first["exited"].value) == (3, 4, 0)
        assert ["unknown field 'ltv'" in e for e in first["criteria_errors"].value.values()] == [True]
        assert instance.get_latest_materialization_event(SIZES_KEY).asset_materialization.metadata["members"].value == 4

        again = _run(instance)
        assert (again["entered"].value, again["exited"].value) == (0, 0)

        with session_scope(op) as session:
            session.execute(sa.delete(Segment).where(Segment.name == "Germans"))
        third = _run(instance)
        assert third["closed_for_deleted_segments"].value == 1 and third["exited"].value == 1

    with wh.connect() as conn:
        rows = conn.execute(sa.text(
            "select organization_id, contact_id, exited_at is null from segments.segment_memberships order by contact_id, segment_id"
        )).all()
        snapshots = conn.execute(sa.text("select count(*) from segments.segment_sizes")).scalar_one()
    assert [tuple(r) for r in rows] == [(org, 1, True), (org, 2, True), (org, 2, False), (other, 3, True)]
    assert snapshots == 3 + 3 + 2  # a snapshot per live segment per refresh
    wh.dispose()
    op.dispose()
