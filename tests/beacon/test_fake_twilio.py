"""The official Twilio SDK against the fake: messages, signed status callbacks, STOP and error 21610."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from beacon.providers.clients import twilio_client
from beacon.providers.credentials import FAKE_TWILIO_ACCOUNT_SID, twilio_auth_token
from beacon.providers.fake.server import FakeProviderServer

OUR_NUMBER = "+15005550006"


def _valid(settings, request) -> bool:
    return RequestValidator(twilio_auth_token(settings)).validate(
        request.url, dict(parse_qsl(request.text)), request.headers["x-twilio-signature"]
    )


def test_create_message_and_signed_status_callbacks(fake, fake_settings, receiver):
    client = twilio_client(fake_settings)
    callback = receiver.url("/webhooks/twilio/status?send_id=00000000-0000-0000-0000-000000000001&organization_id=42")
    message = client.messages.create(
        to="+14155550100", from_=OUR_NUMBER, body="Sale today! Reply STOP to opt out.", status_callback=callback
    )
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert message.status == "queued"
    assert message.account_sid == FAKE_TWILIO_ACCOUNT_SID
    assert message.num_segments == "1"
    assert client.messages(message.sid).fetch().to == "+14155550100"

    result = fake.control("POST", "/_fake/twilio/emit_status")
    assert result["callbacks"] == len(receiver.received) == 3
    statuses = [dict(parse_qsl(r.text)) for r in receiver.received]
    assert [s["MessageStatus"] for s in statuses] == ["queued", "sent", "delivered"]
    assert all(s["MessageSid"] == message.sid for s in statuses)
    assert all(r.url == callback for r in receiver.received)  # the send_id travels in the callback URL
    assert all(_valid(fake_settings, r) for r in receiver.received)
    assert client.messages(message.sid).fetch().status == "delivered"


def test_tampered_status_callback_fails_validation(fake, fake_settings, receiver):
    client = twilio_client(fake_settings)
    client.messages.create(to="+14155550100", from_=OUR_NUMBER, body="hi", status_callback=receiver.url("/s"))
    fake.control("POST", "/_fake/twilio/emit_status")
    request = receiver.received[-1]
    forged = type(request)(request.url, request.headers, request.body.replace(b"MessageStatus=", b"MessageStatus=x"))
    moved = type(request)(request.url.replace("/s", "/t"), request.headers, request.body)
    assert _valid(fake_settings, request)
    assert not _valid(fake_settings, forged)
    assert not _valid(fake_settings, moved)  # the URL is signed too


def test_undeliverable_number_reports_error_code(fake, fake_settings, receiver):
    client = twilio_client(fake_settings)
    client.messages.create(to="+14155550003", from_=OUR_NUMBER, body="hi", status_callback=receiver.url("/s"))
    fake.control("POST", "/_fake/twilio/emit_status")
    statuses = [dict(parse_qsl(r.text)) for r in receiver.received]
    assert [s["MessageStatus"] for s in statuses] == ["queued", "sent", "undelivered"]
    assert statuses[-1]["ErrorCode"] == "30003" and "ErrorCode" not in statuses[0]
    client.messages.create(to="+14155550008", from_=OUR_NUMBER, body="hi", status_callback=receiver.url("/s"))
    fake.control("POST", "/_fake/twilio/emit_status")
    last = dict(parse_qsl(receiver.received[-1].text))
    assert (last["MessageStatus"], last["ErrorCode"]) == ("failed", "30008")


def test_inbound_stop_is_signed_and_blocks_further_sends_with_21610(fake, fake_settings, receiver):
    client = twilio_client(fake_settings)
    client.messages.create(to="+14155550123", from_=OUR_NUMBER, body="first")
    fake.control("POST", "/_fake/config", json={"twilio_inbound_url": receiver.url("/webhooks/twilio/inbound")})
    fake.control("POST", "/_fake/twilio/inbound", json={"from": "+14155550123", "to": OUR_NUMBER, "body": "STOP"})

    [inbound] = receiver.received
    params = dict(parse_qsl(inbound.text))
    assert (params["From"], params["Body"], params["OptOutType"]) == ("+14155550123", "STOP", "STOP")
    assert _valid(fake_settings, inbound)

    with pytest.raises(TwilioRestException) as error:
        client.messages.create(to="+14155550123", from_=OUR_NUMBER, body="second")
    assert error.value.code == 21610
    assert error.value.status == 400
    # Another sender may still text them; START re-subscribes.
    client.messages.create(to="+14155550123", from_="+15005550007", body="other line")
    fake.control("POST", "/_fake/twilio/inbound", json={"from": "+14155550123", "to": OUR_NUMBER, "body": "start"})
    client.messages.create(to="+14155550123", from_=OUR_NUMBER, body="welcome back")


def test_seeded_opt_out_list(fake, fake_settings):
    fake.control("POST", "/_fake/twilio/opt_outs", json={"numbers": ["+14155550199"]})
    with pytest.raises(TwilioRestException) as error:
        twilio_client(fake_settings).messages.create(to="+14155550199", from_=OUR_NUMBER, body="hi")
    assert error.value.code == 21610


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"to": "+1415", "from_": OUR_NUMBER, "body": "x"}, 21211),
        ({"to": "+14155550100", "body": "x"}, 21603),
        ({"to": "+14155550100", "from_": OUR_NUMBER}, 21602),
        ({"to": "+14155550100", "from_": OUR_NUMBER, "body": "x" * 1601}, 21617),
    ],
)
def test_invalid_messages_get_twilio_error_codes(fake, fake_settings, kwargs, code):
    with pytest.raises(TwilioRestException) as error:
        twilio_client(fake_settings).messages.create(**kwargs)
    assert error.value.code == code


def test_wrong_credentials_rejected(fake: FakeProviderServer):
    from beacon.providers.clients import RedirectingTwilioHttpClient

    client = Client(FAKE_TWILIO_ACCOUNT_SID, "wrong-token", http_client=RedirectingTwilioHttpClient(fake.url))
    with pytest.raises(TwilioRestException) as error:
        client.messages.create(to="+14155550100", from_=OUR_NUMBER, body="x")
    assert (error.value.status, error.value.code) == (401, 20003)


@pytest.mark.parametrize("status", [429, 503])
def test_faults_surface_as_sdk_errors(fake, fake_settings, status):
    fake.control("POST", "/_fake/faults", json={"provider": "twilio", "status": status, "count": 1, "retry_after": 2})
    client = twilio_client(fake_settings)
    with pytest.raises(TwilioRestException) as error:
        client.messages.create(to="+14155550100", from_=OUR_NUMBER, body="x")
    assert error.value.status == status
    assert client.messages.create(to="+14155550100", from_=OUR_NUMBER, body="x").status == "queued"


def test_messages_filter_by_send_id(fake, fake_settings, receiver):
    client = twilio_client(fake_settings)
    for n in (1, 2):
        callback = receiver.url(f"/s?send_id=00000000-0000-0000-0000-00000000000{n}")
        client.messages.create(to=f"+1415555010{n}", from_=OUR_NUMBER, body="x", status_callback=callback)
    wanted = "00000000-0000-0000-0000-000000000002"
    [found] = fake.control("GET", "/_fake/messages", params={"provider": "twilio", "send_id": wanted})["twilio"]
    assert (found["to"], found["send_id"]) == ("+14155550102", wanted)
