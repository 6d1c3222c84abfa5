"""A real Dagster run of the finance assets: push to Stripe (the local fake), the blocking
reconciliation check, then the report files; and a run the check stops, naming the mismatch."""

from __future__ import annotations

import pytest
from dagster import materialize

from beacon.providers.fake import FakeProviderServer
from beacon.schema.db import session_scope
from beacon.schema.models import Channel
from orchestration.finance import (
    REPORTS_KEY,
    invoices_match_stripe,
    stripe_usage_push_asset,
    usage_reconciles,
    usage_report_files_asset,
)
from tests.finance.conftest import remove_send, utc, write_send

FINANCE = [stripe_usage_push_asset(), usage_report_files_asset(), usage_reconciles, invoices_match_stripe]

pytestmark = pytest.mark.slow  # a dbt-built deployment per back end (built once per session)


@pytest.fixture
def env(clean, monkeypatch, tmp_path):
    with FakeProviderServer() as fake:
        for name, value in {"BEACON_HOME": str(tmp_path / "home"), "BEACON_DATABASE_URL": clean.op_url,
                            "BEACON_WAREHOUSE_URL": clean.warehouse_url, "BEACON_FAKE_PROVIDERS_URL": fake.url}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("BEACON_STRIPE_API_KEY", raising=False)
        monkeypatch.chdir(tmp_path)  # no stray .env
        yield clean, fake, tmp_path / "home"


def _check(result, name):
    return next(e for e in result.get_asset_check_evaluations() if e.check_name == name)


def test_run_pushes_reconciles_and_publishes(env):
    deployment, fake, home = env
    result = materialize(FINANCE, raise_on_error=False)
    assert result.success
    assert _check(result, "usage_reconciles").passed
    assert len(fake.state.stripe_meter_events) == 4
    shop = home / "reports" / str(deployment.shop)
    assert sorted(p.name for p in shop.iterdir()) == [f"2026-{m}.{ext}" for m in ("10", "11") for ext in ("csv", "parquet", "png")]
    reports = [e.materialization for e in result.get_asset_materialization_events()
               if e.materialization.asset_key == REPORTS_KEY]
    assert (reports[0].metadata["reports"].value, reports[0].metadata["kept"].value) == (4, 0)
    again = materialize(FINANCE, raise_on_error=False)
    rewritten = [e.materialization for e in again.get_asset_materialization_events()
                 if e.materialization.asset_key == REPORTS_KEY][0]
    # The two closed Octobers are kept as written; the open Novembers are redrawn.
    assert (rewritten.metadata["reports"].value, rewritten.metadata["kept"].value) == (2, 2)
    # Invoices were finalized but Stripe has not reported payment yet: a warning, not a failure.
    invoices = _check(result, "invoices_match_stripe")
    assert invoices.passed and len(invoices.metadata["unpaid"].value) == 2


def test_a_mismatch_stops_the_run_before_the_reports(env):
    deployment, _, home = env
    assert materialize(FINANCE[:1] + FINANCE[2:3], raise_on_error=False).success  # pushed and reconciled
    op = deployment.op_engine()
    with session_scope(op) as session:  # a sent message the marts and Stripe never saw
        send_id = write_send(session, deployment.shop, deployment.campaign, deployment.contact, Channel.sms,
                             utc("2026-11-05 08:00:00"))
    try:
        result = materialize(FINANCE, raise_on_error=False)
        check = _check(result, "usage_reconciles")
        assert not check.passed
        assert f"organization {deployment.shop}, period 2026-11, sms: billable in marts 0 vs send ledger 1 (difference -1)" \
            in check.metadata["mismatches"].value
        assert not result.success
        assert not (home / "reports").exists()  # blocked downstream
    finally:
        remove_send(op, send_id)
        op.dispose()
