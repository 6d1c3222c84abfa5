{#- An orderable stand-in for a timestamp with time zone, for comparisons only (a window's end
    against an order time): on DuckDB its epoch microseconds, so that "n days later" is integer
    arithmetic; `+ interval` on a timestamp with time zone goes through ICU per row there, ~40% of
    fct_campaign_holdout_lift's time (4.2M recipients at the bench scale). A day is 24 hours, the
    UTC day of macro utc_date (the same as `+ interval` in a UTC session, which dbt-duckdb's is by
    default on a UTC host). Elsewhere the timestamp itself and dbt.dateadd. Compare only instant()
    with instant() or instant_plus_days(). -#}
{% macro instant(expr) -%}
    {{ return(adapter.dispatch('instant')(expr)) }}
{%- endmacro %}

{% macro default__instant(expr) -%}
    {{ expr }}
{%- endmacro %}

{% macro duckdb__instant(expr) -%}
    epoch_us({{ expr }})
{%- endmacro %}

{% macro instant_plus_days(expr, days) -%}
    {{ return(adapter.dispatch('instant_plus_days')(expr, days)) }}
{%- endmacro %}

{% macro default__instant_plus_days(expr, days) -%}
    {{ dbt.dateadd('day', days, expr) }}
{%- endmacro %}

{% macro duckdb__instant_plus_days(expr, days) -%}
    (epoch_us({{ expr }}) + cast({{ days }} as bigint) * 86400000000)
{%- endmacro %}
