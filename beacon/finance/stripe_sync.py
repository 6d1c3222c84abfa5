"""Push billable usage and closed invoices to Stripe with the official SDK, exactly once.

Per organization and billing period (from ``marts.fct_billing_periods``):

- **Meter events**, one stream per channel (``beacon_email``, ``beacon_sms``, ``beacon_whatsapp``):
  each run pushes the growth since the last push as chunk ``n`` with
  ``identifier = '<org>-<period>-<metric>-<n>'`` (also the ``Idempotency-Key``). Stripe counts an
  identifier once, and the ``usage_pushes`` row is written before the call, so a re-run or a retry
  after a crash never bills twice.
- **Invoice** (closed periods only, their lines are final): a draft invoice with one invoice item
  per ``fct_invoice_lines`` row (amounts in the currency's minor unit, exact), then finalized.
  Stripe's ``invoice.*`` webhooks land in ``webhook_receipts`` and ``reconcile.invoices`` compares them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import stripe
from sqlalchemy import Engine, select, update

from beacon.finance import marts, pushes
from beacon.finance.marts import BillingPeriod
from beacon.schema.models import Organization, Subscription
from beacon.tenancy import OrgId

METER_EVENT_NAMES = {metric: f"beacon_{metric}" for metric in marts.MESSAGE_METRICS}
# Stripe's zero-decimal currencies: amounts are sent in whole units, not hundredths.
ZERO_DECIMAL = {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}


@dataclass
class SyncResult:
    meter_events: int = 0
    meter_units: int = 0
    invoices: int = 0
    invoice_items: int = 0
    problems: list[str] = field(default_factory=list)


def minor_units(amount: Decimal, currency: str) -> int:
    """Exact conversion to Stripe's integer amount; a fraction of a cent is a contract violation."""
    scaled = amount if currency.upper() in ZERO_DECIMAL else amount * 100
    if scaled != scaled.to_integral_value():
        raise ValueError(f"amount {amount} {currency} is not a whole number of minor units")
    return int(scaled)


def meter_identifier(org: OrgId, period_label: str, metric: str, chunk: int) -> str:
    return f"{int(org)}-{period_label}-{metric}-{chunk}"


def ensure_meters(client: stripe.StripeClient) -> None:
    existing = {m.event_name for m in client.v1.billing.meters.list({"limit": 100}).auto_paging_iter()}
    for metric, event_name in METER_EVENT_NAMES.items():
        if event_name not in existing:
            client.v1.billing.meters.create(
                {
                    "display_name": f"Beacon {metric} messages",
                    "event_name": event_name,
                    "default_aggregation": {"formula": "sum"},
                    "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
                    "value_settings": {"event_payload_key": "value"},
                },
                {"idempotency_key": f"beacon-meter-{event_name}"},
            )


def ensure_customer(op_engine: Engine, client: stripe.StripeClient, org: OrgId) -> str:
    """The organization's Stripe customer: stored on the organization (or its subscription), else created."""
    with op_engine.connect() as conn:
        row = conn.execute(
            select(Organization.name, Organization.slug, Organization.stripe_customer_id).where(Organization.id == int(org))
        ).one()
        known = row.stripe_customer_id or conn.execute(
            select(Subscription.stripe_customer_id)
            .where(Subscription.organization_id == int(org), Subscription.stripe_customer_id.is_not(None))
            .limit(1)
        ).scalar()
    if known:
        customer_id = known
    else:
        customer = client.v1.customers.create(
            {"name": row.name, "metadata": {"organization_id": str(int(org)), "slug": row.slug}},
            {"idempotency_key": f"beacon-customer-{int(org)}"},
        )
        customer_id = customer.id
    if row.stripe_customer_id != customer_id:
        with op_engine.begin() as conn:
            conn.execute(update(Organization).where(Organization.id == int(org)).values(stripe_customer_id=customer_id))
    return customer_id


def _event_time(period: BillingPeriod, now: datetime) -> int:
    # Inside the period (Stripe sums a meter by event time); never in the future.
    return int(min(period.period_end - timedelta(seconds=1), now).timestamp())


def _send_meter_event(client: stripe.StripeClient, push: dict, customer_id: str, timestamp: int) -> None:
    client.v1.billing.meter_events.create(
        {
            "event_name": METER_EVENT_NAMES[push["metric"]],
            "identifier": push["idempotency_id"],
            "payload": {"stripe_customer_id": customer_id, "value": str(push["quantity"])},
            "timestamp": timestamp,
        },
        {"idempotency_key": push["idempotency_id"]},
    )


def push_usage(
    op_engine: Engine, client: stripe.StripeClient, org: OrgId, customer_id: str, period: BillingPeriod,
    result: SyncResult, now: datetime,
) -> None:
    done = pushes.of_period(op_engine, org, period.period_label, pushes.METER_EVENT)
    timestamp = _event_time(period, now)
    for push in (p for p in done if p["status"] == pushes.PENDING):  # interrupted last time: same id, same value
        _send_meter_event(client, push, customer_id, timestamp)
        pushes.mark_pushed(op_engine, push["idempotency_id"], None)
        result.meter_events += 1
        result.meter_units += push["quantity"]
    for metric in marts.MESSAGE_METRICS:
        mine = [p for p in done if p["metric"] == metric]
        delta = period.billable[metric] - sum(p["quantity"] for p in mine)
        if delta < 0:
            result.problems.append(
                f"organization {int(org)}, period {period.period_label}, {metric}: {-delta} fewer billable messages "
                "than already pushed to Stripe (usage shrank; not pushed)"
            )
            continue
        if delta == 0:
            continue
        chunk = max((p["chunk"] for p in mine), default=-1) + 1
        push = pushes.record_pending(
            op_engine, org, period_label=period.period_label, period_start=period.period_start,
            kind=pushes.METER_EVENT, metric=metric, chunk=chunk, quantity=delta,
            idempotency_id=meter_identifier(org, period.period_label, metric, chunk),
        )
        _send_meter_event(client, push, customer_id, timestamp)
        pushes.mark_pushed(op_engine, push["idempotency_id"], None)
        result.meter_events += 1
        result.meter_units += delta


def push_invoice(
    op_engine: Engine, warehouse: Engine, client: stripe.StripeClient, org: OrgId, customer_id: str,
    period: BillingPeriod, result: SyncResult,
) -> None:
    """One Stripe invoice per closed period; resumable at every step (ids in ``usage_pushes``)."""
    invoice_key = f"{int(org)}-{period.period_label}-invoice"
    invoice_push = pushes.find(op_engine, invoice_key)
    if invoice_push and invoice_push["status"] == pushes.PUSHED:
        return
    lines = marts.invoice_line_rows(warehouse, org, period.period_start)
    total = sum((Decimal(str(line["amount"])) for line in lines), Decimal("0"))
    if invoice_push is None:
        invoice_push = pushes.record_pending(
            op_engine, org, period_label=period.period_label, period_start=period.period_start, kind=pushes.INVOICE,
            metric="invoice", idempotency_id=invoice_key, quantity=len(lines), amount=total, currency=period.currency,
        )
    metadata = {"organization_id": str(int(org)), "period_label": period.period_label, "beacon_invoice": invoice_key}
    invoice_id = invoice_push["stripe_object_id"]
    if invoice_id is None:
        invoice = client.v1.invoices.create(
            {"customer": customer_id, "currency": period.currency.lower(), "auto_advance": False,
             "description": f"Beacon usage {period.period_label}", "metadata": metadata},
            {"idempotency_key": invoice_key},
        )
        invoice_id = invoice.id
        pushes.set_stripe_object(op_engine, invoice_key, invoice_id)
    for line in lines:
        key = line["invoice_line_id"]
        item_push = pushes.find(op_engine, key)
        if item_push and item_push["status"] == pushes.PUSHED:
            continue
        amount = Decimal(str(line["amount"]))
        if item_push is None:
            pushes.record_pending(
                op_engine, org, period_label=period.period_label, period_start=period.period_start,
                kind=pushes.INVOICE_ITEM, metric=line["line_type"], idempotency_id=key, quantity=int(line["quantity"]),
                amount=amount, currency=line["currency"],
            )
        item = client.v1.invoice_items.create(
            {"customer": customer_id, "invoice": invoice_id, "amount": minor_units(amount, line["currency"]),
             "currency": line["currency"].lower(), "description": f"{line['line_type']} {period.period_label}",
             "metadata": {**metadata, "invoice_line_id": key, "quantity": str(line["quantity"])}},
            {"idempotency_key": key},
        )
        pushes.mark_pushed(op_engine, key, item.id)
        result.invoice_items += 1
    client.v1.invoices.finalize_invoice(invoice_id, {"auto_advance": False}, {"idempotency_key": f"{invoice_key}-finalize"})
    pushes.mark_pushed(op_engine, invoice_key, invoice_id)
    result.invoices += 1


def sync_organization(
    op_engine: Engine, warehouse: Engine, client: stripe.StripeClient, org: OrgId, *, now: datetime | None = None,
    result: SyncResult | None = None,
) -> SyncResult:
    result = result or SyncResult()
    now = now or datetime.now(UTC)
    periods = marts.billing_periods(warehouse, org)
    if not periods:
        return result
    customer_id = ensure_customer(op_engine, client, org)
    for period in periods:
        push_usage(op_engine, client, org, customer_id, period, result, now)
        if period.is_closed:
            push_invoice(op_engine, warehouse, client, org, customer_id, period, result)
    return result


def sync_all(op_engine: Engine, warehouse: Engine, client: stripe.StripeClient, *, now: datetime | None = None) -> SyncResult:
    """Every billed organization, one at a time."""
    result = SyncResult()
    ensure_meters(client)
    for org in marts.organizations_billed(warehouse):
        sync_organization(op_engine, warehouse, client, org, now=now, result=result)
    return result
