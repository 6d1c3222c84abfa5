"""Bad files get a clear reason, never a crash, never a half-load."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

from ingestion.files import ORDERS, FileStatus, check_file_loads, load_file
from ingestion.files.readers import CSV_BLOCK_BYTES
from ingestion.files.validate import MAX_FIELD_CHARS
from ingestion.files.warehouse_io import open_writer


def fetch(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with open_writer(url) as w:
        return w.fetchall(sql, params)


def csv_text(rows: list[dict], columns: list[str], delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, delimiter=delimiter, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@pytest.fixture
def duck(tmp_path) -> str:
    return f"duckdb:///{tmp_path / 'w.duckdb'}"


def load(path, orgs, url, **kw):
    return load_file(ORDERS, path, organizations=orgs, warehouse_url=url, **kw)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.csv", b"", "empty_file"),
        ("blank.csv", b"\n\n  \n", "empty_file"),
        ("orders.xml", b"<orders><order/></orders>", "unsupported_format"),
        ("xml_named.csv", b"<?xml version='1.0'?><orders/>", "unsupported_format"),
        ("legacy.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "unsupported_format"),
        ("wrong_columns.csv", b"id,amount\n1,2\n", "missing_column:order_id,organization,created_at,currency,total,status"),
        ("broken.parquet", b"PAR1 this is not really parquet", "corrupt_file"),
    ],
)
def test_unusable_files_are_rejected_with_a_reason(name, content, reason, orgs, tmp_path, duck):
    path = tmp_path / name
    path.write_bytes(content)
    result = load(path, orgs, duck)
    assert (result.status, result.reason) == (FileStatus.rejected, reason)
    [(status, why)] = fetch(duck, "SELECT status, reason FROM raw.file_loads")
    [(line, q_reason, message)] = fetch(duck, "SELECT line_number, reason, message FROM raw.quarantine")
    assert (status, why, line, q_reason) == ("rejected", reason, None, reason)
    assert path.name in message
    assert fetch(duck, "SELECT count(*) FROM raw.orders") == [(0,)]
    assert check_file_loads(duck) == []
    assert load(path, orgs, duck).status is FileStatus.skipped  # a rejected file is not retried until it changes


def test_header_only_is_a_valid_empty_file(orgs, tmp_path, duck):
    path = tmp_path / "header_only.csv"
    path.write_bytes(b"order_id,organization,created_at,currency,total,status\n")
    result = load(path, orgs, duck)
    assert (result.status, result.rows_read, result.rows_loaded) == (FileStatus.loaded, 0, 0)
    assert fetch(duck, "SELECT count(*) FROM raw.quarantine") == [(0,)]
    assert check_file_loads(duck) == []


def test_xlsx_renamed_to_csv_is_rejected(orgs, tmp_path, duck):
    path = tmp_path / "orders.csv"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
    result = load(path, orgs, duck)
    assert (result.status, result.reason) == (FileStatus.rejected, "unsupported_format")


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_other_delimiters_are_detected_and_recorded(delimiter, orgs, make, tmp_path, duck):
    path = make.write_csv(tmp_path / "o.csv", make.good_orders(3), delimiter=delimiter)
    result = load(path, orgs, duck)
    assert (result.status, result.rows_loaded, result.delimiter) == (FileStatus.loaded, 3, delimiter)
    assert fetch(duck, "SELECT delimiter FROM raw.file_loads") == [(delimiter,)]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "latin-1", "cp1252"])
def test_bom_and_legacy_encodings_are_decoded_and_recorded(encoding, orgs, make, tmp_path, duck):
    names = ["René Müller", "Zoë Ångström", "“Quoted” – dash €"] if encoding == "cp1252" else ["René Müller", "Zoë Ångström", "Façade"]
    data = [make.order(f"e{i}", customer_email=f"{n}@example.com") for i, n in enumerate(names)]
    path = make.write_csv(tmp_path / "o.csv", make.good_orders(200) + data, encoding=encoding)
    result = load(path, orgs, duck)
    assert (result.status, result.rows_loaded) == (FileStatus.loaded, 203)
    stored = [r[0] for r in fetch(duck, "SELECT customer_email FROM raw.orders WHERE order_id LIKE 'e%' ORDER BY order_id")]
    assert stored == [f"{n}@example.com" for n in names]
    assert result.encoding == ("utf-8-sig" if encoding == "utf-8-sig" else "cp1252")


def test_non_utf8_byte_after_the_sample_switches_encoding_for_the_whole_file(orgs, make, tmp_path, duck):
    from ingestion.files.sniff import SAMPLE_BYTES

    rows = make.good_orders(SAMPLE_BYTES // 200 + 200) + [make.order("late", customer_email="José@example.com")]
    path = make.write_csv(tmp_path / "o.csv", rows, encoding="cp1252")
    result = load(path, orgs, duck)
    assert (result.status, result.rows_loaded, result.rows_quarantined) == (FileStatus.loaded, len(rows), 0)
    assert result.encoding != "utf-8"
    assert fetch(duck, "SELECT customer_email FROM raw.orders WHERE order_id = 'late'") == [("José@example.com",)]


def test_quoted_newlines_keep_physical_line_numbers(orgs, make, tmp_path, duck):
    data = [make.order("a", customer_email="multi\nline@example.com"), make.order("b", currency="??"), make.order("c")]
    path = make.write_csv(tmp_path / "o.csv", data)
    result = load(path, orgs, duck)
    assert (result.rows_loaded, result.rows_quarantined) == (2, 1)
    assert fetch(duck, "SELECT line_number, reason FROM raw.quarantine") == [(4, "unknown_currency")]
    assert fetch(duck, "SELECT order_id, source_line FROM raw.orders ORDER BY 1") == [("a", 2), ("c", 5)]


def test_extra_and_missing_optional_columns(orgs, make, tmp_path, duck):
    columns = ["order_id", "organization", "customer_email", "created_at", "currency", "total", "status", "loyalty_tier"]
    data = [dict(make.order(f"x{i}"), loyalty_tier="gold") for i in range(3)]
    path = tmp_path / "o.csv"
    path.write_text(csv_text(data, columns))
    result = load(path, orgs, duck)
    assert (result.status, result.rows_loaded) == (FileStatus.loaded, 3)
    assert fetch(duck, "SELECT DISTINCT refunded_amount, subtotal, lines FROM raw.orders") == [(0, None, None)]


def test_rows_with_too_many_or_too_few_fields_are_quarantined_in_place(orgs, make, tmp_path, duck):
    text = csv_text(make.good_orders(2), make.order("x").keys() and list(make.order("x").keys()))
    lines = text.splitlines()
    text = "\n".join([lines[0], lines[1], "o9,acme,extra", lines[2], lines[2].replace("o1,", "o7,") + ",surplus"]) + "\n"
    path = tmp_path / "o.csv"
    path.write_text(text)
    result = load(path, orgs, duck)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 2, 2)
    assert fetch(duck, "SELECT line_number, reason, raw_record FROM raw.quarantine ORDER BY 1") == [
        (3, "malformed_row:wrong_field_count", "o9,acme,extra"),
        (5, "malformed_row:wrong_field_count", lines[2].replace("o1,", "o7,") + ",surplus"),
    ]
    assert fetch(duck, "SELECT order_id, source_line FROM raw.orders ORDER BY 1") == [("o0", 2), ("o1", 4)]
    assert check_file_loads(duck) == []


def test_truncated_file_quarantines_the_partial_last_row(orgs, make, tmp_path, duck):
    text = csv_text(make.good_orders(3), list(make.order("x").keys()))
    path = tmp_path / "o.csv"
    path.write_text(text + 'o99,acme,"cut@example.com,2024-03-01T09:30')  # unterminated quote, no newline
    result = load(path, orgs, duck)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 3, 1)
    assert fetch(duck, "SELECT line_number, reason FROM raw.quarantine") == [(5, "malformed_row:unterminated_quote")]


def test_huge_fields_are_quarantined_even_beyond_the_read_block(orgs, make, tmp_path, duck):
    big = make.order("big", customer_email="x" * (MAX_FIELD_CHARS + 10))
    path = make.write_csv(tmp_path / "big.csv", make.good_orders(2) + [big])
    result = load(path, orgs, duck)
    assert (result.rows_loaded, result.rows_quarantined) == (2, 1)
    assert fetch(duck, "SELECT reason FROM raw.quarantine") == [("field_too_large:customer_email",)]

    huge = make.order("huge", customer_email="y" * (CSV_BLOCK_BYTES + 10))
    path = make.write_csv(tmp_path / "huge.csv", make.good_orders(2) + [huge])
    result = load(path, orgs, duck)
    assert (result.status, result.rows_loaded, result.rows_quarantined) == (FileStatus.loaded, 2, 1)
    assert fetch(duck, "SELECT length(raw_record) > %s FROM raw.quarantine WHERE source_file LIKE '%%huge.csv'", (CSV_BLOCK_BYTES,)) == [(True,)]


def test_rejections_and_quarantine_work_on_postgres_too(warehouse_url, orgs, make, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert load(empty, orgs, warehouse_url).reason == "empty_file"
    text = csv_text(make.good_orders(2), list(make.order("x").keys()))
    truncated = tmp_path / "t.csv"
    truncated.write_text(text + "o5,acme\n")
    result = load(truncated, orgs, warehouse_url)
    assert (result.rows_loaded, result.rows_quarantined) == (2, 1)
    assert check_file_loads(warehouse_url) == []
    assert json.dumps(fetch(warehouse_url, "SELECT reason FROM raw.quarantine ORDER BY 1")) == json.dumps(
        [["empty_file"], ["malformed_row:wrong_field_count"]]
    )
