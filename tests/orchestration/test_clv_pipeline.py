"""The customer-value asset for real, inside the pipeline job: dbt builds the RFM summary, the asset
fits each tenant and writes predictions, dbt reads them into dim_contacts, and the segment
membership asset refreshes segments on those marts; on SQLite + DuckDB and on PostgreSQL + PostgreSQL.

Orders come in as a tenant's order-export CSV drawn from the BG/NBD + Gamma-Gamma processes
(``beacon.clv.simulate``), so one tenant is large enough to fit and another is too small.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta

import pytest
from dagster import DagsterInstance
from sqlalchemy import text

from beacon.clv.simulate import simulate_orders
from beacon.schema.db import session_scope
from beacon.schema.models import Contact, Segment
from beacon.settings import get_settings
from beacon.store.organizations import create_organization
from beacon.warehouse import warehouse_engine
from orchestration.clv import PREDICTIONS_KEY
from orchestration.run import run_pipeline

pytestmark = pytest.mark.slow

SHOP_CUSTOMERS = 250


def _query(sql: str) -> list[tuple]:
    engine = warehouse_engine()
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def _tenant_with_orders(engine, slug: str, customers: int, seed: int) -> int:
    with session_scope(engine) as session:
        org, _ = create_organization(session, type_code="ecommerce", name=slug.title(), slug=slug)
        session.add_all([
            Contact(organization_id=org, email=f"c{i}@{slug}.example", email_normalized=f"c{i}@{slug}.example")
            for i in range(customers)
        ])
    start = datetime.now(UTC) - timedelta(weeks=60)
    orders = simulate_orders(customers, seed=seed, start=start, observed_weeks=52)
    folder = get_settings().home / "inbox" / slug / "orders"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "orders.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "organization", "customer_email", "created_at", "currency", "total", "status"])
        for n, row in enumerate(orders.itertuples(index=False)):
            writer.writerow([f"{slug}-{n}", slug, f"c{row.customer_id}@{slug}.example",
                             row.ordered_at.isoformat(), "USD", f"{max(row.order_value, 0.01):.2f}", "paid"])
    return org


def test_predictions_are_fitted_between_dbt_steps_and_reach_dim_contacts(pipeline_env, tmp_path):
    shop = _tenant_with_orders(pipeline_env, "bigshop", SHOP_CUSTOMERS, seed=11)
    tiny = _tenant_with_orders(pipeline_env, "tinyshop", 5, seed=12)
    with session_scope(pipeline_env) as session:
        valuable = Segment(organization_id=shop, name="Worth something",
                           criteria={"field": "predicted_clv_12m", "op": "gt", "value": 1})
        buyers = Segment(organization_id=tiny, name="Buyers", criteria={"field": "orders_count", "op": "gte", "value": 1})
        session.add_all([valuable, buyers])
        session.flush()
        valuable_id, buyers_id = valuable.id, buyers.id

    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    result = run_pipeline(instance=DagsterInstance.local_temp(tempdir=str(dagster_home)))
    assert result.success, (result.failed_steps, result.failed_checks)
    # The dbt multi-asset ran in two parts around the fit: summary before, profile after.
    lineage = ["intermediate/int_customers_summarized_for_clv", "predictions/customer_predictions", "marts/dim_contacts"]
    assert [key for key in result.materialized if key in lineage] == lineage
    with DagsterInstance.local_temp(tempdir=str(dagster_home)) as instance:  # run_pipeline closed its handle
        metadata = instance.get_latest_materialization_event(PREDICTIONS_KEY).asset_materialization.metadata
    assert metadata["tenants"].value == 2 and metadata["tenants_fitted"].value == 1
    assert metadata["statuses"].value[str(tiny)]["status"] == "too_small"

    fits = dict(_query("select organization_id, status from predictions.clv_fits"))
    assert fits == {shop: "fitted", tiny: "too_small"}
    (params, ll, n), = _query(f"select parameters, bg_nbd_log_likelihood, n_customers from predictions.clv_fits where organization_id = {shop}")
    assert set(json.loads(params)) == {"bg_nbd", "gamma_gamma"} and ll < 0 and n == SHOP_CUSTOMERS

    rows = _query(
        "select p.organization_id, p.model_status, count(*), min(p.probability_alive), max(p.probability_alive), "
        "min(p.predicted_clv_12m), count(p.expected_purchases_90d) "
        "from predictions.customer_predictions p group by p.organization_id, p.model_status order by 1"
    )
    assert rows[0][:3] == (shop, "fitted", SHOP_CUSTOMERS)
    assert 0 < rows[0][3] <= rows[0][4] <= 1 and rows[0][5] >= 0 and rows[0][6] == SHOP_CUSTOMERS
    assert rows[1][:3] == (tiny, "too_small", 5) and rows[1][6] == 0  # a status, no predictions

    # dim_contacts carries exactly what the fit wrote, tenant by tenant.
    joined = _query(
        "select d.organization_id, count(*), count(d.predicted_clv_12m), "
        "sum(case when abs(cast(d.predicted_clv_12m as double precision) - p.predicted_clv_12m) < 0.0001 then 1 else 0 end), "
        "sum(case when d.probability_alive = p.probability_alive then 1 else 0 end) "
        "from marts.dim_contacts d join predictions.customer_predictions p "
        "on p.organization_id = d.organization_id and p.contact_id = d.contact_id group by d.organization_id order by 1"
    )
    assert joined == [(shop, SHOP_CUSTOMERS, SHOP_CUSTOMERS, SHOP_CUSTOMERS, SHOP_CUSTOMERS), (tiny, 5, 0, 0, 0)]

    # Segments refreshed after the marts, on the predictions dbt carried into dim_contacts.
    (expected,), = _query(f"select count(*) from marts.dim_contacts where organization_id = {shop} and predicted_clv_12m > 1")
    assert 0 < expected < SHOP_CUSTOMERS
    members = _query("select organization_id, segment_id, count(*), count(exited_at) from segments.segment_memberships "
                     "group by organization_id, segment_id order by 1")
    assert members == [(shop, valuable_id, expected, 0), (tiny, buyers_id, 5, 0)]
    sizes = _query("select segment_id, members, entered, exited from segments.segment_sizes order by segment_id")
    assert sizes == [(valuable_id, expected, expected, 0), (buyers_id, 5, 5, 0)]
