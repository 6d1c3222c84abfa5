-- One row per invoice line: the subscription fee of every period, a proration line when the
-- prorated fee differs from the full fee, and an overage line per channel with overage. Amounts
-- are whole cents (rounded half-even per line); draft while the period is open or in grace.
-- Derived from fct_billing_periods and fct_usage_vs_plan alone, so closed periods never change.
with periods as (
    select * from {{ ref('fct_billing_periods') }}
),

usage as (
    select * from {{ ref('fct_usage_vs_plan') }}
),

lines as (
    select
        organization_id, period_start, period_end, period_label, is_closed, currency,
        'subscription_fee' as line_type,
        'subscription' as metric,
        1 as quantity,
        subscription_fee_amount as unit_price,
        subscription_fee_amount as amount
    from periods

    union all

    select
        organization_id, period_start, period_end, period_label, is_closed, currency,
        case when prorated_fee_amount > subscription_fee_amount then 'proration_charge' else 'proration_credit' end as line_type,
        'subscription' as metric,
        1 as quantity,
        prorated_fee_amount - subscription_fee_amount as unit_price,
        prorated_fee_amount - subscription_fee_amount as amount
    from periods
    where prorated_fee_amount <> subscription_fee_amount

    union all

    select
        organization_id, period_start, period_end, period_label, is_closed, currency,
        metric || '_overage' as line_type,
        metric,
        overage_units as quantity,
        unit_price,
        overage_amount as amount
    from usage
    where unit_price is not null
        and overage_units > 0
)

select
    cast(cast(organization_id as varchar) || '-' || period_label || '-' || line_type as varchar) as invoice_line_id,
    cast(organization_id as bigint) as organization_id,
    cast(period_start as timestamp with time zone) as period_start,
    cast(period_end as timestamp with time zone) as period_end,
    cast(period_label as varchar) as period_label,
    cast(line_type as varchar) as line_type,
    cast(metric as varchar) as metric,
    cast(quantity as bigint) as quantity,
    cast(unit_price as numeric(18, 4)) as unit_price,
    cast(amount as numeric(18, 4)) as amount,
    cast(currency as varchar) as currency,
    cast(case when is_closed then 'closed' else 'draft' end as varchar) as status
from lines
