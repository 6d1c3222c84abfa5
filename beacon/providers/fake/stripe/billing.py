"""Stripe billing meters and meter events (``identifier`` makes a repeat count once)."""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from beacon.providers.fake.state import FakeState
from beacon.providers.fake.stripe.core import (
    StripeError,
    as_int,
    base_fields,
    get_object,
    now_ts,
    of_kind,
    paged,
    require,
    route,
    store,
)


@route("POST", "/v1/billing/meters")
def create_meter(state: FakeState, params: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    require(params, "display_name", "event_name")
    if of_kind(state, "billing.meter", event_name=params["event_name"]):
        raise StripeError(400, f"A meter with event_name '{params['event_name']}' already exists.", param="event_name")
    meter = base_fields(state, "mtr", "billing.meter", params)
    meter.update(
        display_name=params["display_name"],
        event_name=params["event_name"],
        status="active",
        default_aggregation={"formula": (params.get("default_aggregation") or {}).get("formula", "sum")},
        customer_mapping={
            "event_payload_key": (params.get("customer_mapping") or {}).get("event_payload_key", "stripe_customer_id"),
            "type": "by_id",
        },
        value_settings={"event_payload_key": (params.get("value_settings") or {}).get("event_payload_key", "value")},
        event_time_window=None,
        updated=now_ts(),
    )
    return store(state, meter)


@route("GET", "/v1/billing/meters")
def list_meters(state: FakeState, params: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    return paged("/v1/billing/meters", of_kind(state, "billing.meter"), params)


@route("GET", "/v1/billing/meters/{meter_id}")
def retrieve_meter(state: FakeState, params: dict[str, Any], info: dict[str, Any], meter_id: str) -> dict[str, Any]:
    return get_object(state, meter_id, "billing.meter")


@route("POST", "/v1/billing/meter_events")
def create_meter_event(state: FakeState, params: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """Stripe enforces ``identifier`` uniqueness: a repeat is acknowledged but counted once."""
    require(params, "event_name", "payload")
    payload = params["payload"]
    if not isinstance(payload, dict):
        raise StripeError(400, "payload must be an object", param="payload")
    meter = next(iter(of_kind(state, "billing.meter", event_name=params["event_name"])), None)
    customer_key = meter["customer_mapping"]["event_payload_key"] if meter else "stripe_customer_id"
    value_key = meter["value_settings"]["event_payload_key"] if meter else "value"
    for key in (customer_key, value_key):
        if not payload.get(key):
            raise StripeError(
                400, f"Missing required param: payload[{key}].", code="parameter_missing", param=f"payload[{key}]"
            )
    try:
        Decimal(payload[value_key])
    except InvalidOperation:
        raise StripeError(
            400, f"payload[{value_key}] must be a number, got '{payload[value_key]}'", param=f"payload[{value_key}]"
        ) from None
    identifier = params.get("identifier") or uuid.uuid4().hex
    if identifier in state.stripe_meter_events:
        return state.stripe_meter_events[identifier]
    event = {
        "object": "billing.meter_event",
        "created": now_ts(),
        "event_name": params["event_name"],
        "identifier": identifier,
        "livemode": False,
        "payload": payload,
        "timestamp": as_int(params, "timestamp", now_ts()),
    }
    state.stripe_meter_events[identifier] = event
    return event


@route("GET", "/v1/billing/meters/{meter_id}/event_summaries")
def meter_event_summaries(
    state: FakeState, params: dict[str, Any], info: dict[str, Any], meter_id: str
) -> dict[str, Any]:
    meter = get_object(state, meter_id, "billing.meter")
    require(params, "customer", "start_time", "end_time")
    start, end = as_int(params, "start_time"), as_int(params, "end_time")
    total = usage(state, meter, params["customer"], start, end)  # type: ignore[arg-type]
    summary = {
        "id": f"mtrusg_{hashlib.sha1(f'{meter_id}{start}{end}'.encode()).hexdigest()[:20]}",
        "object": "billing.meter_event_summary",
        "aggregated_value": float(total),
        "start_time": start,
        "end_time": end,
        "livemode": False,
        "meter": meter_id,
        "created": start,
        "_seq": 0,
    }
    return paged(f"/v1/billing/meters/{meter_id}/event_summaries", [summary], {})


def usage(state: FakeState, meter: dict[str, Any], customer: str, start: int, end: int) -> Decimal:
    customer_key = meter["customer_mapping"]["event_payload_key"]
    value_key = meter["value_settings"]["event_payload_key"]
    values = [
        Decimal(e["payload"][value_key])
        for e in state.stripe_meter_events.values()
        if e["event_name"] == meter["event_name"]
        and e["payload"].get(customer_key) == customer
        and start <= e["timestamp"] < end
    ]
    if meter["default_aggregation"]["formula"] == "count":
        return Decimal(len(values))
    if meter["default_aggregation"]["formula"] == "last":
        return values[-1] if values else Decimal(0)
    return sum(values, Decimal(0))
