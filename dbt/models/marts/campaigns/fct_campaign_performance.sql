-- One row per organization, campaign and variant: fct_campaign_daily summed over the days, the
-- rates on their documented denominators, and the last-touch attributed conversions.
--   delivery_rate = delivered / sent          bounce_rate = (hard + soft bounces) / sent
--   open_rate = opened_unique / delivered     click_rate = clicked_unique / delivered
--   click_to_open_rate = clicked / opened     unsubscribe_rate, complaint_rate: / delivered
--   revenue_per_recipient = attributed_revenue / sent
-- A rate whose denominator is 0 is null, not 0.
{%- set counts = ['targeted', 'suppressed', 'held_out', 'sent', 'delivered', 'bounced_hard', 'bounced_soft',
                  'opened_unique', 'machine_opened', 'clicked_unique', 'bot_clicked', 'unsubscribed',
                  'complained', 'failed'] %}

with daily as (
    select * from {{ ref('fct_campaign_daily') }}
),

campaigns as (
    select * from {{ ref('stg_beacon__campaigns') }}
),

conversions as (
    select
        organization_id,
        campaign_id,
        variant_name,
        count(*) as conversions,
        sum(attributed_revenue) as attributed_revenue
    from {{ ref('fct_attributed_conversions') }}
    group by organization_id, campaign_id, variant_name
),

totals as (
    select
        organization_id,
        campaign_id,
        variant_name,
        {%- for name in counts %}
        sum({{ name }}) as {{ name }},
        {%- endfor %}
        min(activity_date) as first_activity_date,
        max(activity_date) as last_activity_date
    from daily
    group by organization_id, campaign_id, variant_name
)

select
    cast(totals.organization_id as varchar) || ':' || cast(totals.campaign_id as varchar) || ':'
        || totals.variant_name as campaign_variant_id,
    totals.organization_id,
    totals.campaign_id,
    totals.variant_name,
    campaigns.campaign_name,
    campaigns.channel,
    campaigns.started_at,
    totals.first_activity_date,
    totals.last_activity_date,
    {%- for name in counts %}
    cast(totals.{{ name }} as bigint) as {{ name }},
    {%- endfor %}
    cast(totals.delivered as double precision) / nullif(totals.sent, 0) as delivery_rate,
    cast(totals.bounced_hard + totals.bounced_soft as double precision) / nullif(totals.sent, 0) as bounce_rate,
    cast(totals.opened_unique as double precision) / nullif(totals.delivered, 0) as open_rate,
    cast(totals.clicked_unique as double precision) / nullif(totals.delivered, 0) as click_rate,
    cast(totals.clicked_unique as double precision) / nullif(totals.opened_unique, 0) as click_to_open_rate,
    cast(totals.unsubscribed as double precision) / nullif(totals.delivered, 0) as unsubscribe_rate,
    cast(totals.complained as double precision) / nullif(totals.delivered, 0) as complaint_rate,
    cast(coalesce(conversions.conversions, 0) as bigint) as conversions,
    cast(coalesce(conversions.attributed_revenue, 0) as numeric(18, 4)) as attributed_revenue,
    cast(coalesce(conversions.attributed_revenue, 0) / nullif(totals.sent, 0) as numeric(18, 4)) as revenue_per_recipient
from totals
inner join campaigns
    on totals.organization_id = campaigns.organization_id
    and totals.campaign_id = campaigns.campaign_id
left join conversions
    on totals.organization_id = conversions.organization_id
    and totals.campaign_id = conversions.campaign_id
    and totals.variant_name = conversions.variant_name
