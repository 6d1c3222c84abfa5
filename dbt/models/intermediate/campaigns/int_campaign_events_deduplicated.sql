-- A table, not a view: three marts read it, and as a view each rebuilt the dedupe and
-- classification (bench/bench_campaign_analytics.py: ~3x the model time). Incremental: a build
-- recomputes, from all their raw events, only the sends that received an event since the last
-- build (or whose ledger row arrived since), and replaces those sends' rows (delete+insert on
-- organization + send). Every dedupe and classification rule is per send (or per provider event
-- id, which belongs to one send), so the result equals a full refresh
-- (tests/dbt/test_campaigns_incremental.py). "Since the last build" is exact for what dlt replicates:
-- a webhook event or ledger row whose dlt load id is larger than the largest stored one (load ids
-- grow load by load, whatever the rows' own timestamps: a late commit, a skewed clock). Export-file
-- events carry no load id: theirs is loaded_at, minus var('campaign_events_lookback_hours', 72). A
-- file event that lands with a loaded_at older than that, or rows written into raw outside dlt with
-- an older load id, need `dbt build --full-refresh --select int_campaign_events_deduplicated+`.
-- send_load_id, the newest dlt load among a send's ledger row and surviving webhook events, is the
-- same on every row of a send and moves to the new load whenever a build rewrites the send for a
-- webhook event or ledger row: int_campaign_sends_summarized reads the rewritten sends by it (rows a
-- build appends sit together, so DuckDB skips the row groups below the watermark) instead of
-- joining every stored event to the changed sends.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['organization_id', 'send_id'],
        on_schema_change='fail'
    )
}}

-- One row per distinct event about a campaign's send, from both places events arrive: the
-- operational DB (webhooks, Beacon's own tracking) and provider export files. A provider may
-- deliver an event twice (retries, or a webhook later restated in an export): the same
-- (provider, provider event id), or the same send + event type + timestamp, is one event.
-- Each open/click is classified so the marts can leave machines out:
--   machine open: the provider's flag (SendGrid sg_machine_open, Beacon's tracker machine_open),
--     a prefetcher's user agent (Apple MPP sends a bare "Mozilla/5.0"), or an open within
--     campaign_machine_open_max_seconds of delivery (no person opens that fast);
--   bot click: Beacon's tracker bot flag, a link scanner's user agent, or a click within
--     campaign_bot_click_max_seconds of delivery.
{%- set kinds = "('sent', 'delivered', 'bounced', 'opened', 'clicked', 'unsubscribed', 'complained', 'failed')" %}
{%- set machine_agents = var('campaign_machine_open_user_agents', ['Mozilla/5.0']) %}
{%- set bot_patterns = var('campaign_bot_user_agent_patterns', ['barracuda', 'mimecast', 'proofpoint', 'bot', 'scanner']) %}
{%- set lookback_hours = var('campaign_events_lookback_hours', 72) | int %}
{%- set provider_key = ['event_keys.organization_id', 'event_keys.provider', 'event_keys.provider_event_id'] %}
{%- set content_key = ['event_keys.organization_id', 'event_keys.send_id', 'event_keys.event_type', 'event_keys.occurred_at'] %}

with
{%- if is_incremental() %}
watermarks as (
    select
        max(dlt_load_id) as webhook_load_id,
        {{ dbt.dateadd('hour', -lookback_hours, "max(case when arrived_via = 'file' then received_at end)") }}
            as file_from
    from {{ this }}
),

changed_sends as (
    -- From the narrow arrival columns of the staged sources, so the filter below reaches the raw
    -- scans (PostgreSQL materialises a CTE read twice; a wide one cost most of the incremental build).
    select organization_id, send_id from {{ ref('stg_beacon__events') }}
    where send_id is not null
        and dlt_load_id > coalesce((select webhook_load_id from watermarks), '')
    union
    select organization_id, send_id from {{ ref('stg_files__provider_events') }}
    where send_id is not null
        and ((select file_from from watermarks) is null or loaded_at >= (select file_from from watermarks))
    union
    -- a ledger row replicated after its events (which were left out for want of it until now)
    select organization_id, send_id from {{ ref('stg_beacon__sends') }}
    where campaign_id is not null
        and dlt_load_id > (select webhook_load_id from watermarks)
),
{%- endif %}

operational_events as (
    select
        0 as source_rank,  -- the webhook copy wins over the same event restated in a file
        provider,
        provider_event_id,
        organization_id,
        send_id,
        event_type,
        occurred_at,
        cast(coalesce(payload ->> 'useragent', payload ->> 'user_agent') as varchar) as user_agent,
        coalesce(payload ->> 'sg_machine_open', payload ->> 'machine_open', 'false') in ('true', '1')
            as is_flagged_machine_open,
        coalesce(payload ->> 'bot', 'false') in ('true', '1') as is_flagged_bot,
        case
            when event_type = 'bounced' and payload ->> 'type' = 'blocked' then 'soft'
            when event_type = 'bounced' then 'hard'
        end as bounce_type,
        'webhook' as arrived_via,
        received_at,
        dlt_load_id,
        cast(event_id as varchar) as row_key
    from {{ ref('stg_beacon__events') }} as staged
    where send_id is not null
        and event_type in {{ kinds }}
        and {{ only_changed_sends('staged') }}
),

file_events as (
    select
        1 as source_rank,
        provider,
        provider_event_id,
        organization_id,
        send_id,
        event_type,
        occurred_at,
        cast(user_agent as varchar) as user_agent,
        is_machine_open as is_flagged_machine_open,
        false as is_flagged_bot,
        case when event_type = 'bounced' then coalesce(bounce_type, 'hard') end as bounce_type,
        'file' as arrived_via,
        loaded_at as received_at,
        cast(null as varchar) as dlt_load_id,
        provider || ':' || provider_event_id as row_key
    from {{ ref('stg_files__provider_events') }} as staged
    where send_id is not null
        and event_type in {{ kinds }}
        and {{ only_changed_sends('staged') }}
),

all_events as (
    select * from operational_events
    union all
    select * from file_events
),

-- Deduplication without sorting every event: duplicates are rare (a webhook retried, an event
-- restated in a file), so the keys held by more than one row are found by grouping the narrow key
-- columns (on DuckDB one hash of them: macro duplicate_key), only those rows are ranked, and the
-- losers (by row_key: the raw event id, or the file's provider:provider_event_id) are left out of
-- the wide rows. The rules are the same as ranking every event: first the same (organization,
-- provider, provider event id), keeping the operational copy; then, among the rest, the same
-- (organization, send, event type, timestamp), keeping the operational copy, then the first
-- provider and provider event id.
event_keys as (
    -- Narrow (no payload): PostgreSQL materialises a CTE read more than once. A full build reads
    -- the staged sources again for it; an incremental one, few rows, takes them from all_events
    -- (one scan of the raw events, not two).
{%- if is_incremental() %}
    select source_rank, row_key, organization_id, provider, provider_event_id, send_id, event_type, occurred_at,
        dlt_load_id
    from all_events
{%- else %}
    select 0 as source_rank, cast(event_id as varchar) as row_key, organization_id, provider, provider_event_id,
        send_id, event_type, occurred_at, dlt_load_id
    from {{ ref('stg_beacon__events') }} as staged
    where send_id is not null
        and event_type in {{ kinds }}
    union all
    select 1 as source_rank, provider || ':' || provider_event_id as row_key, organization_id, provider, provider_event_id,
        send_id, event_type, occurred_at, cast(null as varchar) as dlt_load_id
    from {{ ref('stg_files__provider_events') }} as staged
    where send_id is not null
        and event_type in {{ kinds }}
{%- endif %}
),

provider_losers as (
    {{ repeated_key_losers('event_keys', provider_key, 'event_keys.source_rank') }}
),

content_losers as (
    {{ repeated_key_losers('event_keys', content_key,
                           'event_keys.source_rank, event_keys.provider, event_keys.provider_event_id',
                           unless_in='provider_losers') }}
),

losers as (
    select source_rank, row_key from provider_losers
    union all
    select source_rank, row_key from content_losers
),

deduplicated as (
    select * from all_events
    where not exists (
        select 1 from losers
        where losers.source_rank = all_events.source_rank
            and losers.row_key = all_events.row_key
    )
),

sends as (
    -- only the changed sends' ledger rows (the events below are theirs): PostgreSQL otherwise sorts
    -- every send for a merge join (5 s of a 15 s incremental build at 1/10 scale)
    select * from {{ ref('stg_beacon__sends') }} as staged
    where campaign_id is not null
        and {{ only_changed_sends('staged') }}
),

send_outcomes as (
    -- Per send, from the narrow keys of its surviving events (a grouped join: cheaper than a
    -- window): its first delivery, and the newest dlt load among them (for send_load_id).
    select
        organization_id,
        send_id,
        min(case when event_type = 'delivered' then occurred_at end) as delivered_at,
        max(dlt_load_id) as events_load_id
    from event_keys
    where not exists (
            select 1 from losers
            where losers.source_rank = event_keys.source_rank
                and losers.row_key = event_keys.row_key
        )
    group by organization_id, send_id
),

events_on_sends as (
    select
        deduplicated.provider,
        deduplicated.provider_event_id,
        deduplicated.organization_id,
        deduplicated.send_id,
        sends.campaign_id,
        coalesce(sends.variant, 'default') as variant_name,
        sends.contact_id,
        sends.channel,
        deduplicated.event_type,
        deduplicated.occurred_at,
        deduplicated.user_agent,
        deduplicated.is_flagged_machine_open,
        deduplicated.is_flagged_bot,
        deduplicated.bounce_type,
        deduplicated.arrived_via,
        deduplicated.received_at,
        deduplicated.dlt_load_id,
        send_outcomes.delivered_at,
        greatest(sends.dlt_load_id, send_outcomes.events_load_id) as send_load_id
    from deduplicated
    inner join sends
        on deduplicated.organization_id = sends.organization_id
        and deduplicated.send_id = sends.send_id
    left join send_outcomes
        on deduplicated.organization_id = send_outcomes.organization_id
        and deduplicated.send_id = send_outcomes.send_id
)

select
    -- provider_event_id is only unique per provider (and tenant): the key carries both.
    cast(organization_id as varchar) || ':' || provider || ':' || provider_event_id as campaign_event_id,
    organization_id,
    send_id,
    campaign_id,
    variant_name,
    contact_id,
    channel,
    provider,
    provider_event_id,
    event_type,
    occurred_at,
    delivered_at,
    user_agent,
    bounce_type,
    event_type = 'opened' and (
        is_flagged_machine_open
        or coalesce(trim(user_agent), '') in (
            {%- for agent in machine_agents %}'{{ agent }}'{{ ', ' if not loop.last }}{% endfor -%}
        )
        or (delivered_at is not null
            and occurred_at <= {{ dbt.dateadd('second', var('campaign_machine_open_max_seconds', 2), 'delivered_at') }})
    ) as is_machine_open,
    event_type = 'clicked' and (
        is_flagged_bot
        {%- for pattern in bot_patterns %}
        or lower(coalesce(user_agent, '')) like '%{{ pattern | lower }}%'
        {%- endfor %}
        or (delivered_at is not null
            and occurred_at <= {{ dbt.dateadd('second', var('campaign_bot_click_max_seconds', 2), 'delivered_at') }})
    ) as is_bot_click,
    arrived_via,
    received_at,
    dlt_load_id,
    send_load_id
from events_on_sends
