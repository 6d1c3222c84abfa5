{#- The CLV asset's predictions (orchestration/clv.py writes predictions.customer_predictions,
    one tenant at a time). Before its first run the table does not exist: this view is then
    empty with the same columns, so a fresh installation builds. -#}
{%- set prediction_columns = {
    'organization_id': 'bigint', 'contact_id': 'bigint', 'probability_alive': 'double precision',
    'expected_purchases_90d': 'double precision', 'expected_purchases_365d': 'double precision',
    'expected_avg_order_value': 'double precision', 'predicted_clv_12m': 'double precision',
    'model_status': 'varchar(16)', 'fitted_at': 'timestamp with time zone'} -%}

with predictions as (
{{ relation_or_empty(source('predictions', 'customer_predictions'), prediction_columns) }}
)

select
    cast(organization_id as bigint) as organization_id,
    cast(contact_id as bigint) as contact_id,
    cast(probability_alive as double precision) as probability_alive,
    cast(expected_purchases_90d as double precision) as expected_purchases_90d,
    cast(expected_purchases_365d as double precision) as expected_purchases_365d,
    cast(expected_avg_order_value as double precision) as expected_avg_order_value,
    cast(predicted_clv_12m as double precision) as predicted_clv_12m,
    model_status,
    fitted_at
from predictions
