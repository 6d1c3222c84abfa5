"""Stripe invoice items and invoices; an invoice for a subscription bills metered usage."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from beacon.providers.fake.state import FakeState
from beacon.providers.fake.stripe.billing import usage
from beacon.providers.fake.stripe.core import (
    PERIOD_SECONDS,
    StripeError,
    as_int,
    base_fields,
    enqueue_event,
    get_object,
    new_id,
    now_ts,
    of_kind,
    paged,
    public,
    require,
    route,
    store,
)


@route("POST", "/v1/invoiceitems")
def create_invoice_item(state: FakeState, params: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    require(params, "customer")
    get_object(state, params["customer"], "customer", "customer")
    quantity = as_int(params, "quantity", 1) or 1
    if "amount" in params:
        amount = as_int(params, "amount")
    elif "unit_amount_decimal" in params or "unit_amount" in params:
        unit = Decimal(params.get("unit_amount_decimal") or params["unit_amount"])
        amount = int((unit * quantity).to_integral_value())
    else:
        raise StripeError(400, "You must specify either amount, unit_amount or unit_amount_decimal.", param="amount")
    item = base_fields(state, "ii", "invoiceitem", params)
    item.update(
        customer=params["customer"],
        amount=amount,
        currency=(params.get("currency") or "usd").lower(),
        description=params.get("description"),
        quantity=quantity,
        invoice=params.get("invoice"),
        date=item["created"],
        period={"start": item["created"], "end": item["created"]},
        discountable=True,
    )
    if item["invoice"]:
        invoice = get_object(state, item["invoice"], "invoice", "invoice")
        if invoice["status"] != "draft":
            raise StripeError(
                400, f"Invoice {invoice['id']} is not a draft and cannot take new items.", param="invoice"
            )
        add_line(invoice, item["amount"], item["currency"], item["description"], quantity, item["metadata"], item["id"])
    return store(state, item)


@route("GET", "/v1/invoiceitems")
def list_invoice_items(state: FakeState, params: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    return paged("/v1/invoiceitems", of_kind(state, "invoiceitem", customer=params.get("customer")), params)


def add_line(
    invoice: dict[str, Any],
    amount: int,
    currency: str,
    description: str | None,
    quantity: int | float,
    metadata: dict[str, Any],
    source: str,
) -> None:
    invoice["lines"]["data"].append(
        {
            "id": new_id("il"),
            "object": "line_item",
            "amount": amount,
            "currency": currency,
            "description": description,
            "quantity": quantity,
            "metadata": metadata,
            "invoice": invoice["id"],
            "livemode": False,
            "period": {"start": invoice["period_start"], "end": invoice["period_end"]},
            "parent": {"type": "invoice_item_details", "invoice_item_details": {"invoice_item": source}}
            if source.startswith("ii_")
            else {"type": "subscription_item_details", "subscription_item_details": {"subscription_item": source}},
        }
    )
    invoice["lines"]["total_count"] = len(invoice["lines"]["data"])
    total = sum(line["amount"] for line in invoice["lines"]["data"])
    invoice.update(subtotal=total, total=total, amount_due=total, amount_remaining=total - invoice["amount_paid"])


@route("POST", "/v1/invoices")
def create_invoice(state: FakeState, params: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """A draft invoice; with ``subscription`` it bills the current period (metered items from meter events)."""
    require(params, "customer")
    customer = get_object(state, params["customer"], "customer", "customer")
    subscription = (
        get_object(state, params["subscription"], "subscription", "subscription")
        if params.get("subscription")
        else None
    )
    now = now_ts()
    invoice = base_fields(state, "in", "invoice", params)
    invoice.update(
        customer=customer["id"],
        customer_email=customer.get("email"),
        status="draft",
        currency=(params.get("currency") or "usd").lower(),
        collection_method=params.get("collection_method", "charge_automatically"),
        auto_advance=params.get("auto_advance") == "true",
        amount_due=0,
        amount_paid=0,
        amount_remaining=0,
        subtotal=0,
        total=0,
        attempt_count=0,
        attempted=False,
        number=None,
        period_start=subscription["current_period_start"] if subscription else now,
        period_end=now,
        lines={
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/invoices/{invoice['id']}/lines",
        },
        parent={
            "type": "subscription_details",
            "subscription_details": {"subscription": subscription["id"], "metadata": subscription["metadata"]},
        }
        if subscription
        else None,
        status_transitions={"finalized_at": None, "paid_at": None, "voided_at": None},
        hosted_invoice_url=None,
    )
    if subscription:
        bill_subscription_period(state, invoice, subscription, now)
    if params.get("pending_invoice_items_behavior") == "include":
        for item in of_kind(state, "invoiceitem", customer=customer["id"], invoice=None):
            item["invoice"] = invoice["id"]
            add_line(
                invoice,
                item["amount"],
                item["currency"],
                item["description"],
                item["quantity"],
                item["metadata"],
                item["id"],
            )
    store(state, invoice)
    enqueue_event(state, "invoice.created", public(invoice), info)
    return invoice


def bill_subscription_period(state: FakeState, invoice: dict[str, Any], subscription: dict[str, Any], now: int) -> None:
    start = subscription["current_period_start"]
    for item in subscription["items"]["data"]:
        price = item["price"]
        unit = Decimal(price.get("unit_amount_decimal") or price.get("unit_amount") or 0)
        recurring = price.get("recurring") or {}
        if recurring.get("usage_type") == "metered" and recurring.get("meter"):
            quantity = usage(
                state, get_object(state, recurring["meter"], "billing.meter"), subscription["customer"], start, now + 1
            )
        else:
            quantity = Decimal(item["quantity"])
        amount = int((unit * quantity).to_integral_value())
        add_line(
            invoice,
            amount,
            price.get("currency") or "usd",
            price.get("nickname") or price["id"],
            float(quantity),
            {},
            item["id"],
        )
    subscription["current_period_start"] = now + 1
    subscription["current_period_end"] = now + 1 + PERIOD_SECONDS


@route("GET", "/v1/invoices")
def list_invoices(state: FakeState, params: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    invoices = of_kind(state, "invoice", customer=params.get("customer"), status=params.get("status"))
    if sub := params.get("subscription"):
        invoices = [
            i for i in invoices if (i.get("parent") or {}).get("subscription_details", {}).get("subscription") == sub
        ]
    return paged("/v1/invoices", invoices, params)


@route("GET", "/v1/invoices/{invoice_id}")
def retrieve_invoice(state: FakeState, params: dict[str, Any], info: dict[str, Any], invoice_id: str) -> dict[str, Any]:
    return get_object(state, invoice_id, "invoice")


@route("POST", "/v1/invoices/{invoice_id}/finalize")
def finalize_invoice(state: FakeState, params: dict[str, Any], info: dict[str, Any], invoice_id: str) -> dict[str, Any]:
    invoice = get_object(state, invoice_id, "invoice")
    if invoice["status"] != "draft":
        raise StripeError(
            400,
            "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
            code="invoice_not_editable",
        )
    invoice.update(status="open", number=f"FAKE-{state.next_number():04d}")
    invoice["status_transitions"]["finalized_at"] = now_ts()
    enqueue_event(state, "invoice.finalized", public(invoice), info)
    if invoice["amount_due"] == 0:  # Stripe marks zero-amount invoices paid on finalization
        mark_paid(state, invoice, info)
    return invoice


def mark_paid(state: FakeState, invoice: dict[str, Any], info: dict[str, Any]) -> None:
    invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0, attempted=True)
    invoice["attempt_count"] += 1
    invoice["status_transitions"]["paid_at"] = now_ts()
    enqueue_event(state, "invoice.paid", public(invoice), info)


@route("POST", "/v1/invoices/{invoice_id}/pay")
def pay_invoice(state: FakeState, params: dict[str, Any], info: dict[str, Any], invoice_id: str) -> dict[str, Any]:
    invoice = get_object(state, invoice_id, "invoice")
    if invoice["status"] == "draft":
        finalize_invoice(state, params, info, invoice_id=invoice_id)
    if invoice["status"] == "paid":
        raise StripeError(400, "Invoice is already paid.")
    if invoice["status"] != "open":
        raise StripeError(400, f"You cannot pay an invoice with status {invoice['status']}.")
    mark_paid(state, invoice, info)
    return invoice


def fail_invoice_payment(state: FakeState, invoice_id: str) -> dict[str, Any]:
    """Control: a failed charge attempt on an open invoice (``invoice.payment_failed``)."""
    with state.lock:
        invoice = get_object(state, invoice_id, "invoice")
        if invoice["status"] == "draft":
            invoice.update(status="open", number=f"FAKE-{state.next_number():04d}")
        invoice.update(attempted=True, attempt_count=invoice["attempt_count"] + 1)
        enqueue_event(state, "invoice.payment_failed", public(invoice), {})
        return public(invoice)
