-- One row per purchase credited to a campaign send by last touch. A touch is a human event of
-- the kinds var('attribution_touches') lists for the send's channel (default: email open or
-- click, SMS click; machine opens and bot clicks never count). An order is credited to the
-- contact's latest touch at or before the order time whose window still covers the order:
-- touched_at <= ordered_at <= touched_at + window days, both ends inclusive. On a tie the click
-- wins over the open. Revenue is the order's net amount in the tenant's currency, so a refund
-- restated after the order was attributed lowers it; a fully refunded or cancelled order is not
-- a purchase and is not credited.
{%- set touches = var('attribution_touches', {'email': ['opened', 'clicked'], 'sms': ['clicked']}) %}
{%- set windows = var('attribution_window_days', {'email': 5, 'sms': 5}) %}

with events as (
    select * from {{ ref('int_campaign_events_deduplicated') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
    where is_purchase and contact_id is not null
),

touches as (
    select
        organization_id,
        contact_id,
        campaign_id,
        variant_name,
        send_id,
        channel,
        event_type as touch_event_type,
        occurred_at as touched_at,
        case
            {%- for channel, days in windows.items() %}
            when channel = '{{ channel }}' then {{ days | int }}
            {%- endfor %}
        end as attribution_window_days,
        -- the window's end, once per touch (not once per touch and order pair in the join below), as
        -- an instant for the comparison there (macro instant_plus_days: no per-row ICU on DuckDB)
        case
            {%- for channel, days in windows.items() %}
            when channel = '{{ channel }}' then {{ instant_plus_days('occurred_at', days | int) }}
            {%- endfor %}
        end as window_ends_at
    from events
    where not is_machine_open
        and not is_bot_click
        and contact_id is not null
        and (
            {%- for channel, kinds in touches.items() %}
            (channel = '{{ channel }}' and event_type in ('{{ kinds | join("', '") }}'))
            {{- ' or' if not loop.last }}
            {%- endfor %}
        )
),

{%- if narrows_range_joins() %}

-- The UTC days on which an order can be credited to some touch: each touch's day through the last
-- day of its window (ordered_at <= touched_at + n days puts the order's UTC day at most n days after
-- the touch's). Orders on other days match no touch, so the join below only pairs the orders of
-- these days (~10% of two years of orders at the bench scale) with their contacts' touches, instead
-- of every order with every touch of its contact (the join was ~half of this model's CPU: 3.5 of
-- 8 CPU s; the model 2.5-3.2 -> 2.0-2.2 CPU s alone). DuckDB only: see macro narrows_range_joins.
touch_days as (
    select distinct touched.organization_id, touched.touch_date + covered.day_offset as order_date
    from (
        select distinct organization_id, attribution_window_days, {{ utc_date('touched_at') }} as touch_date
        from touches
    ) as touched
    inner join (
        {%- for offset in range((windows.values() | map("int") | max) + 1) %}
        select {{ offset }} as day_offset{{ ' union all' if not loop.last }}
        {%- endfor %}
    ) as covered
        on covered.day_offset <= touched.attribution_window_days
),

reachable_orders as (
    select orders.*
    from orders
    inner join touch_days
        on orders.organization_id = touch_days.organization_id
        and {{ utc_date('orders.ordered_at') }} = touch_days.order_date
),
{%- endif %}

candidates as (
    select
        orders.order_id,
        orders.organization_id,
        orders.contact_id,
        orders.ordered_at,
        orders.tenant_currency_code,
        orders.gross_amount_tenant,
        orders.refunded_amount_tenant,
        orders.net_amount_tenant,
        touches.campaign_id,
        touches.variant_name,
        touches.send_id,
        touches.channel,
        touches.touch_event_type,
        touches.touched_at,
        touches.attribution_window_days,
        row_number() over (
            partition by orders.order_id
            order by touches.touched_at desc,
                case when touches.touch_event_type = 'clicked' then 0 else 1 end,
                touches.send_id
        ) as touch_rank
    from {{ 'reachable_orders' if narrows_range_joins() else 'orders' }} as orders
    inner join touches
        on orders.organization_id = touches.organization_id
        and orders.contact_id = touches.contact_id
        and touches.touched_at <= orders.ordered_at
        and {{ instant('orders.ordered_at') }} <= touches.window_ends_at
)

select
    order_id,
    organization_id,
    contact_id,
    campaign_id,
    variant_name,
    send_id,
    channel,
    touch_event_type,
    touched_at,
    attribution_window_days,
    ordered_at,
    tenant_currency_code,
    gross_amount_tenant,
    refunded_amount_tenant,
    net_amount_tenant as attributed_revenue
from candidates
where touch_rank = 1
