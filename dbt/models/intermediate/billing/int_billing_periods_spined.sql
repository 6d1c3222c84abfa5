-- One row per organization and local calendar month, from the month its first subscription
-- started to the month holding billing_as_of, cut in the organization's time zone and stored as
-- UTC instants. Months are counted off a 0-999 spine (83 years) from the first month.
with first_starts as (
    select
        organization_id,
        min(valid_from) as first_started_at
    from {{ ref('int_billing_plan_intervals') }}
    group by organization_id
),

bounds as (
    select
        organizations.organization_id,
        coalesce(organizations.timezone, 'UTC') as tenant_timezone,
        date_trunc('month', first_starts.first_started_at at time zone coalesce(organizations.timezone, 'UTC')) as first_month_local,
        date_trunc('month', {{ billing_as_of() }} at time zone coalesce(organizations.timezone, 'UTC')) as last_month_local
    from {{ ref('stg_beacon__organizations') }} as organizations
    inner join first_starts
        on organizations.organization_id = first_starts.organization_id
),

digits as (
    select 0 as digit union all select 1 union all select 2 union all select 3 union all select 4
    union all select 5 union all select 6 union all select 7 union all select 8 union all select 9
),

month_offsets as (
    select ones.digit + 10 * tens.digit + 100 * hundreds.digit as month_offset
    from digits as ones
    cross join digits as tens
    cross join digits as hundreds
),

months as (
    select
        bounds.organization_id,
        bounds.tenant_timezone,
        {{ dbt.dateadd('month', 'month_offsets.month_offset', 'bounds.first_month_local') }} as period_start_local,
        {{ dbt.dateadd('month', 'month_offsets.month_offset + 1', 'bounds.first_month_local') }} as period_end_local
    from bounds
    inner join month_offsets
        on month_offsets.month_offset <= {{ dbt.datediff('bounds.first_month_local', 'bounds.last_month_local', 'month') }}
),

instants as (
    select
        organization_id,
        tenant_timezone,
        {{ billing_month_label('period_start_local') }} as period_label,
        -- AT TIME ZONE on a wall-clock timestamp gives the UTC instant, DST included, on both back ends.
        cast(period_start_local as timestamp) at time zone tenant_timezone as period_start,
        cast(period_end_local as timestamp) at time zone tenant_timezone as period_end
    from months
)

select
    cast(organization_id as varchar) || '-' || period_label as billing_period_id,
    organization_id,
    tenant_timezone,
    period_label,
    period_start,
    period_end,
    {{ billing_seconds_between('period_start', 'period_end') }} as period_seconds
from instants
