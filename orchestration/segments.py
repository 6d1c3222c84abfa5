"""Segment membership history and sizes, refreshed after the marts (``beacon.segments.membership``)."""

# No `from __future__ import annotations`: Dagster inspects the decorated function's annotations.

from datetime import UTC, datetime
from functools import cache

import sqlalchemy as sa
from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, AssetSpec, Definitions, MaterializeResult, MetadataValue, multi_asset

from beacon.schema.db import make_engine
from beacon.schema.models import Segment
from beacon.segments.compiler import CriteriaError
from beacon.segments.membership import (
    SCHEMA,
    SegmentDefinition,
    close_removed_segments,
    ensure_tables,
    refresh_segment,
    segment_memberships,
    segment_sizes,
)
from beacon.settings import get_settings
from beacon.tenancy import OrgId
from beacon.warehouse import warehouse_engine
from orchestration.warehouse import dbt_model_key

OWNER = "team:analytics"
# What the compiled criteria read (beacon/segments/compiler.py).
MARTS_READ = ("dim_contacts", "bridge_contact_tags", "bridge_contact_custom_fields", "bridge_list_members")
MEMBERSHIPS_KEY = AssetKey([SCHEMA, segment_memberships.name])
SIZES_KEY = AssetKey([SCHEMA, segment_sizes.name])


def _segments() -> list[SegmentDefinition]:
    engine = make_engine(get_settings().operational_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(Segment.organization_id, Segment.id, Segment.criteria).order_by(Segment.organization_id, Segment.id))
            return [SegmentDefinition(OrgId(org), int(segment_id), criteria) for org, segment_id, criteria in rows]
    finally:
        engine.dispose()


@cache
def segment_memberships_asset() -> AssetsDefinition:
    deps = [dbt_model_key(name) for name in MARTS_READ]

    @multi_asset(
        specs=[
            AssetSpec(MEMBERSHIPS_KEY, deps=deps, group_name=SCHEMA, owners=[OWNER], kinds={"python", "sql"},
                      description="Who is in which segment since when: one row per stay (entered_at, exited_at null while a member)."),
            AssetSpec(SIZES_KEY, deps=[MEMBERSHIPS_KEY], group_name=SCHEMA, owners=[OWNER], kinds={"python", "sql"},
                      description="One row per segment per refresh: members, entered and exited."),
        ],
        name="refresh_segment_memberships",
    )
    def refresh_segment_memberships(context: AssetExecutionContext):
        """Recompute every segment's members in the warehouse and record entries, exits and sizes."""
        as_of = datetime.now(UTC)
        segments = _segments()
        engine = warehouse_engine()
        sizes, problems = [], {}
        try:
            ensure_tables(engine)
            for segment in segments:  # one transaction per segment: a bad one leaves the others done
                try:
                    with engine.begin() as conn:
                        sizes.append(refresh_segment(conn, segment, as_of))
                except CriteriaError as exc:
                    problems[f"{segment.organization_id}/{segment.segment_id}"] = str(exc)
                    context.log.warning(f"segment {segment.segment_id} of organization {segment.organization_id}: {exc}")
            with engine.begin() as conn:
                closed = close_removed_segments(conn, segments, as_of)
        finally:
            engine.dispose()
        yield MaterializeResult(asset_key=MEMBERSHIPS_KEY, metadata={
            "segments": len(sizes),
            "entered": sum(s.entered for s in sizes),
            "exited": sum(s.exited for s in sizes) + closed,
            "closed_for_deleted_segments": closed,
            "criteria_errors": MetadataValue.json(problems),
            "as_of": as_of.isoformat(),
        })
        yield MaterializeResult(asset_key=SIZES_KEY, metadata={
            "snapshots": len(sizes),
            "members": sum(s.members for s in sizes),
        })

    return refresh_segment_memberships


def build_defs() -> Definitions:
    return Definitions(assets=[segment_memberships_asset()])
