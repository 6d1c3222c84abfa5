"""Provider signature checks, each with the provider's own SDK. A failed check stores nothing."""

from __future__ import annotations

import time

import stripe
from sendgrid.helpers.eventwebhook import EventWebhook
from starlette.requests import Request
from twilio.request_validator import RequestValidator

from api.errors import ApiError, ServiceUnavailable
from beacon.settings import Settings

SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
SENDGRID_TOLERANCE_SECONDS = 600
STRIPE_TOLERANCE_SECONDS = 300


class BadSignature(ApiError):
    status_code, code = 400, "invalid_signature"


def _credentials():
    # The provider layer knows which secret verifies which provider (real service or local fake).
    try:
        from beacon.providers import credentials
    except ImportError:  # pragma: no cover - the providers package ships with Beacon
        return None
    return credentials


def _configured(read, settings: Settings) -> str:
    try:
        return read(settings)
    except ValueError as exc:  # a real provider without its webhook secret
        raise ServiceUnavailable(str(exc)) from None


def sendgrid_public_key(settings: Settings) -> str:
    creds = _credentials()
    key = _configured(creds.sendgrid_webhook_public_key, settings) if creds else settings.sendgrid_webhook_public_key
    if not key:
        raise ServiceUnavailable("SendGrid webhook verification key is not configured")
    return key


def twilio_auth_token(settings: Settings) -> str:
    creds = _credentials()
    if creds:
        return _configured(creds.twilio_auth_token, settings)
    if settings.twilio_auth_token is None:
        raise ServiceUnavailable("Twilio auth token is not configured")
    return settings.twilio_auth_token.get_secret_value()


def stripe_secret(settings: Settings) -> str:
    creds = _credentials()
    if creds:
        return _configured(creds.stripe_webhook_secret, settings)
    if settings.stripe_webhook_secret is None:
        raise ServiceUnavailable("Stripe webhook secret is not configured")
    return settings.stripe_webhook_secret.get_secret_value()


def verify_sendgrid(settings: Settings, body: bytes, signature: str | None, timestamp: str | None, now: float | None = None) -> None:
    if not signature or not timestamp:
        raise BadSignature(f"missing {SENDGRID_SIGNATURE} or {SENDGRID_TIMESTAMP}")
    try:
        age = abs((now or time.time()) - int(timestamp))
    except ValueError:
        raise BadSignature("timestamp is not a number") from None
    if age > SENDGRID_TOLERANCE_SECONDS:
        raise BadSignature(f"timestamp outside the {SENDGRID_TOLERANCE_SECONDS} s window (replay?)")
    verifier = EventWebhook(sendgrid_public_key(settings))
    try:
        valid = verifier.verify_signature(body.decode("utf-8"), signature, timestamp)
    except (ValueError, UnicodeDecodeError):
        valid = False
    if not valid:
        raise BadSignature("SendGrid signature does not match")


def public_urls(request: Request, settings: Settings) -> list[str]:
    """The URLs Twilio may have signed: behind a proxy the app sees its internal URL, so try the
    configured public base URL and the X-Forwarded-Proto/Host the proxy passed, then the URL as seen.
    Trusting these headers is safe here: the signature must still match under the auth token."""
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    candidates = [settings.public_base_url.rstrip("/") + path]
    proto = request.headers.get("x-forwarded-proto")
    host = request.headers.get("x-forwarded-host") or request.headers.get("host")
    if proto and host:
        candidates.append(f"{proto.split(',')[0].strip()}://{host.split(',')[0].strip()}{path}")
    candidates.append(str(request.url))
    return list(dict.fromkeys(candidates))


def verify_twilio(request: Request, settings: Settings, params: dict[str, str]) -> None:
    signature = request.headers.get("X-Twilio-Signature")
    if not signature:
        raise BadSignature("missing X-Twilio-Signature")
    validator = RequestValidator(twilio_auth_token(settings))
    if not any(validator.validate(url, params, signature) for url in public_urls(request, settings)):
        raise BadSignature("Twilio signature does not match")


def verify_stripe(settings: Settings, body: bytes, signature: str | None) -> None:
    if not signature:
        raise BadSignature("missing Stripe-Signature")
    try:
        stripe.Webhook.construct_event(body, signature, stripe_secret(settings), tolerance=STRIPE_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as exc:
        raise BadSignature(f"Stripe signature: {exc.user_message or exc}") from None
    except ValueError:
        raise BadSignature("Stripe payload is not JSON") from None
