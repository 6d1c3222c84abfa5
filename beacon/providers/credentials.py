"""Which secret verifies which provider's webhooks, and the fixed development secrets of the fakes.

Each provider is chosen on its own: configured credentials mean the real service, absent ones mean
the local fake server. The fake's secrets are fixed development values (never used against a real
service), so the API can verify the fake's signed webhooks without asking the fake for them.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from beacon.settings import Settings

FAKE_SENDGRID_API_KEY = "SG.beacon-fake.local-development-key"
FAKE_TWILIO_ACCOUNT_SID = "AC" + "0" * 31 + "1"
FAKE_TWILIO_AUTH_TOKEN = "beacon-fake-twilio-auth-token"
FAKE_STRIPE_API_KEY = "sk_test_beacon_fake_local_development"
FAKE_STRIPE_WEBHOOK_SECRET = "whsec_beacon_fake_local_development"
_FAKE_SENDGRID_KEY_SEED = b"beacon-fake-sendgrid-event-webhook-key"


@cache
def fake_sendgrid_signing_key() -> ec.EllipticCurvePrivateKey:
    """The fake's P-256 event-webhook key, derived from a fixed seed so every process agrees on it."""
    secret = int.from_bytes(hashlib.sha256(_FAKE_SENDGRID_KEY_SEED).digest(), "big")
    return ec.derive_private_key(secret, ec.SECP256R1())


def public_key_base64(key: ec.EllipticCurvePublicKey) -> str:
    """The form SendGrid shows under Mail Settings: base64 DER SubjectPublicKeyInfo (a PEM body)."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def fake_sendgrid_public_key() -> str:
    return public_key_base64(fake_sendgrid_signing_key().public_key())


def uses_real_sendgrid(settings: Settings) -> bool:
    return settings.sendgrid_api_key is not None


def uses_real_twilio(settings: Settings) -> bool:
    return settings.twilio_account_sid is not None and settings.twilio_auth_token is not None


def uses_real_stripe(settings: Settings) -> bool:
    return settings.stripe_api_key is not None


def sendgrid_webhook_public_key(settings: Settings) -> str:
    """The key that verifies SendGrid event webhooks (``EventWebhook(public_key=...)``)."""
    if uses_real_sendgrid(settings):
        if not settings.sendgrid_webhook_public_key:
            raise ValueError(
                "BEACON_SENDGRID_API_KEY is set but BEACON_SENDGRID_WEBHOOK_PUBLIC_KEY is not: "
                "copy the verification key from SendGrid's Mail Settings > Signed Event Webhook"
            )
        return settings.sendgrid_webhook_public_key
    return fake_sendgrid_public_key()


def twilio_auth_token(settings: Settings) -> str:
    """The token that signs Twilio webhooks (``RequestValidator(token)``)."""
    if uses_real_twilio(settings):
        return settings.twilio_auth_token.get_secret_value()  # type: ignore[union-attr]
    return FAKE_TWILIO_AUTH_TOKEN


def twilio_account_sid(settings: Settings) -> str:
    return settings.twilio_account_sid if uses_real_twilio(settings) else FAKE_TWILIO_ACCOUNT_SID  # type: ignore[return-value]


def stripe_webhook_secret(settings: Settings) -> str:
    """The secret for ``stripe.Webhook.construct_event``."""
    if uses_real_stripe(settings):
        if settings.stripe_webhook_secret is None:
            raise ValueError(
                "BEACON_STRIPE_API_KEY is set but BEACON_STRIPE_WEBHOOK_SECRET is not: "
                "copy the endpoint's signing secret (whsec_...) from the Stripe dashboard"
            )
        return settings.stripe_webhook_secret.get_secret_value()
    return FAKE_STRIPE_WEBHOOK_SECRET
