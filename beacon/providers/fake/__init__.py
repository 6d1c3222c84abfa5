"""Local fakes of SendGrid v3, Twilio and Stripe, spoken to by the official SDKs over real HTTP.

``create_app()`` builds one ASGI app serving all three under their real path prefixes
(``/v3``, ``/2010-04-01``, ``/v1``) plus control endpoints under ``/_fake``;
:class:`~beacon.providers.fake.server.FakeProviderServer` runs it with uvicorn in a thread.
"""

from beacon.providers.fake.app import create_app
from beacon.providers.fake.server import BackgroundServer, FakeProviderServer, start_fake_providers
from beacon.providers.fake.state import FakeConfig, FakeState

__all__ = ["BackgroundServer", "FakeConfig", "FakeProviderServer", "FakeState", "create_app", "start_fake_providers"]
