select
    id as event_id,
    organization_id,
    event_type,
    lower(send_id) as send_id,
    contact_id,
    channel,
    provider,
    provider_event_id,
    payload,
    occurred_at,
    received_at
from {{ source('beacon', 'events') }}
