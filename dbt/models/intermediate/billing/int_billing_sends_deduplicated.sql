-- One row per billable message: a send in Beacon's ledger that the provider accepted, i.e. with a
-- `sent` event carrying its send_id, from the webhooks (operational events) or from the provider's
-- export files. Retries, replays and the same event in both sources are one message: counted
-- once per (organization, send_id), at the earliest `sent` time. The event must belong to the
-- organization whose ledger holds the send, so a message is never billed to another tenant.
--
-- Incremental (delete+insert on organization + send), like the campaign models: a build
-- recomputes, from all their `sent` events, only the sends that got a `sent` event or whose ledger
-- row was replicated since the last build, and replaces their rows. "Since" is exact for what dlt
-- replicates (webhook events, ledger rows): a dlt load id larger than the largest stored one;
-- export-file events carry none, so for them it is loaded_at minus
-- var('campaign_events_lookback_hours', 72). Every column is per send, so the result equals a full
-- refresh (tests/dbt/test_campaigns_incremental.py). A file `sent` event that lands with a
-- loaded_at older than that, or rows written into raw outside dlt with an older load id, need
-- `dbt build --full-refresh --select int_billing_sends_deduplicated+`.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['organization_id', 'send_id'],
        on_schema_change='fail'
    )
}}

with
{%- if is_incremental() %}
watermarks as (
    {{- send_watermarks() }}
),

changed_sends as (
    select organization_id, send_id from {{ ref('stg_beacon__events') }}
    where event_type = 'sent'
        and send_id is not null
        and dlt_load_id > coalesce((select webhook_load_id from watermarks), '')
    union
    select organization_id, send_id from {{ ref('stg_files__provider_events') }}
    where event_type = 'sent'
        and send_id is not null
        and ((select file_from from watermarks) is null or loaded_at >= (select file_from from watermarks))
    union
    select organization_id, send_id from {{ ref('stg_beacon__sends') }}
    where dlt_load_id > coalesce((select sends_load_id from watermarks), '')
),
{%- endif %}

sent_events as (
    -- arrival columns side by side (not one column and a source tag): plain max() per column below
    select organization_id, send_id, occurred_at, dlt_load_id, cast(null as timestamp with time zone) as loaded_at
    from {{ ref('stg_beacon__events') }} as staged
    where event_type = 'sent'
        and send_id is not null
        and {{ only_changed_sends('staged') }}

    union all

    select organization_id, send_id, occurred_at, cast(null as varchar) as dlt_load_id, loaded_at
    from {{ ref('stg_files__provider_events') }} as staged
    where event_type = 'sent'
        and send_id is not null
        and {{ only_changed_sends('staged') }}
),

first_sent as (
    select
        organization_id,
        send_id,
        min(occurred_at) as sent_at,
        max(dlt_load_id) as last_webhook_load_id,
        max(loaded_at) as last_file_loaded_at
    from sent_events
    group by organization_id, send_id
),

sends as (
    select * from {{ ref('stg_beacon__sends') }} as staged
    where {{ only_changed_sends('staged') }}
)

select
    cast(first_sent.organization_id as varchar) || '-' || first_sent.send_id as billable_send_id,
    first_sent.organization_id,
    first_sent.send_id,
    sends.channel,
    sends.campaign_id,
    first_sent.sent_at,
    sends.dlt_load_id as ledger_load_id,
    first_sent.last_webhook_load_id,
    first_sent.last_file_loaded_at
from first_sent
inner join sends
    on first_sent.organization_id = sends.organization_id
    and first_sent.send_id = sends.send_id
