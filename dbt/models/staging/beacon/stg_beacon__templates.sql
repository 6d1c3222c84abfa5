select
    id as template_id,
    organization_id,
    organization_id is null as is_platform_template,
    code as template_code,
    language as language_code,
    channel,
    category as message_category,
    subject,
    created_at,
    updated_at
from {{ source('beacon', 'templates') }}
