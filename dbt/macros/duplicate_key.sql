{#- The expressions to group `columns` by when looking for keys held by more than one row. DuckDB
    groups one hash of them (cheaper than grouping several strings over millions of rows; equal
    combinations give equal hashes, NULLs included, and a collision only adds a candidate, as
    callers rank the candidates on the real columns). Elsewhere the columns themselves: a
    PostgreSQL hash aggregate and semi-join on them beat building and hashing one string. -#}
{% macro duplicate_key(columns) -%}
    {{ return(adapter.dispatch('duplicate_key')(columns)) }}
{%- endmacro %}

{% macro default__duplicate_key(columns) -%}
    {{ return(columns) }}
{%- endmacro %}

{% macro duckdb__duplicate_key(columns) -%}
    {{ return(['hash(' ~ columns | join(', ') ~ ')']) }}
{%- endmacro %}
