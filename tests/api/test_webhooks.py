"""Provider webhooks, signed here exactly as SendGrid, Twilio and Stripe sign them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from beacon.schema.models import Contact, Event, Organization, Plan, Subscription, Suppression, WebhookReceipt
from tests.api.conftest import PUBLIC_BASE_URL, STRIPE_SECRET, TWILIO_TOKEN, make_message, read


# ----------------------------------------------------------------------------- SendGrid

def sendgrid_post(client, key, events, *, timestamp=None, tamper=False):
    payload = json.dumps(events)
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = base64.b64encode(key.sign((ts + payload).encode(), ec.ECDSA(hashes.SHA256()))).decode()
    body = payload.replace("delivered", "bounce") if tamper else payload
    return client.post("/webhooks/sendgrid", content=body, headers={
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": ts,
    })


def sg_event(message, event, **extra):
    return {"email": message.address, "timestamp": 1_790_000_000, "event": event, "sg_event_id": uuid.uuid4().hex,
            "sg_message_id": "sgmsg-1", "send_id": str(message.send_id), "organization_id": str(message.org), **extra}


def _events(db, org):
    return [r[0] for r in read(db, select(Event).where(Event.organization_id == org).order_by(Event.id))]


def test_sendgrid_good_signature_stores_and_maps_to_the_tenant(client, db, tenant_a, sendgrid_key):
    message = make_message(db, tenant_a)
    batch = [sg_event(message, "processed"), sg_event(message, "delivered"), sg_event(message, "open", sg_machine_open=True),
             sg_event(message, "click", url="https://shop.example/")]
    response = sendgrid_post(client, sendgrid_key, batch)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 4, "stored": 3, "duplicates": 0, "ignored": 1}
    stored = _events(db, tenant_a.org)
    assert [e.event_type.value for e in stored] == ["delivered", "opened", "clicked"]
    assert {(e.send_id, e.contact_id, e.provider) for e in stored} == {(message.send_id, message.contact_id, "sendgrid")}


@pytest.mark.parametrize("problem", ["tampered", "stale", "future", "missing", "wrong_key"])
def test_sendgrid_bad_or_stale_signature_is_400_and_stores_nothing(client, db, tenant_a, sendgrid_key, problem):
    message = make_message(db, tenant_a)
    events = [sg_event(message, "delivered")]
    if problem == "tampered":
        response = sendgrid_post(client, sendgrid_key, events, tamper=True)
    elif problem == "stale":
        response = sendgrid_post(client, sendgrid_key, events, timestamp=int(time.time()) - 3600)
    elif problem == "future":
        response = sendgrid_post(client, sendgrid_key, events, timestamp=int(time.time()) + 3600)
    elif problem == "wrong_key":
        response = sendgrid_post(client, ec.generate_private_key(ec.SECP256R1()), events)
    else:
        response = client.post("/webhooks/sendgrid", json=events)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_signature"
    assert _events(db, tenant_a.org) == []


def test_sendgrid_duplicate_deliveries_are_stored_once(client, db, tenant_a, sendgrid_key):
    message = make_message(db, tenant_a)
    delivered = sg_event(message, "delivered")
    assert sendgrid_post(client, sendgrid_key, [delivered, delivered]).json()["stored"] == 1
    assert sendgrid_post(client, sendgrid_key, [delivered]).json()["duplicates"] == 1
    # Same (sg_message_id, event, timestamp) under a new sg_event_id: still a redelivery.
    again = {**delivered, "sg_event_id": uuid.uuid4().hex}
    assert sendgrid_post(client, sendgrid_key, [again]).json()["duplicates"] == 1
    assert len(_events(db, tenant_a.org)) == 1


@pytest.mark.parametrize(("event", "extra", "reason", "status"), [
    ("bounce", {"type": "bounce"}, "hard_bounce", "bounced"),
    ("dropped", {"reason": "Bounced Address"}, "dropped", "bounced"),
    ("spamreport", {}, "complaint", "complained"),
    ("unsubscribe", {}, "unsubscribed", "unsubscribed"),
    ("group_unsubscribe", {"asm_group_id": 7}, "unsubscribed", "unsubscribed"),
])
def test_sendgrid_opt_outs_and_hard_bounces_suppress(client, db, tenant_a, sendgrid_key, event, extra, reason, status):
    message = make_message(db, tenant_a, email="Gone@Example.org")
    assert sendgrid_post(client, sendgrid_key, [sg_event(message, event, **extra)]).status_code == 200
    rows = read(db, select(Suppression.address, Suppression.reason, Suppression.source).where(Suppression.organization_id == tenant_a.org))
    assert [(a, r.value, s) for a, r, s in rows] == [("gone@example.org", reason, "sendgrid")]
    contact = read(db, select(Contact).where(Contact.id == message.contact_id))[0][0]
    assert contact.status.value == status and contact.consent_email is False


def test_sendgrid_soft_bounce_does_not_suppress(client, db, tenant_a, sendgrid_key):
    message = make_message(db, tenant_a)
    sendgrid_post(client, sendgrid_key, [sg_event(message, "bounce", type="blocked")])
    assert [e.event_type.value for e in _events(db, tenant_a.org)] == ["bounced"]
    assert read(db, select(Suppression.id)) == []


def test_sendgrid_event_without_send_id_maps_by_organization_custom_arg(client, db, tenant_a, tenant_b, sendgrid_key):
    message = make_message(db, tenant_b, email="b@bravo.example")
    event = {**sg_event(message, "spamreport"), "send_id": None}
    sendgrid_post(client, sendgrid_key, [event])
    assert [e.event_type.value for e in _events(db, tenant_b.org)] == ["complained"]
    assert _events(db, tenant_a.org) == []


# ----------------------------------------------------------------------------- Twilio

def twilio_post(client, path, params, *, url=None, token=TWILIO_TOKEN, headers=None):
    signed_url = url or f"{PUBLIC_BASE_URL}{path}"
    signature = RequestValidator(token).compute_signature(signed_url, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature, **(headers or {})})


def inbound(body, number="+14155550123"):
    return {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": "AC" + "1" * 32, "From": number, "To": "+15005550006", "Body": body}


def _sms_suppressed(db, org, number="+14155550123"):
    return read(db, select(Suppression.reason).where(Suppression.organization_id == org, Suppression.channel == "sms",
                                                     Suppression.address == number))


STOP_WORDS = ["STOP", "stop", " StopAll ", "UNSUBSCRIBE", "END", "QUIT", "CANCEL", "REVOKE", "OPTOUT"]


def test_twilio_stop_words_suppress_the_number_and_start_lifts_it(client, db, tenant_a):
    message = make_message(db, tenant_a, phone="+14155550123", channel="sms")
    for word, start in zip(STOP_WORDS, ["start", "UNSTOP", " Start"] * 3):
        response = twilio_post(client, "/webhooks/twilio/inbound", inbound(word))
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
        assert [r[0].value for r in _sms_suppressed(db, tenant_a.org)] == ["sms_stop"], word
        assert read(db, select(Contact.consent_sms).where(Contact.id == message.contact_id)) == [(False,)]
        assert twilio_post(client, "/webhooks/twilio/inbound", inbound(start)).status_code == 200
        assert _sms_suppressed(db, tenant_a.org) == [], start
        assert read(db, select(Contact.consent_sms).where(Contact.id == message.contact_id)) == [(True,)]


def test_twilio_other_messages_change_nothing(client, db, tenant_a):
    make_message(db, tenant_a, phone="+14155550123", channel="sms")
    assert twilio_post(client, "/webhooks/twilio/inbound", inbound("please stop by tomorrow")).status_code == 200
    assert _sms_suppressed(db, tenant_a.org) == []


def test_twilio_bad_signature_is_400_and_stores_nothing(client, db, tenant_a):
    make_message(db, tenant_a, phone="+14155550123", channel="sms")
    assert twilio_post(client, "/webhooks/twilio/inbound", inbound("STOP"), token="wrong-token").status_code == 400
    assert client.post("/webhooks/twilio/inbound", data=inbound("STOP")).status_code == 400
    assert _sms_suppressed(db, tenant_a.org) == []


def test_twilio_signature_checked_against_the_public_url_behind_a_proxy(client, db, tenant_a):
    make_message(db, tenant_a, phone="+14155550123", channel="sms")
    proxied = "https://edge.example.net/webhooks/twilio/inbound"
    response = twilio_post(client, "/webhooks/twilio/inbound", inbound("STOP"), url=proxied,
                           headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "edge.example.net"})
    assert response.status_code == 200
    assert len(_sms_suppressed(db, tenant_a.org)) == 1


def test_twilio_status_callback_records_and_21610_suppresses(client, db, tenant_a):
    message = make_message(db, tenant_a, phone="+14155550123", channel="sms")
    params = {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "21610", "To": "+14155550123",
              "From": "+15005550006", "AccountSid": "AC" + "1" * 32}
    path = f"/webhooks/twilio/status?send_id={message.send_id}"
    for _ in range(2):
        assert twilio_post(client, path, params).status_code == 200
    events = _events(db, tenant_a.org)
    assert [(e.event_type.value, e.send_id) for e in events] == [("failed", message.send_id)], "stored once"
    assert [r[0].value for r in _sms_suppressed(db, tenant_a.org)] == ["sms_stop"]


# ----------------------------------------------------------------------------- Stripe

def stripe_post(client, event, *, secret=STRIPE_SECRET, timestamp=None):
    payload = json.dumps(event)
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
    return client.post("/webhooks/stripe", content=payload,
                       headers={"Stripe-Signature": f"t={ts},v1={mac}", "Content-Type": "application/json"})


def _subscription_event(kind, org, status="active", plan_code="growth", event_id=None):
    now = int(time.time())
    return {"id": event_id or f"evt_{uuid.uuid4().hex[:12]}", "object": "event", "type": kind, "created": now,
            "data": {"object": {"id": "sub_123", "object": "subscription", "customer": "cus_123", "status": status,
                                "metadata": {"organization_id": str(org), "plan_code": plan_code},
                                "items": {"data": [{"price": {"id": "price_x", "recurring": {"interval": "month"}},
                                                    "current_period_start": now, "current_period_end": now + 30 * 86400}]},
                                "cancel_at": None}}}


def _subs(db, org):
    return read(db, select(Subscription.stripe_subscription_id, Subscription.status, Plan.code)
                .join(Plan, Plan.id == Subscription.plan_id).where(Subscription.organization_id == org))


def test_stripe_subscription_lifecycle_and_invoices(client, db, tenant_a, tenant_b):
    created = _subscription_event("customer.subscription.created", tenant_a.org)
    assert stripe_post(client, created).json() == {"received": True, "applied": True}
    # A redelivery is acknowledged, stored once and not applied again.
    assert stripe_post(client, created).json() == {"received": True, "applied": False}
    assert _receipts(db, created["id"]) == 1
    assert [(s, st.value, p) for s, st, p in _subs(db, tenant_a.org)] == [("sub_123", "active", "growth")]
    stripe_post(client, _subscription_event("customer.subscription.updated", tenant_a.org, plan_code="scale"))
    assert _subs(db, tenant_a.org)[0][2] == "scale"
    invoice = {"id": "evt_inv1", "type": "invoice.payment_failed",
               "data": {"object": {"id": "in_1", "customer": "cus_123", "subscription": "sub_123",
                                   "metadata": {"organization_id": str(tenant_a.org)}}}}
    stripe_post(client, invoice)
    assert _subs(db, tenant_a.org)[0][1].value == "past_due"
    stripe_post(client, {**invoice, "id": "evt_inv2", "type": "invoice.paid"})
    assert _subs(db, tenant_a.org)[0][1].value == "active"
    stripe_post(client, _subscription_event("customer.subscription.deleted", tenant_a.org))
    assert _subs(db, tenant_a.org)[0][1].value == "cancelled"
    assert _subs(db, tenant_b.org) == []
    headers = tenant_a.headers()
    assert client.get("/v1/subscription", headers=headers).json()["status"] == "cancelled"


def _receipts(db, event_id):
    return len(read(db, select(WebhookReceipt.id).where(WebhookReceipt.provider == "stripe", WebhookReceipt.event_id == event_id)))


def test_stripe_event_older_than_the_applied_one_changes_nothing(client, db, tenant_a):
    newer = _subscription_event("customer.subscription.updated", tenant_a.org, plan_code="scale")
    older = _subscription_event("customer.subscription.updated", tenant_a.org, status="past_due", plan_code="starter")
    older["created"] = newer["created"] - 60
    assert stripe_post(client, newer).json()["applied"] is True
    assert stripe_post(client, older).json()["applied"] is False  # arrived late: stored, not applied
    assert [(st.value, p) for _, st, p in _subs(db, tenant_a.org)] == [("active", "scale")]
    assert _receipts(db, older["id"]) == 1


def test_stripe_maps_by_customer_id_when_metadata_is_absent(client, db, tenant_a):
    with db() as session:
        session.get(Organization, tenant_a.org).stripe_customer_id = "cus_123"
        session.commit()
    event = _subscription_event("customer.subscription.created", tenant_a.org)
    event["data"]["object"]["metadata"] = {"plan_code": "starter"}
    assert stripe_post(client, event).json()["applied"] is True
    assert _subs(db, tenant_a.org)[0][2] == "starter"


@pytest.mark.parametrize("problem", ["secret", "stale", "missing"])
def test_stripe_bad_signature_is_400_and_stores_nothing(client, db, tenant_a, problem):
    event = _subscription_event("customer.subscription.created", tenant_a.org)
    if problem == "missing":
        response = client.post("/webhooks/stripe", json=event)
    elif problem == "secret":
        response = stripe_post(client, event, secret="whsec_wrong")
    else:
        response = stripe_post(client, event, timestamp=int(time.time()) - 3600)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_signature"
    assert _subs(db, tenant_a.org) == []
