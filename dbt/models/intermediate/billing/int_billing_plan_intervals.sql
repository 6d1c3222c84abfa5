-- One row per stretch of time a subscription spent on one plan and billing cycle. A subscription
-- covers [created_at, end), end = coalesce(cancel_at, updated_at) once cancelled, else open; each
-- recorded change (subscription_changes) starts a new interval at its effective_at. Times are
-- truncated to the second, the unit proration works in.
with subscriptions as (
    select
        subscription_id,
        organization_id,
        plan_id,
        billing_cycle,
        date_trunc('second', created_at) as started_at,
        case
            when subscription_status = 'cancelled'
                then date_trunc('second', coalesce(cancel_at, updated_at))
        end as ended_at
    from {{ ref('stg_beacon__subscriptions') }}
),

changes as (
    select
        changes.subscription_id,
        changes.organization_id,
        changes.from_plan_id,
        changes.to_plan_id,
        changes.from_billing_cycle,
        changes.to_billing_cycle,
        date_trunc('second', changes.effective_at) as effective_at,
        row_number() over (
            partition by changes.subscription_id
            order by changes.effective_at, changes.subscription_change_id
        ) as change_number
    from {{ ref('stg_beacon__subscription_changes') }} as changes
    inner join subscriptions
        on changes.subscription_id = subscriptions.subscription_id
        and changes.organization_id = subscriptions.organization_id
),

interval_starts as (
    -- Before the first change the subscription was on that change's from-plan (else its current plan).
    select
        subscriptions.subscription_id,
        subscriptions.organization_id,
        0 as interval_number,
        subscriptions.started_at as valid_from,
        coalesce(first_change.from_plan_id, subscriptions.plan_id) as plan_id,
        coalesce(first_change.from_billing_cycle, subscriptions.billing_cycle) as billing_cycle
    from subscriptions
    left join changes as first_change
        on subscriptions.subscription_id = first_change.subscription_id
        and first_change.change_number = 1

    union all

    select
        changes.subscription_id,
        changes.organization_id,
        changes.change_number as interval_number,
        case when changes.effective_at < subscriptions.started_at then subscriptions.started_at else changes.effective_at end as valid_from,
        changes.to_plan_id as plan_id,
        changes.to_billing_cycle as billing_cycle
    from changes
    inner join subscriptions
        on changes.subscription_id = subscriptions.subscription_id
),

intervals as (
    select
        interval_starts.*,
        lead(interval_starts.valid_from) over (
            partition by interval_starts.subscription_id order by interval_starts.interval_number
        ) as next_valid_from,
        subscriptions.ended_at
    from interval_starts
    inner join subscriptions
        on interval_starts.subscription_id = subscriptions.subscription_id
),

bounded as (
    select
        *,
        case
            when next_valid_from is null then ended_at
            when ended_at is not null and ended_at < next_valid_from then ended_at
            else next_valid_from
        end as valid_to
    from intervals
),

plans as (
    select * from {{ ref('stg_beacon__plans') }}
)

select
    cast(bounded.subscription_id as varchar) || '-' || cast(bounded.interval_number as varchar) as plan_interval_id,
    bounded.organization_id,
    bounded.subscription_id,
    bounded.interval_number,
    bounded.valid_from,
    bounded.valid_to,
    bounded.plan_id,
    plans.plan_code,
    bounded.billing_cycle,
    plans.currency_code,
    plans.email_limit,
    plans.sms_limit,
    plans.whatsapp_limit,
    plans.campaign_limit,
    plans.contact_limit,
    plans.email_overage_price,
    plans.sms_overage_price,
    plans.whatsapp_overage_price,
    -- Twelve monthly fees in ten-thousandths: monthly price x 12, or the yearly price as is, so
    -- the yearly fee accrues as 1/12 a month without a fractional division here.
    case
        when bounded.billing_cycle = 'yearly' then {{ billing_ten_thousandths('plans.yearly_price') }}
        else 12 * {{ billing_ten_thousandths('plans.monthly_price') }}
    end as annual_fee_ten_thousandths
from bounded
inner join plans
    on bounded.plan_id = plans.plan_id
where bounded.valid_to is null
    or bounded.valid_to > bounded.valid_from
