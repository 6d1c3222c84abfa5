-- The RFM summary beacon.clv fits (docs/customer-value.md): one row per customer, as of
-- var('as_of') (default: today). Purchase occasions are UTC calendar days; orders on one day are
-- one purchase, their net values summed. Cancelled and fully refunded orders do not count.
-- recency and T are in weeks; monetary_value is the mean of the repeat days (the first excluded).
{%- set as_of = "cast('" ~ var('as_of') ~ "' as date)" if var('as_of', none) else 'current_date' %}

with purchase_days as (
    select
        organization_id,
        contact_id,
        order_date_utc as purchase_date,
        sum(net_amount_tenant) as day_value
    from {{ ref('fct_orders') }}
    where has_contact and is_purchase and order_date_utc <= {{ as_of }}
    group by organization_id, contact_id, order_date_utc
),

ranked as (
    select
        purchase_days.*,
        row_number() over (partition by organization_id, contact_id order by purchase_date) as day_number
    from purchase_days
),

customers as (
    select
        organization_id,
        contact_id,
        count(*) - 1 as frequency,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date,
        sum(case when day_number > 1 then day_value else 0 end) as repeat_value
    from ranked
    group by organization_id, contact_id
)

select
    cast(contact_id as bigint) as customer_id,
    cast(organization_id as bigint) as organization_id,
    cast(frequency as integer) as frequency,
    cast({{ dbt.datediff('first_purchase_date', 'last_purchase_date', 'day') }} / 7.0 as double precision) as recency,
    cast({{ dbt.datediff('first_purchase_date', as_of, 'day') }} / 7.0 as double precision) as "T",
    cast(case when frequency > 0 then repeat_value / frequency else 0 end as double precision) as monetary_value,
    first_purchase_date,
    last_purchase_date,
    {{ as_of }} as observation_end
from customers
