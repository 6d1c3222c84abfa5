-- The contact profile (int_contacts_profiled, a table the nightly build rewrites) with the two
-- columns every event load changes, from the incremental int_contacts_engaged. Stages, first match
-- wins: purchase_stage (churned, vip, repeat, customer: int_contacts_staged); else prospect when the
-- last human open or click is within var prospect_engaged_within_days of var('as_of') (unset: the
-- current date, of the query on DuckDB, of the build on PostgreSQL); else lead.
-- A view on DuckDB: the build after new events then updates only int_contacts_engaged and writes
-- no 1M-row table (docs/warehouse.md, eighth pass). A table on PostgreSQL, rebuilt by that build:
-- a PostgreSQL view is bound to the table it reads, so each rebuild of int_contacts_profiled would
-- drop it (dbt swaps tables and drops the old one with cascade), and a failing test of the profile
-- would leave no dim_contacts until a build passed; a table is swapped in one transaction and
-- stays as it was when a build upstream fails. (DuckDB binds a view by name when it is queried.)
{{ config(materialized='view' if target.type == 'duckdb' else 'table') }}
{%- set as_of = "cast('" ~ var('as_of') ~ "' as date)" if var('as_of', none) else 'current_date' %}

with profiles as (
    select * from {{ ref('int_contacts_profiled') }}
),

tracked_engagement as (
    -- Beacon's own tracking and provider webhooks (machine opens left out there).
    select contact_id, last_engaged_at
    from {{ ref('int_contacts_engaged') }}
),

engaged as (
    select
        profiles.*,
        -- greatest() skips a null on DuckDB and PostgreSQL: either source alone counts.
        greatest(tracked_engagement.last_engaged_at, profiles.file_last_engaged_at) as last_engaged_at
    from profiles
    left join tracked_engagement
        on profiles.contact_id = tracked_engagement.contact_id
)

select
    contact_id,
    organization_id,
    organization_name,
    organization_slug,
    contact_type_id,
    contact_type_code,
    contact_type_name,
    external_id,
    email,
    email_normalized,
    phone,
    first_name,
    last_name,
    city,
    region,
    country_code,
    timezone,
    language_code,
    contact_status,
    is_active,
    is_erased,
    has_email_consent,
    has_sms_consent,
    has_transactional_consent,
    has_promotional_consent,
    has_newsletter_consent,
    is_email_marketable,
    is_sms_marketable,
    signup_source,
    created_at,
    updated_at,
    cast(
        coalesce(
            purchase_stage,
            case
                when last_engaged_at is not null
                    and {{ dbt.datediff(utc_date('last_engaged_at'), as_of, 'day') }}
                        <= {{ var('prospect_engaged_within_days', 90) }} then 'prospect'
                else 'lead'
            end
        ) as varchar
    ) as lifecycle_stage,
    orders_count,
    gross_revenue,
    net_revenue,
    average_order_value,
    first_order_at,
    last_order_at,
    rfm_segment,
    last_engaged_at,
    predicted_clv_12m,
    probability_alive,
    expected_purchases_365d
from engaged
