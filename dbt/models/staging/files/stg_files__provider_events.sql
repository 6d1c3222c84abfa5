{#- Provider events from exported files (SendGrid event exports, Twilio status logs). The raw
    table already holds one row per (provider, provider_event_id). raw.provider_events exists
    once the first events file is loaded; until then this view is empty (same columns). -#}
{%- set raw_columns = {
    'provider': 'varchar(20)', 'provider_event_id': 'varchar(200)', 'provider_event': 'varchar(40)',
    'event_type': 'varchar(40)', 'occurred_at': 'timestamp with time zone', 'send_id': 'varchar(36)',
    'organization_id': 'bigint', 'campaign_id': 'varchar(64)', 'email': 'varchar(320)',
    'phone': 'varchar(32)', 'url': 'text', 'user_agent': 'text', 'is_machine_open': 'boolean',
    'bounce_type': 'varchar(10)', 'error_code': 'varchar(20)', 'source_file': 'text',
    'loaded_at': 'timestamp with time zone'} -%}

with provider_events as (
{{ relation_or_empty(source('files', 'provider_events'), raw_columns) }}
)

select
    -- provider_event_id is only unique per provider: the key carries the provider.
    provider || ':' || provider_event_id as file_event_id,
    provider,
    provider_event_id,
    provider_event,
    event_type,
    cast(organization_id as bigint) as organization_id,
    lower(send_id) as send_id,
    campaign_id,
    lower(trim(email)) as email_normalized,
    phone,
    url,
    user_agent,
    coalesce(is_machine_open, false) as is_machine_open,
    bounce_type,
    error_code,
    occurred_at,
    loaded_at,
    source_file
from provider_events
