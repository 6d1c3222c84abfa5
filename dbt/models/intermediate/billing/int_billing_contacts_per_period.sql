-- One row per billing period in which the organization held contacts: the most held at any instant
-- and the time-weighted average over the elapsed part of the period (up to billing_as_of). Apart
-- from int_billing_usage_per_period (the messages), so that a build after new events, which
-- recomputes the messages, leaves this one (1M contacts' changes at the bench scale) alone.
with periods as (
    select * from {{ ref('int_billing_periods_spined') }}
),

first_periods as (
    select organization_id, min(period_start) as first_period_start
    from periods
    group by organization_id
),

-- The number of contacts held is a step function: +1 when a contact is created, -1 when erased.
-- Changes before the first period count at its start.
contact_changes as (
    select organization_id, created_at as changed_at, 1 as delta
    from {{ ref('stg_beacon__contacts') }}
    union all
    select organization_id, erased_at as changed_at, -1 as delta
    from {{ ref('stg_beacon__contacts') }}
    where erased_at is not null
),

points as (
    select
        contact_changes.organization_id,
        case
            when contact_changes.changed_at < first_periods.first_period_start then first_periods.first_period_start
            else contact_changes.changed_at
        end as point_at,
        contact_changes.delta,
        0 as is_period_start
    from contact_changes
    inner join first_periods
        on contact_changes.organization_id = first_periods.organization_id
    where contact_changes.changed_at < {{ billing_as_of() }}

    union all

    select organization_id, period_start as point_at, 0 as delta, 1 as is_period_start
    from periods
),

instants as (
    select organization_id, point_at, sum(delta) as delta, max(is_period_start) as is_period_start
    from points
    group by organization_id, point_at
),

held as (
    select
        organization_id,
        point_at,
        sum(delta) over (partition by organization_id order by point_at rows between unbounded preceding and current row) as contacts_held,
        max(case when is_period_start = 1 then point_at end) over (
            partition by organization_id order by point_at rows between unbounded preceding and current row
        ) as period_start,
        lead(point_at) over (partition by organization_id order by point_at) as next_point_at
    from instants
),

segments as (
    select
        held.*,
        case
            when held.next_point_at is null or held.next_point_at > {{ billing_as_of() }} then {{ billing_as_of() }}
            else held.next_point_at
        end as segment_end
    from held
),

contacts as (
    select
        periods.billing_period_id,
        max(segments.contacts_held) as contacts_peak,
        sum(segments.contacts_held * {{ billing_seconds_between('segments.point_at', 'segments.segment_end') }}) as contact_seconds,
        sum({{ billing_seconds_between('segments.point_at', 'segments.segment_end') }}) as elapsed_seconds,
        max(case when segments.point_at = periods.period_start then segments.contacts_held end) as contacts_at_start
    from segments
    inner join periods
        on segments.organization_id = periods.organization_id
        and segments.period_start = periods.period_start
    group by periods.billing_period_id
)

select
    billing_period_id,
    contacts_peak,
    cast(
        case
            when elapsed_seconds > 0 then round(cast(contact_seconds as numeric(38, 4)) / elapsed_seconds, 2)
            else coalesce(contacts_at_start, 0)
        end as numeric(18, 2)
    ) as contacts_avg
from contacts
