"""Fixtures for ingestion tests: small hand-made files in every supported format."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ORGS = {"acme": 1, "globex": 2}
ORDER_COLUMNS = [
    "order_id", "organization", "customer_email", "customer_external_id", "created_at", "updated_at",
    "currency", "subtotal", "discount", "tax", "shipping", "total", "refunded_amount", "status", "lines",
]  # fmt: skip


def order(order_id: str, /, **overrides) -> dict:
    row = {
        "order_id": order_id,
        "organization": "acme",
        "customer_email": f"{order_id}@example.com",
        "customer_external_id": "",
        "created_at": "2024-03-01T09:30:00+01:00",
        "updated_at": "",
        "currency": "EUR",
        "subtotal": "20.00",
        "discount": "0",
        "tax": "2.00",
        "shipping": "0",
        "total": "22.00",
        "refunded_amount": "0",
        "status": "paid",
        "lines": json.dumps([{"sku": "SKU-1", "name": "Mug", "quantity": 2, "unit_price": "10.00"}]),
    }
    row.update(overrides)  # an override may blank the id itself
    return row


def good_orders(n: int, prefix: str = "o") -> list[dict]:
    return [order(f"{prefix}{i}", total=f"{10 + i}.50", subtotal=f"{10 + i}.50", tax="0") for i in range(n)]


def write_csv(path: Path, rows: list[dict], *, delimiter: str = ",", encoding: str = "utf-8", columns=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = columns or ORDER_COLUMNS
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.DictWriter(fh, columns, delimiter=delimiter, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_ndjson(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        for row in rows:
            obj = {k: v for k, v in row.items() if v != ""}
            if "lines" in obj:
                obj["lines"] = json.loads(obj["lines"])
            fh.write(json.dumps(obj) + "\n")
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    line_type = pa.list_(pa.struct([("sku", pa.string()), ("name", pa.string()), ("quantity", pa.int64()), ("unit_price", pa.string())]))
    table = pa.table(
        {
            **{c: pa.array([r[c] or None for r in rows], pa.string()) for c in ORDER_COLUMNS if c not in ("lines",)},
            "lines": pa.array([json.loads(r["lines"]) if r["lines"] else None for r in rows], line_type),
        }
    )
    pq.write_table(table, path)
    return path


@pytest.fixture
def orgs() -> dict[str, int]:
    return dict(ORGS)


@pytest.fixture
def make() -> SimpleNamespace:
    """The file-making helpers above, as a fixture (test modules cannot import a conftest)."""
    return SimpleNamespace(
        order=order, good_orders=good_orders, write_csv=write_csv, write_ndjson=write_ndjson, write_parquet=write_parquet
    )
