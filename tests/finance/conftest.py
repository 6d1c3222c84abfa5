"""A small billed deployment, built for real once per back end and test session (SQLite + DuckDB, PostgreSQL):
operational rows written as activation and the webhooks write them, replicated by dlt, and the
billing marts built by ``dbt build`` with ``billing_as_of`` 2026-11-20 (October closed, November open).

Tests that write to the operational DB (pushes, receipts, injected rows) start from ``clean``.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from beacon.schema import migrate
from beacon.schema.db import make_engine, session_scope
from beacon.schema.models import (
    BillingCycle, Campaign, Channel, Contact, ContactList, Event, EventType, Organization, Plan, Send, SendStatus, Subscription,
    SubscriptionStatus, UsagePush, WebhookReceipt,
)
from beacon.settings import Settings
from beacon.store.organizations import create_organization
from beacon.tenancy import OrgId
from beacon.warehouse import warehouse_engine
from ingestion.replication import replicate
from orchestration.dbt_env import dbt_target
from tests.conftest import PG_SERVER, _create_pg_database, _drop_pg_database, _pg_available, _server_url_for, IN_CI

# Automation steps keep one contact's many messages apart (sends are unique per campaign, contact, step).
_STEPS = itertools.count(1)
DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt"
AS_OF = "2026-11-20 12:00:00"
# A small plan so a handful of messages go over it.
SMALL = {"code": "finance_small", "name": "Small", "currency": "USD", "monthly_price": Decimal("20.00"),
         "yearly_price": Decimal("200.00"), "contact_limit": 10, "email_limit": 4, "sms_limit": 1, "whatsapp_limit": 0,
         "campaign_limit": 3, "email_overage_price": Decimal("0.0150"), "sms_overage_price": Decimal("0.0500"),
         "whatsapp_overage_price": Decimal("0.0300"), "features": ["email", "sms"]}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class Deployment:
    op_url: str
    warehouse_url: str
    home: Path
    shop: OrgId
    other: OrgId
    campaign: int
    contact: int

    def op_engine(self):
        return make_engine(self.op_url)

    def warehouse(self):
        return warehouse_engine(self.warehouse_url)

    def settings(self, **overrides) -> Settings:
        return Settings(home=self.home, database_url=self.op_url, warehouse_url=self.warehouse_url, **overrides)


def write_send(session, org: int, campaign: int, contact: int, channel: Channel, at: datetime, *,
               sent_events: int = 1, status: SendStatus = SendStatus.sent) -> uuid.UUID:
    """A ledger row and its `sent` event(s), as activation writes them (a replay arrives a minute later)."""
    send = Send(organization_id=org, campaign_id=campaign, contact_id=contact, channel=channel, status=status, step=next(_STEPS),
                sent_at=at if status is SendStatus.sent else None)
    session.add(send)
    session.flush()
    kinds = [EventType.sent] * sent_events if status is SendStatus.sent else [EventType.failed]
    for n, kind in enumerate(kinds):
        session.add(Event(organization_id=org, event_type=kind, occurred_at=at + timedelta(minutes=n),
                          send_id=send.send_id, contact_id=contact, channel=channel, provider="sendgrid",
                          provider_event_id=uuid.uuid4().hex, payload={}))
    return send.send_id


def remove_send(op_engine, send_id: uuid.UUID) -> None:
    """Undo a ``write_send`` a test injected (the deployment is shared by the session's tests)."""
    with op_engine.begin() as conn:
        conn.execute(delete(Event).where(Event.send_id == send_id))
        conn.execute(delete(Send).where(Send.send_id == send_id))


def _seed(op_url: str) -> dict:
    migrate.upgrade(op_url)
    engine = make_engine(op_url)
    try:
        with session_scope(engine) as session:
            shop, _ = create_organization(session, type_code="ecommerce", name="Shop", slug="shop")
            other, _ = create_organization(session, type_code="church", name="Other", slug="other")
            small = Plan(**SMALL)
            session.add(small)
            session.flush()
            for org in (shop, other):
                session.add(Subscription(
                    organization_id=org, plan_id=small.id, status=SubscriptionStatus.active,
                    billing_cycle=BillingCycle.monthly, current_period_start=utc("2026-11-01 00:00:00"),
                    current_period_end=utc("2026-12-01 00:00:00"), created_at=utc("2026-10-01 00:00:00")))
            contacts = [Contact(organization_id=org, email=f"a@{n}.io", email_normalized=f"a@{n}.io",
                                created_at=utc("2026-09-01 00:00:00")) for n, org in (("shop", shop), ("other", other))]
            session.add_all(contacts)
            lists = [ContactList(organization_id=org, name="everyone") for org in (shop, other)]
            session.add_all(lists)
            session.flush()
            campaigns = [Campaign(organization_id=org, name="news", template_code="newsletter", list_id=audience.id)
                         for org, audience in zip((shop, other), lists, strict=True)]
            session.add_all(campaigns)
            session.flush()
            c_shop, c_other = campaigns[0].id, campaigns[1].id
            k_shop, k_other = contacts[0].id, contacts[1].id
            # October (closed): 6 emails (one `sent` event replayed), 2 SMS, a failed email (never billed).
            for day in (2, 3, 4, 5, 6):
                write_send(session, shop, c_shop, k_shop, Channel.email, utc(f"2026-10-{day:02d} 09:00:00"))
            write_send(session, shop, c_shop, k_shop, Channel.email, utc("2026-10-07 09:00:00"), sent_events=2)
            write_send(session, shop, c_shop, k_shop, Channel.email, utc("2026-10-08 09:00:00"), status=SendStatus.failed)
            write_send(session, shop, c_shop, k_shop, Channel.sms, utc("2026-10-09 09:00:00"))
            write_send(session, shop, c_shop, k_shop, Channel.sms, utc("2026-10-10 09:00:00"))
            # November (open): 3 emails, the last one 23:59 UTC on 19 November.
            for at in ("2026-11-02 09:00:00", "2026-11-10 09:00:00", "2026-11-19 23:59:00"):
                write_send(session, shop, c_shop, k_shop, Channel.email, utc(at))
            # The other tenant: 2 emails in October.
            for day in (12, 13):
                write_send(session, other, c_other, k_other, Channel.email, utc(f"2026-10-{day} 15:00:00"))
            return {"shop": OrgId(shop), "other": OrgId(other), "campaign": c_shop, "contact": k_shop}
    finally:
        engine.dispose()


def build_billing_marts(settings: Settings, work: Path) -> None:
    """Replicate the operational DB and `dbt build` the billing marts with their parents and tests."""
    replicate(settings.operational_url, settings.warehouse, pipelines_dir=work / "dlt")
    target = dbt_target(settings)
    env = {**os.environ, **target.env, "DBT_TARGET_PATH": str(work / "dbt_target"), "DBT_LOG_PATH": str(work / "dbt_logs")}
    command = [str(Path(sys.executable).with_name("dbt")), "build", "--project-dir", str(DBT_PROJECT),
               "--profiles-dir", str(DBT_PROJECT), "--select", "+fct_invoice_lines", "+fct_usage_vs_plan",
               "--indirect-selection", "cautious", "--vars", json.dumps({"billing_as_of": AS_OF})]
    run = subprocess.run(command, cwd=DBT_PROJECT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


@pytest.fixture(scope="session", params=["embedded", pytest.param("postgres", marks=pytest.mark.postgres)])
def deployment(request, tmp_path_factory) -> Iterator[Deployment]:
    work = tmp_path_factory.mktemp(f"finance_{request.param}")
    created: list[str] = []
    if request.param == "embedded":
        op_url, warehouse_url = f"sqlite:///{work / 'beacon.db'}", f"duckdb:///{work / 'warehouse.duckdb'}"
    else:
        problem = _pg_available()
        if problem:
            if IN_CI:
                pytest.fail(f"PostgreSQL not reachable at {PG_SERVER}: {problem} (CI=true)", pytrace=False)
            pytest.skip(f"PostgreSQL not reachable at {PG_SERVER}: {problem}")
        created = [_create_pg_database(PG_SERVER, "beacon_fin_op"), _create_pg_database(PG_SERVER, "beacon_fin_wh")]
        op_url, warehouse_url = (_server_url_for(name) for name in created)
    try:
        ids = _seed(op_url)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("BEACON_HOME", str(work / "home"))
            settings = Settings(home=work / "home", database_url=op_url, warehouse_url=warehouse_url)
            build_billing_marts(settings, work)
        yield Deployment(op_url, warehouse_url, work / "home", **ids)
    finally:
        for name in created:
            _drop_pg_database(PG_SERVER, name)


@pytest.fixture
def clean(deployment: Deployment) -> Deployment:
    """Forget every push, Stripe receipt and Stripe customer id a previous test left behind."""
    engine = deployment.op_engine()
    with engine.begin() as conn:
        conn.execute(delete(UsagePush))
        conn.execute(delete(WebhookReceipt))
        conn.execute(update(Organization).values(stripe_customer_id=None))
    engine.dispose()
    return deployment
