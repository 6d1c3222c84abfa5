"""Plans, the organization's subscription, and applying Stripe's subscription/invoice events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from api.billing import repository
from api.billing.schemas import PlanOut, SubscriptionChange, SubscriptionOut
from api.errors import NotFound, Unprocessable
from api.pagination import PageParams, make_page
from beacon.schema.models import BillingCycle, Subscription, SubscriptionStatus
from beacon.tenancy import OrgId

STRIPE_STATUS = {
    "active": SubscriptionStatus.active, "trialing": SubscriptionStatus.trialing, "past_due": SubscriptionStatus.past_due,
    "canceled": SubscriptionStatus.cancelled, "unpaid": SubscriptionStatus.unpaid, "incomplete": SubscriptionStatus.past_due,
    "incomplete_expired": SubscriptionStatus.cancelled, "paused": SubscriptionStatus.past_due,
}


def _out(row: Subscription) -> SubscriptionOut:
    return SubscriptionOut(id=row.id, plan=PlanOut.model_validate(row.plan), status=row.status, billing_cycle=row.billing_cycle,
                           current_period_start=row.current_period_start, current_period_end=row.current_period_end,
                           cancel_at=row.cancel_at, stripe_subscription_id=row.stripe_subscription_id)


def list_plans(session: Session, page: PageParams, feature: str | None) -> dict:
    rows = repository.plans_page(session, after_id=page.after_id, limit=page.limit, feature=feature)
    return make_page(rows, page.limit, PlanOut.model_validate)


def get_subscription(session: Session, org: OrgId) -> SubscriptionOut:
    row = repository.current_subscription(session, org)
    if row is None:
        raise NotFound("the organization has no subscription")
    return _out(row)


def change_plan(session: Session, org: OrgId, body: SubscriptionChange) -> SubscriptionOut:
    """Change plan locally. With real Stripe this is mirrored by the customer.subscription.updated webhook."""
    plan = repository.plan_by_code(session, body.plan_code)
    if plan is None:
        known = ", ".join(p.code for p in repository.plans(session))
        raise Unprocessable(f"plan_code: unknown plan {body.plan_code!r} (plans: {known})")
    row = repository.current_subscription(session, org)
    if row is None or row.status == SubscriptionStatus.cancelled:
        now = datetime.now(UTC)
        length = timedelta(days=365 if body.billing_cycle is BillingCycle.yearly else 30)
        row = repository.add_subscription(session, org, plan_id=plan.id, status=SubscriptionStatus.active,
                                          billing_cycle=body.billing_cycle, current_period_start=now,
                                          current_period_end=now + length)
    else:
        _switch_plan(session, org, row, plan.id, body.billing_cycle, effective_at=datetime.now(UTC), source="api")
    session.flush()
    session.refresh(row)
    return _out(row)


def _switch_plan(session: Session, org: OrgId, row: Subscription, plan_id: int, cycle: BillingCycle, *,
                 effective_at: datetime, source: str) -> None:
    """Move a subscription to another plan or cycle, recording the change: billing prorates by this history."""
    if (row.plan_id, row.billing_cycle) == (plan_id, cycle):
        return
    repository.add_subscription_change(session, org, row, from_plan_id=row.plan_id, to_plan_id=plan_id,
                                       from_billing_cycle=row.billing_cycle, to_billing_cycle=cycle,
                                       effective_at=effective_at, source=source)
    row.plan_id, row.billing_cycle = plan_id, cycle


# ----------------------------------------------------------------------------- Stripe events


def _ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


def resolve_org(session: Session, obj: dict) -> OrgId | None:
    org_id = (obj.get("metadata") or {}).get("organization_id")
    if org_id and str(org_id).isdigit():
        found = repository.org_exists(session, int(org_id))
        if found is not None:
            return found
    customer = obj.get("customer")
    return repository.org_for_stripe_customer(session, customer) if isinstance(customer, str) else None


def _is_stale(row: Subscription, event_created: datetime | None) -> bool:
    """Stripe does not deliver in order: an event older than the newest one applied changes nothing."""
    last = row.last_stripe_event_at
    if event_created is None or last is None:
        return False
    if last.tzinfo is None:  # SQLite hands timestamps back naive; Beacon stores UTC
        last = last.replace(tzinfo=UTC)
    return event_created < last


def apply_subscription_event(session: Session, event_type: str, obj: dict, *, event_created: datetime | None = None) -> bool:
    """customer.subscription.created/updated/deleted → the matching subscription row; False if no tenant or stale."""
    org = resolve_org(session, obj)
    if org is None:
        return False
    items = (obj.get("items") or {}).get("data") or [{}]
    price = items[0].get("price") or {}
    plan = repository.plan_by_stripe_price(session, price.get("id", "")) if price.get("id") else None
    plan = plan or repository.plan_by_code(session, (obj.get("metadata") or {}).get("plan_code", ""))
    # Newer Stripe API versions moved the period onto the subscription items.
    start = _ts(obj.get("current_period_start") or items[0].get("current_period_start")) or datetime.now(UTC)
    end = _ts(obj.get("current_period_end") or items[0].get("current_period_end")) or start + timedelta(days=30)
    status = SubscriptionStatus.cancelled if event_type.endswith(".deleted") else STRIPE_STATUS.get(obj.get("status"), SubscriptionStatus.active)
    cycle = BillingCycle.yearly if (price.get("recurring") or {}).get("interval") == "year" else BillingCycle.monthly
    row = repository.subscription_by_stripe_id(session, org, obj["id"])
    if row is None:
        if plan is None:
            return False
        repository.add_subscription(session, org, plan_id=plan.id, status=status, billing_cycle=cycle,
                                    current_period_start=start, current_period_end=end, cancel_at=_ts(obj.get("cancel_at")),
                                    stripe_customer_id=obj.get("customer"), stripe_subscription_id=obj["id"],
                                    last_stripe_event_at=event_created)
    elif _is_stale(row, event_created):
        return False
    else:
        row.last_stripe_event_at = event_created or row.last_stripe_event_at
        row.status, row.current_period_start, row.current_period_end = status, start, end
        row.cancel_at = _ts(obj.get("cancel_at"))
        _switch_plan(session, org, row, plan.id if plan is not None else row.plan_id, cycle,
                     effective_at=event_created or datetime.now(UTC), source="stripe")
    session.flush()
    return True


def _invoice_subscription_id(invoice: dict) -> str | None:
    if isinstance(invoice.get("subscription"), str):
        return invoice["subscription"]
    details = ((invoice.get("parent") or {}).get("subscription_details") or {})
    return details.get("subscription")


def apply_invoice_event(session: Session, event_type: str, invoice: dict, *, event_created: datetime | None = None) -> bool:
    """invoice.paid → active; invoice.payment_failed → past_due."""
    org = resolve_org(session, invoice)
    sub_id = _invoice_subscription_id(invoice)
    if org is None or sub_id is None:
        return False
    row = repository.subscription_by_stripe_id(session, org, sub_id)
    if row is None or _is_stale(row, event_created):
        return False
    row.last_stripe_event_at = event_created or row.last_stripe_event_at
    row.status = SubscriptionStatus.active if event_type == "invoice.paid" else SubscriptionStatus.past_due
    session.flush()
    return True
