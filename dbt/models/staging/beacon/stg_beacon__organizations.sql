select
    id as organization_id,
    organization_type_id,
    name as organization_name,
    slug as organization_slug,
    domain,
    timezone,
    currency as currency_code,
    stripe_customer_id,
    created_at,
    updated_at
from {{ source('beacon', 'organizations') }}
