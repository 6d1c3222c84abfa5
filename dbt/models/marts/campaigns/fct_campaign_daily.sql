-- One row per organization, campaign, variant and UTC day on which something happened to the
-- campaign's sends. Each send counts once per measure, on the day that outcome first happened
-- (targeted/suppressed/held out: the day the ledger row was written; sent: the send time;
-- delivered, opened ...: the first such event), so summing a measure over the days gives the
-- campaign's unique count. The *_to_date rates are cumulative: measure so far / delivered so far.
{%- set reasons = ['suppressed', 'suppressed_mid_run', 'inactive', 'erased', 'no_consent', 'no_address',
                   'duplicate_address', 'frequency_cap'] %}
{%- set measures = [
    ('targeted', 'targeted_at', "1 = 1"),
    ('suppressed', 'targeted_at', "send_status = 'suppressed'"),
    ('held_out', 'targeted_at', "send_status = 'held_out'"),
    ('sent', 'sent_at', "1 = 1"),
    ('delivered', 'delivered_at', "1 = 1"),
    ('bounced_hard', 'bounced_at', "bounce_type = 'hard'"),
    ('bounced_soft', 'bounced_at', "bounce_type = 'soft'"),
    ('opened_unique', 'opened_at', "1 = 1"),
    ('machine_opened', 'machine_opened_at', "1 = 1"),
    ('clicked_unique', 'clicked_at', "1 = 1"),
    ('bot_clicked', 'bot_clicked_at', "1 = 1"),
    ('unsubscribed', 'unsubscribed_at', "1 = 1"),
    ('complained', 'complained_at', "1 = 1"),
    ('failed', 'failed_at', "1 = 1"),
] %}
{%- for reason in reasons %}
{%- do measures.append(('suppressed_' ~ reason if reason != 'suppressed' else 'suppressed_on_list',
                        'targeted_at', "suppression_reason = '" ~ reason ~ "'")) %}
{%- endfor %}
{%- do measures.append(('suppressed_other', 'targeted_at',
    "send_status = 'suppressed' and suppression_reason not in ('" ~ reasons | join("', '") ~ "')")) %}

with sends as (
    select * from {{ ref('int_campaign_sends_summarized') }}
),

milestones as (
    -- One scan of the sends: each send fans out to one row per measure, dated when it happened.
    select
        sends.organization_id,
        sends.campaign_id,
        sends.variant_name,
        measures.measure,
        cast(case measures.measure
            {%- for name, at, condition in measures %}
            when '{{ name }}' then case when {{ condition }} then {{ at }} end
            {%- endfor %}
        end at time zone 'UTC' as date) as activity_date
    from sends
    cross join (values
        {%- for name, at, condition in measures %}
        ('{{ name }}'){{ ',' if not loop.last }}
        {%- endfor %}
    ) as measures (measure)
),

daily as (
    select
        organization_id,
        campaign_id,
        variant_name,
        activity_date,
        {%- for name, at, condition in measures %}
        cast(sum(case when measure = '{{ name }}' then 1 else 0 end) as bigint) as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from milestones
    where activity_date is not null
    group by organization_id, campaign_id, variant_name, activity_date
),

cumulative as (
    select
        daily.*,
        {%- for name in ['delivered', 'opened_unique', 'clicked_unique'] %}
        cast(sum({{ name }}) over (
            partition by organization_id, campaign_id, variant_name
            order by activity_date rows between unbounded preceding and current row
        ) as bigint) as {{ name }}_to_date{{ ',' if not loop.last }}
        {%- endfor %}
    from daily
)

select
    cast(organization_id as varchar) || ':' || cast(campaign_id as varchar) || ':' || variant_name || ':'
        || cast(activity_date as varchar) as campaign_day_id,
    organization_id,
    campaign_id,
    variant_name,
    activity_date,
    {%- for name, at, condition in measures %}
    {{ name }},
    {%- endfor %}
    delivered_to_date,
    opened_unique_to_date,
    clicked_unique_to_date,
    cast(opened_unique_to_date as double precision) / nullif(delivered_to_date, 0) as open_rate_to_date,
    cast(clicked_unique_to_date as double precision) / nullif(delivered_to_date, 0) as click_rate_to_date
from cumulative
