-- Every contact with its value to date and its last human open or click in the provider export
-- files: the part of int_contacts_staged that does not read raw.events. A table: a build after new
-- events (source:beacon.events+) does not rewrite it (1M rows at the bench scale); only the view
-- int_contacts_staged on top of it adds the tracked engagement and the lifecycle stage.
with contacts as (
    select * from {{ ref('stg_beacon__contacts') }}
),

customer_value as (
    select * from {{ ref('fct_customer_value') }}
),

file_engagement as (
    -- Exported provider events carry an address, not a contact: match within the organization.
    select contacts.contact_id, max(provider_events.occurred_at) as last_engaged_at
    from {{ ref('stg_files__provider_events') }} as provider_events
    inner join contacts
        on provider_events.organization_id = contacts.organization_id
        and provider_events.email_normalized = contacts.email_normalized
    where provider_events.event_type in ('opened', 'clicked')
        and not provider_events.is_machine_open
    group by contacts.contact_id
)

select
    contacts.contact_id,
    contacts.organization_id,
    coalesce(customer_value.orders_count, 0) as orders_count,
    coalesce(customer_value.gross_revenue, 0) as gross_revenue,
    coalesce(customer_value.net_revenue, 0) as net_revenue,
    customer_value.average_order_value,
    customer_value.first_order_at,
    customer_value.last_order_at,
    customer_value.days_since_last_order,
    customer_value.rfm_segment,
    file_engagement.last_engaged_at as file_last_engaged_at
from contacts
left join customer_value
    on contacts.contact_id = customer_value.contact_id
left join file_engagement
    on contacts.contact_id = file_engagement.contact_id
