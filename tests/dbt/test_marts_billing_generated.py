"""The billing marts on generated data, on DuckDB and PostgreSQL: the data generator writes tenants,
subscriptions, the send ledger and webhook events (operational DB) and provider export files
(inbox); dlt replicates, the file loader loads the provider events, `dbt build` runs the billing
models. Billable counts are then recomputed in Python from the source rows for every tenant and
period, and the invoice lines are checked to add up, to the cent.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from beacon.generate.config import GenerateConfig
from beacon.generate.pipeline import generate
from beacon.schema.db import make_engine
from ingestion.files.inbox import load_inbox
from ingestion.files.loader import SENDGRID, TWILIO
from ingestion.replication import replicate
from tests.conftest import _create_pg_database, _drop_pg_database, _server_url_for
from tests.dbt.conftest import run_dbt_build
from tests.dbt.test_marts_customers import _rows

pytestmark = pytest.mark.slow

AS_OF = "2026-11-01 00:00:00"  # the generator's as_of: October is in grace, earlier months closed


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def built(request, tmp_path_factory, migrated_database) -> tuple[str, str]:
    """(operational DB URL, warehouse URL) with generated data loaded and the billing marts built."""
    work = tmp_path_factory.mktemp(f"billing_{request.param}")
    backend = "sqlite" if request.param == "duckdb" else "postgres"
    wh_name = None
    with migrated_database(backend, "bill") as op_url, pytest.MonkeyPatch.context() as mp:
        mp.setenv("BEACON_HOME", str(work / "home"))
        if request.param == "duckdb":
            warehouse_url = f"duckdb:///{work / 'warehouse.duckdb'}"
        else:
            wh_name = _create_pg_database(request.getfixturevalue("pg_server"), "beacon_bill_wh")
            warehouse_url = _server_url_for(wh_name)
        try:
            generate(GenerateConfig(database_url=op_url, out=work / "gen", scale="tiny"))
            replicate(op_url, warehouse_url, pipelines_dir=work / "dlt")
            loaded = load_inbox(work / "gen" / "inbox", warehouse_url=warehouse_url, op_db_url=op_url, kinds=(SENDGRID, TWILIO))
            assert loaded and all(r.rows_quarantined == 0 for r in loaded)
            run_dbt_build(warehouse_url, work, ("+fct_invoice_lines",), {"billing_as_of": AS_OF})
            yield op_url, warehouse_url
        finally:
            if wh_name:
                _drop_pg_database(request.getfixturevalue("pg_server"), wh_name)


def _uuid(value) -> str:
    return str(uuid.UUID(str(value)))


def _billable_from_sources(op_url: str, warehouse_url: str) -> Counter:
    """docs/billing.md's rule in Python: ledger sends with a `sent` event (webhook or export file) of
    the same tenant, once per send, at the earliest `sent`, in the tenant's local month."""
    engine = make_engine(op_url)
    try:
        with engine.connect() as conn:
            zones = dict(conn.execute(text("select id, timezone from organizations")).all())
            ledger = {(org, _uuid(sid)): channel for org, sid, channel in
                      conn.execute(text("select organization_id, send_id, channel from sends")).all()}
            webhook = conn.execute(text("select organization_id, send_id, occurred_at from events "
                                        "where event_type = 'sent' and send_id is not null")).all()
    finally:
        engine.dispose()
    files = _rows(warehouse_url, "select organization_id, send_id, occurred_at from raw.provider_events "
                  "where event_type = 'sent' and send_id is not null")
    first: dict[tuple[int, str], datetime] = {}
    for org, send_id, at in [*webhook, *files]:
        at = datetime.fromisoformat(at) if isinstance(at, str) else at
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        key = (int(org), _uuid(send_id))
        if key in ledger:
            first[key] = min(first.get(key, at), at)
    as_of = datetime.fromisoformat(AS_OF).replace(tzinfo=UTC)
    return Counter((org, ledger[(org, sid)], at.astimezone(ZoneInfo(zones[org])).strftime("%Y-%m"))
                   for (org, sid), at in first.items() if at < as_of)


def test_billable_messages_match_the_source_rows_for_every_tenant_and_period(built):
    op_url, warehouse_url = built
    expected = _billable_from_sources(op_url, warehouse_url)
    assert sum(expected.values()) > 300  # the generated messages are really there (516 at tiny scale)
    periods = _rows(warehouse_url, "select organization_id, period_label, emails_billable, sms_billable, whatsapp_billable "
                    "from marts.fct_billing_periods")
    actual = Counter()
    for org, label, emails, sms, whatsapp in periods:
        for channel, count in (("email", emails), ("sms", sms), ("whatsapp", whatsapp)):
            if count:
                actual[(org, channel, label)] = count
    # Messages before a tenant's subscription started have no period: none in the generated data.
    assert actual == expected


def test_every_period_is_built_and_its_invoice_adds_up_to_the_cent(built):
    _, warehouse_url = built
    periods = {(org, label): (closed, fee, prorated) for org, label, closed, fee, prorated in _rows(
        warehouse_url, "select organization_id, period_label, is_closed, subscription_fee_amount, prorated_fee_amount "
        "from marts.fct_billing_periods")}
    orgs = {org for org, _ in periods}
    assert len(orgs) == 8  # tiny: 2 tenants of each of the 4 types, each subscribed
    # October 2026 is in grace on 1 November (3 days), so draft; every earlier period is closed.
    assert {label for (_, label), (closed, _, _) in periods.items() if not closed} == {"2026-10", "2026-11"}

    overage = {(org, label): amount for org, label, amount in _rows(
        warehouse_url, "select organization_id, period_label, sum(overage_amount) from marts.fct_usage_vs_plan "
        "group by organization_id, period_label")}
    lines = _rows(warehouse_url, "select organization_id, period_label, line_type, amount, status from marts.fct_invoice_lines")
    totals: Counter = Counter()
    for org, label, line_type, amount, status in lines:
        assert amount == amount.quantize(Decimal("0.01")), (org, label, line_type, amount)  # whole cents
        assert status == ("closed" if periods[(org, label)][0] else "draft")
        totals[(org, label)] += amount
    for key, (_, fee, prorated) in periods.items():
        assert totals[key] == prorated + overage[key], key
    usage_rows = _rows(warehouse_url, "select count(*) from marts.fct_usage_vs_plan")[0][0]
    assert usage_rows == 5 * len(periods)
