{#- Rows of `alias` whose (organization, send) is listed in the model's CTE `sends_cte`. -#}
{% macro of_listed_sends(sends_cte, alias) -%}
    exists (
            select 1 from {{ sends_cte }}
            where {{ sends_cte }}.organization_id = {{ alias }}.organization_id
                and {{ sends_cte }}.send_id = {{ alias }}.send_id
        )
{%- endmacro %}

{#- The incremental campaign models recompute whole sends: in an incremental build, keep only the
    rows of the sends listed in the model's `changed_sends` CTE; in a full build, every row. -#}
{% macro only_changed_sends(alias) -%}
    {%- if is_incremental() -%}
        {{ of_listed_sends('changed_sends', alias) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Rows of `alias` whose (organization, send) is in `touched_sends`: `send_id in` first, a one-column
    semi-join DuckDB probes twice as fast as the pair, then the pair itself. -#}
{% macro of_touched_sends(alias) -%}
    send_id in (select send_id from touched_sends)
        and {{ of_listed_sends('touched_sends', alias) }}
{%- endmacro %}
