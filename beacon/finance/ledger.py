"""Message counts from the operational DB for one organization and period, per channel.

Two independent counts the reconciliation compares with the billing marts:
- the send ledger: ``sends`` rows with status ``sent``, by ``sent_at``;
- what the provider accepted: ``sent`` events, once per ``send_id``, at the earliest one's time
  (the same rule as the billing marts, docs/billing.md). The provider's events arrive two ways:
  webhooks (the operational DB's ``events``, replicated to the warehouse) and the providers'
  export files (loaded into the warehouse only), so this count reads the warehouse's staging of both.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, select, text

from beacon.schema.models import Send, SendStatus
from beacon.tenancy import OrgId


def ledger_sent(engine: Engine, org: OrgId, start: datetime, end: datetime) -> dict[str, int]:
    query = (
        select(Send.channel, func.count())
        .where(Send.organization_id == int(org), Send.status == SendStatus.sent, Send.sent_at >= start, Send.sent_at < end)
        .group_by(Send.channel)
    )
    with engine.connect() as conn:
        return {str(channel): int(n) for channel, n in conn.execute(query)}


def provider_accepted(warehouse: Engine, org: OrgId, start: datetime, end: datetime) -> dict[str, int]:
    query = text("""
        with sent_events as (
            select cast(send_id as varchar(36)) as send_id, cast(channel as varchar(16)) as channel, occurred_at
            from staging.stg_beacon__events
            where organization_id = :org and event_type = 'sent' and send_id is not null
            union all
            select cast(send_id as varchar(36)), case when provider = 'sendgrid' then 'email'
                   when phone like 'whatsapp:%' then 'whatsapp' else 'sms' end, occurred_at
            from staging.stg_files__provider_events
            where organization_id = :org and event_type = 'sent' and send_id is not null
        ),
        first_sent as (
            select send_id, min(channel) as channel, min(occurred_at) as first_at from sent_events group by send_id
        )
        select channel, count(*) from first_sent where first_at >= :start and first_at < :end group by channel
    """)
    with warehouse.connect() as conn:
        rows = conn.execute(query, {"org": int(org), "start": start, "end": end})
        return {str(channel): int(n) for channel, n in rows}
