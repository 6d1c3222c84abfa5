"""A failed Great Expectations check on a raw table blocks everything downstream in the run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from dagster import AssetSelection
from sqlalchemy import inspect, text

from beacon.schema.db import session_scope
from beacon.settings import get_settings
from beacon.store.organizations import create_organization
from beacon.warehouse import warehouse_engine
from ingestion.files.tables import RAW_TABLES_DDL
from orchestration.definitions import build_definitions
from orchestration.run import run_pipeline

pytestmark = pytest.mark.slow

GOOD_ORDERS = (
    "order_id,organization,customer_email,created_at,currency,total,refunded_amount,status\n"
    "A-1,shop,ann@shop.io,2026-10-01T10:00:00+00:00,USD,25.00,0,paid\n"
    "A-2,shop,bob@shop.io,2026-10-02T10:00:00+00:00,USD,40.00,0,paid\n"
)


def _create_raw_tables() -> None:
    engine = warehouse_engine()
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA IF NOT EXISTS raw"))
        for ddl in RAW_TABLES_DDL:
            conn.execute(text(ddl))
    engine.dispose()


def _warehouse_count(sql: str) -> int:
    engine = warehouse_engine()
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


def test_bad_raw_orders_stop_the_models_downstream(pipeline_env):
    with session_scope(pipeline_env) as session:
        org, _ = create_organization(session, type_code="ecommerce", name="Shop", slug="shop")
    inbox = get_settings().home / "inbox" / "shop" / "orders"
    inbox.mkdir(parents=True)
    (inbox / "orders_2026-10.csv").write_text(GOOD_ORDERS)
    # A row no loader would write (a negative total), as a manual insert or a loader bug would leave it.
    _create_raw_tables()
    engine = warehouse_engine()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO raw.orders (order_id, organization, organization_id, created_at, updated_at, currency, "
                "total, refunded_amount, status, source_file, source_line, file_sha256, loaded_at) VALUES "
                "('BAD-1', 'shop', :org, :at, :at, 'USD', -99, 0, 'paid', 'manual', 1, :sha, :at)"
            ),
            {"org": org, "at": datetime(2026, 10, 3, tzinfo=UTC), "sha": "0" * 64},
        )
    engine.dispose()

    summary = run_pipeline()

    assert not summary.success
    assert "raw/orders:great_expectations_orders" in summary.failed_checks
    assert "raw/orders" in summary.materialized  # the load itself ran: 2 good rows landed
    assert _warehouse_count("SELECT count(*) FROM raw.orders") == 3
    # Nothing that reads raw ran (models that read only the reference seeds may: the check does not guard them).
    dbt_assets = [key for key in summary.materialized if key.split("/")[0] in {"staging", "intermediate", "marts"}]
    downstream_of_raw = {k.to_user_string() for k in AssetSelection.key_prefixes("raw").downstream().resolve(
        build_definitions().resolve_asset_graph())}
    ran = [key for key in dbt_assets if key in downstream_of_raw]
    assert ran == [], f"models ran despite the failed check: {ran}"
    assert "marts/dim_contacts" in downstream_of_raw and "marts/fct_orders" in downstream_of_raw
    engine = warehouse_engine()
    assert not inspect(engine).has_schema("marts"), "no mart was built"
    engine.dispose()
