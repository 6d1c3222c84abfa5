{#- Data tests of the newest rows, for builds triggered by new data (docs/warehouse.md "Which tests
    each build runs"). The rows of the latest load are those whose newest dlt load id (the
    largest of `load_columns`, nulls ignored) is the table's newest: the rows the last replication
    brought in, or, on the incremental per-send models, the sends it touched. Each test checks those rows
    against the whole table, so a duplicate or orphan involving a new row is caught at once; the
    `whole_history` tests (every row against every row) are left to the nightly build. -#}
{% macro latest_load_condition(model, load_columns) -%}
    {%- set newest = load_columns[0] if load_columns | length == 1 else 'greatest(' ~ load_columns | join(', ') ~ ')' -%}
    {{ newest }} = (select max({{ newest }}) from {{ model }})
{%- endmacro %}

{#- Fails with the values of `column_name` held by a row of the latest load and by another row. -#}
{% test unique_in_latest_load(model, column_name, load_columns) %}
select {{ column_name }} as unique_field, count(*) as n_records
from {{ model }}
where {{ column_name }} in (
    select {{ column_name }} from {{ model }}
    where {{ latest_load_condition(model, load_columns) }}
)
group by {{ column_name }}
having count(*) > 1
{% endtest %}

{#- Fails with the rows of the latest load whose `column_name` has no `field` in `to`. -#}
{% test relationships_in_latest_load(model, column_name, to, field, load_columns) %}
select {{ column_name }} as from_field
from {{ model }} as child
where {{ column_name }} is not null
    and {{ latest_load_condition(model, load_columns) }}
    and not exists (
        select 1 from {{ to }} as parent
        where parent.{{ field }} = child.{{ column_name }}
    )
{% endtest %}
