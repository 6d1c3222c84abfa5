"""The ``usage_pushes`` table: what was (or is about to be) pushed to Stripe, per organization.

A row is inserted ``pending`` and committed before the Stripe call, then marked ``pushed`` with
the Stripe object id: a crash in between leaves a pending row that the next run retries with the
same idempotency id and the same values, so Stripe records it once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from beacon.schema.models import UsagePush
from beacon.tenancy import OrgId

PENDING, PUSHED = "pending", "pushed"
METER_EVENT, INVOICE, INVOICE_ITEM = "meter_event", "invoice", "invoice_item"
PUSHES = UsagePush.__table__


def find(engine: Engine, idempotency_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(PUSHES).where(PUSHES.c.idempotency_id == idempotency_id)).mappings().first()
    return dict(row) if row else None


def of_period(engine: Engine, org: OrgId, period_label: str, kind: str | None = None) -> list[dict[str, Any]]:
    query = select(PUSHES).where(PUSHES.c.organization_id == int(org), PUSHES.c.period_label == period_label)
    if kind:
        query = query.where(PUSHES.c.kind == kind)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query.order_by(PUSHES.c.id)).mappings()]


def pushed_quantities(engine: Engine, org: OrgId) -> dict[tuple[str, str], int]:
    """(period_label, metric) -> meter quantity Stripe acknowledged, for one organization."""
    query = (
        select(PUSHES.c.period_label, PUSHES.c.metric, func.sum(PUSHES.c.quantity))
        .where(PUSHES.c.organization_id == int(org), PUSHES.c.kind == METER_EVENT, PUSHES.c.status == PUSHED)
        .group_by(PUSHES.c.period_label, PUSHES.c.metric)
    )
    with engine.connect() as conn:
        return {(label, metric): int(total) for label, metric, total in conn.execute(query)}


def record_pending(
    engine: Engine,
    org: OrgId,
    *,
    period_label: str,
    period_start: datetime,
    kind: str,
    metric: str,
    idempotency_id: str,
    chunk: int = 0,
    quantity: int = 0,
    amount: Decimal | None = None,
    currency: str | None = None,
) -> dict[str, Any]:
    values = dict(
        organization_id=int(org), period_label=period_label, period_start=period_start, kind=kind, metric=metric,
        chunk=chunk, quantity=quantity, amount=amount, currency=currency, idempotency_id=idempotency_id,
        status=PENDING,
    )
    with engine.begin() as conn:
        conn.execute(insert(PUSHES).values(**values))
    return find(engine, idempotency_id)  # type: ignore[return-value]


def mark_pushed(engine: Engine, idempotency_id: str, stripe_object_id: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(PUSHES)
            .where(PUSHES.c.idempotency_id == idempotency_id)
            .values(status=PUSHED, stripe_object_id=stripe_object_id, pushed_at=datetime.now(UTC))
        )


def set_stripe_object(engine: Engine, idempotency_id: str, stripe_object_id: str) -> None:
    """Remember the object id as soon as Stripe returns it (the invoice id, before its items)."""
    with engine.begin() as conn:
        conn.execute(
            update(PUSHES).where(PUSHES.c.idempotency_id == idempotency_id).values(stripe_object_id=stripe_object_id)
        )
