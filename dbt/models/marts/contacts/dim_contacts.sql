with contacts as (
    select * from {{ ref('stg_beacon__contacts') }}
),

organizations as (
    select * from {{ ref('stg_beacon__organizations') }}
),

contact_types as (
    select * from {{ ref('stg_beacon__contact_types') }}
),

-- Lifecycle, value to date and predictions: what segments filter on (beacon/segments/compiler.py).
profiles as (
    select * from {{ ref('int_contacts_profiled') }}
)

select
    contacts.contact_id,
    contacts.organization_id,
    organizations.organization_name,
    organizations.organization_slug,
    contacts.contact_type_id,
    contact_types.contact_type_code,
    contact_types.contact_type_name,
    contacts.external_id,
    contacts.email,
    contacts.email_normalized,
    contacts.phone,
    contacts.first_name,
    contacts.last_name,
    contacts.city,
    contacts.region,
    contacts.country_code,
    contacts.timezone,
    contacts.language_code,
    contacts.contact_status,
    contacts.contact_status = 'active' as is_active,
    contacts.is_erased,
    contacts.has_email_consent,
    contacts.has_sms_consent,
    contacts.has_transactional_consent,
    contacts.has_promotional_consent,
    contacts.has_newsletter_consent,
    -- Marketing email may go out only to an active, unerased contact with an address and consent.
    (
        contacts.contact_status = 'active'
        and not contacts.is_erased
        and contacts.email_normalized is not null
        and contacts.has_email_consent
    ) as is_email_marketable,
    (
        contacts.contact_status = 'active'
        and not contacts.is_erased
        and contacts.phone is not null
        and contacts.has_sms_consent
    ) as is_sms_marketable,
    contacts.signup_source,
    contacts.created_at,
    contacts.updated_at,
    profiles.lifecycle_stage,
    profiles.orders_count,
    profiles.gross_revenue,
    profiles.net_revenue,
    profiles.average_order_value,
    profiles.first_order_at,
    profiles.last_order_at,
    profiles.rfm_segment,
    profiles.last_engaged_at,
    profiles.predicted_clv_12m,
    profiles.probability_alive,
    profiles.expected_purchases_365d
from contacts
inner join organizations
    on contacts.organization_id = organizations.organization_id
-- Contact types are tenant-scoped: never join a type from another organization.
left join contact_types
    on contacts.contact_type_id = contact_types.contact_type_id
    and contacts.organization_id = contact_types.organization_id
left join profiles
    on contacts.contact_id = profiles.contact_id
