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


{#- The rows of `relation` that lose to another row with the same `key` columns (the first by
    `order_by` wins), as (source_rank, row_key); only rows whose key repeats are ranked. Rows already
    in `unless_in` (same columns) take no part. -#}
{% macro repeated_key_losers(relation, key, order_by, unless_in=none) -%}
    select source_rank, row_key
    from (
        select
            {{ relation }}.source_rank,
            {{ relation }}.row_key,
            row_number() over (partition by {{ key | join(', ') }} order by {{ order_by }}) as copy_number
        from {{ relation }}
        where ({{ duplicate_key(key) | join(', ') }}) in (
                select {{ duplicate_key(key) | join(', ') }}
                from {{ relation }}
                group by {{ duplicate_key(key) | join(', ') }}
                having count(*) > 1
            )
        {%- if unless_in %}
            and not exists (
                select 1 from {{ unless_in }}
                where {{ unless_in }}.source_rank = {{ relation }}.source_rank
                    and {{ unless_in }}.row_key = {{ relation }}.row_key
            )
        {%- endif %}
    ) as ranked
    where copy_number > 1
{%- endmacro %}
