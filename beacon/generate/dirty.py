"""A dirty set on purpose: files that ingestion must accept, repair, or quarantine with a reason.

Every file is listed in ``inbox/_dirty_manifest.json`` with its data-row count, the expected
reason code for each bad row (1-based data-row number, header excluded), and a file-level error
code when the whole file must be refused. Codes are documented in docs/data-contracts.md.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from beacon.generate.files import write_xlsx
from beacon.generate.orders import COLUMNS as ORDER_COLUMNS

REASONS = {
    "invalid_email": "email is not a valid address",
    "duplicate_email": "same email (after trimming and lower-casing) as an earlier row of the file",
    "invalid_phone": "phone cannot be parsed as a valid number",
    "missing_identifier": "contact has no email, phone or external id",
    "invalid_consent": "consent value is not yes/no/true/false/1/0",
    "bad_date": "timestamp cannot be parsed as ISO 8601 with an offset",
    "negative_amount": "an amount is below zero",
    "invalid_amount": "an amount is not a decimal number",
    "unknown_currency": "currency is not an ISO 4217 code",
    "unknown_status": "status is not paid, refunded, partially_refunded or cancelled",
    "missing_required": "a required field is blank",
    "missing_customer": "neither customer_email nor customer_external_id is given",
    "refund_exceeds_total": "refunded_amount is greater than total",
    "field_too_large": "a field is longer than 100,000 characters",
    "malformed_row": "the row cannot be parsed (broken JSON line, cut-off record)",
    # file-level
    "empty_file": "the file has no bytes",
    "missing_column": "a required column is absent from the header",
    "corrupt_file": "the file cannot be read (truncated binary)",
    "unsupported_format": "the extension is not one Beacon imports",
}


@dataclass
class DirtyFile:
    path: str
    kind: str
    format: str
    rows: int
    description: str
    bad_rows: list[dict] = field(default_factory=list)
    file_error: str | None = None
    encoding: str = "utf-8"
    delimiter: str | None = ","


class DirtySet:
    def __init__(self, inbox: Path, slug: str, currency: str, emails: list[str], as_of: datetime) -> None:
        self.inbox, self.slug, self.currency, self.as_of = inbox, slug, currency, as_of
        self.emails = [e for e in emails if e][:40] or [f"buyer{i}@example.com" for i in range(40)]
        self.files: list[DirtyFile] = []

    # ------------------------------------------------------------------ helpers
    def _path(self, kind: str, name: str) -> Path:
        folder = self.inbox / self.slug / kind
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    def _record(self, kind: str, name: str, fmt: str, rows: int, description: str, **extra) -> None:
        self.files.append(DirtyFile(f"{self.slug}/{kind}/{name}", kind, fmt, rows, description, **extra))

    def _order(self, i: int, **overrides) -> dict:
        day = 1 + i % 27
        row = {
            "order_id": f"DIRTY-{i:05d}", "organization": self.slug, "customer_email": self.emails[i % len(self.emails)],
            "customer_external_id": "", "created_at": f"2026-03-{day:02d}T10:{i % 60:02d}:00+00:00",
            "updated_at": f"2026-03-{day:02d}T10:{i % 60:02d}:00+00:00", "currency": self.currency,
            "subtotal": "40.00", "discount": "0.00", "tax": "3.20", "shipping": "0.00", "total": "43.20",
            "refunded_amount": "0.00", "status": "paid",
            "lines": json.dumps([{"sku": "MUG-03", "name": "Ceramic Mug", "quantity": 2, "unit_price": "20.00"}]),
        }
        row.update(overrides)
        return row

    @staticmethod
    def _csv_text(header: list[str], rows: list[list], delimiter: str = ",") -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return buffer.getvalue()

    def _orders_csv(self, name: str, rows: list[dict], description: str, *, bad: list[dict] | None = None,
                    encoding: str = "utf-8", delimiter: str = ",", columns: list[str] | None = None,
                    file_error: str | None = None) -> None:
        columns = columns or ORDER_COLUMNS
        text = self._csv_text(columns, [[r.get(c, "") for c in columns] for r in rows], delimiter)
        self._path("orders", name).write_bytes(text.encode(encoding))
        self._record("orders", name, "csv", len(rows), description, bad_rows=bad or [], encoding=encoding,
                     delimiter=delimiter, file_error=file_error)

    # ------------------------------------------------------------------ orders
    def orders(self) -> None:
        bad_cases = [
            ("bad_date", {"created_at": "2026-13-45T25:61:00"}),
            ("negative_amount", {"total": "-12.50"}),
            ("unknown_currency", {"currency": "XYZ"}),
            ("unknown_status", {"status": "shipped"}),
            ("missing_required", {"order_id": ""}),
            ("missing_customer", {"customer_email": "", "customer_external_id": ""}),
            ("refund_exceeds_total", {"status": "refunded", "refunded_amount": "99.00"}),
            ("invalid_amount", {"total": "43,20"}),
            ("missing_required", {"total": ""}),
            ("bad_date", {"created_at": "yesterday"}),
        ]
        rows, bad = [], []
        for i in range(30):
            if i % 3 == 1 and bad_cases:
                reason, overrides = bad_cases.pop(0)
                rows.append(self._order(i, **overrides))
                bad.append({"row": i + 1, "reason": reason})
            else:
                rows.append(self._order(i))
        self._orders_csv("dirty_orders_bad_rows.csv", rows, "valid rows mixed with one bad row per reason", bad=bad)

        latin = [self._order(100 + i, lines=json.dumps([{"sku": "CAFE-01", "name": "Café crème", "quantity": 1,
                                                          "unit_price": "43.20"}], ensure_ascii=False)) for i in range(5)]
        self._orders_csv("dirty_orders_latin1.csv", latin, "valid rows, latin-1 encoded (accented product names)",
                         encoding="latin-1")
        bom = [self._order(200 + i) for i in range(5)]
        self._orders_csv("dirty_orders_bom.csv", bom, "valid rows, UTF-8 with a byte-order mark", encoding="utf-8-sig")
        semi = [self._order(300 + i) for i in range(5)]
        self._orders_csv("dirty_orders_semicolon.csv", semi, "valid rows, semicolon-delimited", delimiter=";")
        newline = [self._order(400 + i, lines=json.dumps([{"sku": "GIFT", "name": "Gift box\nwith card", "quantity": 1,
                                                            "unit_price": "43.20"}])) for i in range(4)]
        self._orders_csv("dirty_orders_quoted_newlines.csv", newline, "valid rows whose quoted field holds a newline")
        extra = [dict(self._order(500 + i), sales_channel="pos", notes="gift wrap") for i in range(4)]
        self._orders_csv("dirty_orders_extra_columns.csv", extra, "valid rows plus unknown columns (ignored)",
                         columns=ORDER_COLUMNS + ["sales_channel", "notes"])
        missing = [self._order(600 + i) for i in range(4)]
        self._orders_csv("dirty_orders_missing_column.csv", missing, "the required currency column is absent",
                         columns=[c for c in ORDER_COLUMNS if c != "currency"], file_error="missing_column")
        huge = [self._order(700 + i) for i in range(3)]
        huge[1]["customer_external_id"] = "X" * 200_000
        self._orders_csv("dirty_orders_huge_field.csv", huge, "one 200,000-character field",
                         bad=[{"row": 2, "reason": "field_too_large"}])
        self._path("orders", "dirty_orders_empty.csv").write_bytes(b"")
        self._record("orders", "dirty_orders_empty.csv", "csv", 0, "zero bytes", file_error="empty_file")
        self._orders_csv("dirty_orders_header_only.csv", [], "a header and no rows (valid, nothing to load)")

        def ndjson(i: int, **overrides) -> str:
            row = self._order(i, **overrides)
            return json.dumps({**row, "lines": json.loads(row["lines"])})  # NDJSON carries lines as a list

        lines = [ndjson(800 + i) for i in range(6)]
        lines[2] = ndjson(802, currency="ZZZ")
        lines[4] = ndjson(804, subtotal="-5.00")
        text = "\n".join(lines) + "\n" + ndjson(806)[:57]  # cut off mid-record
        self._path("orders", "dirty_orders_truncated.ndjson").write_text(text, encoding="utf-8")
        self._record("orders", "dirty_orders_truncated.ndjson", "ndjson", 7, "bad rows and a last line cut mid-JSON",
                     bad_rows=[{"row": 3, "reason": "unknown_currency"}, {"row": 5, "reason": "negative_amount"},
                               {"row": 7, "reason": "malformed_row"}], delimiter=None)

        table = pa.table({c: [self._order(900 + i)[c] for i in range(20)] for c in ORDER_COLUMNS})
        buffer = pa.BufferOutputStream()
        pq.write_table(table, buffer)
        data = buffer.getvalue().to_pybytes()
        self._path("orders", "dirty_orders_truncated.parquet").write_bytes(data[: len(data) // 2])
        self._record("orders", "dirty_orders_truncated.parquet", "parquet", 20, "a Parquet file cut in half",
                     file_error="corrupt_file", delimiter=None)
        xml = "<orders><order id=\"1\"><total>43.20</total></order></orders>\n"
        self._path("orders", "dirty_orders.xml").write_text(xml, encoding="utf-8")
        self._record("orders", "dirty_orders.xml", "xml", 1, "XML is not an import format",
                     file_error="unsupported_format", delimiter=None)

    # ------------------------------------------------------------------ contacts
    def contacts(self) -> None:
        header = ["Email Address", "First Name", "Surname", "Mobile", "Customer ID", "Country", "City", "Tags",
                  "Consent Email", "Favourite Colour"]

        def person(i: int, **overrides) -> list:
            values = {"Email Address": f"person{i}@example.org", "First Name": f"Pat{i}", "Surname": "Doe",
                      "Mobile": "", "Customer ID": f"IMP-{i:04d}", "Country": "US", "City": "Austin",
                      "Tags": "imported;2026", "Consent Email": "yes", "Favourite Colour": "teal"}
            values.update(overrides)
            return [values[h] for h in header]

        cases = [
            ("invalid_email", {"Email Address": "not-an-email"}),
            ("invalid_email", {"Email Address": "ann@"}),
            (None, {"Email Address": "ann.x@example.com"}),
            ("duplicate_email", {"Email Address": "  ANN.X@Example.com "}),
            ("missing_identifier", {"Email Address": "", "Mobile": "", "Customer ID": ""}),
            ("invalid_phone", {"Mobile": "12345"}),
            ("invalid_consent", {"Consent Email": "maybe"}),
        ]
        rows, bad = [], []
        for i in range(20):
            if i % 2 == 1 and cases:
                reason, overrides = cases.pop(0)
                rows.append(person(i, **overrides))
                if reason:
                    bad.append({"row": i + 1, "reason": reason})
            else:
                rows.append(person(i))

        def write(name: str, rows_: list[list], description: str, *, header_: list[str] = header,
                  encoding: str = "utf-8", delimiter: str = ",", bad_: list | None = None, error: str | None = None):
            self._path("contacts", name).write_bytes(self._csv_text(header_, rows_, delimiter).encode(encoding))
            self._record("contacts", name, "csv", len(rows_), description, bad_rows=bad_ or [], encoding=encoding,
                         delimiter=delimiter, file_error=error)

        write("dirty_contacts_bad_rows.csv", rows, "valid rows mixed with one bad row per reason", bad_=bad)
        write("dirty_contacts_latin1.csv", [person(100 + i, **{"First Name": "José", "City": "Málaga", "Country": "ES"})
                                            for i in range(5)], "valid rows, latin-1 encoded", encoding="latin-1")
        write("dirty_contacts_bom.csv", [person(200 + i) for i in range(5)], "valid rows, UTF-8 with BOM",
              encoding="utf-8-sig")
        write("dirty_contacts_semicolon.csv", [person(300 + i, Tags="a,b") for i in range(5)],
              "valid rows, semicolon-delimited (tags comma-separated)", delimiter=";")
        write("dirty_contacts_quoted_newlines.csv", [person(400 + i, **{"Favourite Colour": "teal\nand navy"})
                                                     for i in range(4)], "valid rows, a quoted field holds a newline")
        write("dirty_contacts_extra_columns.csv", [person(500 + i) + ["x", "y"] for i in range(4)],
              "valid rows plus two unmapped columns (go to custom_fields)", header_=header + ["Shoe Size", "Pet Name"])
        short = [h for h in header if h not in {"Email Address", "Mobile", "Customer ID"}]
        write("dirty_contacts_missing_column.csv", [person(600 + i)[: len(short)] for i in range(4)],
              "no identifier column at all (no email, phone or external id)", header_=short, error="missing_column")
        write("dirty_contacts_huge_field.csv", [person(700), person(701, **{"Favourite Colour": "y" * 200_000}), person(702)],
              "one 200,000-character field", bad_=[{"row": 2, "reason": "field_too_large"}])
        self._path("contacts", "dirty_contacts_empty.csv").write_bytes(b"")
        self._record("contacts", "dirty_contacts_empty.csv", "csv", 0, "zero bytes", file_error="empty_file")
        write("dirty_contacts_header_only.csv", [], "a header and no rows (valid, nothing to load)")
        # A cut-off CSV: the last record ends inside an open quote.
        text = self._csv_text(header, [person(800 + i) for i in range(5)]) + '"person805@example.org","Pat'
        self._path("contacts", "dirty_contacts_truncated.csv").write_text(text, encoding="utf-8")
        self._record("contacts", "dirty_contacts_truncated.csv", "csv", 6, "last record cut inside a quoted field",
                     bad_rows=[{"row": 6, "reason": "malformed_row"}])
        xlsx_rows = [person(900 + i) for i in range(6)]
        xlsx_rows[2] = person(902, **{"Email Address": "bad@@example.org"})
        path = self._path("contacts", "dirty_contacts_bad_rows.xlsx")
        write_xlsx(path, header, xlsx_rows, as_of=self.as_of)
        self._record("contacts", "dirty_contacts_bad_rows.xlsx", "xlsx", 6, "an XLSX with one invalid email",
                     bad_rows=[{"row": 3, "reason": "invalid_email"}], delimiter=None)
        data = path.read_bytes()
        self._path("contacts", "dirty_contacts_truncated.xlsx").write_bytes(data[: len(data) // 3])
        self._record("contacts", "dirty_contacts_truncated.xlsx", "xlsx", 6, "an XLSX cut to a third",
                     file_error="corrupt_file", delimiter=None)
        self._path("contacts", "dirty_contacts.xml").write_text("<contacts><contact email=\"a@b.co\"/></contacts>\n")
        self._record("contacts", "dirty_contacts.xml", "xml", 1, "XML is not an import format",
                     file_error="unsupported_format", delimiter=None)

    def write_manifest(self, seed: int) -> Path:
        path = self.inbox / "_dirty_manifest.json"
        manifest = {
            "version": 1, "seed": seed, "as_of": self.as_of.isoformat(), "reason_codes": REASONS,
            "files": [vars(f) for f in self.files],
        }
        path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path
