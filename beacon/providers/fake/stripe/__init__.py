"""Fake Stripe: customers, prices, billing meters and meter events, invoice items, invoices,
subscriptions and events, with Stripe's JSON shapes, errors, idempotency and signed webhooks.

Importing the resource modules registers their routes on the shared ``router``.
"""

from beacon.providers.fake.stripe import billing, customers, events, invoices, subscriptions  # noqa: F401
from beacon.providers.fake.stripe.core import StripeError, router, stripe_error_response
from beacon.providers.fake.stripe.events import emit_webhooks
from beacon.providers.fake.stripe.invoices import fail_invoice_payment

__all__ = ["StripeError", "emit_webhooks", "fail_invoice_payment", "router", "stripe_error_response"]
