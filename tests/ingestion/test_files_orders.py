"""Orders files -> raw.orders on both warehouses: typing, quarantine reasons, idempotency, accounting."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from ingestion.files import ORDERS, FileStatus, check_file_loads, load_file
from ingestion.files.warehouse_io import open_writer


def rows(url: str, sql: str) -> list[tuple]:
    with open_writer(url) as w:
        return w.fetchall(sql)


def test_csv_rows_land_typed_and_bad_rows_are_quarantined_with_reasons(warehouse_url, orgs, make, tmp_path):
    data = make.good_orders(3) + [
        make.order("b1", order_id=""),
        make.order("b2", created_at="2024-03-01 09:30:00"),
        make.order("b3", total="-1"),
        make.order("b4", total="5", refunded_amount="6", status="refunded"),
        make.order("b5", currency="ABC"),
        make.order("b6", status="shipped"),
        make.order("b7", organization="nobody"),
        make.order("b8", customer_email="", customer_external_id=""),
        make.order("b9", total="12,50"),
        make.order("b10", organization="globex"),
        make.order("b11", lines="{not json"),
    ]
    path = make.write_csv(tmp_path / "orders.csv", data)

    result = load_file(ORDERS, path, organizations=orgs, warehouse_url=warehouse_url, organization="acme")

    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == (FileStatus.loaded, 14, 3, 11)
    quarantined = rows(warehouse_url, "SELECT line_number, reason, raw_record FROM raw.quarantine ORDER BY line_number")
    assert [(line, reason) for line, reason, _ in quarantined] == [
        (5, "missing_required:order_id"),
        (6, "bad_date:created_at"),
        (7, "negative_amount:total"),
        (8, "refund_exceeds_total"),
        (9, "unknown_currency"),
        (10, "unknown_status"),
        (11, "unknown_organization"),
        (12, "missing_customer"),
        (13, "invalid_amount:total"),
        (14, "organization_mismatch"),
        (15, "bad_lines"),
    ]
    assert quarantined[1][2] == path.read_text().splitlines()[5]  # the original text of line 6
    loaded = rows(warehouse_url, "SELECT order_id, organization_id, created_at, updated_at, total, lines FROM raw.orders ORDER BY order_id")
    assert [r[0] for r in loaded] == ["o0", "o1", "o2"]
    order_id, org_id, created, updated, total, lines = loaded[0]
    assert org_id == 1 and total == Decimal("10.5000")
    assert created.isoformat().startswith("2024-03-01T08:30:00") and updated == created  # +01:00 -> UTC, default
    assert json.loads(lines)[0]["sku"] == "SKU-1"
    assert check_file_loads(warehouse_url) == []


def test_rerun_loads_nothing_and_changed_content_loads_again(warehouse_url, orgs, make, tmp_path):
    path = make.write_csv(tmp_path / "orders.csv", make.good_orders(5))
    first = load_file(ORDERS, path, organizations=orgs, warehouse_url=warehouse_url)
    again = load_file(ORDERS, path, organizations=orgs, warehouse_url=warehouse_url)
    assert (first.status, first.rows_loaded) == (FileStatus.loaded, 5)
    assert (again.status, again.rows_loaded) == (FileStatus.skipped, 0)
    assert rows(warehouse_url, "SELECT count(*) FROM raw.orders") == [(5,)]

    make.write_csv(path, make.good_orders(5) + [make.order("refund", status="refunded", refunded_amount="22.00")])
    changed = load_file(ORDERS, path, organizations=orgs, warehouse_url=warehouse_url)
    assert (changed.status, changed.rows_loaded) == (FileStatus.loaded, 6)
    assert rows(warehouse_url, "SELECT count(*), count(DISTINCT file_sha256) FROM raw.orders") == [(11, 2)]
    assert check_file_loads(warehouse_url) == []


def test_csv_ndjson_and_parquet_land_the_same_rows(warehouse_url, orgs, make, tmp_path):
    data = make.good_orders(4) + [make.order("r1", status="partially_refunded", refunded_amount="1.5", updated_at="2024-03-02T00:00:00Z")]
    files = [
        make.write_csv(tmp_path / "o.csv", data),
        make.write_ndjson(tmp_path / "o.ndjson", data),
        make.write_parquet(tmp_path / "o.parquet", data),
    ]
    for path in files:
        assert load_file(ORDERS, path, organizations=orgs, warehouse_url=warehouse_url).rows_loaded == 5
    landed = rows(
        warehouse_url,
        "SELECT source_file, order_id, created_at, updated_at, currency, total, refunded_amount, status, lines, source_line "
        "FROM raw.orders ORDER BY order_id, source_file",
    )
    by_file: dict[str, list] = {}
    for source_file, *values in landed:
        values[-2] = json.loads(values[-2])  # same lines, whatever the JSON spacing
        by_file.setdefault(source_file.rsplit(".", 1)[1], []).append(values[:-1])
    assert by_file["csv"] == by_file["ndjson"] == by_file["parquet"]
    assert check_file_loads(warehouse_url) == []


def test_ndjson_bad_lines_are_quarantined_with_their_line_numbers(orgs, make, tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    path = make.write_ndjson(tmp_path / "o.ndjson", make.good_orders(2))
    with path.open("a") as fh:
        fh.write("{broken json\n\n[1, 2]\n")
        fh.write(json.dumps({"order_id": "x", "organization": "acme", "customer_email": "a@b.c", "created_at": "yesterday",
                             "currency": "EUR", "total": 3, "status": "paid"}) + "\n")  # fmt: skip
    result = load_file(ORDERS, path, organizations=orgs, warehouse_url=url)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (5, 2, 3)
    assert rows(url, "SELECT line_number, reason FROM raw.quarantine ORDER BY 1") == [
        (3, "malformed_row:bad_json"), (5, "malformed_row:bad_json"), (6, "bad_date:created_at"),
    ]  # fmt: skip
    assert check_file_loads(url) == []


def test_parquet_rows_are_numbered_by_row_index(orgs, make, tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    path = make.write_parquet(tmp_path / "o.parquet", make.good_orders(3) + [make.order("bad", currency="XYZ")])
    result = load_file(ORDERS, path, organizations=orgs, warehouse_url=url, batch_rows=2)
    assert (result.rows_loaded, result.rows_quarantined) == (3, 1)
    [(line, reason, raw)] = rows(url, "SELECT line_number, reason, raw_record FROM raw.quarantine")
    assert (line, reason, json.loads(raw)["order_id"]) == (4, "unknown_currency", "bad")


def test_parquet_with_native_timestamps_and_decimals_loads_clean(orgs, tmp_path):
    """The generator (and most shop exports) write real Parquet types, not strings."""
    from datetime import UTC, datetime
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    created = [datetime(2024, 11, 30, 18, 24, 58, tzinfo=UTC), datetime(2024, 12, 1, 9, 5, 59, 250000, tzinfo=UTC)]
    table = pa.table({
        "order_id": ["N-1", "N-2"], "organization": ["acme", "acme"], "customer_email": ["a@x.io", "b@x.io"],
        "created_at": pa.array(created, pa.timestamp("us", tz="UTC")),
        "updated_at": pa.array(created, pa.timestamp("us", tz="UTC")),
        "currency": ["EUR", "EUR"], "total": pa.array([Decimal("12.50"), Decimal("3.00")], pa.decimal128(14, 2)),
        "refunded_amount": pa.array([Decimal("0"), Decimal("0")], pa.decimal128(14, 2)), "status": ["paid", "paid"],
    })
    path = tmp_path / "native.parquet"
    pq.write_table(table, path)
    result = load_file(ORDERS, path, organizations=orgs, warehouse_url=url)
    assert (result.rows_loaded, result.rows_quarantined) == (2, 0), rows(url, "SELECT reason, message FROM raw.quarantine")
    loaded = rows(url, "SELECT order_id, created_at, total FROM raw.orders ORDER BY order_id")
    assert [(o, c.astimezone(UTC), t) for o, c, t in loaded] == [
        ("N-1", created[0], Decimal("12.5000")), ("N-2", created[1], Decimal("3.0000")),
    ]


def test_organizations_come_from_the_operational_db(migrated_db, tmp_path, make):
    from beacon.schema.db import make_engine, session_scope
    from beacon.store.organizations import create_organization
    from ingestion.files import organization_ids

    engine = make_engine(migrated_db)
    with session_scope(engine) as session:
        org, _ = create_organization(session, type_code="ecommerce", name="Acme", slug="acme")
    engine.dispose()
    assert organization_ids(migrated_db) == {"acme": org}
