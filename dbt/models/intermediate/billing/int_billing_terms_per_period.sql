-- One row per billing period with the plan terms that apply to it. Every plan interval counts for
-- the share of the period it covers, to the second: allowances and the fee are prorated by it
-- (integer arithmetic, rounded half-even once: allowances to whole units, the fee to cents).
-- Overage is priced at the plan active at the end of the period (or now, for the open period).
with periods as (
    select * from {{ ref('int_billing_periods_spined') }}
),

intervals as (
    select * from {{ ref('int_billing_plan_intervals') }}
),

interval_overlaps as (
    select
        periods.billing_period_id,
        periods.period_seconds,
        intervals.*,
        case when intervals.valid_from > periods.period_start then intervals.valid_from else periods.period_start end as covered_from,
        case
            when intervals.valid_to is null or intervals.valid_to > periods.period_end then periods.period_end
            else intervals.valid_to
        end as covered_to
    from periods
    inner join intervals
        on periods.organization_id = intervals.organization_id
        and intervals.valid_from < periods.period_end
        and (intervals.valid_to is null or intervals.valid_to > periods.period_start)
),

weighted as (
    select
        *,
        {{ billing_seconds_between('covered_from', 'covered_to') }} as covered_seconds,
        row_number() over (partition by billing_period_id order by covered_from, subscription_id, interval_number) as nth_from_start,
        row_number() over (partition by billing_period_id order by covered_from desc, subscription_id desc, interval_number desc) as nth_from_end
    from interval_overlaps
),

summed as (
    select
        billing_period_id,
        max(period_seconds) as period_seconds,
        count(*) as plan_intervals_count,
        sum(covered_seconds) as covered_seconds,
        sum(email_limit * covered_seconds) as email_limit_seconds,
        sum(sms_limit * covered_seconds) as sms_limit_seconds,
        sum(whatsapp_limit * covered_seconds) as whatsapp_limit_seconds,
        sum(campaign_limit * covered_seconds) as campaign_limit_seconds,
        sum(annual_fee_ten_thousandths * covered_seconds) as annual_fee_seconds,
        max(case when nth_from_start = 1 then plan_code end) as first_plan_code,
        max(case when nth_from_start = 1 then annual_fee_ten_thousandths end) as first_annual_fee_ten_thousandths,
        max(case when nth_from_end = 1 then subscription_id end) as subscription_id,
        max(case when nth_from_end = 1 then plan_code end) as plan_code,
        max(case when nth_from_end = 1 then billing_cycle end) as billing_cycle,
        max(case when nth_from_end = 1 then currency_code end) as currency_code,
        max(case when nth_from_end = 1 then contact_limit end) as contact_limit,
        max(case when nth_from_end = 1 then email_overage_price end) as email_unit_price,
        max(case when nth_from_end = 1 then sms_overage_price end) as sms_unit_price,
        max(case when nth_from_end = 1 then whatsapp_overage_price end) as whatsapp_unit_price
    from weighted
    group by billing_period_id
)

select
    billing_period_id,
    subscription_id,
    plan_code,
    billing_cycle,
    currency_code,
    first_plan_code,
    plan_intervals_count,
    covered_seconds,
    {{ billing_half_even_div('email_limit_seconds', 'period_seconds') }} as included_emails,
    {{ billing_half_even_div('sms_limit_seconds', 'period_seconds') }} as included_sms,
    {{ billing_half_even_div('whatsapp_limit_seconds', 'period_seconds') }} as included_whatsapp,
    {{ billing_half_even_div('campaign_limit_seconds', 'period_seconds') }} as included_campaigns,
    contact_limit,
    email_unit_price,
    sms_unit_price,
    whatsapp_unit_price,
    -- Twelve-month fees in ten-thousandths -> one month's fee in cents: divide by 12 x 100.
    {{ billing_half_even_div('first_annual_fee_ten_thousandths', 1200) }} as subscription_fee_cents,
    {{ billing_half_even_div('annual_fee_seconds', 'period_seconds * 1200') }} as prorated_fee_cents
from summed
