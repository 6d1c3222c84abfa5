select
    id as list_id,
    organization_id,
    name as list_name,
    description,
    created_at,
    updated_at
from {{ source('beacon', 'lists') }}
