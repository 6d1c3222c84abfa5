select
    id as campaign_id,
    organization_id,
    name as campaign_name,
    segment_id,
    list_id,
    template_code,
    channel,
    category as message_category,
    status as campaign_status,
    trigger_mode,
    holdout_percent,
    scheduled_at,
    started_at,
    finished_at,
    last_run_at,
    created_at,
    updated_at
from {{ source('beacon', 'campaigns') }}
