"""Stripe customers and prices."""

from __future__ import annotations

import uuid
from typing import Any

from beacon.providers.fake.state import FakeState
from beacon.providers.fake.stripe.core import (
    as_int,
    base_fields,
    enqueue_event,
    get_object,
    new_id,
    of_kind,
    paged,
    public,
    require,
    route,
    store,
)


@route("POST", "/v1/customers")
def create_customer(state: FakeState, params: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    customer = base_fields(state, "cus", "customer", params)
    customer.update(
        email=params.get("email"),
        name=params.get("name"),
        description=params.get("description"),
        balance=0,
        currency=None,
        delinquent=False,
        invoice_prefix=uuid.uuid4().hex[:8].upper(),
    )
    enqueue_event(state, "customer.created", public(customer), info)
    return store(state, customer)


@route("GET", "/v1/customers")
def list_customers(state: FakeState, params: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    return paged("/v1/customers", of_kind(state, "customer", email=params.get("email")), params)


@route("GET", "/v1/customers/{customer_id}")
def retrieve_customer(
    state: FakeState, params: dict[str, Any], info: dict[str, Any], customer_id: str
) -> dict[str, Any]:
    return get_object(state, customer_id, "customer")


@route("POST", "/v1/customers/{customer_id}")
def update_customer(state: FakeState, params: dict[str, Any], info: dict[str, Any], customer_id: str) -> dict[str, Any]:
    customer = get_object(state, customer_id, "customer")
    for name in ("email", "name", "description"):
        if name in params:
            customer[name] = params[name]
    customer["metadata"] = {**customer["metadata"], **(params.get("metadata") or {})}
    return customer


# ------------------------------------------------------------------ prices


@route("POST", "/v1/prices")
def create_price(state: FakeState, params: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    require(params, "currency")
    recurring = params.get("recurring")
    price = base_fields(state, "price", "price", params)
    price.update(
        active=True,
        currency=params["currency"].lower(),
        nickname=params.get("nickname"),
        product=params.get("product") or new_id("prod"),
        lookup_key=params.get("lookup_key"),
        unit_amount=as_int(params, "unit_amount"),
        unit_amount_decimal=params.get("unit_amount_decimal") or params.get("unit_amount"),
        type="recurring" if recurring else "one_time",
        recurring={
            "interval": recurring.get("interval", "month"),
            "interval_count": int(recurring.get("interval_count", 1)),
            "usage_type": recurring.get("usage_type", "licensed"),
            "meter": recurring.get("meter"),
        }
        if recurring
        else None,
    )
    return store(state, price)


@route("GET", "/v1/prices/{price_id}")
def retrieve_price(state: FakeState, params: dict[str, Any], info: dict[str, Any], price_id: str) -> dict[str, Any]:
    return get_object(state, price_id, "price")
