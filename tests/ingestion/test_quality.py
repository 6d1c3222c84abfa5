"""The raw-table suites pass on good data and name each problem on bad data, on both warehouses."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from beacon.warehouse import warehouse_engine
from ingestion.quality import validate_table

NOW = datetime(2026, 11, 1, tzinfo=UTC)
COLUMNS = "order_id, organization_id, updated_at, created_at, total, refunded_amount, currency, status, customer_email"
GOOD = [
    ("o1", 1, "2026-10-01T10:00:00+00:00", "2026-10-01T10:00:00+00:00", 10, 0, "USD", "paid", "a@x.io"),
    ("o1", 1, "2026-10-03T10:00:00+00:00", "2026-10-01T10:00:00+00:00", 10, 10, "USD", "refunded", "a@x.io"),
    ("o2", 2, "2026-10-02T10:00:00+00:00", "2026-10-02T10:00:00+00:00", 0, 0, "JPY", "cancelled", None),
]


@pytest.fixture
def engine(warehouse_url):
    engine = warehouse_engine(warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA IF NOT EXISTS raw"))
        conn.execute(sa.text(
            "CREATE TABLE raw.orders (order_id VARCHAR, organization_id BIGINT, updated_at TIMESTAMPTZ, "
            "created_at TIMESTAMPTZ, total DECIMAL(14,4), refunded_amount DECIMAL(14,4), currency VARCHAR, "
            "status VARCHAR, customer_email VARCHAR)"
        ))
    yield engine
    engine.dispose()


def _insert(engine, rows):
    params = ", ".join(f":{i}" for i in range(9))
    with engine.begin() as conn:
        conn.execute(sa.text(f"INSERT INTO raw.orders ({COLUMNS}) VALUES ({params})"),
                     [{str(i): v for i, v in enumerate(row)} for row in rows])


def test_good_orders_pass(engine):
    _insert(engine, GOOD)
    result = validate_table(engine, "orders", now=NOW)
    assert result.success, result.summary()
    assert result.rows == 3


def test_missing_table_passes_empty(engine):
    result = validate_table(engine, "provider_events", now=NOW)
    assert result.success and result.rows == 0


def test_bad_orders_fail_naming_each_problem(engine):
    bad = [
        ("o9", 1, "2026-10-01T10:00:00+00:00", "2026-10-01T10:00:00+00:00", -5, 0, "USD", "paid", "a@x.io"),
        ("o8", 1, "2026-10-01T10:00:00+00:00", "1970-01-01T00:00:00+00:00", 5, 0, "XYZ", "paid", "not-an-email"),
        ("o8", 1, "2026-10-01T10:00:00+00:00", "2026-10-01T10:00:00+00:00", 5, 9, "USD", "shipped", "b@x.io"),
    ]
    _insert(engine, GOOD + bad)
    result = validate_table(engine, "orders", now=NOW)
    assert not result.success
    failed = {(f["expectation"], str(f["column"])) for f in result.failures}
    assert ("expect_column_values_to_be_between", "total") in failed
    assert ("expect_column_values_to_be_in_set", "currency") in failed
    assert ("expect_column_values_to_be_in_set", "status") in failed
    assert ("expect_column_values_to_be_between", "created_at") in failed
    assert ("expect_column_values_to_match_regex", "customer_email") in failed
    assert ("expect_compound_columns_to_be_unique", "['organization_id', 'order_id', 'updated_at']") in failed
    assert any(f["expectation"] == "expect_column_pair_values_a_to_be_greater_than_b" for f in result.failures)
    assert "XYZ" in result.summary()
