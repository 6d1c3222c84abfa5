-- One row per billing period and metric: what was used against what the plan includes, the
-- overage and its price, and the 80% / 100% threshold flags. Derived from fct_billing_periods
-- alone (every term is frozen there), so a closed period never changes here either.
with periods as (
    select * from {{ ref('fct_billing_periods') }}
),

metrics as (
    {%- set metrics = [
        ('email', 'included_emails', 'emails_billable', 'email_unit_price'),
        ('sms', 'included_sms', 'sms_billable', 'sms_unit_price'),
        ('whatsapp', 'included_whatsapp', 'whatsapp_billable', 'whatsapp_unit_price'),
        ('contacts', 'contact_limit', 'contacts_peak', none),
        ('campaigns', 'included_campaigns', 'campaigns_count', none),
    ] %}
    {%- for metric, included, used, price in metrics %}
    select
        organization_id,
        period_start,
        period_end,
        period_label,
        is_closed,
        currency,
        '{{ metric }}' as metric,
        {{ included }} as included,
        {{ used }} as used,
        {{ 'cast(' ~ price ~ ' as numeric(18, 4))' if price else 'cast(null as numeric(18, 4))' }} as unit_price
    from periods
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

measured as (
    select
        *,
        case when used > included then used - included else 0 end as overage_units
    from metrics
)

select
    cast(cast(organization_id as varchar) || '-' || period_label || '-' || metric as varchar) as usage_id,
    cast(organization_id as bigint) as organization_id,
    cast(period_start as timestamp with time zone) as period_start,
    cast(period_end as timestamp with time zone) as period_end,
    cast(period_label as varchar) as period_label,
    is_closed,
    cast(metric as varchar) as metric,
    cast(included as bigint) as included,
    cast(used as bigint) as used,
    cast(overage_units as bigint) as overage_units,
    unit_price,
    case
        when unit_price is null then cast(0 as numeric(18, 4))
        else {{ billing_cents_to_amount(billing_half_even_div('overage_units * ' ~ billing_ten_thousandths('unit_price'), 100)) }}
    end as overage_amount,
    case
        when included > 0
            then cast(cast({{ billing_half_even_div('10000 * used', 'included') }} as numeric(18, 2)) * cast(0.01 as numeric(18, 2)) as numeric(18, 2))
    end as pct_used,
    case when included > 0 then 10 * used >= 8 * included else used > 0 end as is_at_80_pct,
    case when included > 0 then used >= included else used > 0 end as is_at_100_pct,
    cast(currency as varchar) as currency
from measured
