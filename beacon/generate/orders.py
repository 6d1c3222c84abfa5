"""Order files: one row per order state, split per tenant and month across CSV, NDJSON and Parquet."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from beacon.generate.buyers import DAY, Purchases
from beacon.generate.names import CURRENCY_DECIMALS, CURRENCY_RATE, PRODUCTS_BY_TYPE
from beacon.generate.tenants import Tenant

COLUMNS = ["order_id", "organization", "customer_email", "customer_external_id", "created_at", "updated_at",
           "currency", "subtotal", "discount", "tax", "shipping", "total", "refunded_amount", "status", "lines"]
FORMATS = ("csv", "ndjson", "parquet")
TAX_RATE = {"US": 0.08, "CA": 0.13, "AU": 0.0, "JP": 0.0}  # elsewhere prices include VAT
MONEY = pa.decimal128(14, 2)
LINE = pa.struct([("sku", pa.string()), ("name", pa.string()), ("quantity", pa.int32()), ("unit_price", MONEY)])
PARQUET_SCHEMA = pa.schema([
    ("order_id", pa.string()), ("organization", pa.string()), ("customer_email", pa.string()),
    ("customer_external_id", pa.string()), ("created_at", pa.timestamp("us", tz="UTC")),
    ("updated_at", pa.timestamp("us", tz="UTC")), ("currency", pa.string()), ("subtotal", MONEY),
    ("discount", MONEY), ("tax", MONEY), ("shipping", MONEY), ("total", MONEY), ("refunded_amount", MONEY),
    ("status", pa.string()), ("lines", pa.list_(LINE)),
])


def money_strings(minor: np.ndarray, decimals: np.ndarray) -> list[str]:
    """Decimal strings from integer minor units, vectorised (2 decimals, or 0 for JPY)."""
    minor = np.asarray(minor, dtype=np.int64)
    whole = np.where(decimals == 0, minor, minor // 100).astype(str)
    cents = np.char.zfill((minor % 100).astype(str), 2)
    return np.where(decimals == 0, whole, np.char.add(np.char.add(whole, "."), cents)).tolist()


def iso_strings(ts: np.ndarray, offset_seconds: int) -> list[str]:
    """ISO 8601 with the tenant's UTC offset: the instant is exact whatever the offset."""
    local = np.datetime_as_string((ts + offset_seconds).astype("datetime64[s]"), unit="s")
    sign = "+" if offset_seconds >= 0 else "-"
    hours, minutes = divmod(abs(offset_seconds) // 60, 60)
    suffix = f"{sign}{hours:02d}:{minutes:02d}"
    return [f"{s}{suffix}" for s in local.tolist()]


class OrdersWriter:
    """Open files per month of ``updated_at`` (a restated refund lands in a later month's file)."""

    def __init__(self, inbox: Path, tenant: Tenant, as_of: datetime) -> None:
        self.folder = inbox / tenant.slug / "orders"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.tenant = tenant
        self.offset = int(ZoneInfo(tenant.timezone).utcoffset(as_of).total_seconds())
        self.handles: dict[str, object] = {}
        self.formats: dict[str, str] = {}
        self.rows_by_format = {f: 0 for f in FORMATS}

    def _open(self, month: str):
        if month not in self.handles:
            year, mon = (int(x) for x in month.split("-"))
            fmt = FORMATS[(self.tenant.index + year * 12 + mon) % len(FORMATS)]
            path = self.folder / f"orders_{month}.{fmt}"
            if fmt == "parquet":
                handle = pq.ParquetWriter(path, PARQUET_SCHEMA, compression="zstd")
            else:
                handle = path.open("w", encoding="utf-8", newline="")
                if fmt == "csv":
                    csv.writer(handle).writerow(COLUMNS)
            self.handles[month] = handle
            self.formats[month] = fmt
        return self.handles[month], self.formats[month]

    def write(self, table: dict[str, list], month: list[str], ts_created: np.ndarray, ts_updated: np.ndarray) -> None:
        months = np.asarray(month)
        for m in sorted(set(month)):
            pick = np.flatnonzero(months == m)
            handle, fmt = self._open(m)
            self.rows_by_format[fmt] += len(pick)
            part = {k: [v[i] for i in pick] for k, v in table.items()}
            if fmt == "parquet":
                handle.write_table(self._arrow(part, ts_created[pick], ts_updated[pick]))
                continue
            if fmt == "csv":
                writer = csv.writer(handle)
                for i in range(len(pick)):
                    row = [part[c][i] for c in COLUMNS[:-1]]
                    writer.writerow(["" if v is None else v for v in row] + [json.dumps(part["lines"][i], ensure_ascii=False)])
            else:
                for i in range(len(pick)):
                    handle.write(json.dumps({c: part[c][i] for c in COLUMNS}, ensure_ascii=False, separators=(",", ":")))
                    handle.write("\n")

    def _arrow(self, part: dict[str, list], created: np.ndarray, updated: np.ndarray) -> pa.Table:
        def money(values: list) -> pa.Array:
            return pc.cast(pa.array(values, pa.string()), MONEY)

        lines = pa.array(
            [[{**line, "unit_price": None} for line in lines] for lines in part["lines"]], pa.list_(LINE)
        )
        # Unit prices go in as strings and are cast to decimals in one vectorised step.
        flat_prices = money([line["unit_price"] for lines in part["lines"] for line in lines])
        flat = lines.flatten()
        flat = pa.StructArray.from_arrays(
            [flat.field("sku"), flat.field("name"), flat.field("quantity"), flat_prices], fields=list(LINE)
        )
        lines = pa.ListArray.from_arrays(lines.offsets, flat, type=pa.list_(LINE))
        columns = {
            "created_at": pa.array(created * 1_000_000, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "updated_at": pa.array(updated * 1_000_000, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "lines": lines,
        }
        for name in ("subtotal", "discount", "tax", "shipping", "total", "refunded_amount"):
            columns[name] = money(part[name])
        arrays = [columns[c] if c in columns else pa.array(part[c], pa.string()) for c in PARQUET_SCHEMA.names]
        return pa.Table.from_arrays(arrays, schema=PARQUET_SCHEMA)

    def close(self) -> dict[str, int]:
        for handle in self.handles.values():
            handle.close()
        return self.rows_by_format


def order_states(
    rng: np.random.Generator,
    tenant: Tenant,
    purchases: Purchases,
    emails: list[str | None],
    external_ids: list[str | None],
    erased: np.ndarray,
    first_seq: int,
    as_of_ts: int,
    offset: int,
) -> tuple[dict[str, list], list[str], np.ndarray, np.ndarray, int]:
    """Rows (columns as lists) for the chunk's purchases, plus restatements; returns the next sequence."""
    keep = ~erased[purchases.customer]
    customer, at, value = purchases.customer[keep], purchases.at[keep], purchases.value_usd[keep]
    n = len(customer)
    foreign = rng.random(n) < 0.02
    other = "EUR" if tenant.currency == "USD" else "USD"
    currency = np.where(foreign, other, tenant.currency)
    rate = np.array([CURRENCY_RATE[c] for c in currency])
    decimals = np.array([CURRENCY_DECIMALS[c] for c in currency])
    minor = 10.0 ** decimals
    # Lines: 1-4 products, value split with Dirichlet shares, quantity 1-3.
    products = PRODUCTS_BY_TYPE.get(tenant.type_code, PRODUCTS_BY_TYPE["ecommerce"])
    n_lines = np.minimum(1 + rng.poisson(0.7, n), 4)
    line_order = np.repeat(np.arange(n), n_lines)
    shares = rng.gamma(1.0, 1.0, len(line_order))
    starts = np.concatenate([[0], np.cumsum(n_lines)[:-1]])
    shares /= np.add.reduceat(shares, starts)[line_order]
    quantity = 1 + (rng.random(len(line_order)) < 0.25) + (rng.random(len(line_order)) < 0.08)
    unit_minor = np.maximum(1, np.round(value[line_order] * rate[line_order] * minor[line_order] * shares / quantity))
    unit_minor = unit_minor.astype(np.int64)
    product = rng.integers(0, len(products), len(line_order))
    subtotal = np.add.reduceat(unit_minor * quantity, starts)
    discount = np.where(rng.random(n) < 0.2, np.round(subtotal * 0.1), 0).astype(np.int64)
    tax = np.round((subtotal - discount) * TAX_RATE.get(tenant.country, 0.0)).astype(np.int64)
    free_shipping = (subtotal >= 50 * rate * minor) | (tenant.type_code != "ecommerce")
    shipping = np.where(free_shipping, 0, np.round(5.99 * rate * minor)).astype(np.int64)
    total = subtotal - discount + tax + shipping
    # States: 2% cancelled within hours, 3% fully and 3% partially refunded weeks later (a second row).
    fate = rng.random(n)
    cancelled = fate < 0.02
    refund_at = at + (rng.uniform(2, 40, n) * DAY).astype(np.int64)
    refunded = (fate >= 0.02) & (fate < 0.08) & (refund_at < as_of_ts)
    partial = refunded & (fate >= 0.05)
    refund_minor = np.where(partial, np.floor(total * rng.uniform(0.1, 0.6, n)), total).astype(np.int64)
    updated = np.where(cancelled, at + (rng.uniform(0.5, 20, n) * 3600).astype(np.int64), at)
    updated = np.minimum(updated, as_of_ts - 1)

    seq = first_seq + np.arange(n)
    prefix = tenant.slug[:3].upper()
    order_ids = [f"{prefix}-{s:08d}" for s in seq.tolist()]
    email_col = [emails[c] for c in customer.tolist()]
    ext_col = [external_ids[c] for c in customer.tolist()]
    # Some orders carry the email in another case than the contact record: identity is case-insensitive.
    recase = np.flatnonzero(rng.random(n) < 0.03)
    for i in recase.tolist():
        if email_col[i]:
            email_col[i] = email_col[i].upper()
    lines_col: list[list[dict]] = [[] for _ in range(n)]
    unit_str = money_strings(unit_minor, decimals[line_order])
    for i, o in enumerate(line_order.tolist()):
        sku, name, _ = products[product[i]]
        lines_col[o].append({"sku": sku, "name": name, "quantity": int(quantity[i]), "unit_price": unit_str[i]})

    def fmt(values: np.ndarray) -> list[str]:
        return money_strings(values, decimals)

    base_status = np.where(cancelled, "cancelled", "paid")
    created_iso = iso_strings(at, offset)
    table = {
        "order_id": order_ids, "organization": [tenant.slug] * n, "customer_email": email_col,
        "customer_external_id": ext_col, "created_at": created_iso, "updated_at": iso_strings(updated, offset),
        "currency": currency.tolist(), "subtotal": fmt(subtotal), "discount": fmt(discount), "tax": fmt(tax),
        "shipping": fmt(shipping), "total": fmt(total), "refunded_amount": fmt(np.zeros(n, dtype=np.int64)),
        "status": base_status.tolist(), "lines": lines_col,
    }
    ts_created, ts_updated = at, updated
    again = np.flatnonzero(refunded)
    if len(again):
        refund_iso = iso_strings(refund_at[again], offset)
        refund_fmt = fmt(refund_minor)
        restated = {k: [v[i] for i in again.tolist()] for k, v in table.items()}
        restated["updated_at"] = refund_iso
        restated["refunded_amount"] = [refund_fmt[i] for i in again.tolist()]
        restated["status"] = ["partially_refunded" if partial[i] else "refunded" for i in again.tolist()]
        for k in table:
            table[k] = table[k] + restated[k]
        ts_created = np.concatenate([at, at[again]])
        ts_updated = np.concatenate([updated, refund_at[again]])
    months = [s[:7] for s in np.datetime_as_string(ts_updated.astype("datetime64[s]"), unit="s").tolist()]
    return table, months, ts_created, ts_updated, first_seq + n
