"""Fake SendGrid v3: ``POST /v3/mail/send`` validated like SendGrid, and signed Event Webhook batches."""

from __future__ import annotations

import functools
import json
import re
import secrets
import time
from typing import Any

import orjson
from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from beacon.providers.credentials import fake_sendgrid_signing_key
from beacon.providers.fake.delivery import webhook_client
from beacon.providers.fake.outcomes import sendgrid_events
from beacon.providers.fake.signing import sendgrid_signature
from beacon.providers.fake.state import FakeState

router = APIRouter()

MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_CUSTOM_ARGS_BYTES = 10_000
# SendGrid refuses these in `headers`: it sets them itself.
RESERVED_HEADERS = {
    "x-sg-id",
    "x-sg-eid",
    "received",
    "dkim-signature",
    "content-type",
    "content-transfer-encoding",
    "to",
    "from",
    "subject",
    "reply-to",
    "cc",
    "bcc",
}
_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_LIST_UNSUBSCRIBE_URI = re.compile(r"^<(mailto:[^>]+|https?://[^>]+)>$")


class SendGridError(Exception):
    def __init__(self, message: str, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.field, self.status = message, field, status


def error_response(errors: list[SendGridError]) -> JSONResponse:
    body = {"errors": [{"message": e.message, "field": e.field, "help": None} for e in errors]}
    return JSONResponse(body, status_code=errors[0].status)


def _check_auth(request: Request) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise SendGridError("authorization required", status=401)
    if not token.startswith("SG."):
        raise SendGridError("The provided authorization grant is invalid, expired, or revoked", status=401)


# Plain ASCII addresses (nearly all of them) pass this pattern, a subset of what email-validator
# accepts; anything else goes through email-validator. Measured: ~25 µs -> ~1 µs per address, which
# at 1,000 recipients per request was the fake's largest cost.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@"
                            r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")


def _check_email(value: Any, field: str) -> str:
    if not isinstance(value, dict) or not isinstance(value.get("email"), str):
        raise SendGridError("The email parameter is required in every email object.", field)
    address = value["email"]
    if len(address) <= 254 and len(address.partition("@")[0]) <= 64 and _PLAIN_ADDRESS.fullmatch(address):
        return address
    try:
        validate_email(address, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        raise SendGridError("Does not contain a valid address.", field) from None
    return address


# isinstance(v, str) over many values without a generator frame per value (validation runs for
# each of up to 1,000 personalizations per request)
_all_strings = functools.partial(map, str.__instancecheck__)


def _check_headers(headers: Any, field: str) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, dict) or not all(_all_strings(headers.values())):
        raise SendGridError("Invalid type. Expected: object with string values.", field)
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in headers:
        if name.lower() in RESERVED_HEADERS:
            raise SendGridError(f"The {name} header is a reserved header and cannot be set.", f"{field}.{name}")
    if "list-unsubscribe" in lowered:
        uris = [u.strip() for u in lowered["list-unsubscribe"].split(",")]
        if not all(_LIST_UNSUBSCRIBE_URI.match(u) for u in uris):
            raise SendGridError(
                "List-Unsubscribe must be a comma-separated list of <mailto:...> or <https://...> URIs.",
                f"{field}.List-Unsubscribe",
            )
    if "list-unsubscribe-post" in lowered:
        if lowered["list-unsubscribe-post"] != "List-Unsubscribe=One-Click" or not any(
            "<https://" in u or "<http://" in u for u in lowered.get("list-unsubscribe", "").split(",")
        ):
            raise SendGridError(
                "List-Unsubscribe-Post must be 'List-Unsubscribe=One-Click' with an https URI in List-Unsubscribe (RFC 8058).",
                f"{field}.List-Unsubscribe-Post",
            )
    return headers


def _check_custom_args(args: Any, field: str) -> dict[str, str]:
    if args is None:
        return {}
    if not isinstance(args, dict) or not all(_all_strings(args.values())):
        raise SendGridError("custom_args must be an object whose values are strings.", field)
    return args


def validate_mail(body: Any) -> list[dict[str, Any]]:
    """Validate a v3 mail/send body; return one plan per recipient, or raise the first problem."""
    if not isinstance(body, dict):
        raise SendGridError("Bad Request", None)
    sender = body.get("from")
    if not isinstance(sender, dict) or "email" not in sender:
        raise SendGridError(
            "The from object must be provided for every email send. It is an object that requires the "
            "email parameter, but may also contain a name parameter.",
            "from",
        )
    _check_email(sender, "from.email")
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        raise SendGridError(
            "The personalizations field is required and must have at least one personalization.", "personalizations"
        )
    if len(personalizations) > MAX_PERSONALIZATIONS:
        raise SendGridError(
            f"The personalizations field must not have more than {MAX_PERSONALIZATIONS} items.", "personalizations"
        )
    template_id = body.get("template_id")
    content = body.get("content")
    if not template_id:
        if not isinstance(content, list) or not content:
            raise SendGridError(
                "Unless a valid template_id is provided, the content parameter is required. There must be at "
                "least one defined content block.",
                "content",
            )
        for i, block in enumerate(content):
            if not isinstance(block, dict) or not block.get("type") or not block.get("value"):
                raise SendGridError("Each content block must have a type and a non-empty value.", f"content.{i}")
        types = [block["type"] for block in content]
        if "text/plain" in types and "text/html" in types and types.index("text/plain") > types.index("text/html"):
            raise SendGridError("If present, text/plain content must be first, followed by text/html.", "content")
    message_headers = _check_headers(body.get("headers"), "headers")
    message_args = _check_custom_args(body.get("custom_args"), "custom_args")

    recipients = 0
    plans: list[dict[str, Any]] = []
    for i, p in enumerate(personalizations):
        field = f"personalizations.{i}"
        if not isinstance(p, dict) or not isinstance(p.get("to"), list) or not p["to"]:
            raise SendGridError(
                "The to array is required for all personalization objects, and must have at least one email "
                "object with a valid email address.",
                f"{field}.to",
            )
        to = [_check_email(r, f"{field}.to.{j}") for j, r in enumerate(p["to"])]
        for kind in ("cc", "bcc"):
            for j, r in enumerate(p.get(kind) or []):
                _check_email(r, f"{field}.{kind}.{j}")
        recipients += len(to) + len(p.get("cc") or []) + len(p.get("bcc") or [])
        subject = p.get("subject") or body.get("subject")
        if not subject and not template_id:
            raise SendGridError(
                "The subject is required. You can get around this requirement if you use a template with a "
                "subject defined or if every personalization has a subject defined.",
                "subject",
            )
        own_headers = _check_headers(p.get("headers"), f"{field}.headers")
        own_args = _check_custom_args(p.get("custom_args"), f"{field}.custom_args")
        # merged only when the message level has any (copying per personalization was measurable)
        headers = {**message_headers, **own_headers} if message_headers else own_headers
        args = {**message_args, **own_args} if message_args else own_args
        if len(orjson.dumps(args)) > MAX_CUSTOM_ARGS_BYTES:  # compact JSON bytes; ~10x json.dumps' cost
            raise SendGridError(f"custom_args must be less than {MAX_CUSTOM_ARGS_BYTES} bytes.", f"{field}.custom_args")
        substitutions = p.get("substitutions") or {}
        if not isinstance(substitutions, dict) or not all(_all_strings(substitutions.values())):
            raise SendGridError("substitutions must be an object whose values are strings.", f"{field}.substitutions")
        for recipient in p["to"]:
            plans.append(
                RecordedMail(
                    {
                        "email": recipient["email"],
                        "name": recipient.get("name"),
                        "personalization": i,
                        "headers": headers,
                        "custom_args": args,
                        "template_id": template_id,
                        "dynamic_template_data": p.get("dynamic_template_data"),
                    },
                    subject=subject, content=content or [], substitutions=substitutions,
                )
            )
    if recipients > MAX_RECIPIENTS:
        raise SendGridError(
            f"The total number of recipients must be no more than {MAX_RECIPIENTS}. This includes all recipients "
            "defined within the to, cc, and bcc parameters, across each object in the personalizations array.",
            "personalizations",
        )
    return plans


def _substitute(text: str | None, substitutions: dict[str, str]) -> str | None:
    if text is None or not substitutions:
        return text
    # one pass, longest key first, as SendGrid does: a value is never substituted again
    pattern = re.compile("|".join(re.escape(k) for k in sorted(substitutions, key=len, reverse=True)))
    return pattern.sub(lambda m: substitutions[m.group(0)], text)


LAZY_FIELDS = ("subject", "content", "links")


class RecordedMail(dict):
    """One recipient's accepted message. Its ``subject``, ``content`` (substitutions applied) and
    ``links`` are worked out when first read, not when the request is accepted: a 1,000-recipient
    request shares one body, and applying every substitution to every recipient's copy up front was
    most of the fake's time while nothing had asked for the result yet."""

    def __init__(self, fields: dict[str, Any], *, subject: str | None, content: list[dict[str, Any]],
                 substitutions: dict[str, str]) -> None:
        super().__init__(fields)
        self._shared = (subject, content, substitutions)

    def _fill(self) -> None:
        if self._shared is None:
            return
        subject, content, substitutions = self._shared
        self._shared = None
        blocks = [{"type": b["type"], "value": _substitute(b["value"], substitutions)} for b in content]
        html = next((b["value"] for b in blocks if b["type"] == "text/html"), "")
        self.update(subject=_substitute(subject, substitutions), content=blocks, links=_HREF.findall(html))

    def __missing__(self, key: str) -> Any:
        if key in LAZY_FIELDS and self._shared is not None:
            self._fill()
            return self[key]
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self or (key in LAZY_FIELDS and self._shared is not None) else default

    def resolved(self) -> dict[str, Any]:
        """A plain dict with every field (for the inspection API)."""
        self._fill()
        return dict(self)


@router.post("/v3/mail/send")
async def mail_send(request: Request) -> Response:
    state: FakeState = request.app.state.fake
    try:
        _check_auth(request)
        try:
            # orjson: a 1,000-personalization body is ~1 MB; json.loads was a third of the fake's CPU
            body = orjson.loads(await request.body())
        except ValueError:
            raise SendGridError("Bad Request: the body is not valid JSON.") from None
        plans = validate_mail(body)
    except SendGridError as exc:
        return error_response([exc])
    if ((body.get("mail_settings") or {}).get("sandbox_mode") or {}).get("enable"):
        return Response(status_code=200)  # SendGrid: validated, never delivered
    x_message_id = secrets.token_urlsafe(16)[:22]
    now = time.time()
    categories = body.get("categories") or []
    with state.lock:
        state.sendgrid_requests += 1
        batch = state.sendgrid_requests
        for n, plan in enumerate(plans):
            plan.update({
                "from": body["from"],
                "x_message_id": x_message_id,
                "sg_message_id": f"{x_message_id}.filterdrecv-{batch}-0-{n}",
                "accepted_at": now,
                "categories": categories,
                "emitted": False,
            })
            state.sendgrid_messages.append(plan)
    return Response(status_code=202, headers={"X-Message-Id": x_message_id})


async def emit_events(state: FakeState, url: str | None, batch_size: int, dry_run: bool) -> dict[str, Any]:
    """Post signed Event Webhook batches for messages not yet reported (all of them when re-run after a failure)."""
    with state.lock:
        pending = [m for m in state.sendgrid_messages if not m["emitted"]]
        events = [event for message in pending for event in sendgrid_events(message)]
    if dry_run:
        return {"events": events, "batches": 0, "statuses": []}
    if not url:
        raise ValueError("no SendGrid event webhook URL: set sendgrid_event_webhook_url via POST /_fake/config")
    key = fake_sendgrid_signing_key()
    statuses: list[int] = []
    async with webhook_client() as client:
        for start in range(0, len(events), batch_size):
            payload = json.dumps(events[start : start + batch_size]) + "\r\n"  # SendGrid ends the body with CRLF
            timestamp = str(int(time.time()))
            response = await client.post(
                url,
                content=payload.encode("utf-8"),
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "SendGrid Event API",
                    "X-Twilio-Email-Event-Webhook-Signature": sendgrid_signature(key, timestamp, payload),
                    "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
                },
            )
            statuses.append(response.status_code)
    if all(200 <= s < 300 for s in statuses):
        with state.lock:
            for message in pending:
                message["emitted"] = True
    return {"events": len(events), "batches": len(statuses), "statuses": statuses}
