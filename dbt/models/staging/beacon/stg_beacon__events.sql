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
    received_at,
    -- the dlt load that brought the row in: the incremental models' exact "new since the last build"
    _dlt_load_id as dlt_load_id
from {{ source('beacon', 'events') }}
