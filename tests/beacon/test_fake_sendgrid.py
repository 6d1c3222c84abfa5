"""The official SendGrid SDK against the fake: sends validated and recorded, signed event webhooks."""

from __future__ import annotations

import json
import uuid

import pytest
from python_http_client.exceptions import BadRequestsError, TooManyRequestsError, UnauthorizedError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader
from sendgrid.helpers.mail import CustomArg, Header, Mail, Personalization, Substitution, To

from beacon.providers.clients import sendgrid_client, with_sandbox_mode
from beacon.providers.credentials import sendgrid_webhook_public_key

ORG_ID = "42"


def _mail(recipients: list[str], campaign: str = "7") -> tuple[Mail, list[str]]:
    """One personalization per recipient, each with its own send_id, as activation batches them."""
    mail = Mail(from_email="news@shop.example.com", subject="Hello -first_name-")
    mail.add_content("Hi -first_name-, see https://shop.example.com", "text/plain")
    mail.add_content('<p>Hi -first_name-, <a href="https://shop.example.com/sale">sale</a></p>', "text/html")
    mail.add_header(Header("List-Unsubscribe", "<https://beacon.example/u/tok>, <mailto:unsub@beacon.example>"))
    mail.add_header(Header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    send_ids = []
    for i, address in enumerate(recipients):
        send_id = str(uuid.UUID(int=i + 1))
        send_ids.append(send_id)
        p = Personalization()
        p.add_to(To(address))
        p.add_substitution(Substitution("-first_name-", f"Name{i}"))
        for key, value in {"send_id": send_id, "organization_id": ORG_ID, "campaign_id": campaign}.items():
            p.add_custom_arg(CustomArg(key, value))
        mail.add_personalization(p)
    return mail, send_ids


def test_thousand_personalizations_accepted_and_recorded(fake, fake_settings):
    recipients = [f"user{i}@example.com" for i in range(1000)]
    mail, send_ids = _mail(recipients)
    response = sendgrid_client(fake_settings).send(mail)

    assert response.status_code == 202
    message_id = response.headers["X-Message-Id"]
    recorded = fake.control("GET", "/_fake/messages", params={"provider": "sendgrid"})["sendgrid"]
    assert len(recorded) == 1000
    assert {m["custom_args"]["send_id"] for m in recorded} == set(send_ids)
    assert all(m["x_message_id"] == message_id for m in recorded)
    third = next(m for m in recorded if m["email"] == "user3@example.com")
    assert third["subject"] == "Hello Name3"  # substitutions applied per personalization
    assert third["custom_args"] == {"send_id": send_ids[3], "organization_id": ORG_ID, "campaign_id": "7"}
    assert third["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert third["links"] == ["https://shop.example.com/sale"]


def test_more_than_1000_personalizations_rejected(fake, fake_settings):
    mail, _ = _mail([f"user{i}@example.com" for i in range(1001)])
    with pytest.raises(BadRequestsError) as error:
        sendgrid_client(fake_settings).send(mail)
    body = json.loads(error.value.body)
    assert body["errors"][0]["field"] == "personalizations"
    assert "1000" in body["errors"][0]["message"]
    assert fake.control("GET", "/_fake/messages")["sendgrid"] == []


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda b: b.pop("from"), "from", "from object must be provided"),
        (lambda b: b.pop("subject"), "subject", "subject is required"),
        (lambda b: b.pop("content"), "content", "content parameter is required"),
        (lambda b: b["personalizations"][0].pop("to"), "personalizations.0.to", "to array is required"),
        (
            lambda b: b["personalizations"][0]["to"][0].update(email="not-an-address"),
            "personalizations.0.to.0",
            "valid address",
        ),
        (
            lambda b: b["headers"].update({"List-Unsubscribe": "https://no-brackets"}),
            "headers.List-Unsubscribe",
            "List-Unsubscribe",
        ),
        (lambda b: b["headers"].update({"From": "x@example.com"}), "headers.From", "reserved header"),
        (
            lambda b: b["personalizations"][0]["custom_args"].update(send_id=5),
            "personalizations.0.custom_args",
            "strings",
        ),
    ],
)
def test_invalid_payloads_name_the_field(fake, fake_settings, mutate, field, words):
    mail, _ = _mail(["a@example.com"])
    body = mail.get()
    mutate(body)
    with pytest.raises(BadRequestsError) as error:
        sendgrid_client(fake_settings).client.mail.send.post(request_body=body)
    problem = json.loads(error.value.body)["errors"][0]
    assert problem["field"] == field
    assert words in problem["message"]


def test_bearer_key_required(fake):
    with pytest.raises(UnauthorizedError):
        SendGridAPIClient("not-a-sendgrid-key", host=fake.url).send(_mail(["a@example.com"])[0])


def test_sandbox_mode_validates_without_recording(fake, fake_settings):
    body = with_sandbox_mode(_mail(["a@example.com"])[0].get())
    response = sendgrid_client(fake_settings).client.mail.send.post(request_body=body)
    assert response.status_code == 200
    assert fake.control("GET", "/_fake/messages")["sendgrid"] == []


def _verify(batch, public_key: str) -> bool:
    verifier = EventWebhook()
    return verifier.verify_signature(
        batch.text,
        batch.headers[EventWebhookHeader.SIGNATURE.lower()],
        batch.headers[EventWebhookHeader.TIMESTAMP.lower()],
        verifier.convert_public_key_to_ecdsa(public_key),
    )


def test_signed_event_webhook_verifies_with_the_sdk(fake, fake_settings, receiver):
    addresses = [
        "ann+click@example.com",
        "bob+bounce@example.com",
        "cy+soft@example.com",
        "di+spam@example.com",
        "ed+unsub@example.com",
        "fay+machine@example.com",
        "gus+dup@example.com",
    ]
    addresses += [f"user{i}@example.com" for i in range(200)]
    sendgrid_client(fake_settings).send(_mail(addresses)[0])
    fake.control("POST", "/_fake/config", json={"sendgrid_event_webhook_url": receiver.url("/webhooks/sendgrid")})

    result = fake.control("POST", "/_fake/sendgrid/emit_events", json={"batch_size": 100})
    assert result["batches"] == len(receiver.received) >= 3
    public_key = sendgrid_webhook_public_key(fake_settings)
    assert public_key == fake.control("GET", "/_fake/sendgrid/public_key")["public_key"]
    assert all(_verify(batch, public_key) for batch in receiver.received)

    events = [e for batch in receiver.received for e in json.loads(batch.text)]
    assert len(events) == result["events"]
    by_email: dict[str, list[dict]] = {}
    for event in events:
        by_email.setdefault(event["email"], []).append(event)
        assert {
            "sg_event_id",
            "sg_message_id",
            "timestamp",
            "send_id",
            "organization_id",
            "campaign_id",
        } <= event.keys()
    assert [e["event"] for e in by_email["ann+click@example.com"]] == ["processed", "delivered", "open", "click"]
    assert by_email["ann+click@example.com"][-1]["url"] == "https://shop.example.com/sale"
    assert [(e["event"], e.get("type")) for e in by_email["bob+bounce@example.com"]][-1] == ("bounce", "bounce")
    assert [(e["event"], e.get("type")) for e in by_email["cy+soft@example.com"]][-1] == ("bounce", "blocked")
    assert by_email["di+spam@example.com"][-1]["event"] == "spamreport"
    assert by_email["ed+unsub@example.com"][-1]["event"] == "unsubscribe"
    assert by_email["fay+machine@example.com"][2]["sg_machine_open"] is True
    deliveries = [e for e in by_email["gus+dup@example.com"] if e["event"] == "delivered"]
    assert len(deliveries) == 2 and deliveries[0]["sg_event_id"] == deliveries[1]["sg_event_id"]
    assert {e["event"] for e in events} >= {
        "processed",
        "delivered",
        "open",
        "click",
        "bounce",
        "spamreport",
        "unsubscribe",
    }

    # Emitted messages are not re-sent on the next call.
    assert fake.control("POST", "/_fake/sendgrid/emit_events", json={})["events"] == 0


def test_tampered_payload_fails_verification(fake, fake_settings, receiver):
    sendgrid_client(fake_settings).send(_mail(["ann+click@example.com"])[0])
    fake.control("POST", "/_fake/sendgrid/emit_events", json={"url": receiver.url("/webhooks/sendgrid")})
    [batch] = receiver.received
    public_key = sendgrid_webhook_public_key(fake_settings)
    assert _verify(batch, public_key)
    tampered = type(batch)(batch.url, batch.headers, batch.body.replace(b'"click"', b'"spamreport"'))
    assert not _verify(tampered, public_key)
    stale = type(batch)(batch.url, {**batch.headers, "x-twilio-email-event-webhook-timestamp": "1"}, batch.body)
    assert not _verify(stale, public_key)


def test_outcomes_are_deterministic_per_send_id(fake, fake_settings):
    addresses = [f"user{i}@example.com" for i in range(300)]
    client = sendgrid_client(fake_settings)
    client.send(_mail(addresses)[0])
    first = fake.control("POST", "/_fake/sendgrid/emit_events", json={"dry_run": True})["events"]
    fake.control("POST", "/_fake/reset")
    client.send(_mail(addresses)[0])
    second = fake.control("POST", "/_fake/sendgrid/emit_events", json={"dry_run": True})["events"]

    def outcome(events):
        return [(e["send_id"], e["event"], e.get("type"), e.get("sg_machine_open")) for e in events]

    assert outcome(first) == outcome(second)
    kinds = [e["event"] for e in first]
    assert kinds.count("processed") == 300
    assert 0 < kinds.count("open") < 300  # a plausible mix, not all-or-nothing


def test_rate_limit_fault_surfaces_retry_after(fake, fake_settings):
    fake.control("POST", "/_fake/faults", json={"provider": "sendgrid", "status": 429, "count": 1, "retry_after": 7})
    client = sendgrid_client(fake_settings)
    mail, _ = _mail(["a@example.com"])
    with pytest.raises(TooManyRequestsError) as error:
        client.send(mail)
    assert error.value.headers["Retry-After"] == "7"
    assert client.send(mail).status_code == 202  # the fault was used up


def test_messages_filter_by_send_id(fake, fake_settings):
    _, send_ids = _mail(["a@example.com", "b@example.com", "c@example.com"])
    sendgrid_client(fake_settings).send(_mail(["a@example.com", "b@example.com", "c@example.com"])[0])
    found = fake.control("GET", "/_fake/messages", params={"provider": "sendgrid", "send_id": send_ids[:2]})["sendgrid"]
    assert sorted(m["email"] for m in found) == ["a@example.com", "b@example.com"]
