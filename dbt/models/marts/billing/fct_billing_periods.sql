{{
    config(
        materialized='incremental',
        unique_key='billing_period_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        full_refresh=false
    )
}}
-- One row per organization and billing period (local calendar month) with the usage and the
-- prorated plan terms of the period. Closed periods are final: an incremental build rewrites only
-- periods not yet stored as closed, and full_refresh=false keeps `--full-refresh` from rebuilding
-- them. The other billing marts derive from this table alone, so they inherit that guarantee.
with periods as (
    select * from {{ ref('int_billing_periods_spined') }}
),

terms as (
    select * from {{ ref('int_billing_terms_per_period') }}
),

usage as (
    select * from {{ ref('int_billing_usage_per_period') }}
),

assembled as (
    select
        periods.billing_period_id,
        periods.organization_id,
        terms.subscription_id,
        terms.plan_code,
        terms.billing_cycle,
        terms.currency_code as currency,
        periods.tenant_timezone,
        periods.period_start,
        periods.period_end,
        periods.period_label,
        -- In hours: PostgreSQL adds days to a timestamptz in the session's time zone (23 or 25 h across DST).
        {{ dbt.dateadd('hour', var('billing_grace_days', 3) ~ ' * 24', 'periods.period_end') }} as closes_at,
        usage.emails_billable,
        usage.sms_billable,
        usage.whatsapp_billable,
        usage.campaigns_count,
        usage.contacts_peak,
        usage.contacts_avg,
        terms.covered_seconds,
        periods.period_seconds,
        terms.plan_intervals_count,
        terms.first_plan_code,
        terms.included_emails,
        terms.included_sms,
        terms.included_whatsapp,
        terms.included_campaigns,
        terms.contact_limit,
        terms.email_unit_price,
        terms.sms_unit_price,
        terms.whatsapp_unit_price,
        {{ billing_cents_to_amount('terms.subscription_fee_cents') }} as subscription_fee_amount,
        {{ billing_cents_to_amount('terms.prorated_fee_cents') }} as prorated_fee_amount
    from periods
    inner join terms
        on periods.billing_period_id = terms.billing_period_id
    inner join usage
        on periods.billing_period_id = usage.billing_period_id
    where terms.covered_seconds > 0
)

select
    cast(billing_period_id as varchar) as billing_period_id,
    cast(organization_id as bigint) as organization_id,
    cast(subscription_id as bigint) as subscription_id,
    cast(plan_code as varchar) as plan_code,
    cast(billing_cycle as varchar) as billing_cycle,
    cast(currency as varchar) as currency,
    cast(tenant_timezone as varchar) as tenant_timezone,
    cast(period_start as timestamp with time zone) as period_start,
    cast(period_end as timestamp with time zone) as period_end,
    cast(period_label as varchar) as period_label,
    cast(closes_at as timestamp with time zone) as closes_at,
    closes_at <= {{ billing_as_of() }} as is_closed,
    cast(emails_billable as bigint) as emails_billable,
    cast(sms_billable as bigint) as sms_billable,
    cast(whatsapp_billable as bigint) as whatsapp_billable,
    cast(campaigns_count as bigint) as campaigns_count,
    cast(contacts_peak as bigint) as contacts_peak,
    cast(contacts_avg as numeric(18, 2)) as contacts_avg,
    cast(covered_seconds as bigint) as covered_seconds,
    cast(period_seconds as bigint) as period_seconds,
    cast(plan_intervals_count as integer) as plan_intervals_count,
    cast(first_plan_code as varchar) as first_plan_code,
    cast(included_emails as bigint) as included_emails,
    cast(included_sms as bigint) as included_sms,
    cast(included_whatsapp as bigint) as included_whatsapp,
    cast(included_campaigns as bigint) as included_campaigns,
    cast(contact_limit as bigint) as contact_limit,
    cast(email_unit_price as numeric(18, 4)) as email_unit_price,
    cast(sms_unit_price as numeric(18, 4)) as sms_unit_price,
    cast(whatsapp_unit_price as numeric(18, 4)) as whatsapp_unit_price,
    cast(subscription_fee_amount as numeric(18, 4)) as subscription_fee_amount,
    cast(prorated_fee_amount as numeric(18, 4)) as prorated_fee_amount,
    cast({{ billing_as_of() }} as timestamp with time zone) as computed_at
from assembled
{% if is_incremental() %}
where not exists (
    select 1
    from {{ this }} as stored
    where stored.billing_period_id = assembled.billing_period_id
        and stored.is_closed
)
{% endif %}
