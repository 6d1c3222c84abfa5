"""Segment membership with history, maintained in the warehouse by set operations.

Each refresh compiles a segment's criteria (``compiler.py``) against the marts and, in one
transaction per segment:

- closes the open memberships of contacts no longer matching (``exited_at = as_of``);
- opens a membership for each matching contact without an open one (``entered_at = as_of``); a
  contact who left and comes back gets a new row, so the history is never rewritten;
- appends one ``segment_sizes`` row (members, entered, exited) stamped ``as_of``.

All of it is ``UPDATE ... WHERE contact_id NOT IN (SELECT ...)`` and ``INSERT ... SELECT`` run by
the warehouse: no contact rows travel through Python. A refresh with nothing changed adds no
membership rows (only its size snapshot). See docs/segments.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from beacon.segments.compiler import compile_segment, contacts
from beacon.tenancy import OrgId
from beacon.warehouse import ensure_schema

SCHEMA = "segments"
_metadata = sa.MetaData(schema=SCHEMA)
TIMESTAMP = sa.DateTime(timezone=True)

segment_memberships = sa.Table(
    "segment_memberships",
    _metadata,
    sa.Column("organization_id", sa.BigInteger, nullable=False),
    sa.Column("segment_id", sa.BigInteger, nullable=False),
    sa.Column("contact_id", sa.BigInteger, nullable=False),
    sa.Column("entered_at", TIMESTAMP, nullable=False),
    sa.Column("exited_at", TIMESTAMP, nullable=True, doc="null while a member"),
    sa.PrimaryKeyConstraint("organization_id", "segment_id", "contact_id", "entered_at"),
)
segment_sizes = sa.Table(
    "segment_sizes",
    _metadata,
    sa.Column("organization_id", sa.BigInteger, nullable=False),
    sa.Column("segment_id", sa.BigInteger, nullable=False),
    sa.Column("as_of", TIMESTAMP, nullable=False),
    sa.Column("members", sa.Integer, nullable=False),
    sa.Column("entered", sa.Integer, nullable=False),
    sa.Column("exited", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("organization_id", "segment_id", "as_of"),
)


@dataclass(frozen=True)
class SegmentDefinition:
    organization_id: OrgId
    segment_id: int
    criteria: Mapping[str, Any]


@dataclass(frozen=True)
class SegmentSize:
    organization_id: int
    segment_id: int
    as_of: datetime
    members: int
    entered: int
    exited: int


def ensure_tables(engine: sa.Engine) -> None:
    ensure_schema(engine, SCHEMA)
    _metadata.create_all(engine)


def _scope(org: OrgId, segment_id: int):
    m = segment_memberships.c
    return (m.organization_id == int(org), m.segment_id == segment_id)


def refresh_segment(conn: sa.Connection, segment: SegmentDefinition, as_of: datetime) -> SegmentSize:
    """Bring one segment's memberships up to date as of ``as_of`` (timezone-aware, unique per refresh)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware (memberships are stamped in UTC)")
    org, segment_id = segment.organization_id, segment.segment_id
    compiled = compile_segment(segment.criteria, org, as_of=as_of)
    m = segment_memberships.c
    is_open = (*_scope(org, segment_id), m.exited_at.is_(None))
    stamp = sa.literal(as_of, TIMESTAMP)

    conn.execute(
        sa.update(segment_memberships)
        .where(*is_open, m.contact_id.not_in(compiled.members(contacts.c.contact_id)))
        .values(exited_at=stamp)
    )
    already_member = sa.exists().where(*is_open, m.contact_id == contacts.c.contact_id)
    entrants = sa.select(
        sa.literal(int(org), sa.BigInteger), sa.literal(segment_id, sa.BigInteger), contacts.c.contact_id,
        stamp, sa.cast(sa.null(), TIMESTAMP),
    ).where(compiled.where, ~already_member)
    conn.execute(sa.insert(segment_memberships).from_select(
        ["organization_id", "segment_id", "contact_id", "entered_at", "exited_at"], entrants))

    # Counted after the fact: drivers disagree on rowcount for INSERT ... SELECT (DuckDB reports -1).
    counts = conn.execute(sa.select(
        sa.func.count().filter(m.exited_at.is_(None)),
        sa.func.count().filter(m.entered_at == stamp),
        sa.func.count().filter(m.exited_at == stamp),
    ).where(*_scope(org, segment_id))).one()
    size = SegmentSize(int(org), segment_id, as_of, int(counts[0]), int(counts[1]), int(counts[2]))
    conn.execute(sa.insert(segment_sizes).values(
        organization_id=size.organization_id, segment_id=segment_id, as_of=as_of,
        members=size.members, entered=size.entered, exited=size.exited))
    return size


def close_removed_segments(conn: sa.Connection, live: Iterable[SegmentDefinition], as_of: datetime) -> int:
    """Close the open memberships of segments deleted from the operational DB; returns how many."""
    live_keys = {(int(s.organization_id), s.segment_id) for s in live}
    m = segment_memberships.c
    with_open = conn.execute(sa.select(m.organization_id, m.segment_id).where(m.exited_at.is_(None)).distinct()).all()
    closed = 0
    for org, segment_id in with_open:
        if (int(org), int(segment_id)) in live_keys:
            continue
        closed += conn.execute(
            sa.update(segment_memberships)
            .where(*_scope(OrgId(int(org)), int(segment_id)), m.exited_at.is_(None))
            .values(exited_at=sa.literal(as_of, TIMESTAMP))
        ).rowcount
    return closed


def entrants_since(engine: sa.Engine, org: OrgId, segment_id: int, since: datetime) -> list[int]:
    """Contacts that entered ``segment_id`` after ``since`` and are still members, in entry order.

    For automations that act on "new entrants since the last run": pass the previous run's time.
    """
    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    m = segment_memberships.c
    query = (
        sa.select(m.contact_id)
        .where(*_scope(org, segment_id), m.entered_at > sa.literal(since, TIMESTAMP), m.exited_at.is_(None))
        .order_by(m.entered_at, m.contact_id)
    )
    with engine.connect() as conn:
        return [int(c) for (c,) in conn.execute(query)]


def size_history(conn: sa.Connection, org: OrgId, segment_id: int, *, limit: int = 100) -> list[SegmentSize]:
    """The latest ``limit`` size snapshots of a segment, newest first."""
    s = segment_sizes.c
    rows = conn.execute(
        sa.select(s.organization_id, s.segment_id, s.as_of, s.members, s.entered, s.exited)
        .where(s.organization_id == int(org), s.segment_id == segment_id)
        .order_by(s.as_of.desc())
        .limit(limit)
    )
    return [SegmentSize(int(r[0]), int(r[1]), r[2], int(r[3]), int(r[4]), int(r[5])) for r in rows]
