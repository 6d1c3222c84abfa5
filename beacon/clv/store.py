"""Customer value in the warehouse: read dbt's RFM summary per tenant, write the predictions back.

``predictions.customer_predictions`` (one row per customer) and ``predictions.clv_fits`` (one row
per tenant: status, message, parameters, log-likelihoods) are replaced tenant by tenant, each
tenant in one transaction, so a reader never sees half a tenant. Rows go in through the native
drivers' bulk paths: an Arrow scan on DuckDB, ``COPY`` on PostgreSQL. See docs/customer-value.md.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa

from beacon.clv.tenants import FAILED_PREFIX, FITTED, TOO_SMALL, CustomerValueTables
from beacon.settings import WarehouseKind
from beacon.tenancy import OrgId
from beacon.warehouse import ensure_schema, raw_connection, warehouse_engine, warehouse_kind

SCHEMA = "predictions"
FAILED = "failed"
STATUSES = (FITTED, TOO_SMALL, FAILED)
SUMMARY_SCHEMA, SUMMARY_TABLE = "intermediate", "int_customers_summarized_for_clv"

_metadata = sa.MetaData(schema=SCHEMA)
customer_predictions = sa.Table(
    "customer_predictions",
    _metadata,
    sa.Column("organization_id", sa.BigInteger, nullable=False),
    sa.Column("contact_id", sa.BigInteger, nullable=False),
    sa.Column("probability_alive", sa.Double),
    sa.Column("expected_purchases_90d", sa.Double),
    sa.Column("expected_purchases_365d", sa.Double),
    sa.Column("expected_avg_order_value", sa.Double),
    sa.Column("predicted_clv_12m", sa.Double),
    sa.Column("model_status", sa.String, nullable=False),
    sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("organization_id", "contact_id"),
)
clv_fits = sa.Table(
    "clv_fits",
    _metadata,
    sa.Column("organization_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("message", sa.String),
    sa.Column("n_customers", sa.Integer, nullable=False),
    sa.Column("n_repeat_buyers", sa.Integer, nullable=False),
    sa.Column("parameters", sa.String, doc="JSON: {model: {parameter: value}}"),
    sa.Column("bg_nbd_log_likelihood", sa.Double),
    sa.Column("gamma_gamma_log_likelihood", sa.Double),
    sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
)
PREDICTION_COLUMNS = tuple(c.name for c in customer_predictions.columns)
FIT_COLUMNS = tuple(c.name for c in clv_fits.columns)


@dataclass(frozen=True)
class TenantFit:
    """One tenant's row of ``predictions.clv_fits``."""

    organization_id: int
    status: str
    message: str | None
    n_customers: int
    n_repeat_buyers: int
    parameters: dict[str, dict[str, float]]
    bg_nbd_log_likelihood: float | None
    gamma_gamma_log_likelihood: float | None
    fitted_at: datetime


def ensure_tables(url: str) -> None:
    engine = warehouse_engine(url)
    try:
        ensure_schema(engine, SCHEMA)
        _metadata.create_all(engine)
    finally:
        engine.dispose()


def organizations_with_customers(url: str) -> list[OrgId]:
    engine = warehouse_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                f"SELECT DISTINCT organization_id FROM {SUMMARY_SCHEMA}.{SUMMARY_TABLE} ORDER BY organization_id"
            ))
            return [OrgId(int(org)) for (org,) in rows]
    finally:
        engine.dispose()


def read_summary(url: str, org: OrgId) -> pd.DataFrame:
    """The tenant's RFM summary (``organization_id, customer_id, frequency, recency, T, monetary_value``)."""
    engine = warehouse_engine(url)
    try:
        with engine.connect() as conn:
            return pd.read_sql_query(
                sa.text(
                    'SELECT organization_id, customer_id, frequency, recency, "T", monetary_value '
                    f"FROM {SUMMARY_SCHEMA}.{SUMMARY_TABLE} WHERE organization_id = :org ORDER BY customer_id"
                ),
                conn,
                params={"org": int(org)},
            )
    finally:
        engine.dispose()


def tenant_rows(org: OrgId, rfm: pd.DataFrame, tables: CustomerValueTables, fitted_at: datetime) -> tuple[pa.Table, TenantFit]:
    """``fit_customer_value_by_organization``'s output for one tenant, in the warehouse tables' shape."""
    predictions = tables.predictions.rename(columns={"customer_id": "contact_id"})
    if (predictions["organization_id"] != org).any():
        raise ValueError(f"predictions for organization {org} carry another organization's rows")
    raw_status = str(predictions["model_status"].iloc[0]) if len(predictions) else TOO_SMALL
    status, message = (FAILED, raw_status.removeprefix(FAILED_PREFIX)) if raw_status.startswith(FAILED_PREFIX) else (raw_status, None)
    predictions = predictions.assign(model_status=status)
    parameters: dict[str, dict[str, float]] = {}
    likelihoods: dict[str, float] = {}
    for row in tables.parameters.itertuples(index=False):  # a handful of rows: 7 parameters per tenant
        parameters.setdefault(row.model, {})[row.parameter] = float(row.value)
        likelihoods[row.model] = float(row.log_likelihood)
    if status == TOO_SMALL:
        message = "too few customers or repeat buyers to fit"
    fit = TenantFit(
        organization_id=int(org),
        status=status,
        message=message,
        n_customers=len(rfm),
        n_repeat_buyers=int((rfm["frequency"] > 0).sum()),
        parameters=parameters,
        bg_nbd_log_likelihood=likelihoods.get("bg_nbd"),
        gamma_gamma_log_likelihood=likelihoods.get("gamma_gamma"),
        fitted_at=fitted_at,
    )
    schema = pa.schema([
        ("organization_id", pa.int64()), ("contact_id", pa.int64()),
        *((name, pa.float64()) for name in PREDICTION_COLUMNS[2:7]),
        ("model_status", pa.string()), ("fitted_at", pa.timestamp("us", tz="UTC")),
    ])
    return pa.Table.from_pandas(predictions[list(PREDICTION_COLUMNS)], schema=schema, preserve_index=False), fit


def replace_tenant(url: str, org: OrgId, predictions: pa.Table, fit: TenantFit) -> None:
    """Swap one tenant's predictions and fit row in a single transaction."""
    fit_row = pa.Table.from_pylist([{
        **{name: getattr(fit, name) for name in FIT_COLUMNS if name != "parameters"},
        "parameters": json.dumps(fit.parameters, sort_keys=True),
    }], schema=pa.schema([
        ("organization_id", pa.int64()), ("status", pa.string()), ("message", pa.string()),
        ("n_customers", pa.int32()), ("n_repeat_buyers", pa.int32()), ("parameters", pa.string()),
        ("bg_nbd_log_likelihood", pa.float64()), ("gamma_gamma_log_likelihood", pa.float64()),
        ("fitted_at", pa.timestamp("us", tz="UTC")),
    ]))
    with raw_connection(url) as conn:
        if warehouse_kind(url) is WarehouseKind.duckdb:
            _replace_duckdb(conn, org, {"customer_predictions": predictions, "clv_fits": fit_row})
        else:
            _replace_postgres(conn, org, {"customer_predictions": predictions, "clv_fits": fit_row})


def remove_tenants_except(url: str, keep: list[OrgId]) -> None:
    """Drop predictions of tenants that no longer have any customer (e.g. all orders refunded)."""
    engine = warehouse_engine(url)
    try:
        with engine.begin() as conn:
            for table in (customer_predictions, clv_fits):
                query = sa.delete(table)
                if keep:
                    query = query.where(table.c.organization_id.not_in([int(o) for o in keep]))
                conn.execute(query)
    finally:
        engine.dispose()


def _replace_duckdb(conn, org: OrgId, tables: dict[str, pa.Table]) -> None:
    # Registered outside the transaction: an aborted DuckDB transaction refuses even unregister.
    for name, rows in tables.items():
        conn.register(f"_beacon_{name}", rows)
    try:
        conn.execute("BEGIN TRANSACTION")
        try:
            for name, rows in tables.items():
                columns = ", ".join(rows.column_names)
                conn.execute(f"DELETE FROM {SCHEMA}.{name} WHERE organization_id = ?", [int(org)]).fetchall()
                conn.execute(f"INSERT INTO {SCHEMA}.{name} ({columns}) SELECT {columns} FROM _beacon_{name}").fetchall()
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        for name in tables:
            conn.unregister(f"_beacon_{name}")


def _replace_postgres(conn, org: OrgId, tables: dict[str, pa.Table]) -> None:
    with conn.transaction():
        for name, rows in tables.items():
            conn.execute(f"DELETE FROM {SCHEMA}.{name} WHERE organization_id = %s", (int(org),))
            if rows.num_rows == 0:
                continue
            sink = io.BytesIO()
            # all_valid quotes every value and leaves nulls bare: how COPY's CSV tells NULL from ''.
            pacsv.write_csv(rows, sink, pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
            with conn.cursor() as cur, cur.copy(f"COPY {SCHEMA}.{name} ({', '.join(rows.column_names)}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(sink.getvalue())
