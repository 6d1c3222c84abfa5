select
    id as suppression_id,
    organization_id,
    channel,
    address,
    reason as suppression_reason,
    source as suppression_source,
    created_at
from {{ source('beacon', 'suppressions') }}
