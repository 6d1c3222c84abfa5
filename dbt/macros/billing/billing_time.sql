{#- The "now" of billing as a UTC timestamp with time zone: var billing_as_of ('YYYY-MM-DD HH:MM:SS', UTC,
    no offset) or the current time. It decides the last period built and which periods are closed. -#}
{% macro billing_as_of() -%}
{%- set as_of = var('billing_as_of', none) -%}
{%- if as_of -%}
    (cast('{{ as_of }}' as timestamp) at time zone 'UTC')
{%- else -%}
    current_timestamp
{%- endif -%}
{%- endmacro %}

{#- Whole seconds from `start_at` to `end_at` (timestamps with time zone), from the epoch: unlike
    dbt.datediff, no calendar or session-time-zone arithmetic, so DST days and both back ends agree. -#}
{% macro billing_seconds_between(start_at, end_at) -%}
    cast(extract(epoch from {{ end_at }}) - extract(epoch from {{ start_at }}) as bigint)
{%- endmacro %}

{#- 'YYYY-MM' of a local timestamp. -#}
{% macro billing_month_label(local_ts) -%}
    cast(cast(extract(year from {{ local_ts }}) as integer) as varchar)
    || '-' || lpad(cast(cast(extract(month from {{ local_ts }}) as integer) as varchar), 2, '0')
{%- endmacro %}
