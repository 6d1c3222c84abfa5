"""A plan change records history (subscription_changes), the input the billing marts prorate by."""

from __future__ import annotations

from sqlalchemy import select

from beacon.schema.models import Plan, SubscriptionChange
from tests.api.test_webhooks import _subscription_event, stripe_post


def _changes(db, org):
    with db() as session:
        from_plan, to_plan = Plan.__table__.alias("from_plan"), Plan.__table__.alias("to_plan")
        rows = session.execute(
            select(from_plan.c.code, to_plan.c.code, SubscriptionChange.from_billing_cycle,
                   SubscriptionChange.to_billing_cycle, SubscriptionChange.source, SubscriptionChange.effective_at)
            .join(from_plan, from_plan.c.id == SubscriptionChange.from_plan_id)
            .join(to_plan, to_plan.c.id == SubscriptionChange.to_plan_id)
            .where(SubscriptionChange.organization_id == org)
            .order_by(SubscriptionChange.id)
        ).all()
    return [(a, b, c.value, d.value, s) for a, b, c, d, s, _ in rows], [r[-1] for r in rows]


def test_changing_plan_through_the_api_records_each_change(client, db, tenant_a, tenant_b):
    h = tenant_a.headers()
    assert client.put("/v1/subscription", json={"plan_code": "starter"}, headers=h).status_code == 200
    assert _changes(db, tenant_a.org)[0] == []  # a new subscription is not a change
    client.put("/v1/subscription", json={"plan_code": "growth"}, headers=h)
    client.put("/v1/subscription", json={"plan_code": "growth"}, headers=h)  # same plan: nothing to record
    client.put("/v1/subscription", json={"plan_code": "growth", "billing_cycle": "yearly"}, headers=h)
    changes, times = _changes(db, tenant_a.org)
    assert changes == [("starter", "growth", "monthly", "monthly", "api"), ("growth", "growth", "monthly", "yearly", "api")]
    assert times[0] <= times[1]
    assert _changes(db, tenant_b.org)[0] == []


def test_a_stripe_plan_change_is_recorded_with_the_event_time(client, db, tenant_a):
    stripe_post(client, _subscription_event("customer.subscription.created", tenant_a.org, plan_code="growth"))
    updated = _subscription_event("customer.subscription.updated", tenant_a.org, plan_code="scale")
    stripe_post(client, updated)
    changes, times = _changes(db, tenant_a.org)
    assert changes == [("growth", "scale", "monthly", "monthly", "stripe")]
    assert int(times[0].timestamp()) == updated["created"]
