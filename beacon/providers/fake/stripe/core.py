"""Stripe plumbing shared by the resource modules: errors, ids, lists, events, and the route decorator
that adds auth, form parsing and ``Idempotency-Key`` handling to every endpoint."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from beacon.providers.fake.state import FakeState
from beacon.providers.fake.stripe.forms import parse_stripe_form

router = APIRouter()
Handler = Callable[..., dict[str, Any]]
PERIOD_SECONDS = 30 * 24 * 3600


class StripeError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.body = status, {"error": {"type": type, "message": message, "code": code, "param": param}}


def stripe_error_response(status: int, message: str, type: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"type": type, "message": message}}, status_code=status, headers=headers)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def now_ts() -> int:
    return int(time.time())


def missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def require(params: dict[str, Any], *names: str) -> None:
    for name in names:
        if params.get(name) in (None, ""):
            raise StripeError(400, f"Missing required param: {name}.", code="parameter_missing", param=name)


def as_int(params: dict[str, Any], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeError(400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=name) from None


def get_object(state: FakeState, object_id: str, kind: str, param: str = "id") -> dict[str, Any]:
    obj = state.stripe_objects.get(object_id)
    if obj is None or obj["object"] != kind:
        raise missing(kind.replace("billing.", ""), object_id, param)
    return obj


def store(state: FakeState, obj: dict[str, Any]) -> dict[str, Any]:
    state.stripe_objects[obj["id"]] = obj
    return obj


def enqueue_event(
    state: FakeState,
    type_: str,
    obj: dict[str, Any],
    request_info: dict[str, Any],
    previous: dict[str, Any] | None = None,
) -> None:
    data: dict[str, Any] = {"object": json.loads(json.dumps(obj))}
    if previous:
        data["previous_attributes"] = previous
    state.stripe_events.append(
        {
            "id": new_id("evt"),
            "object": "event",
            "api_version": request_info.get("api_version"),
            "created": now_ts(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": request_info.get("request_id"), "idempotency_key": request_info.get("idempotency_key")},
            "type": type_,
        }
    )
    state.stripe_objects[state.stripe_events[-1]["id"]] = state.stripe_events[-1]


def paged(url: str, items: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """Stripe's list envelope: newest first, ``limit`` (1..100) and ``starting_after`` cursor."""
    limit = as_int(params, "limit", 10) or 10
    if not 1 <= limit <= 100:
        raise StripeError(400, "Invalid limit: must be between 1 and 100", param="limit")
    ordered = sorted(items, key=lambda o: (o.get("created", 0), o["_seq"]), reverse=True)
    if after := params.get("starting_after"):
        ids = [o["id"] for o in ordered]
        if after not in ids:
            raise StripeError(400, f"Invalid starting_after id: {after}", param="starting_after")
        ordered = ordered[ids.index(after) + 1 :]
    page = ordered[:limit]
    return {"object": "list", "data": page, "has_more": len(ordered) > limit, "url": url}


def of_kind(state: FakeState, kind: str, **filters: Any) -> list[dict[str, Any]]:
    return [
        o
        for o in state.stripe_objects.values()
        if o["object"] == kind and all(v is None or o.get(k) == v for k, v in filters.items())
    ]


def public(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: public(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [public(v) for v in value]
    return value


# ------------------------------------------------------------------ request plumbing


def authorized(request: Request) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and token.startswith(("sk_test_", "rk_test_"))


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Register a handler ``(state, params, info, **path) -> object`` with auth, errors and idempotency."""

    def register(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> JSONResponse:
            state: FakeState = request.app.state.fake
            if not authorized(request):
                return stripe_error_response(
                    401,
                    "Invalid API Key provided. Use a secret test key (sk_test_...) with the fake.",
                    "invalid_request_error",
                )
            raw = (await request.body()).decode() if method == "POST" else request.url.query
            params = parse_stripe_form(raw)
            key = request.headers.get("idempotency-key") if method == "POST" else None
            fingerprint = hashlib.sha256(f"{method} {request.url.path} {raw}".encode()).hexdigest()
            request_id = "req_" + uuid.uuid4().hex[:14]
            info = {
                "api_version": request.headers.get("stripe-version"),
                "idempotency_key": key,
                "request_id": request_id,
            }
            with state.lock:
                if key and key in state.stripe_idempotency:
                    seen_fingerprint, status, body = state.stripe_idempotency[key]
                    if seen_fingerprint != fingerprint:
                        return JSONResponse(
                            {
                                "error": {
                                    "type": "idempotency_error",
                                    "message": "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '"
                                    + key
                                    + "' if you meant to execute a different request.",
                                }
                            },
                            status_code=400,
                        )
                    return JSONResponse(
                        body, status_code=status, headers={"Idempotent-Replayed": "true", "Request-Id": request_id}
                    )
                try:
                    status, body = 200, public(handler(state, params, info, **request.path_params))
                except StripeError as exc:
                    status, body = exc.status, exc.body
                if key:
                    state.stripe_idempotency[key] = (fingerprint, status, body)
            return JSONResponse(body, status_code=status, headers={"Request-Id": request_id})

        router.add_api_route(path, endpoint, methods=[method], name=handler.__name__)
        return handler

    return register


def base_fields(state: FakeState, prefix: str, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": new_id(prefix),
        "object": kind,
        "created": now_ts(),
        "livemode": False,
        "metadata": params.get("metadata") or {},
        "_seq": state.next_number(),
    }
