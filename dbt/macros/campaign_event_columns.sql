{#- The columns int_campaign_events_deduplicated reads from a webhook event (stg_beacon__events) and
    from an export-file event (stg_files__provider_events), in the same order: its full build, its
    recomputed sends and its new events select them alike. -#}
{% macro campaign_webhook_event_columns() %}
        0 as source_rank,  -- the webhook copy wins over the same event restated in a file
        provider,
        provider_event_id,
        organization_id,
        send_id,
        event_type,
        occurred_at,
        cast(coalesce(payload ->> 'useragent', payload ->> 'user_agent') as varchar) as user_agent,
        coalesce(payload ->> 'sg_machine_open', payload ->> 'machine_open', 'false') in ('true', '1')
            as is_flagged_machine_open,
        coalesce(payload ->> 'bot', 'false') in ('true', '1') as is_flagged_bot,
        case
            when event_type = 'bounced' and payload ->> 'type' = 'blocked' then 'soft'
            when event_type = 'bounced' then 'hard'
        end as bounce_type,
        'webhook' as arrived_via,
        received_at,
        dlt_load_id,
        cast(event_id as varchar) as row_key
{%- endmacro %}

{% macro campaign_file_event_columns() %}
        1 as source_rank,
        provider,
        provider_event_id,
        organization_id,
        send_id,
        event_type,
        occurred_at,
        cast(user_agent as varchar) as user_agent,
        is_machine_open as is_flagged_machine_open,
        false as is_flagged_bot,
        case when event_type = 'bounced' then coalesce(bounce_type, 'hard') end as bounce_type,
        'file' as arrived_via,
        loaded_at as received_at,
        cast(null as varchar) as dlt_load_id,
        provider || ':' || provider_event_id as row_key
{%- endmacro %}
