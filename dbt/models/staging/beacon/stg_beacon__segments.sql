select
    id as segment_id,
    organization_id,
    name as segment_name,
    description,
    criteria,
    created_at,
    updated_at
from {{ source('beacon', 'segments') }}
