"""Message counts from the operational DB for one organization and period, per channel.

Two independent counts the reconciliation compares with the billing marts:
- the send ledger: ``sends`` rows with status ``sent``, by ``sent_at``;
- what the provider accepted: ``sent`` events, once per ``send_id``, at the earliest one's time
  (the same rule as the billing marts, docs/billing.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, select

from beacon.schema.models import Event, EventType, Send, SendStatus
from beacon.tenancy import OrgId


def ledger_sent(engine: Engine, org: OrgId, start: datetime, end: datetime) -> dict[str, int]:
    query = (
        select(Send.channel, func.count())
        .where(Send.organization_id == int(org), Send.status == SendStatus.sent, Send.sent_at >= start, Send.sent_at < end)
        .group_by(Send.channel)
    )
    with engine.connect() as conn:
        return {str(channel): int(n) for channel, n in conn.execute(query)}


def provider_accepted(engine: Engine, org: OrgId, start: datetime, end: datetime) -> dict[str, int]:
    first = (
        select(
            Event.send_id,
            func.min(Event.channel).label("channel"),
            func.min(Event.occurred_at).label("first_at"),
        )
        .where(Event.organization_id == int(org), Event.event_type == EventType.sent, Event.send_id.is_not(None))
        .group_by(Event.send_id)
        .subquery()
    )
    query = (
        select(first.c.channel, func.count())
        .where(first.c.first_at >= start, first.c.first_at < end)
        .group_by(first.c.channel)
    )
    with engine.connect() as conn:
        return {str(channel): int(n) for channel, n in conn.execute(query)}
