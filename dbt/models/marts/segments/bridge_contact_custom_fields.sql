-- One row per contact and custom field (custom_fields is a JSON object on the contact).
-- value_text holds every scalar as text (booleans as true/false); value_number holds JSON numbers
-- and numeric text ("42" from a CSV import is a number). Null values and empty keys are left out.
with contacts as (
    select * from {{ ref('stg_beacon__contacts') }}
),

fields as (
{%- if target.type == 'postgres' %}
    select
        contacts.organization_id,
        contacts.contact_id,
        field.key as field_key,
        jsonb_typeof(field.value) as value_type,
        case
            when jsonb_typeof(field.value) in ('object', 'array') then field.value::text
            else field.value #>> '{}'
        end as value_text
    from contacts
    cross join lateral jsonb_each(
        case when jsonb_typeof(contacts.custom_fields) = 'object' then contacts.custom_fields else '{}'::jsonb end
    ) as field
{%- else %}
    select
        contacts.organization_id,
        contacts.contact_id,
        field.key as field_key,
        case
            when field.type in ('BIGINT', 'UBIGINT', 'DOUBLE') then 'number'
            when field.type = 'VARCHAR' then 'string'
            else lower(field.type)
        end as value_type,
        case
            when field.type in ('OBJECT', 'ARRAY') then cast(field.value as varchar)
            else field.value ->> '$'
        end as value_text
    from contacts
    cross join json_each(contacts.custom_fields) as field
    where json_type(contacts.custom_fields) = 'OBJECT'
{%- endif %}
),

typed as (
    select
        fields.*,
        case
            when value_type = 'number' then cast(value_text as double precision)
            -- Numeric text: a regex guard instead of TRY_CAST, which PostgreSQL lacks.
            when value_type = 'string'
                and {% if target.type == 'postgres' %}trim(value_text) ~ '^-?[0-9]+(\.[0-9]+)?$'{% else %}regexp_full_match(trim(value_text), '-?[0-9]+(\.[0-9]+)?'){% endif %}
                then cast(trim(value_text) as double precision)
        end as value_number
    from fields
    where value_type <> 'null' and field_key <> ''
)

select
    cast(cast(contact_id as varchar) || ':' || field_key as varchar) as contact_custom_field_id,
    cast(organization_id as bigint) as organization_id,
    cast(contact_id as bigint) as contact_id,
    cast(field_key as varchar) as field_key,
    cast(value_text as varchar) as value_text,
    cast(value_number as double precision) as value_number
from typed
