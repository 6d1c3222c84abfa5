"""The usage-billing marts for real: an operational DB replicated by dlt, then `dbt build` of the
billing models (with their parents, data tests and unit tests) on DuckDB and on PostgreSQL; then a
late event after a period closed, a rebuild (with --full-refresh), and the closed period unchanged.
Expected values are worked out in the comments next to each assertion, or recomputed in Python
from the operational rows.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from beacon.schema import migrate
from beacon.schema.db import make_engine, session_scope
from beacon.schema.models import (
    BillingCycle,
    Campaign,
    Channel,
    Contact,
    ContactList,
    Event,
    EventType,
    Plan,
    Send,
    SendStatus,
    Subscription,
    SubscriptionChange,
    SubscriptionStatus,
)
from beacon.store.organizations import create_organization
from ingestion.replication import replicate
from tests.dbt.conftest import run_dbt_build
from tests.dbt.test_marts_customers import _rows, op_url_for  # noqa: F401  (op_url_for is a fixture)

pytestmark = pytest.mark.slow

BILLING_MODELS = ("+fct_invoice_lines",)
# A tiny plan so a handful of messages go over it; prices with 4 decimals exercise exact rounding.
TINY = {"code": "tiny", "name": "Tiny", "currency": "USD", "monthly_price": Decimal("10.00"),
        "yearly_price": Decimal("100.00"), "contact_limit": 2, "email_limit": 4, "sms_limit": 1, "whatsapp_limit": 0,
        "campaign_limit": 1, "email_overage_price": Decimal("0.0015"), "sms_overage_price": Decimal("0.0125"),
        "whatsapp_overage_price": Decimal("0.0300"), "features": ["email", "sms", "whatsapp"]}
PARIS = ZoneInfo("Europe/Paris")
_STEPS = itertools.count(1)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _dbt_build(warehouse_url: str, tmp_path: Path, as_of: str, *extra: str) -> None:
    run_dbt_build(warehouse_url, tmp_path, BILLING_MODELS, {"billing_as_of": as_of}, *extra)


class Ledger:
    """Writes sends and their provider events the way activation and the webhooks do."""

    def __init__(self, session, org: int, campaign: int, contact: int):
        self.session, self.org, self.campaign, self.contact = session, org, campaign, contact

    def send(self, channel: Channel, at: datetime, *, sent_events: int = 1, status=SendStatus.sent) -> uuid.UUID:
        # One message per (campaign, contact, step) in the ledger: each send here is its own automation step.
        send = Send(organization_id=self.org, campaign_id=self.campaign, contact_id=self.contact, channel=channel,
                    step=next(_STEPS),
                    status=status, sent_at=at if status is SendStatus.sent else None)
        self.session.add(send)
        self.session.flush()
        kinds = [EventType.sent] * sent_events if status is SendStatus.sent else [EventType.failed]
        # A replayed `sent` event arrives a minute later under another provider event id.
        for n, kind in enumerate(kinds):
            self.event(send.send_id, channel, kind, at + timedelta(minutes=n))
        if status is SendStatus.sent:
            self.event(send.send_id, channel, EventType.delivered, at + timedelta(minutes=5))
        return send.send_id

    def event(self, send_id: uuid.UUID, channel: Channel, kind: EventType, at: datetime) -> None:
        self.session.add(Event(organization_id=self.org, event_type=kind, occurred_at=at, send_id=send_id,
                               contact_id=self.contact, channel=channel, provider="sendgrid",
                               provider_event_id=uuid.uuid4().hex, payload={}))


def _seed(op_url: str) -> dict:
    migrate.upgrade(op_url)
    engine = make_engine(op_url)
    try:
        with session_scope(engine) as session:
            shop, _ = create_organization(session, type_code="ecommerce", name="Shop", slug="shop", timezone="Europe/Paris")
            other, _ = create_organization(session, type_code="church", name="Other", slug="other", timezone="America/New_York")
            tiny = Plan(**TINY)
            session.add(tiny)
            session.flush()
            starter = session.scalar(select(Plan.id).where(Plan.code == "starter"))
            subscription = Subscription(
                organization_id=shop, plan_id=starter, status=SubscriptionStatus.active, billing_cycle=BillingCycle.monthly,
                current_period_start=utc("2026-02-15 00:00:00"), current_period_end=utc("2026-03-15 00:00:00"),
                created_at=utc("2026-01-10 00:00:00"))
            session.add_all([subscription, Subscription(
                organization_id=other, plan_id=tiny.id, status=SubscriptionStatus.active, billing_cycle=BillingCycle.monthly,
                current_period_start=utc("2026-01-20 00:00:00"), current_period_end=utc("2026-02-20 00:00:00"),
                created_at=utc("2026-01-20 00:00:00"))])
            session.flush()
            # Shop moved from tiny to starter at 00:00 UTC on 15 February (what PUT /v1/subscription records).
            session.add(SubscriptionChange(
                organization_id=shop, subscription_id=subscription.id, from_plan_id=tiny.id, to_plan_id=starter,
                from_billing_cycle=BillingCycle.monthly, to_billing_cycle=BillingCycle.monthly,
                effective_at=utc("2026-02-15 00:00:00"), source="api"))
            contacts = [
                Contact(organization_id=shop, email="a@shop.io", email_normalized="a@shop.io", created_at=utc("2025-12-01 00:00:00")),
                Contact(organization_id=shop, email="b@shop.io", email_normalized="b@shop.io", created_at=utc("2026-01-15 00:00:00")),
                Contact(organization_id=shop, created_at=utc("2026-02-10 00:00:00"), erased_at=utc("2026-02-20 00:00:00")),
                Contact(organization_id=other, email="a@other.org", email_normalized="a@other.org", created_at=utc("2026-01-02 00:00:00")),
            ]
            session.add_all(contacts)
            audiences = [ContactList(organization_id=org, name="everyone") for org in (shop, other)]
            session.add_all(audiences)
            session.flush()
            campaigns = [Campaign(organization_id=audience.organization_id, name=f"c{n}", list_id=audience.id,
                                  template_code="newsletter")
                         for n, audience in enumerate((audiences[0], audiences[0], audiences[1]))]
            session.add_all(campaigns)
            session.flush()
            news, promo = (Ledger(session, shop, c.id, contacts[0].id) for c in campaigns[:2])
            # January in Paris (UTC 2025-12-31 23:00 -> 2026-01-31 23:00): 6 emails (one `sent` twice),
            # 2 SMS, 1 WhatsApp, a failed email (never billed); 23:30 UTC on 31 Jan is February in Paris.
            for day in (5, 11, 12, 13, 14):
                news.send(Channel.email, utc(f"2026-01-{day:02d} 09:00:00"))
            news.send(Channel.email, utc("2026-01-20 09:00:00"), sent_events=2)
            news.send(Channel.email, utc("2026-01-21 09:00:00"), status=SendStatus.failed)
            promo.send(Channel.sms, utc("2026-01-22 09:00:00"))
            promo.send(Channel.sms, utc("2026-01-23 09:00:00"))
            promo.send(Channel.whatsapp, utc("2026-01-24 09:00:00"))
            promo.send(Channel.email, utc("2026-01-31 23:30:00"))
            # February: two more emails and an SMS; March: one email.
            news.send(Channel.email, utc("2026-02-03 09:00:00"))
            news.send(Channel.email, utc("2026-02-16 09:00:00"), sent_events=3)
            news.send(Channel.sms, utc("2026-02-17 09:00:00"))
            news.send(Channel.email, utc("2026-03-01 09:00:00"))
            # The other tenant: 3 emails in January (New York) on its own campaign.
            theirs = Ledger(session, other, campaigns[2].id, contacts[3].id)
            for day in (21, 22, 23):
                theirs.send(Channel.email, utc(f"2026-01-{day} 15:00:00"))
            ids = {"shop": shop, "other": other, "news": campaigns[0].id, "contact": contacts[0].id}
    finally:
        engine.dispose()
    return ids


def _add_late_sends(op_url: str, ids: dict, *sent_at: datetime) -> None:
    engine = make_engine(op_url)
    try:
        with session_scope(engine) as session:
            ledger = Ledger(session, ids["shop"], ids["news"], ids["contact"])
            for at in sent_at:
                ledger.send(Channel.email, at)
    finally:
        engine.dispose()


def _emails_billable_from_source(op_url: str, org: int, zone: ZoneInfo, label: str) -> int:
    """The rule, in Python: distinct send_ids of `sent` email events in the tenant's local month."""
    engine = make_engine(op_url)
    try:
        with session_scope(engine) as session:
            rows = session.execute(select(Event.send_id, Event.occurred_at).where(
                Event.organization_id == org, Event.event_type == EventType.sent, Event.channel == Channel.email)).all()
    finally:
        engine.dispose()
    first: dict[uuid.UUID, datetime] = {}
    for send_id, at in rows:
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        first[send_id] = min(first.get(send_id, at), at)
    return sum(1 for at in first.values() if at.astimezone(zone).strftime("%Y-%m") == label)


def _periods(warehouse_url: str, org: int) -> dict[str, tuple]:
    return {row[0]: row[1:] for row in _rows(
        warehouse_url,
        "select period_label, is_closed, emails_billable, sms_billable, whatsapp_billable, campaigns_count, "
        "contacts_peak, contacts_avg, plan_code, first_plan_code, plan_intervals_count, included_emails, included_sms, "
        "subscription_fee_amount, prorated_fee_amount, period_start, period_end, computed_at "
        "from marts.fct_billing_periods where organization_id = :org", org=org)}


def _lines(warehouse_url: str, org: int) -> dict[str, tuple]:
    return {row[0]: row[1:] for row in _rows(
        warehouse_url,
        "select invoice_line_id, quantity, unit_price, amount, status from marts.fct_invoice_lines "
        "where organization_id = :org", org=org)}


def test_billing_marts_prorate_count_once_and_freeze_closed_periods(warehouse_url, op_url_for, tmp_path, monkeypatch):
    monkeypatch.setenv("BEACON_HOME", str(tmp_path / "home"))
    ids = _seed(op_url_for)
    shop, other = ids["shop"], ids["other"]
    replicate(op_url_for, warehouse_url, pipelines_dir=tmp_path / "dlt")
    # 2 March 12:00 UTC: January closed on 3 Feb 23:00 UTC; February (ends 28 Feb 23:00 UTC) is in grace.
    _dbt_build(warehouse_url, tmp_path, "2026-03-02 12:00:00")

    periods = _periods(warehouse_url, shop)
    assert set(periods) == {"2026-01", "2026-02", "2026-03"}
    jan, feb, mar = periods["2026-01"], periods["2026-02"], periods["2026-03"]
    # Local midnight in Paris (UTC+1 in winter), stored as UTC.
    assert (jan[14].astimezone(UTC), jan[15].astimezone(UTC)) == (utc("2025-12-31 23:00:00"), utc("2026-01-31 23:00:00"))
    assert jan[:7] == (True, 6, 2, 1, 2, 2, Decimal("1.55"))
    # contacts_avg: 1 contact from the period start to 15 Jan 00:00 (14 d 1 h), then 2 to the end (16 d 23 h).
    assert round(Decimal(1 * (14 * 24 + 1) + 2 * (16 * 24 + 23)) / (31 * 24), 2) == Decimal("1.55")
    # February: the 31 Jan 23:30 UTC email counts here. Contacts: 2 for 217 h, 3 from 10 Feb for 240 h (the
    # third is erased on 20 Feb), 2 for the last 215 h: (434 + 720 + 430) / 672 = 2.357.
    assert feb[:7] == (False, 3, 1, 0, 2, 3, Decimal("2.36"))
    assert mar[:6] == (False, 1, 0, 0, 1, 2)
    for label in ("2026-01", "2026-02", "2026-03"):
        assert periods[label][1] == _emails_billable_from_source(op_url_for, shop, PARIS, label)

    # January: tiny from 10 Jan 00:00 UTC: 21 d 23 h of 31 d covered. Included emails 4 x 1,897,200 / 2,678,400
    # = 2.833 -> 3; SMS 1 x ... = 0.708 -> 1; fee 10.00 x share = 7.0833 -> 7.08, so a proration credit of 2.92.
    assert jan[7:14] == ("tiny", "tiny", 1, 3, 1, Decimal("10"), Decimal("7.08"))
    # February (28 d): tiny 31 Jan 23:00 -> 15 Feb 00:00 (14 d 1 h = 1,213,200 s), starter after (1,206,000 s).
    # Emails (4 x 1,213,200 + 15,000 x 1,206,000) / 2,419,200 = 7,479.68 -> 7,480; SMS 249.76 -> 250;
    # fee (10 x 1,213,200 + 29 x 1,206,000) / 2,419,200 = 19.4717 -> 19.47.
    feb_emails = (4 * 1_213_200 + 15_000 * 1_206_000) / 2_419_200
    fee = (Decimal(10) * 1_213_200 + Decimal(29) * 1_206_000) / 2_419_200
    assert feb[7:14] == ("starter", "tiny", 2, round(feb_emails), round((1 * 1_213_200 + 500 * 1_206_000) / 2_419_200),
                         Decimal("10"), fee.quantize(Decimal("0.01")))

    lines = _lines(warehouse_url, shop)
    # January: 6 emails over 3 included at 0.0015 = 0.0045 -> 0.00 (half-even); 2 SMS over 1 at 0.0125 =
    # 0.0125 -> 0.01; 1 WhatsApp over 0 at 0.03.
    assert {k: v for k, v in lines.items() if "-2026-01-" in k} == {
        f"{shop}-2026-01-subscription_fee": (1, Decimal("10"), Decimal("10"), "closed"),
        f"{shop}-2026-01-proration_credit": (1, Decimal("-2.92"), Decimal("-2.92"), "closed"),
        f"{shop}-2026-01-email_overage": (3, Decimal("0.0015"), Decimal("0"), "closed"),
        f"{shop}-2026-01-sms_overage": (1, Decimal("0.0125"), Decimal("0.01"), "closed"),
        f"{shop}-2026-01-whatsapp_overage": (1, Decimal("0.03"), Decimal("0.03"), "closed"),
    }
    assert lines[f"{shop}-2026-02-proration_charge"][2:] == (fee.quantize(Decimal("0.01")) - 10, "draft")
    usage = _rows(warehouse_url, "select metric, included, used, overage_units, pct_used, is_at_80_pct, is_at_100_pct "
                  "from marts.fct_usage_vs_plan where organization_id = :org and period_label = '2026-01' order by metric",
                  org=shop)
    assert usage == [("campaigns", 1, 2, 1, Decimal("200"), True, True), ("contacts", 2, 2, 0, Decimal("100"), True, True),
                     ("email", 3, 6, 3, Decimal("200"), True, True), ("sms", 1, 2, 1, Decimal("200"), True, True),
                     ("whatsapp", 0, 1, 1, None, True, True)]
    # The other tenant: its own 3 emails, in New York's January; none of the shop's.
    assert _periods(warehouse_url, other)["2026-01"][1] == 3

    # Late events: one in January (closed), one in February (in grace); rebuilt later, even with --full-refresh.
    _add_late_sends(op_url_for, ids, utc("2026-01-25 10:00:00"), utc("2026-02-20 10:00:00"))
    replicate(op_url_for, warehouse_url, pipelines_dir=tmp_path / "dlt")
    _dbt_build(warehouse_url, tmp_path, "2026-03-02 18:00:00", "--full-refresh")
    after = _periods(warehouse_url, shop)
    assert after["2026-01"] == jan  # closed: every figure and its computed_at unchanged
    assert {k: v for k, v in _lines(warehouse_url, shop).items() if "-2026-01-" in k} == \
        {k: v for k, v in lines.items() if "-2026-01-" in k}
    assert after["2026-02"][1] == 4  # the late February email counts while February is in grace
    assert after["2026-02"][16].astimezone(UTC) == utc("2026-03-02 18:00:00")
    # The source now has 7 January emails; the closed period keeps the 6 it closed with.
    assert _emails_billable_from_source(op_url_for, shop, PARIS, "2026-01") == 7
