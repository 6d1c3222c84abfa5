"""run_campaign end to end against the fake SendGrid/Twilio (official SDKs over HTTP), both back ends."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from activation.providers import RetryPolicy
from activation.run import RunOptions, run_campaign
from beacon.schema.models import Campaign, Event, Send
from tests.activation.conftest import sendgrid_messages

FAST_RETRY = RetryPolicy(attempts=5, initial_wait=0.01, max_wait=0.2)


def ledger(world, campaign_id):
    with world.engine.connect() as conn:
        return conn.execute(select(Send).where(Send.campaign_id == campaign_id)).mappings().all()


def test_campaign_sends_each_eligible_contact_once(world, fake):
    ids = world.contacts(25)
    world.template()
    campaign_id = world.campaign(list_id=world.list_of(ids))
    report = run_campaign(campaign_id, world.org, options=RunOptions(batch_size=10, retry=FAST_RETRY))
    assert report.status == "sent"
    assert report.sent == 25 and report.eligible == 25
    messages = sendgrid_messages(fake)
    assert len(messages) == 25
    assert fake.state.sendgrid_requests == 3  # 10 + 10 + 5 personalizations
    rows = ledger(world, campaign_id)
    assert Counter(r["status"].value for r in rows) == {"sent": 25}
    assert {m["custom_args"]["send_id"] for m in messages} == {str(r["send_id"]) for r in rows}
    first = messages[0]
    assert first["custom_args"]["organization_id"] == str(world.org)
    assert first["custom_args"]["campaign_id"] == str(campaign_id)
    assert first["headers"]["List-Unsubscribe"].startswith("<https://links.beacon.test/u/")
    assert first["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = next(b["value"] for b in first["content"] if b["type"] == "text/html")
    assert "1 Main St, Springfield" in html and "%bcn_" not in html
    with world.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Event).where(
            Event.provider == "beacon", Event.organization_id == world.org)) == 25
        events = conn.execute(select(Event).where(Event.provider == "beacon", Event.organization_id == world.org)).mappings().all()
    # one ``sent`` event per ledger row, written from the row itself (INSERT ... SELECT)
    by_send = {r["send_id"]: r for r in rows}
    assert {e["send_id"] for e in events} == set(by_send)
    for event in events:
        row = by_send[event["send_id"]]
        assert (event["event_type"].value, event["channel"].value, event["contact_id"]) == ("sent", "email", row["contact_id"])
        assert event["provider_event_id"] == f"sent:{event['send_id']}"
        assert event["payload"] == {"campaign_id": campaign_id, "provider_message_id": row["provider_message_id"]}
        assert row["provider_message_id"] and not row["provider_message_id"].startswith("batch:")
    with world.engine.connect() as conn:
        assert conn.scalar(select(Campaign.status).where(Campaign.id == campaign_id)).value == "sent"
    # a second run sends nothing more
    again = run_campaign(campaign_id, world.org, options=RunOptions(batch_size=10, retry=FAST_RETRY))
    assert again.sent == 0 and len(sendgrid_messages(fake)) == 25


def test_dry_run_counts_every_reason_and_writes_nothing(world, fake):
    ok = world.contacts(200)
    inactive = world.contacts(3, start=1000, status="unsubscribed")
    no_consent = world.contacts(4, start=2000, consent_promotional=False)
    no_email = world.contacts(2, start=3000, email=None, email_normalized=None)
    suppressed = world.contacts(5, start=4000)
    for i in range(4000, 4005):
        world.suppress(f"person{i}@example.com")
    capped = world.contacts(6, start=5000)
    world.set_org_settings(frequency_cap={"max_messages": 1, "window_days": 7})
    world.template()
    earlier = world.campaign(list_id=world.list_of(capped))
    run_campaign(earlier, world.org, options=RunOptions(retry=FAST_RETRY))  # the capped contacts get one message now
    audience = ok + inactive + no_consent + no_email + suppressed + capped + [987_654_321]
    campaign_id = world.campaign(
        list_id=world.list_of(audience[:-1]), holdout_percent=10,
        variants=[{"name": "A", "weight": 50}, {"name": "B", "weight": 50, "subject": "Deal for {{ contact.first_name }}"}],
    )
    before = len(sendgrid_messages(fake))
    report = run_campaign(campaign_id, world.org, dry_run=True, audience_provider=lambda c: audience)
    # a list campaign reads its list; the provider is only for segments
    assert report.targeted == len(audience) - 1
    assert report.excluded == {"inactive": 3, "no_consent": 4, "no_address": 2, "suppressed": 5, "frequency_cap": 6}
    assert report.held_out + report.eligible == 200
    assert 5 <= report.held_out <= 40
    assert sum(report.variants.values()) == report.eligible and set(report.variants) == {"A", "B"}
    assert len(report.samples) == 3
    sample = report.samples[0]
    assert sample["html"] and "1 Main St" in sample["html"] and sample["subject"].endswith(sample["subject"].split()[-1])
    assert len(sendgrid_messages(fake)) == before
    assert ledger(world, campaign_id) == []
    with world.engine.connect() as conn:
        assert conn.scalar(select(Campaign.status).where(Campaign.id == campaign_id)).value == "draft"
    # the real run records the same decisions, auditable in the ledger
    real = run_campaign(campaign_id, world.org, options=RunOptions(retry=FAST_RETRY))
    assert (real.excluded, real.held_out, real.variants) == (report.excluded, report.held_out, report.variants)
    rows = ledger(world, campaign_id)
    by_status = Counter((r["status"].value, r["error"]) for r in rows)
    assert by_status[("held_out", None)] == report.held_out
    assert by_status[("suppressed", "frequency_cap")] == 6
    assert by_status[("sent", None)] == report.eligible
    subjects = {m["subject"] for m in sendgrid_messages(fake)[before:]}
    assert any(s.startswith("Deal for Ann") for s in subjects) and any(s.startswith("Hi Ann") for s in subjects)


def test_segment_audience_needs_a_provider_or_the_warehouse_table(world, fake, tmp_path):
    from activation.audience import AudienceUnavailable
    from beacon.schema.models import Segment
    from sqlalchemy import insert

    ids = world.contacts(3)
    world.template()
    with world.engine.begin() as conn:
        segment_id = conn.execute(insert(Segment.__table__).returning(Segment.__table__.c.id),
                                  {"organization_id": int(world.org), "name": "vip", "criteria": {"all": []}}).scalar_one()
    campaign_id = world.campaign(segment_id=segment_id)
    warehouse = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    with pytest.raises(AudienceUnavailable, match="marts.segment_members"):
        run_campaign(campaign_id, world.org, dry_run=True, warehouse_url=warehouse)
    report = run_campaign(campaign_id, world.org, dry_run=True, audience_provider=lambda c: ids[:2])
    assert report.targeted == 2 and report.eligible == 2
    # once dbt has materialised the memberships, they are the default audience
    from beacon.warehouse import warehouse_engine
    from sqlalchemy import text

    engine = warehouse_engine(warehouse)
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA marts"))
        conn.execute(text("CREATE TABLE marts.segment_members (organization_id BIGINT, segment_id BIGINT, contact_id BIGINT)"))
        conn.execute(text("INSERT INTO marts.segment_members VALUES (:o, :s, :c)"),
                     [{"o": int(world.org), "s": segment_id, "c": c} for c in ids] + [{"o": 999, "s": segment_id, "c": 1}])
    engine.dispose()
    assert run_campaign(campaign_id, world.org, dry_run=True, warehouse_url=warehouse).targeted == 3


def test_faults_are_retried_without_duplicates(world, fake):
    ids = world.contacts(30)
    world.template()
    campaign_id = world.campaign(list_id=world.list_of(ids))
    fake.control("POST", "/_fake/faults", json={"provider": "sendgrid", "status": 429, "retry_after": 0, "count": 2})
    fake.control("POST", "/_fake/faults", json={"provider": "sendgrid", "status": 503, "count": 1})
    fake.control("POST", "/_fake/faults", json={"provider": "sendgrid", "delay_s": 1.5, "count": 1})  # lands late
    report = run_campaign(campaign_id, world.org,
                          options=RunOptions(batch_size=10, max_in_flight=2, retry=FAST_RETRY, request_timeout=1.0))
    assert report.status == "sent" and report.sent == 30
    send_ids = [m["custom_args"]["send_id"] for m in sendgrid_messages(fake)]
    assert len(send_ids) == 30 and len(set(send_ids)) == 30


def test_outage_leaves_the_rest_pending_and_a_rerun_finishes(world, fake):
    ids = world.contacts(20)
    world.template()
    campaign_id = world.campaign(list_id=world.list_of(ids))
    fake.control("POST", "/_fake/faults", json={"provider": "sendgrid", "status": 500, "count": 50})
    report = run_campaign(campaign_id, world.org,
                          options=RunOptions(batch_size=10, max_in_flight=1, retry=RetryPolicy(3, 0.01, 0.05)))
    assert report.status == "failed" and report.sent == 0 and report.errors
    assert Counter(r["status"].value for r in ledger(world, campaign_id)) == {"pending": 20}
    fake.control("DELETE", "/_fake/faults")
    again = run_campaign(campaign_id, world.org, options=RunOptions(batch_size=10, retry=FAST_RETRY))
    assert again.status == "sent" and again.sent == 20 and len(sendgrid_messages(fake)) == 20


def test_rejected_recipient_fails_alone(world, fake):
    good = world.contacts(5)
    bad = world.contacts(1, start=100, email="not an email", email_normalized="not an email")
    world.template()
    campaign_id = world.campaign(list_id=world.list_of(good + bad))
    report = run_campaign(campaign_id, world.org, options=RunOptions(retry=FAST_RETRY))
    assert report.sent == 5 and report.failed == 1
    failed = [r for r in ledger(world, campaign_id) if r["status"].value == "failed"]
    assert failed[0]["contact_id"] == bad[0] and "valid address" in failed[0]["error"]


def test_suppression_arriving_mid_run_stops_that_message(world, fake):
    from activation.send import default_mailer

    ids = world.contacts(6)
    world.template()
    campaign_id = world.campaign(list_id=world.list_of(ids))
    inner = default_mailer(30.0)

    class SuppressAfterFirstBatch:
        """The real SendGrid mailer; after its first post an unsubscribe arrives for person5."""

        def __init__(self):
            self.posts = 0

        def send_batch(self, body):
            with world.engine.connect() as conn:  # progress is visible while the run is under way
                self.status_seen = conn.scalar(select(Campaign.status).where(Campaign.id == campaign_id)).value
                self.sent_before = conn.scalar(select(func.count()).select_from(Send).where(
                    Send.campaign_id == campaign_id, Send.status == "sent"))
            message_id = inner.send_batch(body)
            self.posts += 1
            if self.posts == 1:
                world.suppress("person5@example.com")
            return message_id

        def accepted(self, send_ids):
            return inner.accepted(send_ids)

    mailer = SuppressAfterFirstBatch()
    report = run_campaign(campaign_id, world.org, mailer=mailer,
                          options=RunOptions(batch_size=2, max_in_flight=1, retry=FAST_RETRY))
    assert report.sent == 5
    assert mailer.status_seen == "sending" and mailer.sent_before == 4  # two batches recorded before the last
    late = [r for r in ledger(world, campaign_id) if r["status"].value == "suppressed"]
    assert [(r["address"], r["error"]) for r in late] == [("person5@example.com", "suppressed_mid_run")]
    assert "person5@example.com" not in {m["email"] for m in sendgrid_messages(fake)}


def test_per_recipient_template_sends_single_messages(world, fake):
    ids = world.contacts(4)
    world.template(text="{% if contact.first_name %}Hi {{ contact.first_name }}{% else %}Hi{% endif %}", html="")
    campaign_id = world.campaign(list_id=world.list_of(ids))
    report = run_campaign(campaign_id, world.org, options=RunOptions(retry=FAST_RETRY))
    assert report.sent == 4 and fake.state.sendgrid_requests == 4
    texts = sorted(next(b["value"] for b in m["content"] if b["type"] == "text/plain") for m in sendgrid_messages(fake))
    assert texts[0].startswith("Hi Ann")


def test_marketing_email_needs_a_postal_address(world, fake):
    from activation.run import CampaignNotRunnable
    from beacon.schema.models import Organization

    with world.engine.begin() as conn:
        conn.execute(Organization.__table__.update().where(Organization.__table__.c.id == world.org).values(postal_address=None))
    world.template()
    campaign_id = world.campaign(list_id=world.list_of(world.contacts(1)))
    with pytest.raises(CampaignNotRunnable, match="postal_address"):
        run_campaign(campaign_id, world.org, dry_run=True)


def test_language_per_contact_with_fallback(world, fake):
    world.template(subject="Hello {{ contact.first_name }}")
    world.template(language="fr", subject="Bonjour {{ contact.first_name }}")
    english = world.contacts(1)
    french = world.contacts(1, start=10, language="fr")
    german = world.contacts(1, start=20, language="de")  # no German version: the default language
    campaign_id = world.campaign(list_id=world.list_of(english + french + german))
    run_campaign(campaign_id, world.org, options=RunOptions(retry=FAST_RETRY))
    subjects = {m["email"]: m["subject"] for m in sendgrid_messages(fake)}
    assert subjects == {"person0@example.com": "Hello Ann0", "person10@example.com": "Bonjour Ann10",
                        "person20@example.com": "Hello Ann20"}


def test_due_campaigns_and_cancellation_during_planning(world, fake):
    from datetime import UTC, datetime, timedelta

    from activation.queue import due_campaigns

    world.template()
    audience = world.list_of(world.contacts(3))
    now = datetime.now(UTC)
    queued = world.campaign(list_id=audience, status="queued")
    due = world.campaign(list_id=audience, status="scheduled", scheduled_at=now - timedelta(minutes=1))
    world.campaign(list_id=audience, status="scheduled", scheduled_at=now + timedelta(days=1))
    world.campaign(list_id=audience, status="draft")
    mine = [c for org, c in due_campaigns(database_url=world.url, now=now) if org == world.org]
    assert sorted(mine) == sorted([queued, due])

    from beacon.schema.models import Segment
    from sqlalchemy import insert

    with world.engine.begin() as conn:
        segment_id = conn.execute(insert(Segment.__table__).returning(Segment.__table__.c.id),
                                  {"organization_id": int(world.org), "name": "all", "criteria": {"all": []}}).scalar_one()
    cancelled = world.campaign(segment_id=segment_id, status="queued")
    contacts = world.ids[:3]

    def audience_while_someone_cancels(campaign):
        # the API cancels the queued campaign while activation is still working out its audience
        with world.engine.begin() as conn:
            conn.execute(Campaign.__table__.update().where(Campaign.__table__.c.id == campaign.id).values(status="cancelled"))
        return contacts

    report = run_campaign(cancelled, world.org, audience_provider=audience_while_someone_cancels,
                          options=RunOptions(retry=FAST_RETRY))
    assert report.status == "cancelled" and report.sent == 0
    assert len(sendgrid_messages(fake)) == 0
    with world.engine.connect() as conn:
        assert conn.scalar(select(Campaign.status).where(Campaign.id == cancelled)).value == "cancelled"
    assert ledger(world, cancelled) == []


@pytest.mark.parametrize("per_recipient", [False, True], ids=["shared", "per_recipient"])
def test_campaign_missing_content_variables_is_rejected_before_any_send(world, fake, per_recipient):
    from activation.run import CampaignNotRunnable

    greeting = "{% if contact.first_name %}Hi {{ contact.first_name }}{% endif %}" if per_recipient else "Hi {{ contact.first_name }}"
    world.template(text=greeting + ", use {{ promo_code }} before {{ deadline }}", html="", required=["promo_code"])
    ids = world.contacts(3)
    missing = world.campaign(list_id=world.list_of(ids), content_variables={"promo_code": "SAVE20"})
    with pytest.raises(CampaignNotRunnable, match=r"'promo' \(en\) needs deadline \(set them"):
        run_campaign(missing, world.org, options=RunOptions(retry=FAST_RETRY))
    blank = world.campaign(list_id=world.list_of(ids), content_variables={"promo_code": "", "deadline": "Friday"})
    with pytest.raises(CampaignNotRunnable, match="needs promo_code"):  # required, so an empty value is missing
        run_campaign(blank, world.org, options=RunOptions(retry=FAST_RETRY))
    assert fake.state.sendgrid_requests == 0 and not ledger(world, missing) and not ledger(world, blank)

    supplied = world.campaign(list_id=world.list_of(ids), content_variables={"promo_code": "SAVE20", "deadline": "Friday"})
    report = run_campaign(supplied, world.org, options=RunOptions(retry=FAST_RETRY))
    assert report.sent == 3
    texts = [next(b["value"] for b in m["content"] if b["type"] == "text/plain") for m in sendgrid_messages(fake)]
    assert len(texts) == 3 and all("use SAVE20 before Friday" in t for t in texts)


def test_send_phase_fanned_out_over_processes_sends_each_once(world, fake):
    ids = world.contacts(41)
    world.template()
    campaign_id = world.campaign(list_id=world.list_of(ids))
    report = run_campaign(campaign_id, world.org, options=RunOptions(batch_size=4, max_in_flight=2, retry=FAST_RETRY, processes=3))
    assert report.status == "sent" and report.sent == 41
    messages = sendgrid_messages(fake)
    rows = ledger(world, campaign_id)
    assert sorted(m["custom_args"]["send_id"] for m in messages) == sorted(str(r["send_id"]) for r in rows)
    assert Counter(r["status"].value for r in rows) == {"sent": 41}
    # each request carries one partition's contacts (contact_id % 3), so all three processes sent
    by_request: dict[str, set[int]] = {}
    contact_of = {str(r["send_id"]): r["contact_id"] for r in rows}
    for m in messages:
        by_request.setdefault(m["x_message_id"], set()).add(contact_of[m["custom_args"]["send_id"]] % 3)
    assert all(len(shares) == 1 for shares in by_request.values())
    assert set().union(*by_request.values()) == {0, 1, 2}
    with world.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Event).where(
            Event.provider == "beacon", Event.organization_id == world.org)) == 41


def test_fanned_out_outage_stops_every_process_and_a_rerun_finishes(world, fake):
    ids = world.contacts(30)
    world.template()
    campaign_id = world.campaign(list_id=world.list_of(ids))
    fake.control("POST", "/_fake/faults", json={"provider": "sendgrid", "status": 500, "count": 100})
    report = run_campaign(campaign_id, world.org,
                          options=RunOptions(batch_size=5, max_in_flight=1, retry=RetryPolicy(3, 0.01, 0.05), processes=2))
    assert report.status == "failed" and report.sent == 0 and report.errors
    assert Counter(r["status"].value for r in ledger(world, campaign_id)) == {"pending": 30}
    fake.control("DELETE", "/_fake/faults")
    again = run_campaign(campaign_id, world.org, options=RunOptions(batch_size=5, retry=FAST_RETRY, processes=2))
    assert again.status == "sent" and again.sent == 30 and len(sendgrid_messages(fake)) == 30
