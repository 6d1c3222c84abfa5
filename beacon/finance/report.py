"""The usage report of one organization and billing period: usage by channel against the plan,
overage, threshold flags and invoice lines, assembled from the billing marts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from beacon.finance import marts
from beacon.tenancy import OrgId

# Display order: messages first, then the levels that are not billed per unit.
METRIC_ORDER = ("email", "sms", "whatsapp", "contacts", "campaigns")


class ReportNotFound(LookupError):
    """No billing period for this organization (and label)."""


@dataclass(frozen=True)
class UsageLine:
    metric: str
    included: int
    used: int
    overage_units: int
    unit_price: Decimal | None
    overage_amount: Decimal
    pct_used: Decimal | None
    is_at_80_pct: bool
    is_at_100_pct: bool


@dataclass(frozen=True)
class InvoiceLine:
    invoice_line_id: str
    line_type: str
    metric: str
    quantity: int
    unit_price: Decimal
    amount: Decimal
    status: str


@dataclass(frozen=True)
class UsageReport:
    organization_id: int
    period_label: str
    period_start: datetime
    period_end: datetime
    is_closed: bool
    plan_code: str
    currency: str
    usage: tuple[UsageLine, ...]
    invoice_lines: tuple[InvoiceLine, ...]

    @property
    def invoice_total(self) -> Decimal:
        return sum((line.amount for line in self.invoice_lines), Decimal("0"))

    @property
    def overage_total(self) -> Decimal:
        return sum((line.overage_amount for line in self.usage), Decimal("0"))

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "invoice_total": self.invoice_total, "overage_total": self.overage_total}


def _usage_line(row: dict[str, Any]) -> UsageLine:
    return UsageLine(
        metric=row["metric"],
        included=int(row["included"]),
        used=int(row["used"]),
        overage_units=int(row["overage_units"]),
        unit_price=marts.decimal_or_none(row["unit_price"]),
        overage_amount=Decimal(str(row["overage_amount"] or 0)),
        pct_used=marts.decimal_or_none(row["pct_used"]),
        is_at_80_pct=bool(row["is_at_80_pct"]),
        is_at_100_pct=bool(row["is_at_100_pct"]),
    )


def _invoice_line(row: dict[str, Any]) -> InvoiceLine:
    return InvoiceLine(
        invoice_line_id=row["invoice_line_id"],
        line_type=row["line_type"],
        metric=row["metric"],
        quantity=int(row["quantity"]),
        unit_price=Decimal(str(row["unit_price"])),
        amount=Decimal(str(row["amount"])),
        status=row["status"],
    )


def usage_report(engine: Engine, org: OrgId, period_label: str | None = None) -> UsageReport:
    """The report for ``period_label`` ('YYYY-MM'), or the organization's latest period when None.

    Raises ``ValueError`` for a malformed label, ``ReportNotFound`` when the period does not exist,
    ``marts.MartsNotBuilt`` before the pipeline has built the marts.
    """
    period = marts.billing_period(engine, org, period_label)
    if period is None:
        wanted = f"period {period_label}" if period_label else "any period"
        raise ReportNotFound(f"no billing data for {wanted} of this organization")
    usage = sorted(
        (_usage_line(r) for r in marts.usage_rows(engine, org, period.period_start)),
        key=lambda line: METRIC_ORDER.index(line.metric) if line.metric in METRIC_ORDER else len(METRIC_ORDER),
    )
    lines = [_invoice_line(r) for r in marts.invoice_line_rows(engine, org, period.period_start)]
    return UsageReport(
        organization_id=period.organization_id,
        period_label=period.period_label,
        period_start=period.period_start,
        period_end=period.period_end,
        is_closed=period.is_closed,
        plan_code=period.plan_code,
        currency=period.currency,
        usage=tuple(usage),
        invoice_lines=tuple(lines),
    )
