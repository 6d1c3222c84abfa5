-- A table, not a view: three marts read it, and as a view each rebuilt the dedupe and
-- classification (bench/bench_campaign_analytics.py: ~3x the model time).
-- Incremental (delete+insert on organization + send): a build recomputes only the sends whose
-- ledger row arrived (dlt load id) or that got a new event (int_campaign_events_deduplicated's dlt
-- load id for webhooks; received_at minus var('campaign_events_lookback_hours', 72) for export
-- files) since the last build; every column is per send. As there, a file event that arrives later
-- than that needs `--full-refresh`.
-- indexes, post_hook: PostgreSQL only (per-send lookups, load-id watermarks, latest-load tests;
-- docs/warehouse.md "tenth pass")
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        indexes=per_send_table_indexes(),
        post_hook="{{ analyze_on_postgres() }}",
        unique_key=['organization_id', 'send_id'],
        on_schema_change='fail'
    )
}}

-- One row per campaign send (every ledger row: sent, held out, suppressed, failed, pending) with
-- the first time each outcome happened to it. Machine opens and bot clicks are not human
-- engagement; a human click without a recorded open counts as an open at the click's time
-- (the image pixel was blocked, but the person read the message).
with
{%- if is_incremental() %}
watermarks as (
    {{- send_watermarks() }}
),

-- The sends with a new webhook event since this model's newest load (appended by the events model,
-- or rewritten with all their rows): alone in its `where`, so DuckDB skips the row groups below the
-- watermark (a build's rows are appended together). A rewrite for a new ledger row is found by the
-- ledger row below.
written_sends as (
    select organization_id, send_id from {{ ref('int_campaign_events_deduplicated') }}
    where dlt_load_id > coalesce((select webhook_load_id from watermarks), '')
),

-- Sends with a new export-file event (loaded_at within the lookback).
file_changed_sends as (
    select organization_id, send_id from {{ ref('int_campaign_events_deduplicated') }}
    where arrived_via = 'file'
        and ((select file_from from watermarks) is null or received_at >= (select file_from from watermarks))
),

changed_sends as (
    -- Narrow reads of the inputs: a CTE over a whole input read twice is materialised in full
    -- (DuckDB, PostgreSQL), which cost most of the incremental build.
    select organization_id, send_id from {{ ref('stg_beacon__sends') }}
    where campaign_id is not null
        and dlt_load_id > coalesce((select sends_load_id from watermarks), '')
    union
    select organization_id, send_id from written_sends
    union
    select organization_id, send_id from file_changed_sends
),
{%- endif %}

sends as (
    select * from {{ ref('stg_beacon__sends') }} as staged
    where campaign_id is not null
        and {{ only_changed_sends('staged') }}
),

events as (
{%- if is_incremental() %}
    -- all the stored events of the changed sends (the events model appends a send's new events
    -- beside its older ones); `send_id in` first, a one-column semi-join DuckDB probes faster
    select * from {{ ref('int_campaign_events_deduplicated') }} as staged
    where send_id in (select send_id from changed_sends)
        and exists (
            select 1 from changed_sends
            where changed_sends.organization_id = staged.organization_id
                and changed_sends.send_id = staged.send_id
        )
{%- else %}
    select * from {{ ref('int_campaign_events_deduplicated') }}
{%- endif %}
),

outcomes as (
    select
        organization_id,
        send_id,
        min(case when event_type = 'sent' then occurred_at end) as first_sent_event_at,
        min(delivered_at) as delivered_at,
        min(case when event_type = 'bounced' then occurred_at end) as bounced_at,
        max(case when event_type = 'bounced' and bounce_type = 'hard' then 1 else 0 end) as has_hard_bounce,
        min(case when event_type = 'opened' and not is_machine_open then occurred_at end) as human_opened_at,
        min(case when event_type = 'opened' and is_machine_open then occurred_at end) as machine_opened_at,
        min(case when event_type = 'clicked' and not is_bot_click then occurred_at end) as clicked_at,
        min(case when event_type = 'clicked' and is_bot_click then occurred_at end) as bot_clicked_at,
        min(case when event_type = 'unsubscribed' then occurred_at end) as unsubscribed_at,
        min(case when event_type = 'complained' then occurred_at end) as complained_at,
        min(case when event_type = 'failed' then occurred_at end) as failed_event_at,
        max(case when arrived_via = 'webhook' then received_at end) as last_webhook_received_at,
        max(dlt_load_id) as last_webhook_load_id,
        max(case when arrived_via = 'file' then received_at end) as last_file_loaded_at
    from events
    group by organization_id, send_id
)

select
    sends.send_id,
    sends.organization_id,
    sends.campaign_id,
    coalesce(sends.variant, 'default') as variant_name,
    sends.contact_id,
    sends.channel,
    sends.send_status,
    case when sends.send_status = 'suppressed' then coalesce(sends.error_message, 'unknown') end as suppression_reason,
    sends.created_at as targeted_at,
    case when sends.send_status = 'sent' then coalesce(sends.sent_at, outcomes.first_sent_event_at) end as sent_at,
    outcomes.delivered_at,
    outcomes.bounced_at,
    case
        when outcomes.bounced_at is null then null
        when outcomes.has_hard_bounce = 1 then 'hard'
        else 'soft'
    end as bounce_type,
    case
        when outcomes.human_opened_at is null then outcomes.clicked_at
        when outcomes.clicked_at is null then outcomes.human_opened_at
        when outcomes.clicked_at < outcomes.human_opened_at then outcomes.clicked_at
        else outcomes.human_opened_at
    end as opened_at,
    outcomes.human_opened_at is null and outcomes.clicked_at is not null as is_open_implied_by_click,
    outcomes.machine_opened_at,
    outcomes.clicked_at,
    outcomes.bot_clicked_at,
    outcomes.unsubscribed_at,
    outcomes.complained_at,
    case
        when outcomes.failed_event_at is not null then outcomes.failed_event_at
        when sends.send_status = 'failed' then sends.updated_at
    end as failed_at,
    sends.updated_at as ledger_updated_at,
    sends.dlt_load_id as ledger_load_id,
    outcomes.last_webhook_received_at,
    outcomes.last_webhook_load_id,
    outcomes.last_file_loaded_at
from sends
left join outcomes
    on sends.organization_id = outcomes.organization_id
    and sends.send_id = outcomes.send_id
