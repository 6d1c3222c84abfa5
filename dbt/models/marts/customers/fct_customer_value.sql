-- One row per contact with at least one purchase (an order neither cancelled nor fully
-- refunded), valued in the tenant's currency as of var('as_of') (default: today).
{%- set as_of = "cast('" ~ var('as_of') ~ "' as date)" if var('as_of', none) else 'current_date' %}

with purchases as (
    select *
    from {{ ref('fct_orders') }}
    where has_contact and is_purchase and order_date_utc <= {{ as_of }}
),

customers as (
    select
        organization_id,
        contact_id,
        count(*) as orders_count,
        sum(gross_amount_tenant) as gross_revenue,
        sum(net_amount_tenant) as net_revenue,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at,
        min(order_date_utc) as first_order_date,
        max(order_date_utc) as last_order_date
    from purchases
    group by organization_id, contact_id
),

scored as (
    -- Quintiles within each tenant; ties broken by contact_id so scores are reproducible.
    select
        customers.*,
        ntile(5) over (partition by organization_id order by last_order_at, contact_id) as recency_score,
        ntile(5) over (partition by organization_id order by orders_count, contact_id) as frequency_score,
        ntile(5) over (partition by organization_id order by net_revenue, contact_id) as monetary_score
    from customers
)

select
    cast(contact_id as bigint) as contact_id,
    cast(organization_id as bigint) as organization_id,
    cast(orders_count as integer) as orders_count,
    cast(gross_revenue as numeric(18, 4)) as gross_revenue,
    cast(net_revenue as numeric(18, 4)) as net_revenue,
    cast(round(net_revenue / orders_count, 4) as numeric(18, 4)) as average_order_value,
    first_order_at,
    last_order_at,
    cast({{ dbt.datediff('first_order_date', as_of, 'day') }} as integer) as tenure_days,
    cast({{ dbt.datediff('last_order_date', as_of, 'day') }} as integer) as days_since_last_order,
    cast(recency_score as integer) as recency_score,
    cast(frequency_score as integer) as frequency_score,
    cast(monetary_score as integer) as monetary_score,
    cast(
        case
            when recency_score >= 4 and frequency_score >= 4 then 'champions'
            when recency_score >= 3 and frequency_score >= 3 then 'loyal'
            when recency_score >= 4 and frequency_score = 1 then 'new'
            when recency_score >= 3 then 'potential_loyalist'
            when frequency_score >= 4 and monetary_score >= 4 then 'cant_lose'
            when frequency_score >= 3 then 'at_risk'
            when recency_score = 2 then 'hibernating'
            else 'lost'
        end as varchar
    ) as rfm_segment,
    {{ as_of }} as valued_as_of
from scored
