{#- Schemas are exactly staging / intermediate / marts (not <target>_staging): analysts and the
    segment compiler query fixed names on every back end. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
