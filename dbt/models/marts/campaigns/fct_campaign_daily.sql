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

{#- Measures grouped by the timestamp that dates them (11 timestamps for 23 measures). #}
{%- set dated_by = {} %}
{%- for name, at, condition in measures %}
{%- if at not in dated_by %}{% do dated_by.update({at: []}) %}{% endif %}
{%- do dated_by[at].append((name, condition)) %}
{%- endfor %}

-- One aggregate of the sends per timestamp: each send counts, for each of the measures that
-- timestamp dates, on the UTC day of that timestamp. (Cheaper than fanning every send out to one
-- row per measure: 8.7M sends x 23 measures at the bench scale. Each aggregate names the table
-- itself: a CTE read eleven times would be materialised in full.) A day with no counted measure
-- gets no row, as each aggregate only keeps the sends that count for one of its measures.
with
{%- for at, named in dated_by.items() %}

dated_{{ loop.index }} as (
    select
        organization_id,
        campaign_id,
        variant_name,
        {{ utc_date(at) }} as activity_date,
        {%- for name, at_, condition in measures %}
        {%- if at_ == at %}
        sum(case when {{ condition }} then 1 else 0 end) as {{ name }}
        {%- else %}
        0 as {{ name }}
        {%- endif %}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('int_campaign_sends_summarized') }}
    where {{ at }} is not null
        and ({% for name, condition in named %}({{ condition }}){{ ' or ' if not loop.last }}{% endfor %})
    group by organization_id, campaign_id, variant_name, {{ utc_date(at) }}
),
{%- endfor %}

daily as (
    select
        organization_id,
        campaign_id,
        variant_name,
        activity_date,
        {%- for name, at, condition in measures %}
        cast(sum({{ name }}) as bigint) as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from (
        {%- for at in dated_by %}
        select * from dated_{{ loop.index }}{{ ' union all' if not loop.last }}
        {%- endfor %}
    ) as dated
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
