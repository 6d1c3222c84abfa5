"""SMS through the fake Twilio (official SDK): per-sender rate limit, opt-outs become suppressions."""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from activation.providers import RetryPolicy
from activation.ratelimit import SenderPool, TokenBucket
from activation.run import RunOptions, run_campaign
from beacon.schema.models import Send, Suppression
from tests.activation.conftest import twilio_messages

SENDERS = ["+14155550100", "+14155550101"]


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_token_bucket_spaces_messages_at_the_configured_rate():
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=1, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(11):
        bucket.acquire()
        stamps.append(clock.now)
    assert stamps[0] == 0.0
    assert all(b - a >= 0.5 - 1e-9 for a, b in zip(stamps, stamps[1:]))
    assert abs(stamps[-1] - 5.0) < 1e-6  # 10 intervals at 2/s


def test_sender_pool_needs_senders_and_sticks_contacts_to_one():
    import pytest

    with pytest.raises(ValueError, match="sms_senders"):
        SenderPool([], 1.0)
    pool = SenderPool(SENDERS, 1.0)
    assert pool.sender_for(7) == pool.sender_for(7)
    assert {pool.sender_for(i) for i in range(10)} == set(SENDERS)


def test_sms_campaign_with_opt_out_and_duplicate_numbers(world, fake):
    world.set_org_settings(sms_senders=SENDERS, sms_rate_per_sender=50)
    ids = world.contacts(6)
    twin = world.contacts(1, start=100, phone="+14155550000")  # same number as contact 0
    world.template("sms_promo", channel="sms", subject="", html=None,
                   text="Hi {{ contact.first_name }}! 20% off: https://shop.example.com/sale")
    campaign_id = world.campaign(list_id=world.list_of(ids + twin), channel="sms", template_code="sms_promo")
    fake.control("POST", "/_fake/twilio/opt_outs", json={"numbers": ["+14155550003"]})
    report = run_campaign(campaign_id, world.org, options=RunOptions(retry=RetryPolicy(3, 0.01, 0.05)))
    assert report.excluded == {"duplicate_address": 1}
    assert report.sent == 5 and report.failed == 1
    messages = twilio_messages(fake)
    assert len(messages) == 5 and {m["from"] for m in messages} <= set(SENDERS)
    body = messages[0]["body"]
    assert "https://links.beacon.test/t/c/" in body and "Reply STOP" in body
    with world.engine.connect() as conn:
        rows = conn.execute(select(Send).where(Send.campaign_id == campaign_id)).mappings().all()
        suppression = conn.execute(select(Suppression).where(Suppression.organization_id == world.org)).mappings().all()
    assert Counter(r["status"].value for r in rows) == {"sent": 5, "failed": 1, "suppressed": 1}
    sent_ids = {str(r["send_id"]) for r in rows if r["status"].value == "sent"}
    callbacks = {parse_qs(urlsplit(m["status_callback"]).query)["send_id"][0] for m in messages}
    assert callbacks == sent_ids
    assert {(s["address"], s["reason"].value) for s in suppression} == {("+14155550003", "sms_stop")}
    assert all(r["provider_message_id"].startswith("SM") for r in rows if r["status"].value == "sent")


def test_interrupted_sms_rows_are_reconciled_with_the_provider(world, fake):
    """Rows a dead run left in 'sending': accepted ones become sent, the others are sent once."""
    from beacon.schema.models import SendStatus

    world.set_org_settings(sms_senders=SENDERS, sms_rate_per_sender=50)
    ids = world.contacts(4)
    world.template("sms_promo", channel="sms", subject="", html=None, text="Hi {{ contact.first_name }}")
    campaign_id = world.campaign(list_id=world.list_of(ids), channel="sms", template_code="sms_promo")
    options = RunOptions(retry=RetryPolicy(3, 0.01, 0.05))
    assert run_campaign(campaign_id, world.org, options=options).sent == 4
    table = Send.__table__
    with world.engine.begin() as conn:
        rows = conn.execute(select(table.c.send_id).where(table.c.campaign_id == campaign_id)
                            .order_by(table.c.contact_id)).scalars().all()
        # as if the process died right after Twilio accepted rows[0], and before it called for rows[1]
        conn.execute(table.update().where(table.c.send_id == rows[0]).values(status="sending", provider_message_id="batch:x"))
        conn.execute(table.update().where(table.c.send_id == rows[1]).values(status="sending", provider_message_id="batch:x"))
    # rows[1] never reached Twilio: forget it at the fake
    fake.state.twilio_messages = {sid: m for sid, m in fake.state.twilio_messages.items()
                                  if str(rows[1]) not in (m["_status_callback"] or "")}
    report = run_campaign(campaign_id, world.org, options=options)
    assert report.reconciled == 2 and report.sent == 2  # one recognised as accepted, one sent now
    callbacks = Counter(parse_qs(urlsplit(m["status_callback"]).query)["send_id"][0] for m in twilio_messages(fake))
    assert callbacks == {str(sid): 1 for sid in rows}
    with world.engine.connect() as conn:
        statuses = conn.execute(select(table.c.status).where(table.c.campaign_id == campaign_id)).scalars().all()
    assert {s.value for s in statuses} == {SendStatus.sent.value}
