"""Official SDK clients for SendGrid, Twilio and Stripe: the real services or the local fakes.

Each factory looks at its own provider's credentials in :class:`~beacon.settings.Settings`: set,
the client talks to the real service; absent, it talks to the fake server at
``settings.fake_providers_url`` with the fake's development credentials. Callers never branch on
which one they got: the SDK, the payloads and the errors are the same.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import stripe
from sendgrid import SendGridAPIClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client as TwilioClient

from beacon.providers import credentials
from beacon.settings import Settings


def sendgrid_client(settings: Settings) -> SendGridAPIClient:
    if credentials.uses_real_sendgrid(settings):
        return SendGridAPIClient(settings.sendgrid_api_key.get_secret_value())  # type: ignore[union-attr]
    return SendGridAPIClient(credentials.FAKE_SENDGRID_API_KEY, host=settings.fake_providers_url.rstrip("/"))


def sendgrid_sandbox_mode(settings: Settings) -> bool:
    """Whether mail should carry ``mail_settings.sandbox_mode`` (validated by SendGrid, never delivered).

    Read from ``BEACON_SENDGRID_SANDBOX_MODE`` once the lead adds it to Settings; off otherwise.
    """
    return bool(getattr(settings, "sendgrid_sandbox_mode", False))


def with_sandbox_mode(mail: dict[str, Any], enabled: bool = True) -> dict[str, Any]:
    """Return the v3 mail/send body with sandbox mode set: SendGrid answers 200 and sends nothing."""
    mail_settings = dict(mail.get("mail_settings") or {})
    mail_settings["sandbox_mode"] = {"enable": enabled}
    return {**mail, "mail_settings": mail_settings}


class RedirectingTwilioHttpClient(TwilioHttpClient):
    """Sends every request for ``*.twilio.com`` to another base URL (the local fake).

    twilio 9.x has no base-URL option: ``edge``/``region`` only rewrite the hostname inside
    ``twilio.com``, and each domain hard-codes ``https://<product>.twilio.com``. Subclassing the
    SDK's own HTTP client keeps its auth, headers, form encoding and error parsing untouched.
    """

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        target = urlsplit(base_url)
        self._scheme, self._netloc, self._prefix = target.scheme, target.netloc, target.path.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        if parts.hostname and parts.hostname.endswith("twilio.com"):
            url = urlunsplit((self._scheme, self._netloc, self._prefix + parts.path, parts.query, parts.fragment))
        return super().request(method, url, *args, **kwargs)


def twilio_client(settings: Settings) -> TwilioClient:
    if credentials.uses_real_twilio(settings):
        return TwilioClient(settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value())  # type: ignore[union-attr]
    return TwilioClient(
        credentials.FAKE_TWILIO_ACCOUNT_SID,
        credentials.FAKE_TWILIO_AUTH_TOKEN,
        http_client=RedirectingTwilioHttpClient(settings.fake_providers_url, timeout=30),
    )


def stripe_client(settings: Settings, *, max_network_retries: int = 2) -> stripe.StripeClient:
    """A StripeClient; POSTs retried by the SDK carry an ``Idempotency-Key`` it generates."""
    if credentials.uses_real_stripe(settings):
        return stripe.StripeClient(
            settings.stripe_api_key.get_secret_value(),  # type: ignore[union-attr]
            max_network_retries=max_network_retries,
        )
    base = settings.fake_providers_url.rstrip("/")
    return stripe.StripeClient(
        credentials.FAKE_STRIPE_API_KEY,
        base_addresses={"api": base, "files": base, "connect": base, "meter_events": base},
        max_network_retries=max_network_retries,
    )
