-- One row per contact and tag (tags are a JSON array of strings on the contact). The segment
-- compiler filters tags with EXISTS on this table, so no dialect-specific JSON reaches it.
with contacts as (
    select * from {{ ref('stg_beacon__contacts') }}
),

tags as (
{%- if target.type == 'postgres' %}
    select contacts.organization_id, contacts.contact_id, trim(tag.value) as tag
    from contacts
    cross join lateral jsonb_array_elements_text(
        case when jsonb_typeof(contacts.tags) = 'array' then contacts.tags else '[]'::jsonb end
    ) as tag(value)
{%- else %}
    -- DuckDB: json_each yields one row per array element; ->> '$' reads it as text.
    select contacts.organization_id, contacts.contact_id, trim(tag.value ->> '$') as tag
    from contacts
    cross join json_each(contacts.tags) as tag
    where json_type(contacts.tags) = 'ARRAY'
{%- endif %}
)

select distinct
    cast(cast(contact_id as varchar) || ':' || tag as varchar) as contact_tag_id,
    cast(organization_id as bigint) as organization_id,
    cast(contact_id as bigint) as contact_id,
    cast(tag as varchar) as tag
from tags
where tag is not null and tag <> ''
