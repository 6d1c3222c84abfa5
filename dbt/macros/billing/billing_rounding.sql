{#- Exact money arithmetic for billing. Amounts are carried as integers (ten-thousandths of a unit
    for prices, cents for results) and divided once with half-even (banker's) rounding: decimal
    division returns a double on DuckDB, so no money figure ever goes through `/`. -#}

{#- Integer division, truncating (arguments are non-negative integers). -#}
{% macro billing_int_div(numerator, denominator) -%}
    {{ return(adapter.dispatch('billing_int_div')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__billing_int_div(numerator, denominator) -%}
    cast(div(cast({{ numerator }} as numeric), cast({{ denominator }} as numeric)) as bigint)
{%- endmacro %}

{% macro duckdb__billing_int_div(numerator, denominator) -%}
    cast(cast({{ numerator }} as hugeint) // cast({{ denominator }} as hugeint) as bigint)
{%- endmacro %}

{#- numerator / denominator rounded half to even, for a non-negative integer numerator and a positive integer denominator. -#}
{% macro billing_half_even_div(numerator, denominator) -%}
    (
        {{ billing_int_div(numerator, denominator) }}
        + case
            when 2 * ({{ numerator }} - {{ billing_int_div(numerator, denominator) }} * ({{ denominator }})) > ({{ denominator }}) then 1
            when 2 * ({{ numerator }} - {{ billing_int_div(numerator, denominator) }} * ({{ denominator }})) = ({{ denominator }})
                and mod({{ billing_int_div(numerator, denominator) }}, 2) = 1 then 1
            else 0
        end
    )
{%- endmacro %}

{#- Whole cents (an integer) as numeric(18, 4), exactly. -#}
{% macro billing_cents_to_amount(cents) -%}
    cast(cast({{ cents }} as numeric(18, 4)) * cast(0.01 as numeric(18, 4)) as numeric(18, 4))
{%- endmacro %}

{#- A price as an integer count of ten-thousandths (prices are numeric with at most 4 decimals). -#}
{% macro billing_ten_thousandths(price) -%}
    cast(round({{ price }} * 10000) as bigint)
{%- endmacro %}
