select
    id as subscription_change_id,
    organization_id,
    subscription_id,
    from_plan_id,
    to_plan_id,
    from_billing_cycle,
    to_billing_cycle,
    effective_at,
    source as change_source,
    created_at
from {{ source('beacon', 'subscription_changes') }}
