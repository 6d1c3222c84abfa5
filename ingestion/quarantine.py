"""``raw.quarantine``: every row (or whole file) ingestion refused, with a machine-readable reason.

One table for all sources (orders, contact imports, SendGrid and Twilio event exports), so an
operator answers "what did we drop, and why" with one query. A row-level entry carries the
physical line (CSV/NDJSON), array position (JSON) or row index (Parquet, XLSX) and the original
text; a file-level entry (the whole file was rejected) has ``line_number`` NULL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import pyarrow as pa


class Source(StrEnum):
    orders = "orders"
    contacts_import = "contacts_import"
    sendgrid_events = "sendgrid_events"
    twilio_events = "twilio_events"


QUARANTINE_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("organization", pa.string()),
        ("source_file", pa.string()),
        ("file_sha256", pa.string()),
        ("line_number", pa.int64()),
        ("reason", pa.string()),
        ("message", pa.string()),
        ("raw_record", pa.string()),
        ("quarantined_at", pa.timestamp("us", tz="UTC")),
    ]
)

QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS raw.quarantine (
    source          VARCHAR(32) NOT NULL,
    organization    VARCHAR(80),
    source_file     TEXT NOT NULL,
    file_sha256     CHAR(64),
    line_number     BIGINT,
    reason          VARCHAR(200) NOT NULL,
    message         TEXT NOT NULL,
    raw_record      TEXT,
    quarantined_at  TIMESTAMPTZ NOT NULL
)
"""


@dataclass(frozen=True)
class QuarantinedRow:
    line_number: int | None
    reason: str
    message: str
    raw_record: str | None
    organization: str | None = None


def quarantine_table(
    source: Source,
    source_file: str,
    file_sha256: str | None,
    rows: list[QuarantinedRow],
    *,
    organization: str | None = None,
) -> pa.Table:
    """Quarantine rows as an Arrow table ready for the warehouse writer."""
    now = datetime.now(UTC)
    n = len(rows)
    return pa.table(
        {
            "source": [source.value] * n,
            "organization": [r.organization or organization for r in rows],
            "source_file": [source_file] * n,
            "file_sha256": [file_sha256] * n,
            "line_number": [r.line_number for r in rows],
            "reason": [r.reason for r in rows],
            "message": [r.message for r in rows],
            "raw_record": [r.raw_record for r in rows],
            "quarantined_at": [now] * n,
        },
        schema=QUARANTINE_SCHEMA,
    )


def write_quarantine(warehouse_url: str, table: pa.Table) -> None:
    """Append quarantine rows in their own transaction (used by imports that do not own a file load)."""
    from ingestion.files.warehouse_io import open_writer

    if table.num_rows == 0:
        return
    with open_writer(warehouse_url) as writer:
        writer.begin()
        writer.append("quarantine", table)
        writer.commit()
