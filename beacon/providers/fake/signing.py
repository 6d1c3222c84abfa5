"""Webhook signatures computed the way each provider's servers compute them.

These play the provider's side, written from the providers' documentation rather than borrowed
from the SDKs' verifiers, so a test that verifies them with the SDK is a real cross-check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec


def sendgrid_signature(key: ec.EllipticCurvePrivateKey, timestamp: str, payload: str) -> str:
    """``X-Twilio-Email-Event-Webhook-Signature``: base64 DER ECDSA-P256/SHA-256 over timestamp + body."""
    der = key.sign((timestamp + payload).encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(der).decode("ascii")


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """``X-Twilio-Signature``: base64 HMAC-SHA1 of the full URL followed by each POST key+value, keys sorted."""
    signed = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def stripe_signature_header(secret: str, timestamp: int, payload: str) -> str:
    """``Stripe-Signature``: ``t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"
