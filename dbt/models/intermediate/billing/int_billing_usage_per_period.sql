-- One row per billing period with what the organization used in it: billable messages per
-- channel, campaigns that sent at least one of them, and the contacts it held (peak and
-- time-weighted average over the elapsed part of the period, up to billing_as_of:
-- int_billing_contacts_per_period).
with periods as (
    select * from {{ ref('int_billing_periods_spined') }}
),

sends as (
    select * from {{ ref('int_billing_sends_deduplicated') }}
    where sent_at < {{ billing_as_of() }}
),

-- Per period and campaign first, then per period: the distinct campaigns are then the rows of a
-- small grouping (periods x campaigns), where count(distinct campaign_id) over all 8M sends sorted
-- them all (PostgreSQL spilled 328 MB to disk with the default work_mem; 9 s of the build after new events).
per_campaign as (
    select
        periods.billing_period_id,
        sends.campaign_id,
        count(case when sends.channel = 'email' then 1 end) as emails,
        count(case when sends.channel = 'sms' then 1 end) as sms,
        count(case when sends.channel = 'whatsapp' then 1 end) as whatsapp
    from periods
    inner join sends
        on periods.organization_id = sends.organization_id
        and sends.sent_at >= periods.period_start
        and sends.sent_at < periods.period_end
    group by periods.billing_period_id, sends.campaign_id
),

messages as (
    select
        billing_period_id,
        cast(sum(emails) as bigint) as emails_billable,
        cast(sum(sms) as bigint) as sms_billable,
        cast(sum(whatsapp) as bigint) as whatsapp_billable,
        count(campaign_id) as campaigns_count
    from per_campaign
    group by billing_period_id
),

contacts as (
    -- a model of its own (not downstream of the events): a build after new events does not recompute it
    select * from {{ ref('int_billing_contacts_per_period') }}
)

select
    periods.billing_period_id,
    coalesce(messages.emails_billable, 0) as emails_billable,
    coalesce(messages.sms_billable, 0) as sms_billable,
    coalesce(messages.whatsapp_billable, 0) as whatsapp_billable,
    coalesce(messages.campaigns_count, 0) as campaigns_count,
    coalesce(contacts.contacts_peak, 0) as contacts_peak,
    cast(coalesce(contacts.contacts_avg, 0) as numeric(18, 2)) as contacts_avg
from periods
left join messages
    on periods.billing_period_id = messages.billing_period_id
left join contacts
    on periods.billing_period_id = contacts.billing_period_id
