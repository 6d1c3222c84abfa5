select
    id as contact_type_id,
    organization_id,
    code as contact_type_code,
    name as contact_type_name,
    position as sort_position
from {{ source('beacon', 'contact_types') }}
