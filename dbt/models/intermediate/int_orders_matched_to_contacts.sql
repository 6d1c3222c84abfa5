-- Orders with the contact they belong to, within the same organization. The tenant's customer
-- id (external_id) wins over the email: it survives an email change. Several contacts may
-- share an external_id (it is not unique in the operational DB): the oldest contact wins.
with orders as (
    select * from {{ ref('stg_files__orders') }}
),

contacts as (
    select * from {{ ref('stg_beacon__contacts') }}
),

contacts_by_external_id as (
    select organization_id, external_id, min(contact_id) as contact_id
    from contacts
    where external_id is not null
    group by organization_id, external_id
),

contacts_by_email as (
    select organization_id, email_normalized, min(contact_id) as contact_id
    from contacts
    where email_normalized is not null
    group by organization_id, email_normalized
)

select
    orders.order_id,
    orders.organization_id,
    coalesce(contacts_by_external_id.contact_id, contacts_by_email.contact_id) as contact_id,
    case
        when contacts_by_external_id.contact_id is not null then 'external_id'
        when contacts_by_email.contact_id is not null then 'email'
    end as contact_match_method,
    orders.external_order_id,
    orders.customer_email_normalized,
    orders.customer_external_id,
    orders.currency_code,
    orders.subtotal_amount,
    orders.discount_amount,
    orders.tax_amount,
    orders.shipping_amount,
    orders.total_amount,
    orders.refunded_amount,
    orders.order_status,
    orders.is_cancelled,
    orders.ordered_at,
    orders.updated_at
from orders
left join contacts_by_external_id
    on orders.organization_id = contacts_by_external_id.organization_id
    and orders.customer_external_id = contacts_by_external_id.external_id
left join contacts_by_email
    on orders.organization_id = contacts_by_email.organization_id
    and orders.customer_email_normalized = contacts_by_email.email_normalized
