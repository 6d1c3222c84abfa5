{#- What an incremental per-send model (int_campaign_sends_summarized, int_billing_sends_deduplicated)
    has already seen, per arrival channel: the largest dlt load ids of the ledger rows and webhook
    events it stores, and the export files' loaded_at minus var('campaign_events_lookback_hours'). -#}
{% macro send_watermarks() %}
    select
        max(ledger_load_id) as sends_load_id,
        max(last_webhook_load_id) as webhook_load_id,
        {{ dbt.dateadd('hour', -(var('campaign_events_lookback_hours', 72) | int), 'max(last_file_loaded_at)') }} as file_from
    from {{ this }}
{% endmacro %}
