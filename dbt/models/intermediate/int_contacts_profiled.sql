-- Everything marts.dim_contacts needs for the segment compiler (beacon/segments/compiler.py),
-- one row per contact, under the compiler's column names. Predictions come from
-- stg_predictions__customer_predictions (the CLV asset, orchestration/clv.py, writes them between
-- the summary and this model); before its first run, or with var('clv_predictions_enabled') false,
-- the prediction columns are null.
{%- set use_predictions = var('clv_predictions_enabled', true) %}

with contacts as (
    select * from {{ ref('stg_beacon__contacts') }}
),

contact_types as (
    select * from {{ ref('stg_beacon__contact_types') }}
),

staged as (
    select * from {{ ref('int_contacts_staged') }}
){% if use_predictions %},

predictions as (
    select * from {{ ref('stg_predictions__customer_predictions') }}
){% endif %}

select
    contacts.contact_id,
    contacts.organization_id,
    contacts.email,
    contacts.first_name,
    contacts.last_name,
    staged.lifecycle_stage,
    contact_types.contact_type_code as contact_type,
    contacts.contact_status as status,
    contacts.country_code as country,
    contacts.city,
    contacts.region,
    cast(staged.orders_count as integer) as orders_count,
    cast(staged.gross_revenue as numeric(18, 4)) as gross_revenue,
    cast(staged.net_revenue as numeric(18, 4)) as net_revenue,
    cast(staged.average_order_value as numeric(18, 4)) as average_order_value,
    staged.first_order_at,
    staged.last_order_at,
    staged.rfm_segment,
    staged.last_engaged_at,
{%- if use_predictions %}
    cast(predictions.predicted_clv_12m as numeric(18, 4)) as predicted_clv_12m,
    cast(predictions.probability_alive as double precision) as probability_alive,
    cast(predictions.expected_purchases_365d as double precision) as expected_purchases_365d
{%- else %}
    cast(null as numeric(18, 4)) as predicted_clv_12m,
    cast(null as double precision) as probability_alive,
    cast(null as double precision) as expected_purchases_365d
{%- endif %}
from contacts
inner join staged
    on contacts.contact_id = staged.contact_id
-- Contact types are tenant-scoped: never join a type from another organization.
left join contact_types
    on contacts.contact_type_id = contact_types.contact_type_id
    and contacts.organization_id = contact_types.organization_id
{%- if use_predictions %}
left join predictions
    on contacts.organization_id = predictions.organization_id
    and contacts.contact_id = predictions.contact_id
{%- endif %}
