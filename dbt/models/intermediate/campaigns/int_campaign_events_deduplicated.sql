-- A table, not a view: three marts read it, and as a view each rebuilt the dedupe and
-- classification (bench/bench_campaign_analytics.py: ~3x the model time).
-- Incremental, mostly append-only (strategy append_or_rewrite_sends, macro of that name). "New" is
-- exact for what dlt replicates: a webhook event or ledger row whose dlt load id is larger than the
-- largest stored one (load ids grow load by load, whatever the rows' own timestamps: a late commit,
-- a skewed clock). Export-file events carry no load id: theirs is loaded_at, minus
-- var('campaign_events_lookback_hours', 72). A build:
--   * recomputes from all their raw events the sends whose ledger row is new (their events may have
--     arrived before it and been left out for want of it); that raw scan runs only when there are such;
--   * for the other sends with new events, dedupes the new events against the send's stored rows
--     (and its export-file rows, read again), then appends the new survivors, unless that changes a
--     stored row: the send's first delivery moves (the timing rules reclassify its opens and clicks),
--     a stored row loses to a new one, the send has export-file events, or it has no stored rows yet.
--     Such a send is rewritten from its stored rows (which keep the payload flags for this) and the new ones.
-- Every dedupe and classification rule is per send (or per provider event id, which belongs to one
-- send), and a raw event that lost before cannot win later (it lost to a webhook event, which only a
-- new event can beat, and that then beats it too; export-file rows are read again), so the result
-- equals a full refresh (tests/dbt/test_campaigns_incremental.py). A file event that lands with a
-- loaded_at older than the lookback, or rows written into raw outside dlt with an older load id, need
-- `dbt build --full-refresh --select int_campaign_events_deduplicated+`.
-- indexes, post_hook: PostgreSQL only (per-send lookups, load-id watermarks, latest-load tests;
-- docs/warehouse.md "tenth pass")
{{
    config(
        materialized='incremental',
        incremental_strategy='append_or_rewrite_sends',
        indexes=postgres_indexes([
            {'columns': ['send_id']},
            {'columns': ['dlt_load_id']},
            {'columns': ['send_load_id']},
            {'columns': ['arrived_via', 'received_at']}
        ]),
        post_hook="{{ analyze_on_postgres() }}",
        unique_key=['organization_id', 'send_id'],
        on_schema_change='ignore'
    )
}}
{#- on_schema_change: the incremental select has one more column than the table (rewrites_send, read
    by the strategy); the strategy fails on any other difference, as 'fail' would. -#}

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

{#- Whether any ledger row is new since the last build, asked before the build: only then are raw
    events read beyond the new ones (a semi-join to no send still scans all 20M on DuckDB). -#}
{%- set from_raw = not is_incremental() %}
{%- if is_incremental() and execute %}
    {#- the stored watermark first, then compared as a literal: against the subquery PostgreSQL
        planned a scan of all 8.7M ledger rows (1.0 s) instead of its load-id index -#}
    {%- set stored_ledger_load_id = query_scalar('select greatest(max(dlt_load_id), max(send_load_id)) from ' ~ this) %}
    {%- set changed_ledger_query %}
        select 1 from {{ ref('stg_beacon__sends') }}
        where campaign_id is not null
            and dlt_load_id > {{ quoted_literal(stored_ledger_load_id or '') }}
        limit 1
    {%- endset %}
    {%- set from_raw = run_query(changed_ledger_query).rows | length > 0 %}
{%- endif %}

with
{%- if is_incremental() %}
watermarks as (
    select
        max(dlt_load_id) as webhook_load_id,
        -- ledger rows: also those of sends rewritten without new webhook events
        greatest(max(dlt_load_id), max(send_load_id)) as ledger_load_id,
        -- the file rows' newest by a filter, not max(case ...) over every row: DuckDB skips the row
        -- groups without file rows by their statistics (all 20M rows at the bench scale, where the
        -- case scanned two columns of each: 0.3 s, 0.6 CPU s of the build's critical path)
        {{ dbt.dateadd('hour', -lookback_hours,
                       "(select max(received_at) from " ~ this ~ " where arrived_via = 'file')") }} as file_from
    from {{ this }}
),
{%- endif %}
{%- if is_incremental() and from_raw %}

-- a ledger row replicated after its events (which were left out for want of it until now), or
-- changed: the send is recomputed from all its raw events
changed_sends as (
    select organization_id, send_id from {{ ref('stg_beacon__sends') }}
    where campaign_id is not null
        and dlt_load_id > (select ledger_load_id from watermarks)
),
{%- endif %}
{%- if from_raw %}

operational_events as (
    select {{- campaign_webhook_event_columns() }}
    from {{ ref('stg_beacon__events') }} as staged
    where send_id is not null
        and event_type in {{ kinds }}
        and {{ only_changed_sends('staged') }}
),

file_events as (
    select {{- campaign_file_event_columns() }}
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
-- provider, provider event id), keeping the operational copy (of two, the first loaded, then the
-- lower event id: a later build keeps a stored copy, as a full one does); then, among the rest, the same
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
    {{ repeated_key_losers('event_keys', provider_key, 'event_keys.source_rank, event_keys.dlt_load_id, event_keys.row_key') }}
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
    -- window): its first delivery.
    select
        organization_id,
        send_id,
        min(case when event_type = 'delivered' then occurred_at end) as delivered_at
    from event_keys
    where not exists (
            select 1 from losers
            where losers.source_rank = event_keys.source_rank
                and losers.row_key = event_keys.row_key
        )
    group by organization_id, send_id
),

recomputed as (
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
        -- unbounded, as in `merged` (on PostgreSQL dbt widens a column whose type differs and moves it last)
        cast(sends.dlt_load_id as varchar) as send_load_id
    from deduplicated
    inner join sends
        on deduplicated.organization_id = sends.organization_id
        and deduplicated.send_id = sends.send_id
    left join send_outcomes
        on deduplicated.organization_id = send_outcomes.organization_id
        and deduplicated.send_id = send_outcomes.send_id
),
{%- endif %}
{%- if is_incremental() %}
{%- set pool_provider_key = ['pool.organization_id', 'pool.provider', 'pool.provider_event_id'] %}
{%- set pool_content_key = ['pool.organization_id', 'pool.send_id', 'pool.event_type', 'pool.occurred_at'] %}

new_events as (
    select {{- campaign_webhook_event_columns() }}
    from {{ ref('stg_beacon__events') }}
    where send_id is not null
        and event_type in {{ kinds }}
        and dlt_load_id > coalesce((select webhook_load_id from watermarks), '')
),

-- the sends with new webhook or export-file events (but not those recomputed from raw above)
touched_sends as (
    select organization_id, send_id from new_events
    union
    select organization_id, send_id from {{ ref('stg_files__provider_events') }}
    where send_id is not null
        and event_type in {{ kinds }}
        and ((select file_from from watermarks) is null or loaded_at >= (select file_from from watermarks))
{%- if from_raw %}
    except
    select organization_id, send_id from changed_sends
{%- endif %}
),

stored as (
    -- the touched sends' stored rows
    select * from {{ this }} as stored
    where {{ of_touched_sends('stored') }}
),

touched_file_events as (
    select {{- campaign_file_event_columns() }}
    from {{ ref('stg_files__provider_events') }} as staged
    where send_id is not null
        and event_type in {{ kinds }}
        and {{ of_touched_sends('staged') }}
),

-- The touched sends' events: their stored webhook rows, their new webhook events, and all their
-- export-file rows (read again: a file row may be restated, and one that lost to a stored file row
-- may win once that row loses).
pool as (
    select
        0 as source_rank, 'stored:' || campaign_event_id as row_key, 0 as is_new,
        provider, provider_event_id, organization_id, send_id, event_type, occurred_at, user_agent,
        is_flagged_machine_open, is_flagged_bot, bounce_type, arrived_via, received_at, dlt_load_id,
        delivered_at as stored_delivered_at, campaign_id, variant_name, contact_id, channel, send_load_id
    from stored
    where arrived_via = 'webhook'
    union all
    select
        source_rank, row_key, 1 as is_new,
        provider, provider_event_id, organization_id, send_id, event_type, occurred_at, user_agent,
        is_flagged_machine_open, is_flagged_bot, bounce_type, arrived_via, received_at, dlt_load_id,
        cast(null as timestamp with time zone), cast(null as bigint), cast(null as varchar), cast(null as bigint),
        cast(null as varchar), cast(null as varchar)
    from new_events
    where exists (
        select 1 from touched_sends
        where touched_sends.organization_id = new_events.organization_id
            and touched_sends.send_id = new_events.send_id
    )
    union all
    select
        source_rank, row_key, 1 as is_new,
        provider, provider_event_id, organization_id, send_id, event_type, occurred_at, user_agent,
        is_flagged_machine_open, is_flagged_bot, bounce_type, arrived_via, received_at, dlt_load_id,
        cast(null as timestamp with time zone), cast(null as bigint), cast(null as varchar), cast(null as bigint),
        cast(null as varchar), cast(null as varchar)
    from touched_file_events
),

pool_provider_losers as (
    {{ repeated_key_losers('pool', pool_provider_key, 'pool.source_rank, pool.dlt_load_id, pool.row_key') }}
),

pool_content_losers as (
    {{ repeated_key_losers('pool', pool_content_key, 'pool.source_rank, pool.provider, pool.provider_event_id',
                           unless_in='pool_provider_losers') }}
),

pool_ranked as (
    select
        pool.*,
        exists (
            select 1 from pool_provider_losers as losers
            where losers.source_rank = pool.source_rank and losers.row_key = pool.row_key
        ) or exists (
            select 1 from pool_content_losers as losers
            where losers.source_rank = pool.source_rank and losers.row_key = pool.row_key
        ) as is_lost
    from pool
),

touched_outcomes as (
    select
        organization_id,
        send_id,
        min(case when event_type = 'delivered' and not is_lost then occurred_at end) as delivered_at,
        -- the same on every stored row of a send
        max(stored_delivered_at) as stored_delivered_at,
        max(case when is_new = 0 then 1 else 0 end) as has_stored,
        max(case when is_new = 0 and is_lost then 1 else 0 end) as has_stored_loser,
        max(case when arrived_via = 'file' then 1 else 0 end) as has_file_event,
        max(campaign_id) as campaign_id,
        max(variant_name) as variant_name,
        max(contact_id) as contact_id,
        max(channel) as channel,
        max(send_load_id) as send_load_id
    from pool_ranked
    group by organization_id, send_id
),

touched_sends_classified as (
    select
        touched_outcomes.*,
        has_stored = 0
            or has_stored_loser = 1
            or has_file_event = 1
            or delivered_at is distinct from stored_delivered_at as rewrites_send
    from touched_outcomes
),

new_sends_ledger as (
    -- the ledger rows of touched sends without stored rows (none when every touched send has some)
    select * from {{ ref('stg_beacon__sends') }} as staged
    where campaign_id is not null
        and send_id in (select send_id from touched_sends_classified where has_stored = 0)
        and exists (
            select 1 from touched_sends_classified as touched
            where touched.has_stored = 0
                and touched.organization_id = staged.organization_id
                and touched.send_id = staged.send_id
        )
),

-- a rewritten send: all its surviving rows; any other: its new surviving rows
merged as (
    select
        pool_ranked.provider,
        pool_ranked.provider_event_id,
        pool_ranked.organization_id,
        pool_ranked.send_id,
        coalesce(touched.campaign_id, ledger.campaign_id) as campaign_id,
        coalesce(touched.variant_name, ledger.variant, 'default') as variant_name,
        coalesce(touched.contact_id, ledger.contact_id) as contact_id,
        coalesce(touched.channel, ledger.channel) as channel,
        pool_ranked.event_type,
        pool_ranked.occurred_at,
        pool_ranked.user_agent,
        pool_ranked.is_flagged_machine_open,
        pool_ranked.is_flagged_bot,
        pool_ranked.bounce_type,
        pool_ranked.arrived_via,
        pool_ranked.received_at,
        pool_ranked.dlt_load_id,
        touched.delivered_at,
        cast(coalesce(touched.send_load_id, ledger.dlt_load_id) as varchar) as send_load_id,
        touched.rewrites_send
    from pool_ranked
    inner join touched_sends_classified as touched
        on pool_ranked.organization_id = touched.organization_id
        and pool_ranked.send_id = touched.send_id
    left join new_sends_ledger as ledger
        on touched.has_stored = 0
        and pool_ranked.organization_id = ledger.organization_id
        and pool_ranked.send_id = ledger.send_id
    where not pool_ranked.is_lost
        and (touched.rewrites_send or pool_ranked.is_new = 1)
        -- a send needs its ledger row (a stored row had one)
        and (touched.has_stored = 1 or ledger.send_id is not null)
),
{%- endif %}

events_on_sends as (
{%- if from_raw %}
    select *{% if is_incremental() %}, true as rewrites_send{% endif %} from recomputed
{%- endif %}
{%- if is_incremental() %}
    {%- if from_raw %}
    union all
    {%- endif %}
    select * from merged
{%- endif %}
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
    send_load_id,
    -- the payload flags, kept so that an incremental build can reclassify a stored row when its
    -- send's first delivery moves
    is_flagged_machine_open,
    is_flagged_bot
    {%- if is_incremental() %},
    rewrites_send
    {%- endif %}
from events_on_sends
