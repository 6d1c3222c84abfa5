"""Fixtures for the provider tests: the fake server, settings pointing at it, and a webhook receiver.

The server is one per worker; every test gets it reset.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from beacon.providers.fake import BackgroundServer, FakeProviderServer
from beacon.settings import Settings

CREDENTIAL_VARIABLES = (
    "BEACON_SENDGRID_API_KEY",
    "BEACON_SENDGRID_WEBHOOK_PUBLIC_KEY",
    "BEACON_TWILIO_ACCOUNT_SID",
    "BEACON_TWILIO_AUTH_TOKEN",
    "BEACON_STRIPE_API_KEY",
    "BEACON_STRIPE_WEBHOOK_SECRET",
)


@dataclass
class Received:
    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


@dataclass
class WebhookReceiver:
    """A real HTTP endpoint that records every request (raw body, full URL, headers) and answers 200."""

    server: BackgroundServer | None = None
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    status: int = 200

    def url(self, path: str) -> str:
        assert self.server is not None
        return self.server.url + path

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.url.split("?")[0].endswith(path)]


@pytest.fixture(scope="session")
def _fake_server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        yield server


@pytest.fixture
def fake(_fake_server: FakeProviderServer) -> FakeProviderServer:
    _fake_server.control("POST", "/_fake/reset")
    _fake_server.control(
        "POST",
        "/_fake/config",
        json={"sendgrid_event_webhook_url": None, "twilio_inbound_url": None, "stripe_webhook_url": None},
    )
    return _fake_server


@pytest.fixture
def fake_settings(fake: FakeProviderServer, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Settings:
    """Settings with no provider credentials: every client factory picks the fake."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env file
    return Settings(fake_providers_url=fake.url, home=tmp_path / "home")


@pytest.fixture(scope="session")
def _receiver_server() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    async def record(request: Request) -> Response:
        body = await request.body()
        with receiver.lock:
            receiver.received.append(Received(str(request.url), dict(request.headers), body))
        return Response(status_code=receiver.status)

    app = Starlette(routes=[Route("/{path:path}", record, methods=["POST"])])
    with BackgroundServer(app) as server:
        receiver.server = server
        yield receiver


@pytest.fixture
def receiver(_receiver_server: WebhookReceiver) -> WebhookReceiver:
    with _receiver_server.lock:
        _receiver_server.received.clear()
        _receiver_server.status = 200
    return _receiver_server


@pytest.fixture
def credential_variables() -> tuple[str, ...]:
    return CREDENTIAL_VARIABLES
