{#- The models and tests that ask a value first and compare it as a literal (a load-id watermark, the
    newest load): planners estimate a literal from their statistics and use an index or zone map for
    it, where a scalar subquery's value is unknown at planning (see the callers for the cost). -#}

{#- The one value `sql` returns, asked now (none for a null). -#}
{% macro query_scalar(sql) -%}
    {%- do return(run_query(sql).columns[0].values()[0]) -%}
{%- endmacro %}

{#- `value` as a SQL string literal, its quotes doubled. -#}
{% macro quoted_literal(value) -%}
    {%- do return("'" ~ (value | string | replace("'", "''")) ~ "'") -%}
{%- endmacro %}
