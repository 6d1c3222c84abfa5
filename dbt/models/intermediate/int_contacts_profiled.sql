-- One row per contact: every column of marts.dim_contacts but the two that new events change
-- (lifecycle_stage, last_engaged_at), plus what dim_contacts needs to decide them (purchase_stage,
-- file_last_engaged_at). A table, upstream of no raw.events, so the build after new events leaves
-- it alone and dim_contacts (a view on DuckDB) only joins int_contacts_engaged to it (docs/warehouse.md,
-- eighth pass). Predictions come from stg_predictions__customer_predictions (the CLV asset,
-- orchestration/clv.py, writes them between the summary and this model); before its first run, or
-- with var('clv_predictions_enabled') false, the prediction columns are null.
{%- set use_predictions = var('clv_predictions_enabled', true) %}

with contacts as (
    select * from {{ ref('stg_beacon__contacts') }}
),

organizations as (
    select * from {{ ref('stg_beacon__organizations') }}
),

contact_types as (
    select * from {{ ref('stg_beacon__contact_types') }}
),

-- Value to date and the purchase part of the lifecycle stage: what segments filter on.
staged as (
    select * from {{ ref('int_contacts_staged') }}
){% if use_predictions %},

predictions as (
    select * from {{ ref('stg_predictions__customer_predictions') }}
){% endif %}

select
    contacts.contact_id,
    contacts.organization_id,
    organizations.organization_name,
    organizations.organization_slug,
    contacts.contact_type_id,
    contact_types.contact_type_code,
    contact_types.contact_type_name,
    contacts.external_id,
    contacts.email,
    contacts.email_normalized,
    contacts.phone,
    contacts.first_name,
    contacts.last_name,
    contacts.city,
    contacts.region,
    contacts.country_code,
    contacts.timezone,
    contacts.language_code,
    contacts.contact_status,
    contacts.contact_status = 'active' as is_active,
    contacts.is_erased,
    contacts.has_email_consent,
    contacts.has_sms_consent,
    contacts.has_transactional_consent,
    contacts.has_promotional_consent,
    contacts.has_newsletter_consent,
    -- Marketing email may go out only to an active, unerased contact with an address and consent.
    (
        contacts.contact_status = 'active'
        and not contacts.is_erased
        and contacts.email_normalized is not null
        and contacts.has_email_consent
    ) as is_email_marketable,
    (
        contacts.contact_status = 'active'
        and not contacts.is_erased
        and contacts.phone is not null
        and contacts.has_sms_consent
    ) as is_sms_marketable,
    contacts.signup_source,
    contacts.created_at,
    contacts.updated_at,
    staged.purchase_stage,
    cast(staged.orders_count as integer) as orders_count,
    cast(staged.gross_revenue as numeric(18, 4)) as gross_revenue,
    cast(staged.net_revenue as numeric(18, 4)) as net_revenue,
    cast(staged.average_order_value as numeric(18, 4)) as average_order_value,
    staged.first_order_at,
    staged.last_order_at,
    staged.rfm_segment,
    staged.file_last_engaged_at,
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
inner join organizations
    on contacts.organization_id = organizations.organization_id
-- Contact types are tenant-scoped: never join a type from another organization.
left join contact_types
    on contacts.contact_type_id = contact_types.contact_type_id
    and contacts.organization_id = contact_types.organization_id
left join staged
    on contacts.contact_id = staged.contact_id
{%- if use_predictions %}
left join predictions
    on contacts.organization_id = predictions.organization_id
    and contacts.contact_id = predictions.contact_id
{%- endif %}
