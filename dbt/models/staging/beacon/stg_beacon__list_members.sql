select
    id as list_member_id,
    organization_id,
    list_id,
    contact_id,
    added_at
from {{ source('beacon', 'list_members') }}
