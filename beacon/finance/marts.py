"""Reads of the billing marts (``marts.fct_billing_periods``, ``fct_usage_vs_plan``, ``fct_invoice_lines``).

Every query takes the organization as a required ``OrgId``: one tenant per call, never mixed.
SQL is SQLAlchemy Core ``text`` with bound parameters, the same on DuckDB and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from beacon.tenancy import OrgId

MARTS = "marts"
PERIOD_LABEL = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MESSAGE_METRICS = ("email", "sms", "whatsapp")
BILLABLE_COLUMN = {"email": "emails_billable", "sms": "sms_billable", "whatsapp": "whatsapp_billable"}


class MartsNotBuilt(LookupError):
    """The billing marts are not in the warehouse yet (the pipeline has not built them)."""


def utc(value: datetime) -> datetime:
    """Marts store UTC; drivers hand back naive (DuckDB TIMESTAMP) or zoned values."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_period_label(label: str) -> str:
    if not PERIOD_LABEL.match(label or ""):
        raise ValueError(f"period must be a month 'YYYY-MM' (e.g. '2026-11'), got {label!r}")
    return label


@dataclass(frozen=True)
class BillingPeriod:
    organization_id: int
    period_label: str
    period_start: datetime
    period_end: datetime
    is_closed: bool
    plan_code: str
    currency: str
    billable: dict[str, int]  # metric -> billable messages
    included: dict[str, int]  # metric -> prorated allowance


def _query(engine: Engine, sql: str, params: dict[str, Any]) -> Sequence[Any]:
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).mappings().all()
    except DBAPIError as exc:  # DuckDB CatalogException / psycopg UndefinedTable
        if "fct_" in str(exc.orig) and ("does not exist" in str(exc.orig) or "Catalog Error" in str(exc.orig)):
            raise MartsNotBuilt("the billing marts are not built yet: run the pipeline (dbt build) first") from exc
        raise


_PERIOD_COLUMNS = (
    "organization_id, period_label, period_start, period_end, is_closed, plan_code, currency, "
    "emails_billable, sms_billable, whatsapp_billable, included_emails, included_sms, included_whatsapp"
)


def _period(row: Any) -> BillingPeriod:
    return BillingPeriod(
        organization_id=int(row["organization_id"]),
        period_label=row["period_label"],
        period_start=utc(row["period_start"]),
        period_end=utc(row["period_end"]),
        is_closed=bool(row["is_closed"]),
        plan_code=row["plan_code"],
        currency=row["currency"],
        billable={m: int(row[BILLABLE_COLUMN[m]] or 0) for m in MESSAGE_METRICS},
        included={
            "email": int(row["included_emails"] or 0),
            "sms": int(row["included_sms"] or 0),
            "whatsapp": int(row["included_whatsapp"] or 0),
        },
    )


def billing_periods(engine: Engine, org: OrgId) -> list[BillingPeriod]:
    rows = _query(
        engine,
        f"SELECT {_PERIOD_COLUMNS} FROM {MARTS}.fct_billing_periods WHERE organization_id = :org ORDER BY period_start",
        {"org": int(org)},
    )
    return [_period(r) for r in rows]


def billing_period(engine: Engine, org: OrgId, label: str | None) -> BillingPeriod | None:
    """One period by label, or the latest one when ``label`` is None."""
    if label is None:
        periods = billing_periods(engine, org)
        return periods[-1] if periods else None
    rows = _query(
        engine,
        f"SELECT {_PERIOD_COLUMNS} FROM {MARTS}.fct_billing_periods WHERE organization_id = :org AND period_label = :label",
        {"org": int(org), "label": check_period_label(label)},
    )
    return _period(rows[0]) if rows else None


def organizations_billed(engine: Engine) -> list[OrgId]:
    """Tenants with at least one billing period (the pipeline iterates over these, one at a time)."""
    rows = _query(engine, f"SELECT DISTINCT organization_id FROM {MARTS}.fct_billing_periods ORDER BY 1", {})
    return [OrgId(int(r["organization_id"])) for r in rows]


def usage_rows(engine: Engine, org: OrgId, period_start: datetime) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in _query(
            engine,
            f"SELECT metric, included, used, overage_units, unit_price, overage_amount, pct_used, is_at_80_pct, "
            f"is_at_100_pct, currency FROM {MARTS}.fct_usage_vs_plan "
            f"WHERE organization_id = :org AND period_start = :start",
            {"org": int(org), "start": period_start},
        )
    ]


def invoice_line_rows(engine: Engine, org: OrgId, period_start: datetime) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in _query(
            engine,
            f"SELECT invoice_line_id, line_type, metric, quantity, unit_price, amount, currency, status "
            f"FROM {MARTS}.fct_invoice_lines WHERE organization_id = :org AND period_start = :start "
            f"ORDER BY invoice_line_id",
            {"org": int(org), "start": period_start},
        )
    ]


def decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
