-- One row per contact on a static list.
select
    cast(list_member_id as bigint) as list_member_id,
    cast(organization_id as bigint) as organization_id,
    cast(list_id as bigint) as list_id,
    cast(contact_id as bigint) as contact_id,
    added_at
from {{ ref('stg_beacon__list_members') }}
