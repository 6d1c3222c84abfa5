"""The tracking hot path's one statement: record a hit on a sent message, found by its ``send_id``.

``INSERT ... SELECT`` from the send ledger both finds the message and writes the event in one
round trip; the ledger row supplies the tenant, contact and channel (so the event can only land in
the organization that sent the message), and no row comes back for an unknown ``send_id``. Built
once with bind parameters, so SQLAlchemy compiles it once (building a fresh ``insert().values()``
per hit cost more than the database work itself, measured with the bench in bench/bench_tracking.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, literal, select
from sqlalchemy.orm import Session

from beacon.schema.models import Event, EventType, Send

_EVENTS, _SENDS = Event.__table__, Send.__table__  # Core tables: this is a plain statement, not an ORM bulk insert
_HIT = insert(_EVENTS).from_select(
    ["organization_id", "event_type", "occurred_at", "provider", "provider_event_id", "send_id", "contact_id",
     "channel", "payload"],
    select(
        _SENDS.c.organization_id,
        bindparam("event_type", type_=_EVENTS.c.event_type.type),
        bindparam("occurred_at", type_=_EVENTS.c.occurred_at.type),
        literal("beacon", type_=_EVENTS.c.provider.type),
        bindparam("provider_event_id", type_=_EVENTS.c.provider_event_id.type),
        _SENDS.c.send_id, _SENDS.c.contact_id, _SENDS.c.channel,
        bindparam("payload", type_=_EVENTS.c.payload.type),
    ).where(_SENDS.c.send_id == bindparam("send_id", type_=_SENDS.c.send_id.type)),
).returning(_EVENTS.c.organization_id)


def record_hit(session: Session, send_id: uuid.UUID, event_type: EventType, occurred_at: datetime,
               provider_event_id: str, payload: dict[str, Any]) -> bool:
    """Store one open or click event for ``send_id``; False if no such message was sent."""
    row = session.execute(_HIT, {"send_id": send_id, "event_type": event_type, "occurred_at": occurred_at,
                                 "provider_event_id": provider_event_id, "payload": payload}).first()
    return row is not None
