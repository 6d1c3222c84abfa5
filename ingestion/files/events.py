"""Provider event exports -> ``raw.provider_events``: SendGrid JSON batches and Twilio status CSVs.

Event names are mapped to Beacon's vocabulary in SQL (see docs/ingestion.md for the table);
the provider's own name is kept in ``provider_event`` and the whole original object in
``payload``. ``deferred`` (SendGrid) and ``queued`` (Twilio) are not Beacon events: they are kept
as-is so raw stays complete, and dbt staging filters them out.
"""

from __future__ import annotations

from ingestion.files.readers import ColumnSpec
from ingestion.files.validate import Rule, bad_date, case_sql, missing, quoted, too_large

SENDGRID_EVENTS = {
    "processed": "sent",
    "delivered": "delivered",
    "deferred": "deferred",
    "open": "opened",
    "click": "clicked",
    "bounce": "bounced",
    "dropped": "failed",
    "spamreport": "complained",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
}
TWILIO_STATUSES = {"queued": "queued", "sent": "sent", "delivered": "delivered", "undelivered": "failed", "failed": "failed"}

SENDGRID_FIELDS = (
    "email", "timestamp", "event", "sg_event_id", "sg_message_id", "url", "useragent", "ip", "sg_machine_open",
    "type", "reason", "status", "send_id", "organization_id", "campaign_id",
)  # fmt: skip
TWILIO_FIELDS = (
    "messagesid", "accountsid", "from", "to", "messagestatus", "errorcode", "eventtimestamp", "send_id", "organization_id",
)  # fmt: skip

SENDGRID_SPEC = ColumnSpec(
    fields=SENDGRID_FIELDS,
    required=("sg_event_id", "event", "timestamp", "organization_id"),
    recognise=lambda n: n if n in SENDGRID_FIELDS else None,
)
TWILIO_SPEC = ColumnSpec(
    fields=TWILIO_FIELDS,
    required=("messagesid", "messagestatus", "eventtimestamp", "organization_id"),
    recognise=lambda n: n.strip().lower() if n.strip().lower() in TWILIO_FIELDS else None,
)

TARGET_COLUMNS = (
    "provider", "provider_event_id", "provider_event", "event_type", "occurred_at", "send_id", "organization_id",
    "campaign_id", "email", "phone", "url", "user_agent", "is_machine_open", "bounce_type", "error_code", "payload",
    "source_line",
)  # fmt: skip


def _mapping_sql(column: str, mapping: dict[str, str]) -> str:
    return "CASE " + " ".join(f"WHEN {column} = '{k}' THEN '{v}'" for k, v in mapping.items()) + " END"


def _org_rules(expected_org: str | None) -> list[Rule]:
    found = [
        Rule(
            "TRY_CAST(organization_id AS BIGINT) IS NULL OR TRY_CAST(organization_id AS BIGINT) NOT IN (SELECT organization_id FROM _beacon_organizations)",
            "unknown_organization",
            f"'organization_id ' || {quoted('organization_id')} || ' is not a known organization'",
        )
    ]
    if expected_org is not None:
        slug = expected_org.replace("'", "''")
        found.append(
            Rule(
                f"TRY_CAST(organization_id AS BIGINT) <> (SELECT organization_id FROM _beacon_organizations WHERE slug = '{slug}')",
                "organization_mismatch",
                f"'event for organization ' || organization_id || ' in the inbox of {slug}'",
            )
        )
    return found


def _send_id_rule() -> Rule:
    return Rule(
        "send_id IS NOT NULL AND TRY_CAST(send_id AS UUID) IS NULL",
        "bad_send_id",
        f"'send_id ' || {quoted('send_id')} || ' is not a UUID'",
    )


def _cleaned(fields: tuple[str, ...], extra: str = "") -> str:
    cols = ", ".join(f"NULLIF(\"{f}\", '') AS \"{f}\"" for f in fields)  # values arrive trimmed
    return f"SELECT {cols}, _line, _row{extra} FROM _beacon_input"


def sendgrid_sql(expected_org: str | None) -> str:
    rules = [
        *(too_large(f) for f in SENDGRID_FIELDS),
        *(missing(f) for f in SENDGRID_SPEC.required),
        Rule(
            "TRY_CAST(\"timestamp\" AS DOUBLE) IS NULL",
            "bad_date:timestamp",
            f"'timestamp ' || {quoted('timestamp')} || ' is not unix seconds'",
        ),
        Rule(
            f"{_mapping_sql('event', SENDGRID_EVENTS)} IS NULL",
            "unknown_event",
            f"'event ' || {quoted('event')} || ' is not a SendGrid event type'",
        ),
        *_org_rules(expected_org),
        _send_id_rule(),
    ]
    reason, message = case_sql(rules)
    return f"""
WITH cleaned AS ({_cleaned(SENDGRID_FIELDS, ', _raw')}),
checked AS (SELECT *, {reason} AS _reason FROM cleaned)
SELECT
    'sendgrid' AS provider, sg_event_id AS provider_event_id, event AS provider_event,
    {_mapping_sql('event', SENDGRID_EVENTS)} AS event_type,
    to_timestamp(TRY_CAST("timestamp" AS DOUBLE)) AS occurred_at,
    lower(send_id) AS send_id, TRY_CAST(organization_id AS BIGINT) AS organization_id, campaign_id,
    email, NULL::VARCHAR AS phone, url, useragent AS user_agent,
    CASE WHEN event = 'open' THEN coalesce(TRY_CAST(sg_machine_open AS BOOLEAN), false) END AS is_machine_open,
    CASE WHEN event = 'bounce' THEN CASE WHEN type = 'blocked' THEN 'soft' ELSE 'hard' END END AS bounce_type,
    NULL::VARCHAR AS error_code, _raw AS payload, _line AS source_line, _row,
    _reason, CASE WHEN _reason IS NOT NULL THEN {message} END AS _message
FROM checked
"""


def twilio_sql(expected_org: str | None) -> str:
    payload = "json_object(" + ", ".join(
        f"'{name}', \"{f}\""
        for name, f in zip(
            ("MessageSid", "AccountSid", "From", "To", "MessageStatus", "ErrorCode", "EventTimestamp", "send_id", "organization_id"),
            TWILIO_FIELDS,
        )
    ) + ")::VARCHAR"
    rules = [
        *(too_large(f) for f in TWILIO_FIELDS),
        *(missing(f) for f in TWILIO_SPEC.required),
        bad_date("eventtimestamp"),
        Rule(
            f"{_mapping_sql('lower(messagestatus)', TWILIO_STATUSES)} IS NULL",
            "unknown_status",
            f"'MessageStatus ' || {quoted('messagestatus')} || ' is not a Twilio message status'",
        ),
        Rule(
            "errorcode IS NOT NULL AND TRY_CAST(errorcode AS INTEGER) IS NULL",
            "bad_error_code",
            f"'ErrorCode ' || {quoted('errorcode')} || ' is not an integer'",
        ),
        *_org_rules(expected_org),
        _send_id_rule(),
    ]
    reason, message = case_sql(rules)
    return f"""
WITH cleaned AS ({_cleaned(TWILIO_FIELDS)}),
checked AS (SELECT *, {reason} AS _reason FROM cleaned)
SELECT
    'twilio' AS provider, messagesid || ':' || lower(messagestatus) AS provider_event_id,
    lower(messagestatus) AS provider_event,
    {_mapping_sql('lower(messagestatus)', TWILIO_STATUSES)} AS event_type,
    TRY_CAST(eventtimestamp AS TIMESTAMPTZ) AS occurred_at,
    lower(send_id) AS send_id, TRY_CAST(organization_id AS BIGINT) AS organization_id, NULL::VARCHAR AS campaign_id,
    NULL::VARCHAR AS email, "to" AS phone, NULL::VARCHAR AS url, NULL::VARCHAR AS user_agent,
    NULL::BOOLEAN AS is_machine_open, NULL::VARCHAR AS bounce_type, errorcode AS error_code,
    {payload} AS payload, _line AS source_line, _row,
    _reason, CASE WHEN _reason IS NOT NULL THEN {message} END AS _message
FROM checked
"""
