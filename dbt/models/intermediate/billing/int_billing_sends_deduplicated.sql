-- One row per billable message: a send in Beacon's ledger that the provider accepted, i.e. with a
-- `sent` event carrying its send_id, from the webhooks (operational events) or from the provider's
-- export files. Retries, replays and the same event in both sources are one message: counted
-- once per (organization, send_id), at the earliest `sent` time. The event must belong to the
-- organization whose ledger holds the send, so a message is never billed to another tenant.
--
-- Incremental (delete+insert on organization + send): a build rewrites only the sends that got a
-- `sent` event or whose ledger row was replicated since the last build. "Since" is exact for what
-- dlt replicates (webhook events, ledger rows): a dlt load id larger than the largest stored one;
-- export-file events carry none, so for them it is loaded_at minus
-- var('campaign_events_lookback_hours', 72). The event columns are a min / max over the send's
-- `sent` events, so a send's new events are merged into its stored row (as int_contacts_engaged
-- does) instead of re-reading all its events: those 8M `sent` rows were most of this model's
-- incremental cost. Only a send whose ledger row is new since the last build is recomputed from all
-- its events (they may have arrived before it); the ledger is read for those and for sends without
-- a stored row (a stored row carries the columns of a ledger row that has not changed since). The
-- result equals a full refresh (tests/dbt/test_campaigns_incremental.py). A file `sent` event that
-- lands with a loaded_at older than that, or rows written into raw outside dlt with an older load
-- id, need `dbt build --full-refresh --select int_billing_sends_deduplicated+`.
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

{#- Whether any ledger row is new since the last build, asked before the build: reading all the
    events of none of them still scanned every `sent` event on DuckDB. -#}
{%- set has_changed_ledger = false %}
{%- if is_incremental() and execute %}
    {#- the stored watermark first, then compared as a literal: against the subquery PostgreSQL
        planned a scan of all 8.7M ledger rows (1.1 s) instead of its load-id index -#}
    {%- set stored_ledger_load_id = query_scalar('select max(ledger_load_id) from ' ~ this) %}
    {%- set changed_ledger_query %}
        select 1 from {{ ref('stg_beacon__sends') }}
        where dlt_load_id > {{ quoted_literal(stored_ledger_load_id or '') }}
        limit 1
    {%- endset %}
    {%- set has_changed_ledger = run_query(changed_ledger_query).rows | length > 0 %}
{%- endif %}

with
{%- if is_incremental() %}
watermarks as (
    {{- send_watermarks() }}
),

-- ledger rows replicated since the last build (new sends, or changed ledger rows): each condition
-- alone in its `where`, so DuckDB skips the row groups below the watermark
ledger_changed_sends as (
    select organization_id, send_id from {{ ref('stg_beacon__sends') }}
    where dlt_load_id > coalesce((select sends_load_id from watermarks), '')
),
{%- endif %}

sent_events as (
    -- arrival columns side by side (not one column and a source tag): plain max() per column below
    select organization_id, send_id, occurred_at, dlt_load_id, cast(null as timestamp with time zone) as loaded_at
    from {{ ref('stg_beacon__events') }}
    where event_type = 'sent'
        and send_id is not null
{%- if is_incremental() %}
        and dlt_load_id > coalesce((select webhook_load_id from watermarks), '')
{%- endif %}

    union all

    select organization_id, send_id, occurred_at, cast(null as varchar) as dlt_load_id, loaded_at
    from {{ ref('stg_files__provider_events') }}
    where event_type = 'sent'
        and send_id is not null
{%- if is_incremental() %}
        and ((select file_from from watermarks) is null or loaded_at >= (select file_from from watermarks))

{%- endif %}
{%- if has_changed_ledger %}

    -- every `sent` event of the sends whose ledger row is new (they may predate it); an event read
    -- twice changes no min / max
    union all

    select organization_id, send_id, occurred_at, dlt_load_id, cast(null as timestamp with time zone) as loaded_at
    from {{ ref('stg_beacon__events') }} as staged
    where event_type = 'sent'
        and exists (
            select 1 from ledger_changed_sends
            where ledger_changed_sends.organization_id = staged.organization_id
                and ledger_changed_sends.send_id = staged.send_id
        )

    union all

    select organization_id, send_id, occurred_at, cast(null as varchar) as dlt_load_id, loaded_at
    from {{ ref('stg_files__provider_events') }} as staged
    where event_type = 'sent'
        and exists (
            select 1 from ledger_changed_sends
            where ledger_changed_sends.organization_id = staged.organization_id
                and ledger_changed_sends.send_id = staged.send_id
        )
{%- endif %}
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
{%- if is_incremental() %}

stored as (
    -- a semi-join first: DuckDB then filters the stored rows as it scans them
    select * from {{ this }} as stored
    where exists (
        select 1 from first_sent
        where first_sent.organization_id = stored.organization_id
            and first_sent.send_id = stored.send_id
    )
),

merged as (
    -- the new events' min / max with the stored row's (least / greatest skip nulls on both
    -- warehouses), and the stored row's ledger columns
    select
        first_sent.organization_id,
        first_sent.send_id,
        least(first_sent.sent_at, stored.sent_at) as sent_at,
        greatest(first_sent.last_webhook_load_id, stored.last_webhook_load_id) as last_webhook_load_id,
        greatest(first_sent.last_file_loaded_at, stored.last_file_loaded_at) as last_file_loaded_at,
        stored.send_id is not null as is_stored,
        stored.channel,
        stored.campaign_id,
        stored.ledger_load_id
    from first_sent
    left join stored
        on first_sent.organization_id = stored.organization_id
        and first_sent.send_id = stored.send_id
),

ledger_needed as (
    select organization_id, send_id from merged where not is_stored
    union
    select organization_id, send_id from ledger_changed_sends
),

ledger as (
    select * from {{ ref('stg_beacon__sends') }} as staged
    where exists (
        select 1 from ledger_needed
        where ledger_needed.organization_id = staged.organization_id
            and ledger_needed.send_id = staged.send_id
    )
)

select
    cast(merged.organization_id as varchar) || '-' || merged.send_id as billable_send_id,
    merged.organization_id,
    merged.send_id,
    -- a ledger row read here is the current one; otherwise the stored row's is
    case when ledger.send_id is not null then ledger.channel else merged.channel end as channel,
    case when ledger.send_id is not null then ledger.campaign_id else merged.campaign_id end as campaign_id,
    merged.sent_at,
    case when ledger.send_id is not null then ledger.dlt_load_id else merged.ledger_load_id end as ledger_load_id,
    merged.last_webhook_load_id,
    merged.last_file_loaded_at
from merged
left join ledger
    on merged.organization_id = ledger.organization_id
    and merged.send_id = ledger.send_id
-- a message needs its ledger row (a stored row had one)
where ledger.send_id is not null or merged.is_stored
{%- else %}

sends as (
    select * from {{ ref('stg_beacon__sends') }}
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
{%- endif %}
