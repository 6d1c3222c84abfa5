"""End to end over real HTTP: the official SDK sends through the local fake providers, and the
fakes post their signed webhooks to this API (served by uvicorn), verified with the fakes' secrets."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.main import create_app
from api.ratelimit import TokenBucketLimiter
from beacon.providers.clients import sendgrid_client
from beacon.providers.fake.server import BackgroundServer, FakeProviderServer
from beacon.schema.models import Contact, Event, Suppression
from beacon.settings import Settings
from tests.api.conftest import SIGNING_KEYS, make_message, read


@pytest.fixture
def servers(api_db_url, db):
    fake = FakeProviderServer().start()
    placeholder = Settings(database_url=api_db_url, signing_keys=SIGNING_KEYS)
    app = create_app(placeholder, rate_limiter=TokenBucketLimiter(capacity=1000, refill_per_second=100))
    app.state.engine.dispose()
    app.state.session_factory = db
    api = BackgroundServer(app)
    # No provider credentials: the fakes' fixed development secrets sign and verify.
    app.state.settings = Settings(database_url=api_db_url, signing_keys=SIGNING_KEYS, public_base_url=api.url,
                                  fake_providers_url=fake.url)
    api.start()
    yield fake, api, app.state.settings
    api.stop()
    fake.stop()


def test_sendgrid_events_from_the_fake_reach_the_tenant(servers, db, tenant_a):
    fake, api, settings = servers
    delivered = make_message(db, tenant_a, email="reader+click+dup@example.org")  # forced outcomes, one duplicate
    bounced = make_message(db, tenant_a, email="gone+bounce@example.org")
    client = sendgrid_client(settings)
    for message in (delivered, bounced):
        response = client.client.mail.send.post(request_body={
            "personalizations": [{"to": [{"email": message.address}],
                                  "custom_args": {"send_id": str(message.send_id), "organization_id": str(message.org)}}],
            "from": {"email": "news@alpha.example"}, "subject": "Hi", "content": [{"type": "text/plain", "value": "Hello"}],
        })
        assert response.status_code == 202
    emitted = fake.control("POST", "/_fake/sendgrid/emit_events", json={"url": f"{api.url}/webhooks/sendgrid"})
    assert emitted["statuses"] and set(emitted["statuses"]) == {200}
    kinds = sorted(r[0].value for r in read(db, select(Event.event_type).where(Event.send_id == delivered.send_id)))
    assert kinds == ["clicked", "delivered", "opened"], "the duplicate delivery is stored once"
    assert read(db, select(Event.event_type).where(Event.send_id == bounced.send_id))[0][0].value == "bounced"
    assert read(db, select(Suppression.address, Suppression.reason)) == [("gone+bounce@example.org", "hard_bounce")]
    assert read(db, select(Contact.status).where(Contact.id == bounced.contact_id))[0][0].value == "bounced"


def test_twilio_stop_from_the_fake_suppresses_the_number(servers, db, tenant_a):
    fake, api, _ = servers
    make_message(db, tenant_a, phone="+14155550123", channel="sms")
    result = fake.control("POST", "/_fake/twilio/inbound",
                          json={"from": "+14155550123", "to": "+15005550006", "body": "STOP",
                                "url": f"{api.url}/webhooks/twilio/inbound"})
    assert "200" in str(result), result
    rows = read(db, select(Suppression.channel, Suppression.address, Suppression.reason))
    assert [(c.value, a, r.value) for c, a, r in rows] == [("sms", "+14155550123", "sms_stop")]
