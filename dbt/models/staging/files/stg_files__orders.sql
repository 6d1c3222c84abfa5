{#- The latest state of each order: a later file restating an order (a refund, a cancellation)
    replaces the earlier state. raw.orders exists once the first orders file is loaded; until
    then this view is empty (same columns), so a fresh installation builds. -#}
{%- set raw_columns = {
    'order_id': 'varchar(128)', 'organization_id': 'bigint', 'customer_email': 'varchar(320)',
    'customer_external_id': 'varchar(128)', 'created_at': 'timestamp with time zone',
    'updated_at': 'timestamp with time zone', 'currency': 'varchar(3)', 'subtotal': 'numeric(14, 4)',
    'discount': 'numeric(14, 4)', 'tax': 'numeric(14, 4)', 'shipping': 'numeric(14, 4)',
    'total': 'numeric(14, 4)', 'refunded_amount': 'numeric(14, 4)', 'status': 'varchar(32)',
    'lines': 'text', 'source_file': 'text', 'source_line': 'bigint', 'loaded_at': 'timestamp with time zone'} -%}

with order_states as (
{{ relation_or_empty(source('files', 'orders'), raw_columns) }}
),

latest as (
    select
        *,
        row_number() over (
            partition by organization_id, order_id
            order by updated_at desc, loaded_at desc, source_line desc
        ) as state_rank
    from order_states
)

select
    -- order_id alone is only unique within a tenant: the key carries the organization.
    cast(organization_id as varchar) || ':' || order_id as order_id,
    cast(organization_id as bigint) as organization_id,
    cast(order_id as varchar(128)) as external_order_id,
    lower(trim(customer_email)) as customer_email_normalized,
    nullif(trim(customer_external_id), '') as customer_external_id,
    upper(cast(currency as varchar(3))) as currency_code,
    cast(subtotal as numeric(14, 4)) as subtotal_amount,
    cast(discount as numeric(14, 4)) as discount_amount,
    cast(tax as numeric(14, 4)) as tax_amount,
    cast(shipping as numeric(14, 4)) as shipping_amount,
    cast(total as numeric(14, 4)) as total_amount,
    cast(coalesce(refunded_amount, 0) as numeric(14, 4)) as refunded_amount,
    lower(cast(status as varchar(32))) as order_status,
    lower(cast(status as varchar(32))) = 'cancelled' as is_cancelled,
    cast(lines as text) as order_lines_json,
    created_at as ordered_at,
    updated_at,
    loaded_at,
    source_file
from latest
where state_rank = 1
