"""Stripe events: listed over the API and posted, signed, to the webhook endpoint."""

from __future__ import annotations

import json
from typing import Any

from beacon.providers.credentials import FAKE_STRIPE_WEBHOOK_SECRET
from beacon.providers.fake.delivery import webhook_client
from beacon.providers.fake.signing import stripe_signature_header
from beacon.providers.fake.state import FakeState
from beacon.providers.fake.stripe.core import (
    get_object,
    now_ts,
    paged,
    public,
    route,
)


@route("GET", "/v1/events")
def list_events(state: FakeState, params: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    events = [
        {**e, "_seq": i}
        for i, e in enumerate(state.stripe_events)
        if not params.get("type") or e["type"] == params["type"]
    ]
    return paged("/v1/events", events, params)


@route("GET", "/v1/events/{event_id}")
def retrieve_event(state: FakeState, params: dict[str, Any], info: dict[str, Any], event_id: str) -> dict[str, Any]:
    return get_object(state, event_id, "event")


async def emit_webhooks(state: FakeState, url: str, types: set[str] | None) -> dict[str, Any]:
    """POST each undelivered event (optionally only some types), signed with the webhook secret."""
    with state.lock:
        pending = [e for e in state.stripe_events if not e.get("_delivered") and (not types or e["type"] in types)]
    statuses: list[int] = []
    async with webhook_client() as client:
        for event in pending:
            payload = json.dumps(public(event), indent=2)
            header = stripe_signature_header(FAKE_STRIPE_WEBHOOK_SECRET, now_ts(), payload)
            response = await client.post(
                url,
                content=payload.encode(),
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "Stripe-Signature": header,
                    "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                },
            )
            statuses.append(response.status_code)
            if 200 <= response.status_code < 300:
                event["_delivered"] = True
    return {"events": len(pending), "types": [e["type"] for e in pending], "statuses": statuses}
