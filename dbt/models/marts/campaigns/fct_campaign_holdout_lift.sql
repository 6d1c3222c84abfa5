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

{#- Recipients come from the send ledger, not from int_campaign_sends_summarized: who was sent or held
    out, and when, is the ledger's (activation stamps sent_at with the status), so delivery events
    change nothing here and the build after new events does not rebuild this model (it rescanned all
    8.4M sends: 2.5 of ~19 node s on DuckDB, 21-29 of ~190 s on PostgreSQL at the bench scale). The
    ledger is named twice, each time narrowly, rather than once as a CTE read twice: a CTE read twice
    is materialised in full (DuckDB, PostgreSQL). #}
{%- set sends = ref('stg_beacon__sends') %}
{%- set sent_at = "case when send_status = 'sent' then sent_at end" %}

with campaigns as (
    select * from {{ ref('stg_beacon__campaigns') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
    where is_purchase and contact_id is not null
),

campaign_sends as (
    select
        organization_id,
        campaign_id,
        min({{ sent_at }}) as first_sent_at,
        max({{ sent_at }}) as last_sent_at,
        min(created_at) as first_targeted_at,
        sum(case when send_status = 'held_out' then 1 else 0 end) as held_out_sends
    from {{ sends }}
    where send_status in ('sent', 'held_out')
    group by organization_id, campaign_id
),

campaign_reference as (
    select
        campaigns.campaign_id,
        campaigns.organization_id,
        campaigns.channel,
        coalesce(campaigns.started_at, campaigns.scheduled_at, campaign_sends.first_sent_at,
                 campaign_sends.first_targeted_at) as campaign_sent_at,
        case
            {%- for channel, days in windows.items() %}
            when campaigns.channel = '{{ channel }}' then {{ days | int }}
            {%- endfor %}
        end as conversion_window_days,
        campaign_sends.first_sent_at,
        campaign_sends.last_sent_at
    from campaigns
    inner join campaign_sends
        on campaigns.organization_id = campaign_sends.organization_id
        and campaigns.campaign_id = campaign_sends.campaign_id
    where campaign_sends.held_out_sends > 0
),

recipients as (
    -- One row per contact and campaign; a contact both sent and held out (e.g. two steps) is treated.
    select
        sends.organization_id,
        sends.campaign_id,
        sends.contact_id,
        max(case when sends.send_status = 'sent' then 1 else 0 end) as is_treated,
        coalesce(min({{ sent_at }}), min(campaign_reference.campaign_sent_at)) as reference_at,
        -- the window's end, once per recipient (not once per recipient and order pair below), as an
        -- instant for the comparison there (macro instant_plus_days: no per-row ICU on DuckDB)
        {{ instant_plus_days('coalesce(min(' ~ sent_at ~ '), min(campaign_reference.campaign_sent_at))',
                             'min(campaign_reference.conversion_window_days)') }} as window_ends_at
    from {{ sends }} as sends
    inner join campaign_reference
        on sends.organization_id = campaign_reference.organization_id
        and sends.campaign_id = campaign_reference.campaign_id
    where sends.send_status in ('sent', 'held_out')
    group by sends.organization_id, sends.campaign_id, sends.contact_id
),

campaign_windows as (
    -- Per campaign, a span that holds every recipient's conversion window (each reference time is
    -- the campaign's start or one of its send times): an order outside every span converts nobody,
    -- so the per-recipient join below only sees the orders inside one (a few percent of two years
    -- of orders, instead of every order of every recipient).
    select
        organization_id,
        case when first_sent_at < campaign_sent_at then first_sent_at else campaign_sent_at end as window_start,
        {{ dbt.dateadd('day', 'conversion_window_days',
                       'case when last_sent_at > campaign_sent_at then last_sent_at else campaign_sent_at end') }}
            as window_end
    from campaign_reference
),

window_orders as (
    -- a range join to the few campaign spans, then distinct (an order in overlapping spans): cheaper
    -- on DuckDB than `exists`, which grouped every order by its correlated columns (4.5M at the
    -- bench scale)
    select distinct orders.organization_id, orders.contact_id, orders.order_id, orders.ordered_at, orders.net_amount_tenant
    from orders
    inner join campaign_windows
        on campaign_windows.organization_id = orders.organization_id
        and orders.ordered_at >= campaign_windows.window_start
        and orders.ordered_at <= campaign_windows.window_end
),

-- Outcomes are summed over the converting recipients only (an inner join, then grouped): every other
-- recipient adds 1 to its group's count and 0 to its sums, so it is only counted (recipient_counts).
-- Grouping all recipients (4.2M at the bench scale) after a left join cost ~40% of this model.
recipient_outcomes as (
    select
        recipients.organization_id,
        recipients.campaign_id,
        recipients.is_treated,
        case when count(orders.order_id) > 0 then 1 else 0 end as has_converted,
        cast(coalesce(sum(orders.net_amount_tenant), 0) as double precision) as revenue
    from recipients
    inner join {{ 'window_orders' if narrows_range_joins() else 'orders' }} as orders
        on recipients.organization_id = orders.organization_id
        and recipients.contact_id = orders.contact_id
        and orders.ordered_at >= recipients.reference_at
        and {{ instant('orders.ordered_at') }} <= recipients.window_ends_at
    group by recipients.organization_id, recipients.campaign_id, recipients.contact_id, recipients.is_treated
),

recipient_counts as (
    select
        organization_id,
        campaign_id,
        sum(case when is_treated = 1 then 1 else 0 end) as treated_n,
        sum(case when is_treated = 0 then 1 else 0 end) as holdout_n
    from recipients
    group by organization_id, campaign_id
),

conversions as (
    select
        organization_id,
        campaign_id,
        {%- for group, flag in [('treated', 1), ('holdout', 0)] %}
        sum(case when is_treated = {{ flag }} then has_converted else 0 end) as {{ group }}_conversions,
        sum(case when is_treated = {{ flag }} then revenue else 0 end) as {{ group }}_revenue,
        sum(case when is_treated = {{ flag }} then revenue * revenue else 0 end) as {{ group }}_revenue_squares
        {{- ',' if not loop.last }}
        {%- endfor %}
    from recipient_outcomes
    group by organization_id, campaign_id
),

groups as (
    select
        recipient_counts.organization_id,
        recipient_counts.campaign_id,
        {%- for group in ['treated', 'holdout'] %}
        recipient_counts.{{ group }}_n,
        coalesce(conversions.{{ group }}_conversions, 0) as {{ group }}_conversions,
        coalesce(conversions.{{ group }}_revenue, 0) as {{ group }}_revenue,
        coalesce(conversions.{{ group }}_revenue_squares, 0) as {{ group }}_revenue_squares
        {{- ',' if not loop.last }}
        {%- endfor %}
    from recipient_counts
    left join conversions
        on recipient_counts.organization_id = conversions.organization_id
        and recipient_counts.campaign_id = conversions.campaign_id
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
