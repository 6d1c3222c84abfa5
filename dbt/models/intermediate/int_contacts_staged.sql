-- Every contact's value to date and the part of its lifecycle stage that needs no raw.events, as of
-- var('as_of') (default: today). purchase_stage, first match wins (null without a purchase):
--   churned   bought before, but not within churn_after_days
--   vip       net_revenue >= vip_min_net_revenue and orders_count >= vip_min_orders
--   repeat    2 or more purchases
--   customer  1 purchase
-- prospect / lead (no purchase) depend on engagement, which every event load changes:
-- dim_contacts decides them from int_contacts_engaged and file_last_engaged_at, so the build after
-- new events rewrites no contacts table but dim_contacts (none on DuckDB, where it is a view;
-- docs/warehouse.md, eighth pass).
-- Machine opens (mail-client prefetch such as Apple MPP) are not engagement.
with contacts as (
    select * from {{ ref('stg_beacon__contacts') }}
),

customer_value as (
    select * from {{ ref('fct_customer_value') }}
),

file_engagement as (
    -- Exported provider events carry an address, not a contact: match within the organization.
    select contacts.contact_id, max(provider_events.occurred_at) as last_engaged_at
    from {{ ref('stg_files__provider_events') }} as provider_events
    inner join contacts
        on provider_events.organization_id = contacts.organization_id
        and provider_events.email_normalized = contacts.email_normalized
    where provider_events.event_type in ('opened', 'clicked')
        and not provider_events.is_machine_open
    group by contacts.contact_id
),

contacts_valued as (
    select
        contacts.contact_id,
        contacts.organization_id,
        coalesce(customer_value.orders_count, 0) as orders_count,
        coalesce(customer_value.gross_revenue, 0) as gross_revenue,
        coalesce(customer_value.net_revenue, 0) as net_revenue,
        customer_value.average_order_value,
        customer_value.first_order_at,
        customer_value.last_order_at,
        customer_value.days_since_last_order,
        customer_value.rfm_segment,
        file_engagement.last_engaged_at as file_last_engaged_at
    from contacts
    left join customer_value
        on contacts.contact_id = customer_value.contact_id
    left join file_engagement
        on contacts.contact_id = file_engagement.contact_id
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
        end as varchar
    ) as purchase_stage,
    orders_count,
    gross_revenue,
    net_revenue,
    average_order_value,
    first_order_at,
    last_order_at,
    days_since_last_order,
    rfm_segment,
    file_last_engaged_at
from contacts_valued
