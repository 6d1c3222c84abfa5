{#- Incremental strategy of int_campaign_events_deduplicated: the model's incremental select has
    the table's columns plus `rewrites_send`, true on every row of a send it recomputed in full and
    false on rows appended to a send whose stored rows stay. The stored rows of the rewritten sends
    are deleted, then every row is inserted (without that column). Most builds rewrite no send, and
    then nothing reads the stored table (a delete joined to no send still scanned it on DuckDB). -#}
{% macro get_incremental_append_or_rewrite_sends_sql(arg_dict) %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='name') | list -%}
    {#- on_schema_change is 'ignore' for the marker column: fail on any other difference, as 'fail' would -#}
    {%- set source_columns = adapter.get_columns_in_relation(source) | map(attribute='name') | reject('equalto', 'rewrites_send') | list -%}
    {%- if source_columns | sort != columns | sort -%}
        {{ exceptions.raise_compiler_error(
            "The columns of " ~ target ~ " (" ~ columns | join(', ') ~ ") differ from the model's ("
            ~ source_columns | join(', ') ~ "): rebuild it with --full-refresh.") }}
    {%- endif -%}
    {%- set quoted = get_quoted_csv(columns) -%}
    {%- set rewritten = run_query('select 1 from ' ~ source ~ ' where rewrites_send limit 1') -%}
    {%- if rewritten.rows | length > 0 %}
    delete from {{ target }}
    where send_id in (select send_id from {{ source }} where rewrites_send)
        and (organization_id, send_id) in (select organization_id, send_id from {{ source }} where rewrites_send);
    {%- endif %}
    insert into {{ target }} ({{ quoted }})
    select {{ quoted }} from {{ source }}
{% endmacro %}
