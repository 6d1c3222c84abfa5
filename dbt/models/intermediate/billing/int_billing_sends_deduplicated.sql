-- One row per billable message: a send in Beacon's ledger that the provider accepted, i.e. with a
-- `sent` event carrying its send_id, from the webhooks (operational events) or from the provider's
-- export files. Retries, replays and the same event in both sources are one message: counted
-- once per (organization, send_id), at the earliest `sent` time. The event must belong to the
-- organization whose ledger holds the send, so a message is never billed to another tenant.
with sent_events as (
    select organization_id, send_id, occurred_at
    from {{ ref('stg_beacon__events') }}
    where event_type = 'sent'
        and send_id is not null

    union all

    select organization_id, send_id, occurred_at
    from {{ ref('stg_files__provider_events') }}
    where event_type = 'sent'
        and send_id is not null
),

first_sent as (
    select
        organization_id,
        send_id,
        min(occurred_at) as sent_at
    from sent_events
    group by organization_id, send_id
),

sends as (
    select * from {{ ref('stg_beacon__sends') }}
)

select
    cast(first_sent.organization_id as varchar) || '-' || first_sent.send_id as billable_send_id,
    first_sent.organization_id,
    first_sent.send_id,
    sends.channel,
    sends.campaign_id,
    first_sent.sent_at
from first_sent
inner join sends
    on first_sent.organization_id = sends.organization_id
    and first_sent.send_id = sends.send_id
