"""The demo's activation loop, on real parts: the API and the local fake providers on loopback.

A marketer's campaign goes in through the API, the activation runs it through the fake SendGrid,
the fake posts its signed events back to the API's webhook, people open and click through the
tracking endpoints, and some of them order (an order export dropped in the inbox). Everything
here calls product code over HTTP; only the people are simulated, deterministically (a hash of
the ``send_id``), so two demo runs tell the same story.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import sqlalchemy as sa

from beacon.settings import Settings, get_settings

PIXEL = re.compile(r'src="(https?://[^"]+/t/o/[^"]+\.gif)"')
LINK = re.compile(r'href="(https?://[^"]+/t/c/[^"]+)"')
OPEN_SHARE, CLICK_SHARE, ORDER_SHARE = 0.45, 0.35, 0.30  # of delivered; of openers; of clickers


@dataclass
class LoopResult:
    organization: str = ""
    campaign_id: int = 0
    campaign: dict = field(default_factory=dict)  # the activation report
    automation_runs: int = 0
    webhook_batches: int = 0
    opens: int = 0
    clicks: int = 0
    orders: int = 0
    orders_file: Path | None = None


def _chance(send_id: str, salt: str) -> float:
    digest = hashlib.blake2b(f"{salt}:{send_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@contextmanager
def running_services(settings: Settings) -> Iterator[tuple[str, str]]:
    """The fake providers and the API on loopback ports; the environment points Beacon at them."""
    from api.main import create_app
    from beacon.providers.fake.server import BackgroundServer, FakeProviderServer

    fake = FakeProviderServer().start()
    api = BackgroundServer(create_app(settings))
    overrides = {"BEACON_FAKE_PROVIDERS_URL": fake.url, "BEACON_PUBLIC_BASE_URL": api.url}
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    api.app.state.settings = get_settings()
    api.start()
    try:
        yield fake.url, api.url
    finally:
        api.stop()
        fake.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _demo_tenant(engine: sa.Engine, warehouse: sa.Engine) -> tuple[int, str, int]:
    """The e-commerce tenant's segment with the most members now: (organization id, slug, segment id)."""
    from beacon.schema.models import Organization, OrganizationType, Segment

    with engine.connect() as conn:
        candidates = {segment_id: (org, slug) for org, slug, segment_id in conn.execute(
            sa.select(Organization.id, Organization.slug, Segment.id)
            .join(Segment, Segment.organization_id == Organization.id)
            .join(OrganizationType, OrganizationType.id == Organization.organization_type_id)
            .where(OrganizationType.code == "ecommerce", Segment.name != "Abandoned cart")
        )}
    with warehouse.connect() as conn:
        members = dict(conn.execute(sa.text(
            "SELECT segment_id, count(*) FROM segments.segment_memberships WHERE exited_at IS NULL GROUP BY segment_id")).all())
    segment_id = max(candidates, key=lambda s: (members.get(s, 0), -s))
    org, slug = candidates[segment_id]
    return int(org), str(slug), int(segment_id)


def _api_key(engine: sa.Engine, org: int) -> str:
    from api.api_keys.schemas import ApiKeyCreate
    from api.api_keys.service import create
    from beacon.schema.models import Role
    from beacon.tenancy import OrgId

    with sa.orm.Session(engine) as session, session.begin():
        return create(session, OrgId(org), ApiKeyCreate(name="demo marketer", role=Role.manager)).key


def queue_campaign(api_url: str, key: str, segment_id: int) -> int:
    """Create a campaign with a 10% holdout and press "send now", as a marketer would through the API."""
    headers = {"X-API-Key": key}
    with httpx.Client(base_url=api_url, headers=headers, timeout=30) as client:
        created = client.post("/v1/campaigns", json={
            "name": "Demo: winter sale", "segment_id": segment_id, "template_code": "promotion",
            "holdout_percent": "10",
            "content_variables": {"offer": "20% off winter coats this week", "cta_url": "https://shop.example/winter"},
        })
        created.raise_for_status()
        campaign_id = created.json()["id"]
        client.post(f"/v1/campaigns/{campaign_id}/send").raise_for_status()
    return campaign_id


def emit_provider_events(fake_url: str, api_url: str) -> int:
    """The fake SendGrid posts its signed event batches (delivered, bounces, ...) to the API's webhook."""
    response = httpx.post(f"{fake_url}/_fake/sendgrid/emit_events", json={"url": f"{api_url}/webhooks/sendgrid"}, timeout=300)
    response.raise_for_status()
    statuses = response.json().get("statuses", [])
    if any(status >= 300 for status in statuses):
        raise RuntimeError(f"the API refused SendGrid webhook batches: {statuses}")
    return len(statuses)


def engage(fake_url: str, send_ids: set[str]) -> tuple[int, int, list[str]]:
    """People open and click through the tracking endpoints; returns opens, clicks and the clickers' send ids."""
    messages = httpx.get(f"{fake_url}/_fake/messages", params={"provider": "sendgrid"}, timeout=60).json()["sendgrid"]
    opens = clicks = 0
    clickers = []
    browser = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/133.0"}
    with httpx.Client(headers=browser, timeout=30, follow_redirects=False) as client:
        for message in messages:
            send_id = message.get("custom_args", {}).get("send_id")
            if send_id not in send_ids or _chance(send_id, "open") >= OPEN_SHARE:
                continue
            html = " ".join(part.get("value", "") for part in message.get("content", []))
            for pixel in PIXEL.findall(html)[:1]:
                client.get(pixel).raise_for_status()
                opens += 1
            links = LINK.findall(html)
            if links and _chance(send_id, "click") < CLICK_SHARE:
                response = client.get(links[0].replace("&amp;", "&"))
                if response.status_code != 302:
                    raise RuntimeError(f"click redirect answered {response.status_code} for send {send_id}")
                clicks += 1
                clickers.append(send_id)
    return opens, clicks, clickers


def write_orders(settings: Settings, engine: sa.Engine, slug: str, clickers: list[str], now: datetime) -> tuple[int, Path]:
    """Some clickers buy: an order export in the tenant's inbox, in the documented contract."""
    from beacon.schema.models import Contact, Organization, Send

    buyers = [s for s in clickers if _chance(s, "order") < ORDER_SHARE]
    with engine.connect() as conn:
        currency = conn.execute(sa.select(Organization.currency).where(Organization.slug == slug)).scalar_one()
        rows = conn.execute(
            sa.select(Send.send_id, Contact.email).join(Contact, Contact.id == Send.contact_id)
            .where(Send.send_id.in_([uuid.UUID(s) for s in buyers]))
        ) if buyers else []
        emails = {str(send_id): email for send_id, email in rows}
    path = settings.home / "inbox" / slug / "orders" / f"demo_orders_{now:%Y%m%dT%H%M%S}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "organization", "customer_email", "created_at", "currency", "total",
                         "refunded_amount", "status"])
        for n, send_id in enumerate(buyers):
            email = emails.get(send_id)
            if email is None:
                continue
            total = Decimal(20 + int(_chance(send_id, "basket") * 180)).quantize(Decimal("0.01"))
            created = now + timedelta(seconds=n)
            writer.writerow([f"demo-{send_id[:12]}", slug, email, created.isoformat(), currency, total, "0", "paid"])
    return len(buyers), path


def sent_send_ids(engine: sa.Engine, campaign_id: int) -> set[str]:
    from beacon.schema.models import Send, SendStatus

    with engine.connect() as conn:
        rows = conn.execute(sa.select(Send.send_id).where(Send.campaign_id == campaign_id, Send.status == SendStatus.sent))
        return {str(send_id) for (send_id,) in rows}


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def launch_due_campaigns(instance) -> list[str]:
    """One tick of the queued-campaigns sensor, and its runs executed here: what the daemon would do."""
    from dagster import build_sensor_context

    from orchestration.activation import queued_campaigns_sensor, send_campaign

    tick = queued_campaigns_sensor.evaluate_tick(build_sensor_context(instance=instance))
    statuses = []
    for request in tick.run_requests or []:
        result = send_campaign.execute_in_process(run_config=request.run_config, instance=instance, tags=request.tags,
                                                  raise_on_error=False)
        statuses.append(result.output_for_node("send_campaign_op") if result.success else "run failed")
    return statuses


def run_automations(instance, now: datetime) -> int:
    """One tick of the automations schedule, its runs executed here; returns the number of runs."""
    from dagster import build_schedule_context

    from orchestration.activation import automations_hourly, run_automation_job

    tick = automations_hourly.evaluate_tick(build_schedule_context(instance=instance, scheduled_execution_time=now))
    for request in tick.run_requests or []:
        run_automation_job.execute_in_process(run_config=request.run_config, instance=instance, tags=request.tags,
                                              raise_on_error=False)
    return len(tick.run_requests or [])


def ledger_counts(engine: sa.Engine, campaign_id: int) -> dict[str, int]:
    from beacon.schema.models import Send

    with engine.connect() as conn:
        rows = conn.execute(sa.select(Send.status, sa.func.count()).where(Send.campaign_id == campaign_id).group_by(Send.status))
        return {str(getattr(status, "value", status)): int(n) for status, n in rows}


def activation_loop(fake_url: str, api_url: str) -> LoopResult:
    """A marketer's campaign and the automations, sent, answered by the provider and by people."""
    from beacon.schema.db import make_engine
    from beacon.warehouse import warehouse_engine
    from orchestration.run import dagster_instance

    settings = get_settings()
    engine = make_engine(settings.operational_url)
    result = LoopResult()
    try:
        warehouse = warehouse_engine(settings.warehouse)
        try:
            org, result.organization, segment_id = _demo_tenant(engine, warehouse)
        finally:
            warehouse.dispose()
        result.campaign_id = queue_campaign(api_url, _api_key(engine, org), segment_id)
        with dagster_instance() as instance:
            launch_due_campaigns(instance)
            result.automation_runs = run_automations(instance, utc_now())
        result.campaign = ledger_counts(engine, result.campaign_id)
        result.webhook_batches = emit_provider_events(fake_url, api_url)
        result.opens, result.clicks, clickers = engage(fake_url, sent_send_ids(engine, result.campaign_id))
        result.orders, result.orders_file = write_orders(settings, engine, result.organization, clickers, utc_now())
    finally:
        engine.dispose()
    return result


@dataclass
class FinanceResult:
    success: bool = True
    failed_checks: list[str] = field(default_factory=list)
    reports_folder: Path | None = None


def run_finance() -> FinanceResult:
    """Push usage to the (fake) Stripe, run the blocking reconciliation, write the reports: the finance assets."""
    from dagster import DagsterEventType, materialize

    from orchestration.finance import (
        invoices_match_stripe,
        stripe_usage_push_asset,
        usage_reconciles,
        usage_report_files_asset,
    )
    from orchestration.run import dagster_instance

    with dagster_instance() as instance:
        run = materialize([stripe_usage_push_asset(), usage_reconciles, invoices_match_stripe, usage_report_files_asset()],
                          instance=instance, raise_on_error=False)
    result = FinanceResult(success=run.success, reports_folder=get_settings().home / "reports")
    for event in run.all_events:
        if event.event_type is DagsterEventType.ASSET_CHECK_EVALUATION and not event.event_specific_data.passed:
            evaluation = event.event_specific_data
            result.failed_checks.append(f"{evaluation.check_name}: {evaluation.description or ''}".strip())
    return result


def highlights(op_engine: sa.Engine, warehouse: sa.Engine, loop: LoopResult) -> dict:
    """What the demo's campaign, the CLV fits and the demo tenant's bill look like in the marts."""
    from beacon.finance.report import usage_report
    from beacon.tenancy import OrgId

    with op_engine.connect() as conn:
        org = conn.execute(sa.text("SELECT id FROM organizations WHERE slug = :slug"), {"slug": loop.organization}).scalar_one()
    out: dict = {}
    with warehouse.connect() as conn:
        out["campaign"] = [dict(row._mapping) for row in conn.execute(sa.text(
            "SELECT variant_name, sent, delivered, opened_unique, machine_opened, clicked_unique, bot_clicked, "
            "conversions, attributed_revenue, open_rate, click_rate FROM marts.fct_campaign_performance "
            "WHERE organization_id = :org AND campaign_id = :campaign ORDER BY variant_name"),
            {"org": org, "campaign": loop.campaign_id})]
        lift = conn.execute(sa.text(
            "SELECT treated_recipients, holdout_recipients, treated_conversion_rate, holdout_conversion_rate, "
            "conversion_rate_lift, conversion_rate_lift_ci_lower, conversion_rate_lift_ci_upper "
            "FROM marts.fct_campaign_holdout_lift WHERE organization_id = :org AND campaign_id = :campaign"),
            {"org": org, "campaign": loop.campaign_id}).first()
        out["holdout"] = dict(lift._mapping) if lift else {}
        out["attributed_revenue_all_campaigns"] = conn.execute(sa.text(
            "SELECT coalesce(sum(attributed_revenue), 0) FROM marts.fct_attributed_conversions WHERE organization_id = :org"),
            {"org": org}).scalar_one()
        out["clv_fits"] = dict(conn.execute(sa.text(
            "SELECT status, count(*) FROM predictions.clv_fits GROUP BY status ORDER BY status")).all())
        out["clv"] = dict(conn.execute(sa.text(
            "SELECT count(predicted_clv_12m) AS customers_predicted, avg(probability_alive) AS mean_p_alive, "
            "sum(predicted_clv_12m) AS predicted_clv_12m_total FROM marts.dim_contacts WHERE organization_id = :org"),
            {"org": org}).one()._mapping)
    out["usage"] = usage_report(warehouse, OrgId(org), None)
    return out
