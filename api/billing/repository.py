from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from beacon.schema.models import Organization, Plan, Subscription, SubscriptionChange
from beacon.tenancy import OrgId


def plans(session: Session) -> list[Plan]:
    """Plans are platform reference data, the same for every tenant."""
    return list(session.scalars(select(Plan).order_by(Plan.id)))


def plans_page(session: Session, *, after_id: int | None, limit: int, feature: str | None) -> list[Plan]:
    query = select(Plan)
    if after_id is not None:
        query = query.where(Plan.id > after_id)
    rows = list(session.scalars(query.order_by(Plan.id)))
    # features is a short JSON list on a handful of rows: filtered here, portable on both back ends.
    if feature:
        rows = [p for p in rows if feature in (p.features or [])]
    return rows[: limit + 1]


def plan_by_code(session: Session, code: str) -> Plan | None:
    return session.scalar(select(Plan).where(Plan.code == code))


def plan_by_stripe_price(session: Session, price_id: str) -> Plan | None:
    return session.scalar(select(Plan).where(Plan.stripe_price_id == price_id))


def current_subscription(session: Session, org: OrgId) -> Subscription | None:
    return session.scalar(select(Subscription).where(Subscription.organization_id == org)
                          .order_by(Subscription.current_period_start.desc(), Subscription.id.desc()).limit(1))


def subscription_by_stripe_id(session: Session, org: OrgId, stripe_subscription_id: str) -> Subscription | None:
    return session.scalar(select(Subscription).where(
        Subscription.organization_id == org, Subscription.stripe_subscription_id == stripe_subscription_id))


def add_subscription(session: Session, org: OrgId, **values) -> Subscription:
    row = Subscription(organization_id=org, **values)
    session.add(row)
    session.flush()
    return row


def add_subscription_change(session: Session, org: OrgId, row: Subscription, **values) -> SubscriptionChange:
    change = SubscriptionChange(organization_id=org, subscription_id=row.id, **values)
    session.add(change)
    return change


def org_for_stripe_customer(session: Session, customer_id: str) -> OrgId | None:
    """Webhooks carry Stripe's customer id, not ours: this lookup is how they find their tenant."""
    found = session.scalar(select(Organization.id).where(Organization.stripe_customer_id == customer_id))
    return OrgId(found) if found is not None else None


def org_exists(session: Session, org_id: int) -> OrgId | None:
    found = session.scalar(select(Organization.id).where(Organization.id == org_id))
    return OrgId(found) if found is not None else None
