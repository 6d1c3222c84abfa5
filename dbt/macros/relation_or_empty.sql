{#- A raw table that appears only when its first file is loaded: select it when it exists,
    otherwise an empty relation with the given columns, so a fresh installation still builds.
    The model passes source(...) in, so the dependency stays visible in the model. -#}
{% macro relation_or_empty(relation, columns) -%}
{%- if execute and adapter.get_relation(relation.database, relation.schema, relation.identifier) is not none %}
    select * from {{ relation }}
{%- else %}
    select
    {%- for name, type in columns.items() %}
        cast(null as {{ type }}) as {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
    where 1 = 0
{%- endif %}
{%- endmacro %}
