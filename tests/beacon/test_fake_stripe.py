"""The official Stripe SDK against the fake: usage metering, invoices, subscriptions, signed webhooks."""

from __future__ import annotations

import time

import pytest
import stripe

from beacon.providers.clients import stripe_client
from beacon.providers.credentials import FAKE_STRIPE_API_KEY, stripe_webhook_secret


@pytest.fixture
def client(fake_settings) -> stripe.StripeClient:
    return stripe_client(fake_settings)


def _metered_subscription(client: stripe.StripeClient):
    customer = client.v1.customers.create(
        {"email": "billing@shop.example.com", "name": "Shop", "metadata": {"organization_id": "42"}}
    )
    meter = client.v1.billing.meters.create(
        {"display_name": "Emails sent", "event_name": "emails_sent", "default_aggregation": {"formula": "sum"}}
    )
    price = client.v1.prices.create(
        {
            "currency": "usd",
            "unit_amount_decimal": "0.1",
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        }
    )
    subscription = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": price.id}], "metadata": {"plan": "growth"}}
    )
    return customer, meter, subscription


def test_customers_create_retrieve_and_missing(client):
    customer = client.v1.customers.create({"email": "a@example.com", "metadata": {"organization_id": "42"}})
    assert customer.id.startswith("cus_") and customer.object == "customer"
    again = client.v1.customers.retrieve(customer.id)
    assert (again.email, again.metadata["organization_id"]) == ("a@example.com", "42")
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.customers.retrieve("cus_missing")
    assert error.value.code == "resource_missing"
    assert error.value.http_status == 404


def test_meter_event_identifier_counts_once(fake, client):
    customer, meter, _ = _metered_subscription(client)
    body = {
        "event_name": "emails_sent",
        "payload": {"stripe_customer_id": customer.id, "value": "25"},
        "identifier": "usage-42-2026-11-23",
    }
    first = client.v1.billing.meter_events.create(body)
    second = client.v1.billing.meter_events.create(body)
    client.v1.billing.meter_events.create(
        {**body, "identifier": "usage-42-2026-11-24", "payload": {"stripe_customer_id": customer.id, "value": "5"}}
    )

    assert first.object == "billing.meter_event" and first.identifier == second.identifier
    recorded = fake.control("GET", "/_fake/meter_events")["meter_events"]
    assert [e["identifier"] for e in recorded] == ["usage-42-2026-11-23", "usage-42-2026-11-24"]
    now = int(time.time())
    summaries = client.v1.billing.meters.event_summaries.list(
        meter.id, {"customer": customer.id, "start_time": now - 3600, "end_time": now + 3600}
    )
    assert summaries.data[0].aggregated_value == 30


def test_meter_event_needs_customer_and_numeric_value(client):
    with pytest.raises(stripe.InvalidRequestError, match=r"payload\[stripe_customer_id\]"):
        client.v1.billing.meter_events.create({"event_name": "emails_sent", "payload": {"value": "1"}})
    with pytest.raises(stripe.InvalidRequestError, match="must be a number"):
        client.v1.billing.meter_events.create(
            {"event_name": "emails_sent", "payload": {"stripe_customer_id": "cus_1", "value": "lots"}}
        )


def test_idempotency_key_replays_and_rejects_changed_params(fake, client):
    first = client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "create-a"})
    replay = client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "create-a"})
    assert replay.id == first.id
    assert replay.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(client.v1.customers.list({"email": "a@example.com"}).data) == 1
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create({"email": "b@example.com"}, {"idempotency_key": "create-a"})


def test_sdk_retry_after_503_counts_the_meter_event_once(fake, client):
    customer, _, _ = _metered_subscription(client)
    fake.control(
        "POST", "/_fake/faults", json={"provider": "stripe", "status": 503, "count": 1, "path_contains": "meter_events"}
    )
    client.v1.billing.meter_events.create(
        {"event_name": "emails_sent", "payload": {"stripe_customer_id": customer.id, "value": "3"}}
    )
    assert len(fake.control("GET", "/_fake/meter_events")["meter_events"]) == 1


def test_faults_surface_as_sdk_errors(fake):
    base = fake.url
    client = stripe.StripeClient(FAKE_STRIPE_API_KEY, base_addresses={"api": base}, max_network_retries=0)
    fake.control("POST", "/_fake/faults", json={"provider": "stripe", "status": 429, "count": 1, "retry_after": 3})
    with pytest.raises(stripe.RateLimitError) as error:
        client.v1.customers.create({"email": "a@example.com"})
    assert error.value.headers["Retry-After"] == "3"
    fake.control("POST", "/_fake/faults", json={"provider": "stripe", "status": 500, "count": 1})
    with pytest.raises(stripe.APIError) as server_error:
        client.v1.customers.create({"email": "a@example.com"})
    assert server_error.value.http_status == 500


def test_slow_fake_makes_the_sdk_time_out(fake):
    client = stripe.StripeClient(
        FAKE_STRIPE_API_KEY,
        base_addresses={"api": fake.url},
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=0.2),
    )
    fake.control("POST", "/_fake/faults", json={"provider": "stripe", "delay_s": 1, "count": 1})
    with pytest.raises(stripe.APIConnectionError):
        client.v1.customers.list()


def test_invoice_bills_metered_usage_and_lists(client):
    customer, _, subscription = _metered_subscription(client)
    for i in range(3):
        client.v1.billing.meter_events.create(
            {
                "event_name": "emails_sent",
                "payload": {"stripe_customer_id": customer.id, "value": "1000"},
                "identifier": f"u{i}",
            }
        )
    client.v1.invoice_items.create(
        {"customer": customer.id, "amount": 1500, "currency": "usd", "description": "Overage"}
    )
    invoice = client.v1.invoices.create(
        {"customer": customer.id, "subscription": subscription.id, "pending_invoice_items_behavior": "include"}
    )
    assert [line.amount for line in invoice.lines.data] == [300, 1500]  # 3000 emails x $0.001, plus the item
    assert invoice.amount_due == 1800 and invoice.status == "draft"
    paid = client.v1.invoices.pay(invoice.id)
    assert (paid.status, paid.amount_paid) == ("paid", 1800)
    listed = client.v1.invoices.list({"customer": customer.id})
    assert [i.id for i in listed.data] == [invoice.id]
    assert client.v1.invoices.retrieve(invoice.id).status == "paid"


def test_signed_webhooks_construct_with_the_sdk(fake, fake_settings, client, receiver):
    customer, _, subscription = _metered_subscription(client)
    client.v1.subscriptions.update(subscription.id, {"metadata": {"plan": "scale"}})
    invoice = client.v1.invoices.create({"customer": customer.id, "subscription": subscription.id})
    client.v1.invoice_items.create({"customer": customer.id, "invoice": invoice.id, "amount": 700, "currency": "usd"})
    failing = client.v1.invoices.finalize_invoice(invoice.id)
    fake.control("POST", f"/_fake/stripe/invoices/{failing.id}/fail_payment")
    client.v1.invoices.pay(invoice.id)
    client.v1.subscriptions.cancel(subscription.id)

    wanted = [
        "customer.subscription.created",
        "customer.subscription.updated",
        "invoice.payment_failed",
        "invoice.paid",
        "customer.subscription.deleted",
    ]
    fake.control("POST", "/_fake/config", json={"stripe_webhook_url": receiver.url("/webhooks/stripe")})
    result = fake.control("POST", "/_fake/stripe/emit_events", json={"types": wanted})
    assert result["types"] == wanted and result["statuses"] == [200] * 5

    secret = stripe_webhook_secret(fake_settings)
    events = [stripe.Webhook.construct_event(r.text, r.headers["stripe-signature"], secret) for r in receiver.received]
    assert [e.type for e in events] == wanted
    assert events[1].data.previous_attributes["metadata"].to_dict() == {"plan": "growth"}
    assert events[2].data.object.id == invoice.id and events[2].data.object.attempt_count == 1
    assert events[3].data.object.status == "paid"
    assert events[4].data.object.status == "canceled"

    tampered = receiver.received[3].text.replace('"paid"', '"void"')
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered, receiver.received[3].headers["stripe-signature"], secret)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            receiver.received[3].text, receiver.received[3].headers["stripe-signature"], "whsec_other"
        )
    # Delivered events are not sent twice; the rest (customer.created, invoice.created, ...) still wait.
    assert fake.control("POST", "/_fake/stripe/emit_events", json={"types": wanted})["events"] == 0


def test_api_key_required(fake):
    client = stripe.StripeClient("sk_live_not_for_the_fake", base_addresses={"api": fake.url})
    with pytest.raises(stripe.AuthenticationError):
        client.v1.customers.list()
