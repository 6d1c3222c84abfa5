-- One row per contact with a human open or click among the events Beacon tracks and the provider
-- webhooks (raw.events, already tied to a contact): the last one. Machine opens (the provider's or
-- Beacon's tracker flag) are not engagement. dim_contacts takes the later of this and the
-- export-file engagement (int_contacts_staged).
-- Incremental (delete+insert on contact): a build reads only the events of dlt loads newer than the
-- newest stored (raw.events is append-only; the rows of a new load sit at the end, so DuckDB skips
-- the rest) and keeps, per contact, the later of the stored and the new last engagement: a max over
-- all events, so the result equals a full refresh (tests/dbt/test_campaigns_incremental.py). Before,
-- int_contacts_staged grouped all 20M events at the bench scale on every build. Events written into
-- raw outside dlt with an older load id need `dbt build --full-refresh --select int_contacts_engaged+`.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='contact_id',
        on_schema_change='fail'
    )
}}

with new_engagement as (
    select contact_id, max(occurred_at) as last_engaged_at, max(dlt_load_id) as last_load_id
    from {{ ref('stg_beacon__events') }}
    where event_type in ('opened', 'clicked')
        and contact_id is not null
        and coalesce(payload ->> 'machine_open', payload ->> 'sg_machine_open', 'false') not in ('true', '1')
{%- if is_incremental() %}
        -- alone in its conjunct, so DuckDB skips the row groups below the watermark
        and dlt_load_id > coalesce((select max(last_load_id) from {{ this }}), '')
{%- endif %}
    group by contact_id
)

{%- if is_incremental() %}

select
    new_engagement.contact_id,
    greatest(new_engagement.last_engaged_at, stored.last_engaged_at) as last_engaged_at,
    greatest(new_engagement.last_load_id, stored.last_load_id) as last_load_id
from new_engagement
left join {{ this }} as stored
    on new_engagement.contact_id = stored.contact_id
{%- else %}

select contact_id, last_engaged_at, last_load_id
from new_engagement
{%- endif %}
