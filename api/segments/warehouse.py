"""Warehouse reads for segments (the marts and the membership tables): SQL only here, always scoped
to the caller's organization (the compiled criteria carry it; the sizes query filters on it)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Engine

from beacon.segments.compiler import CompiledSegment
from beacon.segments.membership import SCHEMA, SegmentSize, segment_sizes, size_history
from beacon.tenancy import OrgId

MARTS = ("marts", "dim_contacts")


class MartsMissing(LookupError):
    """The warehouse has no marts yet (the pipeline has not run)."""


def _has_table(engine: Engine, schema: str, table: str) -> bool:
    return sa.inspect(engine).has_table(table, schema=schema)


def preview(engine: Engine, compiled: CompiledSegment, sample_size: int) -> tuple[int, list[dict]]:
    if not _has_table(engine, *MARTS):
        raise MartsMissing("the warehouse has no marts.dim_contacts yet: run the pipeline first")
    with engine.connect() as conn:
        count = conn.execute(compiled.count()).scalar_one()
        sample = [dict(row._mapping) for row in conn.execute(compiled.sample(sample_size))]
    return int(count), sample


def sizes(engine: Engine, org: OrgId, segment_id: int, limit: int) -> list[SegmentSize]:
    if not _has_table(engine, SCHEMA, segment_sizes.name):
        return []  # no refresh has run yet
    with engine.connect() as conn:
        return size_history(conn, org, segment_id, limit=limit)
