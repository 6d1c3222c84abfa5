select
    id as subscription_id,
    organization_id,
    plan_id,
    status as subscription_status,
    billing_cycle,
    current_period_start as current_period_started_at,
    current_period_end as current_period_ends_at,
    cancel_at,
    stripe_customer_id,
    stripe_subscription_id,
    created_at,
    updated_at
from {{ source('beacon', 'subscriptions') }}
