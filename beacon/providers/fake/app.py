"""The fake providers' ASGI app: the three providers, fault injection and the ``/_fake`` control API."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from beacon.providers.credentials import FAKE_TWILIO_ACCOUNT_SID, fake_sendgrid_public_key
from beacon.providers.fake import sendgrid, stripe, twilio
from beacon.providers.fake.state import FakeConfig, FakeState, Fault

PROVIDER_PREFIXES = {"/v3/": "sendgrid", "/2010-04-01/": "twilio", "/v1/": "stripe"}


def provider_of(path: str) -> str | None:
    return next((name for prefix, name in PROVIDER_PREFIXES.items() if path.startswith(prefix)), None)


def fault_response(provider: str, status: int, retry_after: int | None) -> Response:
    """The error each provider really returns for throttling or an outage, so SDKs raise their own errors."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    message = (
        "too many requests" if status == 429 else "internal server error" if status == 500 else "service unavailable"
    )
    if provider == "sendgrid":
        return JSONResponse({"errors": [{"field": None, "message": message}]}, status_code=status, headers=headers)
    if provider == "twilio":
        code = 20429 if status == 429 else 20500 if status == 500 else 20503
        response = twilio.twilio_error(status, code, message.capitalize())
        response.headers.update(headers)
        return response
    kind = "rate_limit_error" if status == 429 else "api_error"
    return stripe.stripe_error_response(status, message.capitalize() + " (injected by the fake)", kind, headers)


class EmitSendGrid(BaseModel):
    url: str | None = Field(None, description="Overrides the configured sendgrid_event_webhook_url.")
    batch_size: int = Field(500, ge=1, le=10_000)
    dry_run: bool = Field(False, description="Return the events without posting or marking them.")


class EmitTwilioInbound(BaseModel):
    from_: str = Field(alias="from", description="The contact's number (E.164).")
    to: str = Field(description="Our number (E.164).")
    body: str = "STOP"
    url: str | None = None


class EmitStripe(BaseModel):
    url: str | None = None
    types: list[str] | None = None


class OptOuts(BaseModel):
    numbers: list[str]


def create_app(config: FakeConfig | None = None, state: FakeState | None = None) -> FastAPI:
    app = FastAPI(
        title="Beacon fake providers (SendGrid, Twilio, Stripe)",
        docs_url="/_fake/docs",
        openapi_url="/_fake/openapi.json",
    )
    app.state.fake = state or FakeState(config=config or FakeConfig())
    app.include_router(sendgrid.router)
    app.include_router(twilio.router)
    app.include_router(stripe.router)

    def fake_state() -> FakeState:
        return app.state.fake

    @app.middleware("http")
    async def inject_faults(request: Request, call_next: Any) -> Response:
        provider = provider_of(request.url.path)
        fault = fake_state().take_fault(provider, request.url.path) if provider else None
        if fault is not None:
            if fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            if fault.status is not None:
                return fault_response(provider, fault.status, fault.retry_after)  # type: ignore[arg-type]
        return await call_next(request)

    @app.get("/_fake/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/_fake/config")
    async def get_config() -> FakeConfig:
        return fake_state().config

    @app.post("/_fake/config")
    async def set_config(update: dict[str, str | None]) -> FakeConfig:
        state = fake_state()
        unknown = set(update) - set(FakeConfig.model_fields)
        if unknown:
            raise HTTPException(422, f"unknown settings {sorted(unknown)}; known: {sorted(FakeConfig.model_fields)}")
        state.config = state.config.model_copy(update=update)
        return state.config

    @app.post("/_fake/reset")
    async def reset() -> dict[str, str]:
        fake_state().reset()
        return {"status": "reset"}

    @app.post("/_fake/faults")
    async def add_fault(fault: Fault) -> dict[str, Any]:
        if fault.provider not in {"sendgrid", "twilio", "stripe", "*"}:
            raise HTTPException(422, f"unknown provider {fault.provider!r}: use sendgrid, twilio, stripe or *")
        if fault.status is None and not fault.delay_s:
            raise HTTPException(422, "a fault needs a status, a delay_s, or both")
        state = fake_state()
        with state.lock:
            state.faults.append(fault)
            return {"armed": [f.model_dump() for f in state.faults]}

    @app.delete("/_fake/faults")
    async def clear_faults() -> dict[str, Any]:
        state = fake_state()
        with state.lock:
            state.faults.clear()
        return {"armed": []}

    @app.get("/_fake/messages")
    async def messages(provider: str | None = None, send_id: Annotated[list[str] | None, Query()] = None) -> dict[str, Any]:
        """Recorded messages; ``send_id`` (repeatable) keeps only those sends."""
        wanted = set(send_id) if send_id else None
        state = fake_state()
        with state.lock:
            result: dict[str, Any] = {}
            if provider in (None, "sendgrid"):
                result["sendgrid"] = [
                    m.resolved()
                    for m in state.sendgrid_messages
                    if wanted is None or m["custom_args"].get("send_id") in wanted
                ]
            if provider in (None, "twilio"):
                result["twilio"] = [
                    {**twilio.public_resource(m), "status_callback": m["_status_callback"], "send_id": m["_send_id"]}
                    for m in state.twilio_messages.values()
                    if wanted is None or m["_send_id"] in wanted
                ]
            return result

    @app.get("/_fake/meter_events")
    async def meter_events() -> dict[str, Any]:
        state = fake_state()
        with state.lock:
            return {"meter_events": list(state.stripe_meter_events.values())}

    @app.get("/_fake/sendgrid/public_key")
    async def sendgrid_public_key() -> dict[str, str]:
        return {"public_key": fake_sendgrid_public_key()}

    @app.post("/_fake/sendgrid/emit_events")
    async def emit_sendgrid(request: EmitSendGrid) -> dict[str, Any]:
        state = fake_state()
        try:
            return await sendgrid.emit_events(
                state, request.url or state.config.sendgrid_event_webhook_url, request.batch_size, request.dry_run
            )
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from None

    @app.post("/_fake/twilio/emit_status")
    async def emit_twilio_status() -> dict[str, Any]:
        return await twilio.emit_status_callbacks(fake_state())

    @app.post("/_fake/twilio/inbound")
    async def twilio_inbound(request: EmitTwilioInbound) -> dict[str, Any]:
        state = fake_state()
        url = request.url or state.config.twilio_inbound_url
        if not url:
            raise HTTPException(409, "no Twilio inbound URL: set twilio_inbound_url via POST /_fake/config or pass url")
        return await twilio.simulate_inbound(
            state, url, request.from_, request.to, request.body, FAKE_TWILIO_ACCOUNT_SID
        )

    @app.post("/_fake/twilio/opt_outs")
    async def twilio_opt_outs(request: OptOuts) -> dict[str, Any]:
        state = fake_state()
        with state.lock:
            state.twilio_opted_out_anywhere.update(request.numbers)
            return {"opted_out": sorted(state.twilio_opted_out_anywhere)}

    @app.post("/_fake/stripe/emit_events")
    async def emit_stripe(request: EmitStripe) -> dict[str, Any]:
        state = fake_state()
        url = request.url or state.config.stripe_webhook_url
        if not url:
            raise HTTPException(409, "no Stripe webhook URL: set stripe_webhook_url via POST /_fake/config or pass url")
        return await stripe.emit_webhooks(state, url, set(request.types) if request.types else None)

    @app.post("/_fake/stripe/invoices/{invoice_id}/fail_payment")
    async def fail_payment(invoice_id: str) -> dict[str, Any]:
        try:
            return stripe.fail_invoice_payment(fake_state(), invoice_id)
        except stripe.StripeError as exc:
            raise HTTPException(exc.status, exc.body["error"]["message"]) from None

    return app
