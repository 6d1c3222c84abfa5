"""Turning verified provider webhooks into events, suppressions and contact state.

Each event finds its tenant through the send ledger (``send_id`` custom arg / status-callback
parameter, or the provider's message id), falling back to an ``organization_id`` custom arg.
Redeliveries are stored once: (provider, provider_event_id) is unique and inserts ignore conflicts.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from api.billing import service as billing
from api.delivery import repository
from api.delivery.service import Delivery, locate, opt_out, sms_opt_in
from beacon.schema.models import Channel, EventType, SuppressionReason

SENDGRID_EVENTS: dict[str, EventType] = {
    "delivered": EventType.delivered, "open": EventType.opened, "click": EventType.clicked,
    "bounce": EventType.bounced, "dropped": EventType.failed, "spamreport": EventType.complained,
    "unsubscribe": EventType.unsubscribed, "group_unsubscribe": EventType.unsubscribed,
}
# processed and deferred are provider-internal steps: acknowledged, not stored (activation records "sent").

SENDGRID_SUPPRESS: dict[str, SuppressionReason] = {
    "dropped": SuppressionReason.dropped, "spamreport": SuppressionReason.complaint,
    "unsubscribe": SuppressionReason.unsubscribed, "group_unsubscribe": SuppressionReason.unsubscribed,
}


def _sendgrid_delivery(session: Session, event: dict[str, Any]) -> Delivery | None:
    found = locate(session, event.get("send_id"))
    if found is not None:
        return found
    org_id = str(event.get("organization_id") or "")
    org = repository.org_exists(session, int(org_id)) if org_id.isdigit() else None
    if org is None:
        return None
    email = str(event.get("email") or "").strip().lower() or None
    ids = repository.contact_ids_by_email(session, org, email) if email else []
    return Delivery(org, None, ids[0] if ids else None, Channel.email, email)


def _is_redelivery(session: Session, delivery: Delivery, event: dict[str, Any], occurred_at: datetime) -> bool:
    # SendGrid may resend an event under a new sg_event_id; (sg_message_id, event, timestamp) catches it.
    same_time = repository.provider_events_at(session, delivery.org, "sendgrid", delivery.send_id, occurred_at)
    return any(e.payload.get("event") == event.get("event") and e.payload.get("sg_message_id") == event.get("sg_message_id")
               for e in same_time)


def process_sendgrid(session: Session, events: list[Any]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for event in events:
        if not isinstance(event, dict):
            counts["ignored"] += 1
            continue
        kind = event.get("event")
        event_type = SENDGRID_EVENTS.get(kind)
        delivery = _sendgrid_delivery(session, event) if event_type else None
        if event_type is None or delivery is None:
            counts["ignored"] += 1
            continue
        try:
            occurred_at = datetime.fromtimestamp(int(event.get("timestamp")), UTC)
        except (TypeError, ValueError):
            counts["ignored"] += 1
            continue
        provider_event_id = str(event.get("sg_event_id") or f"{event.get('sg_message_id')}:{kind}:{event.get('timestamp')}")
        if _is_redelivery(session, delivery, event, occurred_at) or not repository.insert_event(
            session, delivery.org, event_type=event_type, occurred_at=occurred_at, provider="sendgrid",
            provider_event_id=provider_event_id, send_id=delivery.send_id, contact_id=delivery.contact_id,
            channel=Channel.email, payload=event,
        ):
            counts["duplicates"] += 1
            continue
        counts["stored"] += 1
        reason = SENDGRID_SUPPRESS.get(kind)
        if kind == "bounce" and event.get("type", "bounce") == "bounce":  # "blocked" is a soft bounce
            reason = SuppressionReason.hard_bounce
        if reason is not None:
            opt_out(session, delivery.org, channel=Channel.email, address=delivery.address or event.get("email"),
                    contact_ids=[delivery.contact_id] if delivery.contact_id else [], reason=reason, source="sendgrid")
    return {"received": len(events), "stored": counts["stored"], "duplicates": counts["duplicates"], "ignored": counts["ignored"]}


# ----------------------------------------------------------------------------- Twilio

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "CANCEL", "REVOKE", "OPTOUT"}
START_WORDS = {"START", "UNSTOP"}
TWILIO_STATUS: dict[str, EventType] = {"delivered": EventType.delivered, "undelivered": EventType.failed, "failed": EventType.failed}
TWILIO_OPTED_OUT = "21610"  # "Attempt to send to unsubscribed recipient"


def process_twilio_status(session: Session, params: dict[str, str], query: dict[str, str]) -> dict[str, int]:
    sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
    delivery = locate(session, query.get("send_id") or params.get("send_id"))
    if delivery is None and sid:
        send = repository.find_send_by_provider_message(session, sid)
        delivery = locate(session, send.send_id) if send else None
    event_type = TWILIO_STATUS.get(status)
    if delivery is None or event_type is None:
        return {"stored": 0}
    stored = repository.insert_event(
        session, delivery.org, event_type=event_type, occurred_at=datetime.now(UTC), provider="twilio",
        provider_event_id=f"{sid}:{status}", send_id=delivery.send_id, contact_id=delivery.contact_id,
        channel=delivery.channel or Channel.sms, payload=dict(params),
    )
    if params.get("ErrorCode") == TWILIO_OPTED_OUT:
        number = params.get("To") or delivery.address
        opt_out(session, delivery.org, channel=Channel.sms, address=number,
                contact_ids=[delivery.contact_id] if delivery.contact_id else [],
                reason=SuppressionReason.sms_stop, source="twilio")
    return {"stored": int(stored)}


def process_twilio_inbound(session: Session, params: dict[str, str]) -> str | None:
    """STOP-family words suppress the sender's number, START/UNSTOP lift it; returns the action."""
    word = " ".join(params.get("Body", "").split()).upper()
    number = params.get("From", "")
    if not number or (word not in STOP_WORDS and word not in START_WORDS):
        return None
    action = "stop" if word in STOP_WORDS else "start"
    for org in repository.orgs_reaching_number(session, number):
        contact_ids = repository.contact_ids_by_phone(session, org, number)
        if action == "stop":
            opt_out(session, org, channel=Channel.sms, address=number, contact_ids=contact_ids,
                    reason=SuppressionReason.sms_stop, source="twilio")
        else:
            sms_opt_in(session, org, number, contact_ids)
        if action == "stop":  # one event per tenant: the message id alone would collide across tenants
            repository.insert_event(
                session, org, event_type=EventType.unsubscribed, occurred_at=datetime.now(UTC), provider="twilio",
                provider_event_id=f"{params.get('MessageSid', '')}:{org}", contact_id=contact_ids[0] if contact_ids else None,
                channel=Channel.sms, payload={"keyword": word, "from": number},
            )
    return action


# ----------------------------------------------------------------------------- Stripe

def process_stripe(session: Session, event: dict[str, Any]) -> bool:
    """Store the receipt first (dedupe on Stripe's event id), then apply it. True if it changed state."""
    kind = event.get("type", "")
    obj = (event.get("data") or {}).get("object") or {}
    created = datetime.fromtimestamp(int(event["created"]), tz=UTC) if event.get("created") else None
    receipt = repository.record_webhook_receipt(
        session, provider="stripe", event_id=str(event.get("id", "")), event_type=kind,
        occurred_at=created or datetime.now(UTC), payload=event,
    )
    if receipt is None:  # a redelivery: already stored (and applied if it applied)
        return False
    applied = False
    if kind.startswith("customer.subscription."):
        applied = billing.apply_subscription_event(session, kind, obj, event_created=created)
    elif kind in {"invoice.paid", "invoice.payment_failed"}:
        applied = billing.apply_invoice_event(session, kind, obj, event_created=created)
    repository.mark_receipt(session, receipt, org=billing.resolve_org(session, obj), applied=applied)
    return applied
