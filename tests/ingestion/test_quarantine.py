"""raw.quarantine: one table for every source, written on both warehouses."""

from __future__ import annotations

from ingestion.files.warehouse_io import open_writer
from ingestion.quarantine import QuarantinedRow, Source, quarantine_table, write_quarantine


def test_quarantine_rows_round_trip(warehouse_url):
    rows = [
        QuarantinedRow(7, "invalid_email", "email 'x@' is not valid", 'x@,"Ann, ""A""",\nnext', "acme"),
        QuarantinedRow(None, "empty_file", "people.csv: the file is empty", None),
    ]
    write_quarantine(warehouse_url, quarantine_table(Source.contacts_import, "people.csv", "ab" * 32, rows, organization="globex"))
    with open_writer(warehouse_url) as w:
        stored = w.fetchall(
            "SELECT source, organization, source_file, file_sha256, line_number, reason, message, raw_record, "
            "quarantined_at IS NOT NULL FROM raw.quarantine ORDER BY line_number"
        )
    assert stored == [
        ("contacts_import", "acme", "people.csv", "ab" * 32, 7, "invalid_email", "email 'x@' is not valid", 'x@,"Ann, ""A""",\nnext', True),
        ("contacts_import", "globex", "people.csv", "ab" * 32, None, "empty_file", "people.csv: the file is empty", None, True),
    ]


def test_empty_quarantine_writes_nothing(tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    write_quarantine(url, quarantine_table(Source.orders, "o.csv", None, []))
    with open_writer(url) as w:
        assert w.fetchall("SELECT count(*) FROM raw.quarantine") == [(0,)]
