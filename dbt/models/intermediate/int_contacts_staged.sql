-- Every contact's lifecycle stage, as of var('as_of') (default: today). First match wins:
--   churned   bought before, but not within churn_after_days
--   vip       net_revenue >= vip_min_net_revenue and orders_count >= vip_min_orders
--   repeat    2 or more purchases
--   customer  1 purchase
--   prospect  no purchase, a human open or click within prospect_engaged_within_days
--   lead      everyone else
-- Machine opens (mail-client prefetch such as Apple MPP) are not engagement.
-- A view over two tables: the value and export-file engagement (int_contacts_valued, which does not
-- read raw.events) and the tracked engagement (int_contacts_engaged, incremental). So a build after
-- new events rewrites no 1M-row contacts table before dim_contacts (this one was a table: 1.1-1.2 s
-- of that build at the bench scale); its readers join the two (~0.1 s).
{%- set as_of = "cast('" ~ var('as_of') ~ "' as date)" if var('as_of', none) else 'current_date' %}

with valued as (
    select * from {{ ref('int_contacts_valued') }}
),

tracked_engagement as (
    -- Beacon's own tracking and provider webhooks, already tied to a contact (incremental model).
    select contact_id, last_engaged_at
    from {{ ref('int_contacts_engaged') }}
),

contacts_valued as (
    select
        valued.contact_id,
        valued.organization_id,
        valued.orders_count,
        valued.gross_revenue,
        valued.net_revenue,
        valued.average_order_value,
        valued.first_order_at,
        valued.last_order_at,
        valued.days_since_last_order,
        valued.rfm_segment,
        -- the later of the two sources (greatest skips a null on DuckDB and PostgreSQL)
        greatest(valued.file_last_engaged_at, tracked_engagement.last_engaged_at) as last_engaged_at
    from valued
    left join tracked_engagement
        on valued.contact_id = tracked_engagement.contact_id
)

select
    contact_id,
    organization_id,
    cast(
        case
            when orders_count > 0 and days_since_last_order > {{ var('churn_after_days', 365) }} then 'churned'
            when net_revenue >= {{ var('vip_min_net_revenue', 1000) }}
                and orders_count >= {{ var('vip_min_orders', 3) }} then 'vip'
            when orders_count >= 2 then 'repeat'
            when orders_count = 1 then 'customer'
            when last_engaged_at is not null
                and {{ dbt.datediff(utc_date('last_engaged_at'), as_of, 'day') }}
                    <= {{ var('prospect_engaged_within_days', 90) }} then 'prospect'
            else 'lead'
        end as varchar
    ) as lifecycle_stage,
    orders_count,
    gross_revenue,
    net_revenue,
    average_order_value,
    first_order_at,
    last_order_at,
    days_since_last_order,
    rfm_segment,
    last_engaged_at
from contacts_valued
