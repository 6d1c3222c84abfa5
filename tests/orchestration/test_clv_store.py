"""Writing customer-value results to the warehouse (beacon/clv/store.py) on DuckDB and PostgreSQL:
per-tenant replacement through the bulk paths, statuses and messages, other tenants untouched.
The fits themselves are proven against the papers in tests/beacon/test_clv.py and end to end in
test_clv_pipeline.py; here the tables beacon.clv returns are built by hand to hit every status."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from beacon.clv import CustomerValueTables
from beacon.clv import store
from beacon.tenancy import OrgId
from beacon.warehouse import warehouse_engine

FITTED_AT = datetime(2026, 11, 2, 3, 4, 5, tzinfo=UTC)


def _rfm(org: int, customers: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"organization_id": org, "customer_id": customers, "frequency": [1] + [0] * (len(customers) - 1),
                         "recency": 0.0, "T": 10.0, "monetary_value": 0.0})


def _tables(org: int, customers: list[int], status: str, *, value: float | None = None) -> CustomerValueTables:
    n = len(customers)
    predictions = pd.DataFrame({
        "organization_id": org, "customer_id": customers,
        "probability_alive": [value] * n, "expected_purchases_90d": [value] * n, "expected_purchases_365d": [value] * n,
        "expected_avg_order_value": [value] * n, "predicted_clv_12m": [value] * n,
        "model_status": status, "fitted_at": pd.Timestamp(FITTED_AT),
    }).astype({c: float for c in ("probability_alive", "predicted_clv_12m")})
    parameters = pd.DataFrame(columns=["organization_id", "model", "parameter", "value", "n_customers", "log_likelihood"])
    if status == "fitted":
        parameters = pd.DataFrame([
            (org, "bg_nbd", "r", 0.24, n, -100.5), (org, "bg_nbd", "alpha", 4.4, n, -100.5),
            (org, "gamma_gamma", "p", 6.25, 1, -40.0),
        ], columns=parameters.columns)
    return CustomerValueTables(predictions, parameters)


def _write(url: str, org: int, customers: list[int], status: str, value: float | None = None) -> store.TenantFit:
    rows, fit = store.tenant_rows(OrgId(org), _rfm(org, customers), _tables(org, customers, status, value=value), FITTED_AT)
    store.replace_tenant(url, OrgId(org), rows, fit)
    return fit


def _read(url: str, sql: str) -> list[tuple]:
    engine = warehouse_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def test_tenants_are_replaced_one_at_a_time_with_their_status(warehouse_url):
    store.ensure_tables(warehouse_url)
    store.ensure_tables(warehouse_url)  # idempotent
    _write(warehouse_url, 1, [10, 11, 12], "fitted", value=0.5)
    _write(warehouse_url, 2, [20], "too_small")
    _write(warehouse_url, 3, [30, 31], "failed: bg_nbd did not converge (max |gradient| 0.3)")
    # Refitting tenant 1 replaces its rows (one customer gone), the others stay as they were.
    _write(warehouse_url, 1, [10, 12], "fitted", value=0.75)

    rows = _read(warehouse_url, "select organization_id, contact_id, probability_alive, model_status from "
                                "predictions.customer_predictions order by 1, 2")
    assert rows == [(1, 10, 0.75, "fitted"), (1, 12, 0.75, "fitted"), (2, 20, None, "too_small"),
                    (3, 30, None, "failed"), (3, 31, None, "failed")]
    fits = _read(warehouse_url, "select organization_id, status, message, n_customers, n_repeat_buyers, parameters, "
                                "bg_nbd_log_likelihood, gamma_gamma_log_likelihood from predictions.clv_fits order by 1")
    assert [f[:5] for f in fits] == [
        (1, "fitted", None, 2, 1),
        (2, "too_small", "too few customers or repeat buyers to fit", 1, 1),
        (3, "failed", "bg_nbd did not converge (max |gradient| 0.3)", 2, 1),
    ]
    assert json.loads(fits[0][5]) == {"bg_nbd": {"r": 0.24, "alpha": 4.4}, "gamma_gamma": {"p": 6.25}}
    assert fits[0][6:] == (-100.5, -40.0) and fits[1][6:] == (None, None)
    (fitted_at,), = _read(warehouse_url, "select distinct fitted_at from predictions.customer_predictions")
    assert fitted_at.astimezone(UTC) == FITTED_AT


def test_tenants_without_customers_any_more_are_removed(warehouse_url):
    store.ensure_tables(warehouse_url)
    _write(warehouse_url, 1, [10], "too_small")
    _write(warehouse_url, 2, [20], "too_small")
    store.remove_tenants_except(warehouse_url, [OrgId(2)])
    assert _read(warehouse_url, "select organization_id from predictions.customer_predictions") == [(2,)]
    assert _read(warehouse_url, "select organization_id from predictions.clv_fits") == [(2,)]


def test_rows_of_another_tenant_are_refused(warehouse_url):
    store.ensure_tables(warehouse_url)
    with pytest.raises(ValueError, match="another organization"):
        store.tenant_rows(OrgId(1), _rfm(1, [10]), _tables(2, [10], "too_small"), FITTED_AT)


def test_a_failed_write_leaves_the_tenant_as_it_was(warehouse_url):
    store.ensure_tables(warehouse_url)
    _write(warehouse_url, 1, [10, 11], "too_small")
    rows, fit = store.tenant_rows(OrgId(1), _rfm(1, [10, 10]), _tables(1, [10, 10], "too_small"), FITTED_AT)
    with pytest.raises(Exception, match="(?i)duplicate|primary key|unique"):  # the same customer twice
        store.replace_tenant(warehouse_url, OrgId(1), rows, fit)
    assert _read(warehouse_url, "select contact_id from predictions.customer_predictions order by 1") == [(10,), (11,)]


def test_summary_is_read_one_tenant_at_a_time(warehouse_url):
    engine = warehouse_engine(warehouse_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("create schema if not exists intermediate"))
            conn.execute(sa.text('create table intermediate.int_customers_summarized_for_clv (organization_id bigint, '
                                 'customer_id bigint, frequency integer, recency double precision, "T" double precision, '
                                 "monetary_value double precision)"))
            conn.execute(sa.text("insert into intermediate.int_customers_summarized_for_clv values "
                                 "(2, 5, 1, 1.0, 3.0, 9.5), (1, 7, 0, 0, 2.0, 0), (2, 4, 0, 0, 1.0, 0)"))
    finally:
        engine.dispose()
    assert store.organizations_with_customers(warehouse_url) == [1, 2]
    frame = store.read_summary(warehouse_url, OrgId(2))
    assert frame["customer_id"].tolist() == [4, 5] and set(frame["organization_id"]) == {2}
    assert list(frame.columns) == ["organization_id", "customer_id", "frequency", "recency", "T", "monetary_value"]
    assert np.isclose(frame["monetary_value"].tolist(), [0, 9.5]).all()
