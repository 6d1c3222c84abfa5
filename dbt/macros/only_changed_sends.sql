{#- The incremental campaign models recompute whole sends: in an incremental build, keep only the
    rows of the sends listed in the model's `changed_sends` CTE; in a full build, every row. -#}
{% macro only_changed_sends(alias) -%}
    {%- if is_incremental() -%}
        exists (
            select 1 from changed_sends
            where changed_sends.organization_id = {{ alias }}.organization_id and changed_sends.send_id = {{ alias }}.send_id
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
