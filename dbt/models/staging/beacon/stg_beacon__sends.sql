-- PostgreSQL: the raw table indexed for the incremental models' load-id filters and their per-send
-- lookups (macro index_source_on_postgres; docs/warehouse.md "tenth pass")
{{ config(post_hook=[
    "{{ index_source_on_postgres(source('beacon', 'sends'), ['_dlt_load_id']) }}",
    "{{ index_source_on_postgres(source('beacon', 'sends'), ['send_id']) }}"
]) }}

select
    -- already lower case: dlt writes the Uuid column as SQLAlchemy's canonical text on both
    -- operational back ends (no lower(): it cost ~0.5 s a scan of 20M events)
    send_id,
    organization_id,
    campaign_id,
    contact_id,
    step as automation_step,
    channel,
    address,
    variant,
    status as send_status,
    provider_message_id,
    attempts as attempt_count,
    error as error_message,
    created_at,
    updated_at,
    sent_at,
    -- the dlt load that brought the row in: the incremental models' exact "new since the last build"
    _dlt_load_id as dlt_load_id
from {{ source('beacon', 'sends') }}
