-- One row per order, net of refunds and cancellations, in the order's currency and in the
-- tenant's (order currency -> USD -> tenant currency at the rate valid on the order's UTC day),
-- with the order time in UTC and in the tenant's time zone.
with orders as (
    select * from {{ ref('int_orders_matched_to_contacts') }}
),

organizations as (
    select * from {{ ref('stg_beacon__organizations') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_ranged') }}
),

orders_netted as (
    select
        orders.*,
        coalesce(organizations.timezone, 'UTC') as tenant_timezone,
        coalesce(organizations.currency_code, orders.currency_code) as tenant_currency_code,
        orders.order_status = 'refunded'
            or (orders.total_amount > 0 and orders.refunded_amount >= orders.total_amount) as is_fully_refunded,
        case when orders.is_cancelled then 0 else orders.total_amount - orders.refunded_amount end as net_amount,
        {{ utc_date('orders.ordered_at') }} as order_date_utc
    from orders
    inner join organizations
        on orders.organization_id = organizations.organization_id
),

orders_converted as (
    select
        orders_netted.*,
        case
            when orders_netted.currency_code = orders_netted.tenant_currency_code then 1
            else order_rate.rate_to_usd / tenant_rate.rate_to_usd
        end as fx_rate_to_tenant,
        -- AT TIME ZONE turns a UTC instant into the tenant's wall-clock time on both DuckDB and PostgreSQL.
        orders_netted.ordered_at at time zone orders_netted.tenant_timezone as ordered_at_local
    from orders_netted
    left join fx_rates as order_rate
        on orders_netted.currency_code = order_rate.currency_code
        and orders_netted.order_date_utc >= order_rate.valid_from
        and (order_rate.valid_to is null or orders_netted.order_date_utc < order_rate.valid_to)
    left join fx_rates as tenant_rate
        on orders_netted.tenant_currency_code = tenant_rate.currency_code
        and orders_netted.order_date_utc >= tenant_rate.valid_from
        and (tenant_rate.valid_to is null or orders_netted.order_date_utc < tenant_rate.valid_to)
)

select
    cast(order_id as varchar) as order_id,
    cast(organization_id as bigint) as organization_id,
    cast(contact_id as bigint) as contact_id,
    contact_id is not null as has_contact,
    cast(contact_match_method as varchar) as contact_match_method,
    cast(external_order_id as varchar) as external_order_id,
    cast(order_status as varchar) as order_status,
    is_cancelled,
    is_fully_refunded,
    not is_cancelled and not is_fully_refunded as is_purchase,
    cast(currency_code as varchar) as currency_code,
    cast(total_amount as numeric(18, 4)) as total_amount,
    cast(refunded_amount as numeric(18, 4)) as refunded_amount,
    cast(net_amount as numeric(18, 4)) as net_amount,
    cast(tenant_currency_code as varchar) as tenant_currency_code,
    cast(fx_rate_to_tenant as numeric(18, 8)) as fx_rate_to_tenant,
    cast(round(total_amount * fx_rate_to_tenant, 4) as numeric(18, 4)) as gross_amount_tenant,
    cast(round(case when is_cancelled then 0 else refunded_amount end * fx_rate_to_tenant, 4) as numeric(18, 4))
        as refunded_amount_tenant,
    cast(round(net_amount * fx_rate_to_tenant, 4) as numeric(18, 4)) as net_amount_tenant,
    ordered_at,
    cast(tenant_timezone as varchar) as tenant_timezone,
    cast(ordered_at_local as timestamp) as ordered_at_local,
    order_date_utc,
    cast(ordered_at_local as date) as order_date_local,
    cast({{ dbt.date_trunc('month', 'ordered_at_local') }} as date) as order_month_local,
    updated_at
from orders_converted
