"""The usage report as one flat table (Arrow), written as CSV and Parquet, plus its chart.

One table serves both formats so they cannot drift: a row per usage metric (``row_type`` usage)
and a row per invoice line (``row_type`` invoice_line). Amounts stay exact decimals
(``decimal128(18, 4)``) in Parquet and print as plain decimals in CSV. Columns: docs/finance.md.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from beacon.finance.report import UsageReport

MONEY = pa.decimal128(18, 4)
SCHEMA = pa.schema(
    [
        ("organization_id", pa.int64()),
        ("period_label", pa.string()),
        ("period_start", pa.timestamp("us", tz="UTC")),
        ("period_end", pa.timestamp("us", tz="UTC")),
        ("is_closed", pa.bool_()),
        ("plan_code", pa.string()),
        ("currency", pa.string()),
        ("row_type", pa.string()),
        ("metric", pa.string()),
        ("line_type", pa.string()),
        ("included", pa.int64()),
        ("used", pa.int64()),
        ("overage_units", pa.int64()),
        ("quantity", pa.int64()),
        ("unit_price", MONEY),
        ("amount", MONEY),
        ("pct_used", pa.decimal128(18, 2)),
        ("is_at_80_pct", pa.bool_()),
        ("is_at_100_pct", pa.bool_()),
        ("status", pa.string()),
    ]
)


def report_table(report: UsageReport) -> pa.Table:
    common = {
        "organization_id": report.organization_id,
        "period_label": report.period_label,
        "period_start": report.period_start,
        "period_end": report.period_end,
        "is_closed": report.is_closed,
        "plan_code": report.plan_code,
        "currency": report.currency,
    }
    rows = [
        {
            **common,
            "row_type": "usage",
            "metric": u.metric,
            "included": u.included,
            "used": u.used,
            "overage_units": u.overage_units,
            "unit_price": u.unit_price,
            "amount": u.overage_amount,
            "pct_used": u.pct_used,
            "is_at_80_pct": u.is_at_80_pct,
            "is_at_100_pct": u.is_at_100_pct,
        }
        for u in report.usage
    ] + [
        {
            **common,
            "row_type": "invoice_line",
            "metric": line.metric,
            "line_type": line.line_type,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "amount": line.amount,
            "status": line.status,
        }
        for line in report.invoice_lines
    ]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def report_csv(report: UsageReport) -> bytes:
    sink = io.BytesIO()
    pa_csv.write_csv(report_table(report), sink)
    return sink.getvalue()


@dataclass(frozen=True)
class ExportPaths:
    csv: Path
    parquet: Path
    chart: Path


def report_dir(home: Path, org: int) -> Path:
    return home / "reports" / str(int(org))


def report_paths(home: Path, org: int, period_label: str) -> ExportPaths:
    folder = report_dir(home, org)
    return ExportPaths(*(folder / f"{period_label}.{ext}" for ext in ("csv", "parquet", "png")))


def report_files_exist(home: Path, org: int, period_label: str) -> bool:
    return all(path.exists() for path in vars(report_paths(home, org, period_label)).values())


def write_report_files(report: UsageReport, home: Path) -> ExportPaths:
    """``<home>/reports/<organization_id>/<period>.{csv,parquet,png}``, replaced atomically."""
    from beacon.finance.chart import render_usage_chart

    paths = report_paths(home, report.organization_id, report.period_label)
    paths.csv.parent.mkdir(parents=True, exist_ok=True)
    table = report_table(report)
    _replace(paths.csv, lambda tmp: pa_csv.write_csv(table, str(tmp)))
    _replace(paths.parquet, lambda tmp: pq.write_table(table, str(tmp)))
    _replace(paths.chart, lambda tmp: tmp.write_bytes(render_usage_chart(report)))
    return paths


def _replace(target: Path, write) -> None:
    # A reader (a person, a BI tool) never sees a half-written file.
    tmp = target.with_name(f".{target.name}.tmp")
    write(tmp)
    tmp.replace(target)
