{#- The UTC calendar day of a timestamp with time zone. On DuckDB from the epoch microseconds (the
    value as stored): `at time zone 'UTC'` goes through ICU per row, ~10x the cost, which made it
    most of fct_campaign_daily's time (11 such days per send at the bench scale); fct_orders and
    int_contacts_staged date by it too. The double quotient is exact enough for floor(): a day
    boundary is 1/86400000000 away from the next integer, far above a double's resolution at these
    magnitudes. Elsewhere the portable cast. -#}
{% macro utc_date(expr) -%}
    {{ return(adapter.dispatch('utc_date')(expr)) }}
{%- endmacro %}

{% macro default__utc_date(expr) -%}
    cast({{ expr }} at time zone 'UTC' as date)
{%- endmacro %}

{% macro duckdb__utc_date(expr) -%}
    (date '1970-01-01' + cast(floor(epoch_us({{ expr }}) / 86400000000) as integer))
{%- endmacro %}
