"""Stream a contacts file (CSV or XLSX) as Arrow batches of text: one column per Beacon field,
``extra:<header>`` per other column, ``_line`` (CSV: physical line, XLSX: sheet row) and, for CSV,
``_row`` (the record's ordinal, to find its original text later); XLSX batches also carry each
row's original cells as JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa

from ingestion.contact_import.headers import FIELDS, recognise
from ingestion.files.readers import ColumnSpec, StringReader
from ingestion.files.sniff import FileInfo, FileRejected

SPEC = ColumnSpec(fields=FIELDS, required=(), recognise=recognise, keep_extras=True)
# (table, original text of each row or None when it is found later from the file)
RowBatch = tuple[pa.Table, list[str] | None]


def csv_rows(info: FileInfo, batch_rows: int, reader_out: list[StringReader]) -> Iterator[RowBatch]:
    """Batches of rows; the reader (for its invalid records) is handed back through ``reader_out``."""
    reader = StringReader(info, SPEC, batch_rows=batch_rows)
    reader_out.append(reader)
    _check_header(info)
    for batch in reader.batches():
        yield batch.table, None


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


def _xlsx_batch(rows: list[tuple[int, dict, dict, str]], extra_names: list[str]) -> RowBatch:
    columns = {f: pa.array([r[1][f] for r in rows], pa.string()) for f in FIELDS}
    for name in extra_names:
        columns[f"extra:{name}"] = pa.array([r[2].get(name) for r in rows], pa.string())
    columns["_line"] = pa.array([r[0] for r in rows], pa.int64())
    return pa.table(columns), [r[3] for r in rows]


def xlsx_rows(path: Path, batch_rows: int) -> Iterator[RowBatch]:
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
        extra_names = list(dict.fromkeys(name for name, field in zip(header, mapped) if field is None and name))
        batch: list[tuple[int, dict, dict, str]] = []
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
            batch.append((number, values, extras, raw))
            if len(batch) >= batch_rows:
                yield _xlsx_batch(batch, extra_names)
                batch = []
        if batch:
            yield _xlsx_batch(batch, extra_names)
    finally:
        workbook.close()
