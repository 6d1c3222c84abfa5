{#- PostgreSQL-only physical tuning of the incremental event models (docs/warehouse.md, "tenth pass").
    DuckDB needs none of it: its zone maps skip the row groups below a load-id watermark, and an ART
    index would only slow its inserts. -#}

{#- The model's `indexes` config on PostgreSQL, none elsewhere. dbt-postgres creates them when it
    creates the table (a full build), and PostgreSQL keeps them up to date on every insert. -#}
{% macro postgres_indexes(indexes) -%}
    {%- do return(indexes if target.type == 'postgres' else []) -%}
{%- endmacro %}

{#- The indexes of the per-send incremental tables (send summary, billing dedupe), which share
    send_watermarks(): the send key (the delete of rewritten sends), the three watermark columns,
    and the expression of their latest-load tests. -#}
{% macro per_send_table_indexes() -%}
    {%- do return(postgres_indexes([
        {'columns': ['send_id']},
        {'columns': ['ledger_load_id']},
        {'columns': ['last_webhook_load_id']},
        {'columns': ['last_file_loaded_at']},
        {'columns': ['(greatest(ledger_load_id, last_webhook_load_id))']}
    ])) -%}
{%- endmacro %}

{#- A post-hook: fresh planner statistics after every build of an incremental table. Autovacuum
    analyzes a table only after 10% of it changed, so without this the planner takes the newest
    load (1% of the rows) for a value it has never seen, estimates it at one row and picks nested
    loops over millions of rows. ANALYZE samples 30k rows: 0.2-0.3 s on the bench's 20M-row tables. -#}
{% macro analyze_on_postgres() -%}
    {%- if target.type == 'postgres' -%} analyze {{ this }} {%- endif -%}
{%- endmacro %}

{#- A post-hook of a staging view: an index on the raw table it reads (which dlt owns), for the
    incremental models' `<load id> > watermark` and `= newest` filters. `if not exists`: a no-op once
    there, and back after dlt replaces the table. -#}
{% macro index_source_on_postgres(relation, columns) -%}
    {%- if target.type == 'postgres' -%}
        create index if not exists {{ relation.identifier }}__{{ columns | join('__') }}
            on {{ relation }} ({{ columns | join(', ') }})
    {%- endif -%}
{%- endmacro %}
