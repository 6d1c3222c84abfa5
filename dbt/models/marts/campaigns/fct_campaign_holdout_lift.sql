-- One row per campaign with a holdout: the contacts sent the message (treated) against the
-- contacts held out of it, on what they bought afterwards. A recipient converts if it made a
-- purchase in [reference time, reference time + window days] (both ends inclusive), where the
-- reference time is the send time for a treated contact and the campaign's start for a held-out
-- one, and the window is the campaign channel's var('attribution_window_days'). This is intent
-- to treat: a treated contact's purchase counts whether or not it opened the message.
-- Lift = treated - holdout, with a 95% confidence interval (z = 1.96):
--   conversion rate: normal approximation for a difference of proportions,
--     SE = sqrt(p_t (1 - p_t) / n_t + p_h (1 - p_h) / n_h);
--   revenue per recipient: Welch's SE = sqrt(s_t^2 / n_t + s_h^2 / n_h), each sample variance
--     from the sum and the sum of squares: s^2 = (sum(y^2) - sum(y)^2 / n) / (n - 1).
-- Intervals are null when a group has fewer than 2 recipients.
{%- set windows = var('attribution_window_days', {'email': 5, 'sms': 5}) %}
{%- set z = 1.96 %}

with sends as (
    select * from {{ ref('int_campaign_sends_summarized') }}
    where send_status in ('sent', 'held_out')
),

campaigns as (
    select * from {{ ref('stg_beacon__campaigns') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
    where is_purchase and contact_id is not null
),

campaign_reference as (
    select
        campaigns.campaign_id,
        campaigns.organization_id,
        campaigns.channel,
        coalesce(campaigns.started_at, campaigns.scheduled_at, min(sends.sent_at), min(sends.targeted_at))
            as campaign_sent_at,
        case
            {%- for channel, days in windows.items() %}
            when campaigns.channel = '{{ channel }}' then {{ days | int }}
            {%- endfor %}
        end as conversion_window_days
    from campaigns
    inner join sends
        on campaigns.organization_id = sends.organization_id
        and campaigns.campaign_id = sends.campaign_id
    group by campaigns.campaign_id, campaigns.organization_id, campaigns.channel,
        campaigns.started_at, campaigns.scheduled_at
    having sum(case when sends.send_status = 'held_out' then 1 else 0 end) > 0
),

recipients as (
    -- One row per contact and campaign; a contact both sent and held out (e.g. two steps) is treated.
    select
        sends.organization_id,
        sends.campaign_id,
        sends.contact_id,
        max(case when sends.send_status = 'sent' then 1 else 0 end) as is_treated,
        coalesce(min(sends.sent_at), min(campaign_reference.campaign_sent_at)) as reference_at,
        min(campaign_reference.conversion_window_days) as conversion_window_days
    from sends
    inner join campaign_reference
        on sends.organization_id = campaign_reference.organization_id
        and sends.campaign_id = campaign_reference.campaign_id
    group by sends.organization_id, sends.campaign_id, sends.contact_id
),

recipient_outcomes as (
    select
        recipients.organization_id,
        recipients.campaign_id,
        recipients.contact_id,
        recipients.is_treated,
        case when count(orders.order_id) > 0 then 1 else 0 end as has_converted,
        cast(coalesce(sum(orders.net_amount_tenant), 0) as double precision) as revenue
    from recipients
    left join orders
        on recipients.organization_id = orders.organization_id
        and recipients.contact_id = orders.contact_id
        and orders.ordered_at >= recipients.reference_at
        and orders.ordered_at <= {{ dbt.dateadd('day', 'recipients.conversion_window_days', 'recipients.reference_at') }}
    group by recipients.organization_id, recipients.campaign_id, recipients.contact_id, recipients.is_treated
),

groups as (
    select
        organization_id,
        campaign_id,
        {%- for group, flag in [('treated', 1), ('holdout', 0)] %}
        sum(case when is_treated = {{ flag }} then 1 else 0 end) as {{ group }}_n,
        sum(case when is_treated = {{ flag }} then has_converted else 0 end) as {{ group }}_conversions,
        sum(case when is_treated = {{ flag }} then revenue else 0 end) as {{ group }}_revenue,
        sum(case when is_treated = {{ flag }} then revenue * revenue else 0 end) as {{ group }}_revenue_squares
        {{- ',' if not loop.last }}
        {%- endfor %}
    from recipient_outcomes
    group by organization_id, campaign_id
),

rates as (
    select
        groups.*,
        {%- for group in ['treated', 'holdout'] %}
        cast({{ group }}_conversions as double precision) / nullif({{ group }}_n, 0) as {{ group }}_rate,
        {{ group }}_revenue / nullif({{ group }}_n, 0) as {{ group }}_rpr,
        case when {{ group }}_n > 1 then
            -- greatest(0, ...): rounding can push a zero variance a hair below 0
            greatest(0, ({{ group }}_revenue_squares - {{ group }}_revenue * {{ group }}_revenue / {{ group }}_n)
                / ({{ group }}_n - 1))
        end as {{ group }}_revenue_variance{{ ',' if not loop.last }}
        {%- endfor %}
    from groups
),

errors as (
    select
        rates.*,
        case when treated_n > 1 and holdout_n > 1 then
            sqrt(treated_rate * (1 - treated_rate) / treated_n + holdout_rate * (1 - holdout_rate) / holdout_n)
        end as conversion_rate_lift_se,
        sqrt(treated_revenue_variance / treated_n + holdout_revenue_variance / holdout_n)
            as revenue_per_recipient_lift_se
    from rates
)

select
    errors.campaign_id,
    errors.organization_id,
    campaign_reference.channel,
    campaign_reference.campaign_sent_at,
    campaign_reference.conversion_window_days,
    cast(errors.treated_n as bigint) as treated_recipients,
    cast(errors.holdout_n as bigint) as holdout_recipients,
    cast(errors.treated_conversions as bigint) as treated_conversions,
    cast(errors.holdout_conversions as bigint) as holdout_conversions,
    errors.treated_rate as treated_conversion_rate,
    errors.holdout_rate as holdout_conversion_rate,
    errors.treated_rate - errors.holdout_rate as conversion_rate_lift,
    errors.treated_rate - errors.holdout_rate - {{ z }} * errors.conversion_rate_lift_se as conversion_rate_lift_ci_lower,
    errors.treated_rate - errors.holdout_rate + {{ z }} * errors.conversion_rate_lift_se as conversion_rate_lift_ci_upper,
    errors.treated_revenue,
    errors.holdout_revenue,
    errors.treated_rpr as treated_revenue_per_recipient,
    errors.holdout_rpr as holdout_revenue_per_recipient,
    errors.treated_rpr - errors.holdout_rpr as revenue_per_recipient_lift,
    errors.treated_rpr - errors.holdout_rpr - {{ z }} * errors.revenue_per_recipient_lift_se
        as revenue_per_recipient_lift_ci_lower,
    errors.treated_rpr - errors.holdout_rpr + {{ z }} * errors.revenue_per_recipient_lift_se
        as revenue_per_recipient_lift_ci_upper
from errors
inner join campaign_reference
    on errors.organization_id = campaign_reference.organization_id
    and errors.campaign_id = campaign_reference.campaign_id
