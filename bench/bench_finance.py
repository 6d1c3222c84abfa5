"""Finance: Stripe usage sync and usage-report exports, side by side with their ceilings.

Synthetic billing marts of the documented shape (docs/billing.md) for N tenants x 12 periods in a
scratch DuckDB file, a migrated SQLite operational DB, and the local fake Stripe over real HTTP.

- ``sync_all`` (usage_pushes row written before each call, exactly once) against the ceiling:
  the same number of bare ``meter_events.create`` SDK calls to the same fake (no ledger, no marts).
- A re-run of the sync (nothing new to push): the cost of proving there is nothing to do.
- The usage report files (CSV + Parquet + PNG) per period, with the PNG alone shown apart.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from beacon.finance.chart import render_usage_chart
from beacon.finance.export import write_report_files
from beacon.finance.report import usage_report
from beacon.finance.stripe_sync import sync_all
from beacon.providers.clients import stripe_client
from beacon.providers.fake import FakeProviderServer
from beacon.schema import migrate
from beacon.schema.db import make_engine, session_scope
from beacon.settings import Settings
from beacon.store.organizations import create_organization
from beacon.tenancy import OrgId
from beacon.warehouse import warehouse_engine

NOW = datetime(2027, 1, 10, tzinfo=UTC)
MONTHS = [f"2026-{m:02d}" for m in range(1, 13)]

DDL = [
    "CREATE SCHEMA IF NOT EXISTS marts",
    "CREATE TABLE marts.fct_billing_periods (organization_id BIGINT, period_label VARCHAR, period_start TIMESTAMPTZ, "
    "period_end TIMESTAMPTZ, is_closed BOOLEAN, plan_code VARCHAR, currency VARCHAR, emails_billable BIGINT, "
    "sms_billable BIGINT, whatsapp_billable BIGINT, included_emails BIGINT, included_sms BIGINT, included_whatsapp BIGINT)",
    "CREATE TABLE marts.fct_usage_vs_plan (organization_id BIGINT, period_start TIMESTAMPTZ, metric VARCHAR, "
    "included BIGINT, used BIGINT, overage_units BIGINT, unit_price DECIMAL(18,4), overage_amount DECIMAL(18,4), "
    "pct_used DECIMAL(18,2), is_at_80_pct BOOLEAN, is_at_100_pct BOOLEAN, currency VARCHAR)",
    "CREATE TABLE marts.fct_invoice_lines (invoice_line_id VARCHAR, organization_id BIGINT, period_start TIMESTAMPTZ, "
    "line_type VARCHAR, metric VARCHAR, quantity BIGINT, unit_price DECIMAL(18,4), amount DECIMAL(18,4), "
    "currency VARCHAR, status VARCHAR)",
]


def _marts(url: str, orgs: list[OrgId]) -> None:
    engine = warehouse_engine(url)
    with engine.begin() as conn:
        for ddl in DDL:
            conn.execute(text(ddl))
        for org in orgs:
            for n, label in enumerate(MONTHS):
                start = datetime(2026, n + 1, 1, tzinfo=UTC)
                end = datetime(2026 + (n + 1) // 12, (n + 1) % 12 + 1, 1, tzinfo=UTC)
                emails, sms = 4000 + 97 * ((org * 7 + n) % 40), 80 + (org + n) % 50
                p = {"org": int(org), "label": label, "start": start, "end": end}
                conn.execute(text("INSERT INTO marts.fct_billing_periods VALUES (:org, :label, :start, :end, true, "
                                  "'growth', 'USD', :emails, :sms, 0, 5000, 100, 0)"), {**p, "emails": emails, "sms": sms})
                for metric, used, included, price in (("email", emails, 5000, "0.0010"), ("sms", sms, 100, "0.0400"),
                                                       ("whatsapp", 0, 0, "0.0300"), ("contacts", 900, 1000, None),
                                                       ("campaigns", 6, 10, None)):
                    over = max(used - included, 0)
                    conn.execute(text(
                        "INSERT INTO marts.fct_usage_vs_plan VALUES (:org, :start, :metric, :included, :used, :over, "
                        ":price, CAST(:price AS DECIMAL(18,4)) * :over, round(100.0 * :used / nullif(:included, 0), 2), "
                        ":used >= 0.8 * :included, :used >= :included, 'USD')"),
                        {**p, "metric": metric, "included": included, "used": used, "over": over, "price": price})
                    if over and price:
                        conn.execute(text(
                            "INSERT INTO marts.fct_invoice_lines VALUES (:id, :org, :start, :lt, :metric, :over, "
                            ":price, round(CAST(:price AS DECIMAL(18,4)) * :over, 2), 'USD', 'closed')"),
                            {**p, "id": f"{org}-{label}-{metric}_overage", "lt": f"{metric}_overage",
                             "metric": metric, "over": over, "price": price})
                conn.execute(text("INSERT INTO marts.fct_invoice_lines VALUES (:id, :org, :start, 'subscription_fee', "
                                  "'subscription', 1, 49, 49, 'USD', 'closed')"), {**p, "id": f"{org}-{label}-subscription_fee"})
    engine.dispose()


def run(quick: bool) -> dict:
    tenants = 5 if quick else 25
    with tempfile.TemporaryDirectory() as scratch, FakeProviderServer() as fake:
        home = Path(scratch)
        op_url, wh_url = f"sqlite:///{home / 'beacon.db'}", f"duckdb:///{home / 'warehouse.duckdb'}"
        migrate.upgrade(op_url)
        op = make_engine(op_url)
        with session_scope(op) as session:
            orgs = [create_organization(session, type_code="ecommerce", name=f"T{i}", slug=f"t{i}")[0] for i in range(tenants)]
        _marts(wh_url, orgs)
        warehouse = warehouse_engine(wh_url)
        client = stripe_client(Settings(home=home, fake_providers_url=fake.url), max_network_retries=0)

        started = time.perf_counter()
        result = sync_all(op, warehouse, client, now=NOW)
        sync_s = time.perf_counter() - started
        started = time.perf_counter()
        rerun = sync_all(op, warehouse, client, now=NOW)
        rerun_s = time.perf_counter() - started

        customer = client.v1.customers.create({"name": "ceiling"}).id
        started = time.perf_counter()
        for i in range(result.meter_events):
            client.v1.billing.meter_events.create(
                {"event_name": "beacon_email", "identifier": f"ceiling-{i}",
                 "payload": {"stripe_customer_id": customer, "value": "1"}})
        ceiling_s = time.perf_counter() - started

        reports = [usage_report(warehouse, org, label) for org in orgs for label in MONTHS]
        started = time.perf_counter()
        for report in reports:
            write_report_files(report, home)
        export_s = time.perf_counter() - started
        started = time.perf_counter()
        for report in reports[:24]:
            render_usage_chart(report)
        chart_s = (time.perf_counter() - started) / min(len(reports), 24)
        warehouse.dispose()
        op.dispose()

    calls = result.meter_events + result.invoices * 2 + result.invoice_items + tenants  # + finalize, customers
    rows = [
        {"step": "sync_all (first run)", "stripe_calls": calls, "seconds": round(sync_s, 2),
         "per_call_ms": round(1000 * sync_s / calls, 2)},
        {"step": "ceiling: bare meter_events.create", "stripe_calls": result.meter_events, "seconds": round(ceiling_s, 2),
         "per_call_ms": round(1000 * ceiling_s / result.meter_events, 2)},
        {"step": "sync_all re-run (nothing new)", "stripe_calls": rerun.meter_events + rerun.invoices, "seconds": round(rerun_s, 2),
         "per_call_ms": None},
        {"step": f"report files x{len(reports)} (csv+parquet+png)", "stripe_calls": 0, "seconds": round(export_s, 2),
         "per_call_ms": round(1000 * export_s / len(reports), 1)},
        {"step": "of which one PNG chart", "stripe_calls": 0, "seconds": None, "per_call_ms": round(1000 * chart_s, 1)},
    ]
    return {
        "name": "finance",
        "figures": {
            "tenants": tenants, "periods": len(reports), "meter_events": result.meter_events,
            "invoices": result.invoices, "invoice_items": result.invoice_items,
            "sync_seconds": round(sync_s, 3), "ceiling_seconds_meter_events_only": round(ceiling_s, 3),
            "rerun_seconds": round(rerun_s, 3), "rerun_pushes": rerun.meter_events + rerun.invoices,
            "report_files_per_second": round(len(reports) / export_s, 1), "chart_ms": round(1000 * chart_s, 1),
        },
        "rows": rows,
        "notes": "Stripe is the local fake over HTTP on the same machine; against the real API the per-call "
        "network latency dominates. The sync makes more calls than the ceiling (customers, invoices, items, finalize) "
        "and writes a usage_pushes row before and after each; per_call_ms compares like with like.",
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=True), indent=2, default=str))
