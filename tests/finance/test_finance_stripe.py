"""Stripe sync over real HTTP (official SDK -> the local fake), then the reconciliations:
usage counted four ways agrees, an injected mismatch is named, invoices match Stripe's webhooks."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from beacon.finance import pushes, reconcile
from beacon.finance.stripe_sync import sync_all
from beacon.providers.clients import stripe_client
from beacon.providers.fake import FakeProviderServer
from beacon.schema.db import session_scope
from beacon.schema.models import Channel, Organization, UsagePush
from tests.finance.conftest import remove_send, utc, write_send

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.slow  # a dbt-built deployment per back end (built once per session)


@pytest.fixture(scope="module")
def fake_server():
    with FakeProviderServer() as server:
        yield server


@pytest.fixture
def fake(fake_server):
    fake_server.control("POST", "/_fake/reset")
    return fake_server


@pytest.fixture
def engines(clean):
    op, warehouse = clean.op_engine(), clean.warehouse()
    yield op, warehouse
    op.dispose()
    warehouse.dispose()


def _client(deployment, fake):
    return stripe_client(deployment.settings(fake_providers_url=fake.url), max_network_retries=0)


def test_sync_twice_bills_once(clean, engines, fake):
    op, warehouse = engines
    client = _client(clean, fake)
    first = sync_all(op, warehouse, client, now=NOW)
    # shop: Oct 6 emails + 2 SMS, Nov 3 emails; other: Oct 2 emails -> 13 units in 4 meter events.
    assert (first.meter_events, first.meter_units, first.problems) == (4, 13, [])
    # Two closed periods (Oct of each tenant) invoiced: shop 3 lines, other 1 (fee only).
    assert (first.invoices, first.invoice_items) == (2, 4)
    again = sync_all(op, warehouse, client, now=NOW)
    assert (again.meter_events, again.invoices, again.invoice_items) == (0, 0, 0)
    events = fake.state.stripe_meter_events
    assert len(events) == 4
    shop_customer = _customer(op, clean.shop)
    oct_email = events[f"{clean.shop}-2026-10-email-0"]
    assert oct_email["payload"] == {"stripe_customer_id": shop_customer, "value": "6"}
    invoices = [o for o in fake.state.stripe_objects.values() if o["object"] == "invoice"]
    assert sorted(i["total"] for i in invoices) == [2000, 2008]
    assert all(i["status"] == "open" for i in invoices)


def test_a_crash_after_stripe_accepted_retries_the_same_identifier(clean, engines, fake):
    op, warehouse = engines
    client = _client(clean, fake)
    sync_all(op, warehouse, client, now=NOW)
    # As if the run died between Stripe's answer and the ledger update: the row is still pending.
    with op.begin() as conn:
        conn.execute(UsagePush.__table__.update().where(UsagePush.idempotency_id == f"{clean.shop}-2026-11-email-0")
                     .values(status=pushes.PENDING))
    retried = sync_all(op, warehouse, client, now=NOW)
    assert (retried.meter_events, retried.meter_units) == (1, 3)
    assert len(fake.state.stripe_meter_events) == 4  # Stripe counted the identifier once


def test_usage_reconciles_and_a_missing_push_is_named(clean, engines, fake):
    op, warehouse = engines
    sync_all(op, warehouse, _client(clean, fake), now=NOW)
    checked, mismatches = reconcile.usage(op, warehouse)
    assert checked == 4 and mismatches == []  # shop Oct, Nov; other Oct, Nov

    with op.begin() as conn:
        conn.execute(delete(UsagePush).where(UsagePush.idempotency_id == f"{clean.shop}-2026-10-sms-0"))
    _, mismatches = reconcile.usage(op, warehouse)
    assert [str(m) for m in mismatches] == [
        f"organization {clean.shop}, period 2026-10, sms: pushed to Stripe 0 vs send ledger 2 (difference -2)"
    ]


def test_an_extra_ledger_row_fails_every_downstream_count(clean, engines, fake):
    op, warehouse = engines
    sync_all(op, warehouse, _client(clean, fake), now=NOW)
    with session_scope(op) as session:  # a send the marts never saw (as if written after the build)
        send_id = write_send(session, clean.shop, clean.campaign, clean.contact, Channel.email, utc("2026-10-20 10:00:00"))
    try:
        _, mismatches = reconcile.usage(op, warehouse)
        assert {(m.organization_id, m.period_label, m.metric, m.source, m.difference) for m in mismatches} == {
            # The provider's events are counted in the warehouse (webhooks and export files alike): not there yet.
            (clean.shop, "2026-10", "email", "provider accepted", -1),
            (clean.shop, "2026-10", "email", "billable in marts", -1),
            (clean.shop, "2026-10", "email", "pushed to Stripe", -1),
            # 7 sent against 4 included: the invoice should carry 3 over, it carries 2.
            (clean.shop, "2026-10", "email", "invoice overage quantity", -1),
        }
        assert all(m.organization_id != clean.other for m in mismatches)
    finally:
        remove_send(op, send_id)


def test_invoices_reconcile_against_stripe_webhooks(clean, engines, fake):
    from api.main import create_app
    from beacon.providers.fake.server import BackgroundServer

    op, warehouse = engines
    settings = clean.settings(fake_providers_url=fake.url)
    client = _client(clean, fake)
    sync_all(op, warehouse, client, now=NOW)
    shop_invoice = next(o for o in fake.state.stripe_objects.values()
                        if o["object"] == "invoice" and o["metadata"].get("organization_id") == str(clean.shop))
    client.v1.invoices.pay(shop_invoice["id"])
    # Stripe delivers its signed events to Beacon's webhook endpoint (real HTTP, real verification).
    with BackgroundServer(create_app(settings)) as api:
        fake.control("POST", "/_fake/config", json={"stripe_webhook_url": f"{api.url}/webhooks/stripe"})
        emitted = fake.control("POST", "/_fake/stripe/emit_events", json={"types": ["invoice.finalized", "invoice.paid"]})
    assert emitted["statuses"] == [200] * emitted["events"] and emitted["events"] == 3

    shop = {r.period_label: r for r in reconcile.invoices(op, warehouse, clean.shop)}
    assert list(shop) == ["2026-10"]  # only closed periods are invoiced
    october = shop["2026-10"]
    assert (october.lines_total, october.stripe_total, october.difference) == (Decimal("20.08"), Decimal("20.08"), 0)
    assert october.is_paid and october.stripe_invoice_id == shop_invoice["id"]
    other = reconcile.invoices(op, warehouse, clean.other)[0]
    assert (other.matches, other.is_paid, other.stripe_status) == (True, False, "open")


def _customer(op, org) -> str:
    with op.connect() as conn:
        return conn.execute(select(Organization.stripe_customer_id).where(Organization.id == org)).scalar_one()
