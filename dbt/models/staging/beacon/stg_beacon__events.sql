-- PostgreSQL: the raw table indexed for the incremental models' load-id filters and the latest-load
-- tests (macro index_source_on_postgres; docs/warehouse.md "tenth pass")
{{ config(post_hook=[
    "{{ index_source_on_postgres(source('beacon', 'events'), ['_dlt_load_id']) }}",
    "{{ index_source_on_postgres(source('beacon', 'events'), ['id']) }}"
]) }}

select
    id as event_id,
    organization_id,
    event_type,
    -- already lower case: dlt writes the Uuid column as SQLAlchemy's canonical text on both
    -- operational back ends (no lower(): it cost ~0.5 s a scan of 20M events)
    send_id,
    contact_id,
    channel,
    provider,
    provider_event_id,
    payload,
    occurred_at,
    received_at,
    -- the dlt load that brought the row in: the incremental models' exact "new since the last build"
    _dlt_load_id as dlt_load_id
from {{ source('beacon', 'events') }}
