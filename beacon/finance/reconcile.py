"""Reconciliation: the same messages counted four ways must agree, and Stripe must bill what Beacon's
invoice lines say.

``usage(...)``: per organization, period and channel, the send ledger (``sends`` sent), the
provider-accepted messages (``sent`` events), the billable count of the marts, the meter units
pushed to Stripe, and the overage quantity on the invoice lines (which must be
``max(ledger - included, 0)``). Every disagreement names the organization, period, channel and
difference. The Dagster blocking asset check fails on any.

``invoices(...)``: per organization and period, Beacon's invoice line total against the latest
Stripe invoice seen in ``webhook_receipts`` (its total and whether it is paid).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from beacon.finance import ledger, marts, pushes
from beacon.finance.stripe_sync import ZERO_DECIMAL
from beacon.schema.models import WebhookReceipt
from beacon.tenancy import OrgId


@dataclass(frozen=True)
class UsageMismatch:
    organization_id: int
    period_label: str
    metric: str
    source: str
    expected: int
    actual: int

    @property
    def difference(self) -> int:
        return self.actual - self.expected

    def __str__(self) -> str:
        return (
            f"organization {self.organization_id}, period {self.period_label}, {self.metric}: {self.source} "
            f"{self.actual} vs send ledger {self.expected} (difference {self.difference:+d})"
        )


def _overage_quantities(warehouse: Engine, org: OrgId, period: marts.BillingPeriod) -> dict[str, int]:
    rows = marts.invoice_line_rows(warehouse, org, period.period_start)
    return {r["metric"]: int(r["quantity"]) for r in rows if str(r["line_type"]).endswith("_overage")}


def usage(op_engine: Engine, warehouse: Engine, orgs: list[OrgId] | None = None) -> tuple[int, list[UsageMismatch]]:
    """(periods checked, mismatches) over every billed organization (or ``orgs``)."""
    checked, found = 0, []
    for org in orgs if orgs is not None else marts.organizations_billed(warehouse):
        pushed = pushes.pushed_quantities(op_engine, org)
        for period in marts.billing_periods(warehouse, org):
            checked += 1
            sent = ledger.ledger_sent(op_engine, org, period.period_start, period.period_end)
            accepted = ledger.provider_accepted(warehouse, org, period.period_start, period.period_end)
            overage = _overage_quantities(warehouse, org, period)
            for metric in marts.MESSAGE_METRICS:
                expected = sent.get(metric, 0)
                counts = {
                    "provider accepted": accepted.get(metric, 0),
                    "billable in marts": period.billable[metric],
                    "pushed to Stripe": pushed.get((period.period_label, metric), 0),
                }
                for source, actual in counts.items():
                    if actual != expected:
                        found.append(UsageMismatch(int(org), period.period_label, metric, source, expected, actual))
                wanted_overage = max(expected - period.included[metric], 0)
                if overage.get(metric, 0) != wanted_overage:
                    found.append(
                        UsageMismatch(int(org), period.period_label, metric, "invoice overage quantity",
                                      wanted_overage, overage.get(metric, 0))
                    )
    return checked, found


@dataclass(frozen=True)
class InvoiceReconciliation:
    organization_id: int
    period_label: str
    currency: str
    lines_total: Decimal
    stripe_invoice_id: str | None
    stripe_total: Decimal | None
    stripe_status: str | None  # draft, open, paid, ... or None when Stripe has not reported an invoice

    @property
    def difference(self) -> Decimal | None:
        return None if self.stripe_total is None else self.stripe_total - self.lines_total

    @property
    def is_paid(self) -> bool:
        return self.stripe_status == "paid"

    @property
    def matches(self) -> bool:
        return self.difference == 0


def _major_units(amount: int, currency: str) -> Decimal:
    return Decimal(amount) if currency.upper() in ZERO_DECIMAL else Decimal(amount) / 100


def _latest_invoices(op_engine: Engine, org: OrgId) -> dict[str, dict[str, Any]]:
    """period_label -> the invoice object of the newest Stripe ``invoice.*`` event for it."""
    query = (
        select(WebhookReceipt.payload)
        .where(WebhookReceipt.provider == "stripe", WebhookReceipt.organization_id == int(org),
               WebhookReceipt.event_type.like("invoice.%"))
        .order_by(WebhookReceipt.occurred_at, WebhookReceipt.id)
    )
    latest: dict[str, dict[str, Any]] = {}
    with op_engine.connect() as conn:
        for (payload,) in conn.execute(query):
            invoice = ((payload or {}).get("data") or {}).get("object") or {}
            label = (invoice.get("metadata") or {}).get("period_label")
            if label:
                latest[label] = invoice
    return latest


def invoices(op_engine: Engine, warehouse: Engine, org: OrgId) -> list[InvoiceReconciliation]:
    """One row per closed period of the organization."""
    stripe_invoices = _latest_invoices(op_engine, org)
    rows = []
    for period in marts.billing_periods(warehouse, org):
        if not period.is_closed:
            continue
        lines = marts.invoice_line_rows(warehouse, org, period.period_start)
        total = sum((Decimal(str(line["amount"])) for line in lines), Decimal("0"))
        invoice = stripe_invoices.get(period.period_label)
        rows.append(
            InvoiceReconciliation(
                organization_id=int(org),
                period_label=period.period_label,
                currency=period.currency,
                lines_total=total,
                stripe_invoice_id=invoice.get("id") if invoice else None,
                stripe_total=_major_units(int(invoice["total"]), period.currency) if invoice else None,
                stripe_status=invoice.get("status") if invoice else None,
            )
        )
    return rows
