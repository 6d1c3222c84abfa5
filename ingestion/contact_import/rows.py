"""Stream a contacts file (CSV or XLSX) as (line, mapped values, extra columns, original text)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from ingestion.contact_import.headers import FIELDS, recognise
from ingestion.files.readers import ColumnSpec, StringReader
from ingestion.files.sniff import FileInfo, FileRejected

SPEC = ColumnSpec(fields=FIELDS, required=(), recognise=recognise, keep_extras=True)
# (line, Beacon fields, other columns, original text if known, CSV row ordinal)
Row = tuple[int, dict[str, str | None], dict[str, str | None], str | None, int | None]


def csv_rows(info: FileInfo, batch_rows: int, reader_out: list[StringReader]) -> Iterator[list[Row]]:
    """Batches of rows; the reader (for its invalid records) is handed back through ``reader_out``."""
    reader = StringReader(info, SPEC, batch_rows=batch_rows)
    reader_out.append(reader)
    _check_header(info)
    for batch in reader.batches():
        records = batch.table.to_pylist()
        out = []
        for rec in records:
            line, ordinal = rec.pop("_line"), rec.pop("_row")
            extras = {k[6:]: rec.pop(k) for k in [k for k in rec if k.startswith("extra:")]}
            out.append((line, rec, extras, None, ordinal))
        yield out


def _check_header(info: FileInfo) -> None:
    import csv

    with info.path.open("r", encoding=info.encoding, errors="replace", newline="") as fh:
        names = next(csv.reader(fh, delimiter=info.delimiter), [])
    if not any(recognise(n) in ("email", "external_id") for n in names):
        raise FileRejected(
            "missing_column:email_or_external_id",
            f"{info.path.name}: no email or customer id column in the header {names!r}",
        )


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # phone numbers and ids typed as numbers in a spreadsheet
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def xlsx_rows(path: Path, batch_rows: int) -> Iterator[list[Row]]:
    """The first worksheet, streamed with openpyxl's read-only mode; ``line`` is the sheet row number."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/InvalidFileException for broken files
        raise FileRejected("corrupt_file", f"{path.name}: not a readable XLSX workbook: {exc}") from exc
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header: list[str] | None = None
        header_line = 0
        for number, cells in enumerate(rows, start=1):
            if any(c is not None and str(c).strip() for c in cells):
                header = [_cell_text(c) or "" for c in cells]
                header_line = number
                break
        if header is None:
            raise FileRejected("empty_file", f"{path.name}: the workbook's first sheet is empty")
        mapped = [recognise(h) for h in header]
        if not any(m in ("email", "external_id") for m in mapped):
            raise FileRejected(
                "missing_column:email_or_external_id", f"{path.name}: no email or customer id column in the header {header!r}"
            )
        batch: list[Row] = []
        for number, cells in enumerate(rows, start=header_line + 1):
            texts = [_cell_text(c) for c in cells]
            if not any(t and t.strip() for t in texts):
                continue  # spreadsheets end with formatted but empty rows: not data
            values: dict[str, str | None] = dict.fromkeys(FIELDS)
            extras: dict[str, str | None] = {}
            for name, field, text in zip(header, mapped, texts):
                if field is not None:
                    values[field] = values[field] or text
                elif name:
                    extras[name] = text
            raw = json.dumps(dict(zip(header, texts)), ensure_ascii=False)
            batch.append((number, values, extras, raw, None))
            if len(batch) >= batch_rows:
                yield batch
                batch = []
        if batch:
            yield batch
    finally:
        workbook.close()
