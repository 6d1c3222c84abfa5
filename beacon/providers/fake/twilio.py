"""Fake Twilio Programmable Messaging: create/fetch Messages, signed status callbacks and inbound SMS."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import phonenumbers
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from beacon.providers.credentials import FAKE_TWILIO_AUTH_TOKEN
from beacon.providers.fake.delivery import webhook_client
from beacon.providers.fake.outcomes import twilio_statuses
from beacon.providers.fake.signing import twilio_signature
from beacon.providers.fake.state import FakeState

router = APIRouter()
API_VERSION = "2010-04-01"
OPT_OUT_KEYWORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
OPT_IN_KEYWORDS = {"START", "UNSTOP", "YES"}
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def twilio_error(status: int, code: int, message: str) -> JSONResponse:
    """Twilio's error body; the SDK turns it into ``TwilioRestException(code=...)``."""
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(body, status_code=status)


def _authorized(request: Request, account_sid: str) -> bool:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return False
    return user == account_sid and password == FAKE_TWILIO_AUTH_TOKEN


def _valid_e164(number: str) -> bool:
    try:
        return number.startswith("+") and phonenumbers.is_possible_number(phonenumbers.parse(number))
    except phonenumbers.NumberParseException:
        return False


def _segments(body: str) -> int:
    single, multi = (160, 153) if set(body) <= _GSM7 else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // multi)


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment)


def public_resource(message: dict[str, Any]) -> dict[str, Any]:
    public = {k: v for k, v in message.items() if not k.startswith("_") and k not in {"seed", "emitted"}}
    return public


@router.post("/2010-04-01/Accounts/{account_sid}/Messages.json")
async def create_message(account_sid: str, request: Request) -> JSONResponse:
    state: FakeState = request.app.state.fake
    if not _authorized(request, account_sid):
        return twilio_error(401, 20003, "Authenticate")
    form = await request.form()
    to, sender = str(form.get("To") or ""), str(form.get("From") or "")
    service = str(form.get("MessagingServiceSid") or "")
    body, media = str(form.get("Body") or ""), form.getlist("MediaUrl")
    if not to:
        return twilio_error(400, 21604, "A 'To' phone number is required.")
    if not _valid_e164(to):
        return twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")
    if not sender and not service:
        return twilio_error(400, 21603, "A 'From' phone number is required.")
    if sender and not _valid_e164(sender):
        return twilio_error(400, 21212, f"Invalid 'From' Number: {sender}")
    if not body and not media:
        return twilio_error(400, 21602, "Message body is required.")
    if len(body) > 1600:
        return twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    with state.lock:
        if to in state.twilio_opted_out_anywhere or (sender or service, to) in state.twilio_opted_out:
            return twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
    callback = str(form.get("StatusCallback") or "") or None
    sid = "SM" + uuid.uuid4().hex
    send_id = (parse_qs(urlsplit(callback).query).get("send_id") or [None])[0] if callback else None
    now = _rfc2822(datetime.now(UTC))
    message = {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": body,
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": sender or None,
        "messaging_service_sid": service or None,
        "num_media": str(len(media)),
        "num_segments": str(_segments(body)),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued" if sender else "accepted",
        "subresource_uris": {"media": f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}/Media.json"},
        "to": to,
        "uri": f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}.json",
        "_status_callback": callback,
        "_send_id": send_id,
        "seed": send_id or sid,
        "emitted": False,
    }
    with state.lock:
        state.twilio_messages[sid] = message
    return JSONResponse(public_resource(message), status_code=201)


@router.get("/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json")
async def fetch_message(account_sid: str, sid: str, request: Request) -> JSONResponse:
    state: FakeState = request.app.state.fake
    if not _authorized(request, account_sid):
        return twilio_error(401, 20003, "Authenticate")
    message = state.twilio_messages.get(sid)
    if message is None or message["account_sid"] != account_sid:
        return twilio_error(
            404,
            20404,
            f"The requested resource /{API_VERSION}/Accounts/{account_sid}/Messages/{sid}.json was not found",
        )
    return JSONResponse(public_resource(message))


async def _post_signed(client: httpx.AsyncClient, url: str, params: dict[str, str]) -> int:
    signature = twilio_signature(FAKE_TWILIO_AUTH_TOKEN, url, params)
    response = await client.post(
        url, data=params, headers={"X-Twilio-Signature": signature, "User-Agent": "TwilioProxy/1.1"}
    )
    return response.status_code


async def emit_status_callbacks(state: FakeState) -> dict[str, Any]:
    """Post each pending message's status callbacks (sent, then delivered/undelivered, or failed)."""
    with state.lock:
        pending = [m for m in state.twilio_messages.values() if m["_status_callback"] and not m["emitted"]]
    statuses: list[int] = []
    async with webhook_client() as client:
        for message in pending:
            for status, error_code in twilio_statuses(message):
                params = {
                    "AccountSid": message["account_sid"],
                    "ApiVersion": API_VERSION,
                    "From": message["from"] or "",
                    "To": message["to"],
                    "MessageSid": message["sid"],
                    "SmsSid": message["sid"],
                    "MessageStatus": status,
                    "SmsStatus": status,
                }
                if message["messaging_service_sid"]:
                    params["MessagingServiceSid"] = message["messaging_service_sid"]
                if error_code:
                    params["ErrorCode"] = str(error_code)
                with state.lock:
                    message.update(status=status, error_code=error_code, date_updated=_rfc2822(datetime.now(UTC)))
                statuses.append(await _post_signed(client, message["_status_callback"], params))
            message["emitted"] = True
    return {"messages": len(pending), "callbacks": len(statuses), "statuses": statuses}


async def simulate_inbound(
    state: FakeState, url: str, sender: str, to: str, body: str, account_sid: str
) -> dict[str, Any]:
    """An SMS from ``sender`` to our number ``to``; opt-out keywords block further sends, as Twilio does."""
    keyword = body.strip().upper()
    with state.lock:
        if keyword in OPT_OUT_KEYWORDS:
            state.twilio_opted_out.add((to, sender))
        elif keyword in OPT_IN_KEYWORDS:
            state.twilio_opted_out.discard((to, sender))
            state.twilio_opted_out_anywhere.discard(sender)
    sid = "SM" + uuid.uuid4().hex
    params = {
        "AccountSid": account_sid,
        "ApiVersion": API_VERSION,
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
    }
    if keyword in OPT_OUT_KEYWORDS:
        params["OptOutType"] = "STOP"
    elif keyword in OPT_IN_KEYWORDS:
        params["OptOutType"] = "START"
    async with webhook_client() as client:
        status = await _post_signed(client, url, params)
    return {"message_sid": sid, "status": status, "params": params}
