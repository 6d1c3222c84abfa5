"""The usage report read from the dbt-built billing marts: usage against the plan, overage,
threshold flags, invoice lines; and its CSV, Parquet and PNG files."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from beacon.finance import marts
from beacon.finance.export import report_csv, write_report_files
from beacon.finance.report import ReportNotFound, usage_report
from beacon.tenancy import OrgId

pytestmark = pytest.mark.slow  # a dbt-built deployment per back end (built once per session)


def test_october_report_matches_the_ledger_and_the_plan(deployment):
    engine = deployment.warehouse()
    try:
        report = usage_report(engine, deployment.shop, "2026-10")
    finally:
        engine.dispose()
    assert (report.period_label, report.is_closed, report.plan_code, report.currency) == ("2026-10", True, "finance_small", "USD")
    usage = {u.metric: u for u in report.usage}
    assert [u.metric for u in report.usage] == ["email", "sms", "whatsapp", "contacts", "campaigns"]
    # 6 billable emails (the failed one never, the replayed one once) against 4 included: 2 over at 0.015.
    assert (usage["email"].used, usage["email"].included, usage["email"].overage_units) == (6, 4, 2)
    assert usage["email"].overage_amount == Decimal("0.03")
    assert usage["email"].is_at_100_pct and usage["email"].pct_used == Decimal("150")
    # 2 SMS against 1: 1 over at 0.05.
    assert (usage["sms"].used, usage["sms"].overage_units, usage["sms"].overage_amount) == (2, 1, Decimal("0.05"))
    assert (usage["whatsapp"].used, usage["whatsapp"].is_at_80_pct) == (0, False)
    lines = {line.line_type: line for line in report.invoice_lines}
    assert set(lines) == {"subscription_fee", "email_overage", "sms_overage"}
    assert (lines["email_overage"].quantity, lines["email_overage"].amount) == (2, Decimal("0.03"))
    assert lines["subscription_fee"].amount == Decimal("20.00")
    assert report.invoice_total == Decimal("20.08") and all(line.status == "closed" for line in lines.values())


def test_latest_period_by_default_and_tenants_apart(deployment):
    engine = deployment.warehouse()
    try:
        latest = usage_report(engine, deployment.shop)
        assert (latest.period_label, latest.is_closed) == ("2026-11", False)
        assert {u.metric: u.used for u in latest.usage}["email"] == 3
        assert all(line.status == "draft" for line in latest.invoice_lines)
        other = usage_report(engine, deployment.other, "2026-10")
        assert {u.metric: u.used for u in other.usage}["email"] == 2
        assert other.organization_id == deployment.other
        with pytest.raises(ReportNotFound, match="2026-09"):
            usage_report(engine, deployment.shop, "2026-09")
        with pytest.raises(ReportNotFound):
            usage_report(engine, OrgId(987654))
        with pytest.raises(ValueError, match="YYYY-MM"):
            usage_report(engine, deployment.shop, "October")
    finally:
        engine.dispose()


def test_files_csv_parquet_and_chart(deployment):
    engine = deployment.warehouse()
    try:
        report = usage_report(engine, deployment.shop, "2026-10")
    finally:
        engine.dispose()
    paths = write_report_files(report, deployment.home)
    assert paths.csv == deployment.home / "reports" / str(deployment.shop) / "2026-10.csv"
    rows = list(csv.DictReader(io.StringIO(paths.csv.read_text())))
    assert rows == list(csv.DictReader(io.StringIO(report_csv(report).decode())))
    email = next(r for r in rows if r["row_type"] == "usage" and r["metric"] == "email")
    assert (email["used"], email["included"], email["overage_units"], email["amount"]) == ("6", "4", "2", "0.0300")
    table = pq.read_table(paths.parquet)
    assert table.schema.field("amount").type == marts_money()
    amounts = [a for a, t in zip(table["amount"].to_pylist(), table["row_type"].to_pylist()) if t == "invoice_line"]
    assert sum(amounts) == Decimal("20.08")  # exact decimals, no float drift
    assert paths.chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths.chart.stat().st_size > 10_000


def marts_money():
    from beacon.finance.export import MONEY

    return MONEY


def test_marts_not_built_is_a_clear_error(tmp_path):
    from beacon.warehouse import warehouse_engine

    engine = warehouse_engine(f"duckdb:///{tmp_path / 'empty.duckdb'}")
    try:
        with pytest.raises(marts.MartsNotBuilt, match="not built yet"):
            usage_report(engine, OrgId(1), "2026-10")
    finally:
        engine.dispose()
