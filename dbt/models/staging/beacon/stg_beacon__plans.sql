select
    id as plan_id,
    code as plan_code,
    name as plan_name,
    currency as currency_code,
    monthly_price,
    yearly_price,
    contact_limit,
    email_limit,
    sms_limit,
    whatsapp_limit,
    campaign_limit,
    email_overage_price,
    sms_overage_price,
    whatsapp_overage_price,
    stripe_price_id
from {{ source('beacon', 'plans') }}
