"""Stripe subscriptions (create, retrieve, update, cancel, list) and their events."""

from __future__ import annotations

import json
from typing import Any

from beacon.providers.fake.state import FakeState
from beacon.providers.fake.stripe.core import (
    PERIOD_SECONDS,
    StripeError,
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


def subscription_item(state: FakeState, spec: dict[str, Any], subscription_id: str, now: int) -> dict[str, Any]:
    price_id = spec.get("price")
    if not price_id:
        raise StripeError(
            400, "Missing required param: items[0][price].", code="parameter_missing", param="items[0][price]"
        )
    price = state.stripe_objects.get(price_id) or {
        "id": price_id,
        "object": "price",
        "currency": "usd",
        "unit_amount": 0,
        "recurring": None,
    }
    return {
        "id": new_id("si"),
        "object": "subscription_item",
        "created": now,
        "metadata": spec.get("metadata") or {},
        "price": public(price),
        "quantity": int(spec.get("quantity", 1)),
        "subscription": subscription_id,
        "current_period_start": now,
        "current_period_end": now + PERIOD_SECONDS,
    }


@route("POST", "/v1/subscriptions")
def create_subscription(state: FakeState, params: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    require(params, "customer", "items")
    get_object(state, params["customer"], "customer", "customer")
    subscription = base_fields(state, "sub", "subscription", params)
    now = subscription["created"]
    items = [subscription_item(state, spec, subscription["id"], now) for spec in params["items"]]
    subscription.update(
        customer=params["customer"],
        status="active",
        cancel_at_period_end=False,
        canceled_at=None,
        ended_at=None,
        current_period_start=now,
        current_period_end=now + PERIOD_SECONDS,
        start_date=now,
        collection_method=params.get("collection_method", "charge_automatically"),
        items={
            "object": "list",
            "data": items,
            "has_more": False,
            "total_count": len(items),
            "url": f"/v1/subscription_items?subscription={subscription['id']}",
        },
    )
    store(state, subscription)
    enqueue_event(state, "customer.subscription.created", public(subscription), info)
    return subscription


@route("GET", "/v1/subscriptions")
def list_subscriptions(state: FakeState, params: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    return paged("/v1/subscriptions", of_kind(state, "subscription", customer=params.get("customer")), params)


@route("GET", "/v1/subscriptions/{subscription_id}")
def retrieve_subscription(
    state: FakeState, params: dict[str, Any], info: dict[str, Any], subscription_id: str
) -> dict[str, Any]:
    return get_object(state, subscription_id, "subscription")


@route("POST", "/v1/subscriptions/{subscription_id}")
def update_subscription(
    state: FakeState, params: dict[str, Any], info: dict[str, Any], subscription_id: str
) -> dict[str, Any]:
    subscription = get_object(state, subscription_id, "subscription")
    if subscription["status"] == "canceled":
        raise StripeError(400, "A canceled subscription can only update its cancellation_details and metadata.")
    previous: dict[str, Any] = {}
    if "metadata" in params:
        previous["metadata"] = dict(subscription["metadata"])
        subscription["metadata"] = {**subscription["metadata"], **params["metadata"]}
    if "cancel_at_period_end" in params:
        previous["cancel_at_period_end"] = subscription["cancel_at_period_end"]
        subscription["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
    if "items" in params:
        previous["items"] = json.loads(json.dumps(public(subscription["items"])))
        now = now_ts()
        subscription["items"]["data"] = [
            subscription_item(state, spec, subscription_id, now) for spec in params["items"]
        ]
        subscription["items"]["total_count"] = len(subscription["items"]["data"])
    enqueue_event(state, "customer.subscription.updated", public(subscription), info, previous)
    return subscription


@route("DELETE", "/v1/subscriptions/{subscription_id}")
def cancel_subscription(
    state: FakeState, params: dict[str, Any], info: dict[str, Any], subscription_id: str
) -> dict[str, Any]:
    subscription = get_object(state, subscription_id, "subscription")
    now = now_ts()
    subscription.update(status="canceled", canceled_at=now, ended_at=now)
    enqueue_event(state, "customer.subscription.deleted", public(subscription), info)
    return subscription
