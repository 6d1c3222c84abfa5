"""Provider webhooks: SendGrid events, Twilio status callbacks and inbound SMS, Stripe billing events.

Each request is verified with the provider's SDK before anything is read; a bad or stale
signature is a 400 and nothing is stored. A 2xx goes out only after the rows are committed, so a
provider retrying after a failure never loses an event, and a retry of a success is a no-op.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import SessionDep, SettingsDep
from api.errors import ApiError, ErrorResponse
from api.webhooks import service
from api.webhooks.verification import SENDGRID_SIGNATURE, SENDGRID_TIMESTAMP, verify_sendgrid, verify_stripe, verify_twilio

router = APIRouter(prefix="/webhooks", tags=["webhooks"],
                   responses={400: {"model": ErrorResponse, "description": "Bad, missing or stale signature"}})

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _json(body: bytes):
    try:
        return json.loads(body)
    except ValueError:
        raise ApiError("body is not JSON") from None


@router.post("/sendgrid", summary="SendGrid Event Webhook (signed)")
async def sendgrid_events(request: Request, session: SessionDep, settings: SettingsDep) -> dict:
    body = await request.body()
    verify_sendgrid(settings, body, request.headers.get(SENDGRID_SIGNATURE), request.headers.get(SENDGRID_TIMESTAMP))
    events = _json(body)
    if not isinstance(events, list):
        raise ApiError("expected a JSON array of events")
    return await run_in_threadpool(service.process_sendgrid, session, events)


@router.post("/twilio/status", summary="Twilio message status callback (signed)")
async def twilio_status(request: Request, session: SessionDep, settings: SettingsDep) -> dict:
    params = {k: str(v) for k, v in (await request.form()).items()}
    verify_twilio(request, settings, params)
    return await run_in_threadpool(service.process_twilio_status, session, params, dict(request.query_params))


@router.post("/twilio/inbound", summary="Twilio inbound SMS: STOP / START keywords (signed)",
             response_class=Response, responses={200: {"content": {"application/xml": {}}}})
async def twilio_inbound(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    params = {k: str(v) for k, v in (await request.form()).items()}
    verify_twilio(request, settings, params)
    await run_in_threadpool(service.process_twilio_inbound, session, params)
    # Twilio's own opt-out handling sends the carrier-required confirmation; reply with nothing.
    return Response(EMPTY_TWIML, media_type="application/xml")


@router.post("/stripe", summary="Stripe billing events (signed)")
async def stripe_events(request: Request, session: SessionDep, settings: SettingsDep) -> dict:
    body = await request.body()
    verify_stripe(settings, body, request.headers.get("Stripe-Signature"))
    event = _json(body)
    applied = await run_in_threadpool(service.process_stripe, session, event)
    return {"received": True, "applied": applied}
