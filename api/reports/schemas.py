from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field


class UsageOut(BaseModel):
    metric: str = Field(examples=["email"], description="email, sms, whatsapp, contacts or campaigns")
    included: int = Field(description="Allowance of the period (prorated); contacts: the plan's limit")
    used: int
    overage_units: int
    unit_price: Decimal | None = Field(description="Overage price per unit; null when not billed per unit")
    overage_amount: Decimal
    pct_used: Decimal | None
    is_at_80_pct: bool
    is_at_100_pct: bool


class InvoiceLineOut(BaseModel):
    invoice_line_id: str
    line_type: str
    metric: str
    quantity: int
    unit_price: Decimal
    amount: Decimal
    status: str = Field(description="draft while the period is open or in grace, closed after")


class UsageReportOut(BaseModel):
    organization_id: int
    period_label: str = Field(examples=["2026-11"])
    period_start: datetime
    period_end: datetime
    is_closed: bool
    plan_code: str
    currency: str
    usage: list[UsageOut]
    invoice_lines: list[InvoiceLineOut]
    invoice_total: Decimal
    overage_total: Decimal
