"""Load one file into the warehouse, whole or not at all, and account for every row.

A file is identified by its resolved path and the sha256 of its content. If ``raw.file_loads``
already holds that pair (loaded or rejected), the file is skipped: re-runs load nothing. Otherwise
its rows, its quarantine entries and its ``file_loads`` row are written in one transaction, so a
crash (even SIGKILL) mid-file leaves no trace and the next run loads the file whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import pyarrow as pa

from ingestion.files import events, orders
from ingestion.files.readers import DEFAULT_BATCH_ROWS, ColumnSpec, StringReader, locate_csv_records, records_at_lines
from ingestion.files.sniff import FileInfo, FileRejected, detect_delimiter, detect_encoding, detect_format, first_line
from ingestion.files.validate import BatchValidator
from ingestion.files.warehouse_io import DuckDBWriter, WarehouseWriter, open_writer
from ingestion.quarantine import QuarantinedRow, Source, quarantine_table

ProgressCallback = Callable[[int], None]


class FileStatus(StrEnum):
    loaded = "loaded"
    rejected = "rejected"
    skipped = "skipped"  # already in raw.file_loads: nothing written this time


@dataclass(frozen=True)
class SourceKind:
    source: Source
    table: str
    spec: ColumnSpec
    formats: tuple[str, ...]
    select_sql: Callable[[str | None], str]
    target_columns: tuple[str, ...]
    conflict_key: tuple[str, ...] | None  # set: duplicates are dropped by key and counted


ORDERS = SourceKind(Source.orders, "orders", orders.SPEC, ("csv", "ndjson", "parquet"), orders.select_sql, orders.TARGET_COLUMNS, None)
SENDGRID = SourceKind(
    Source.sendgrid_events, "provider_events", events.SENDGRID_SPEC, ("json",), events.sendgrid_sql, events.TARGET_COLUMNS, ("provider", "provider_event_id")
)
TWILIO = SourceKind(
    Source.twilio_events, "provider_events", events.TWILIO_SPEC, ("csv",), events.twilio_sql, events.TARGET_COLUMNS, ("provider", "provider_event_id")
)


@dataclass
class FileLoadResult:
    source: str
    file_path: str
    file_sha256: str
    file_size: int
    status: FileStatus
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    reason: str | None = None
    file_format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None

    def as_dict(self) -> dict:
        return {**asdict(self), "status": self.status.value}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def load_file(
    kind: SourceKind,
    path: str | Path,
    *,
    organizations: Mapping[str, int] | None = None,
    warehouse_url: str | None = None,
    organization: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    on_progress: ProgressCallback | None = None,
) -> FileLoadResult:
    """Load ``path`` as ``kind``.

    ``organizations`` maps every known slug to its id (None: read from the operational DB in the
    settings); ``organization`` (the inbox folder's slug), when given, also quarantines rows that
    belong to another tenant. ``warehouse_url`` None: the configured warehouse.
    """
    if organizations is None:
        from ingestion.files.inbox import organization_ids

        organizations = organization_ids()
    if warehouse_url is None:
        from beacon.settings import get_settings

        warehouse_url = get_settings().warehouse
    path = Path(path).resolve()
    result = FileLoadResult(kind.source.value, str(path), file_sha256(path), path.stat().st_size, FileStatus.loaded)
    with open_writer(warehouse_url) as writer:
        done = writer.fetchall(
            "SELECT status, rows_read, rows_loaded, rows_quarantined, rows_duplicate, reason "
            "FROM raw.file_loads WHERE file_path = %s AND file_sha256 = %s",
            (result.file_path, result.file_sha256),
        )
        if done:
            result.status = FileStatus.skipped
            result.reason = f"already {done[0][0]} (same path and sha256)"
            return result
        load = _FileLoad(kind, path, result, writer, organizations, organization, batch_rows, on_progress)
        load.run()
    return result


class _FileLoad:
    def __init__(self, kind, path, result, writer, organizations, organization, batch_rows, on_progress) -> None:
        self.kind: SourceKind = kind
        self.path: Path = path
        self.result: FileLoadResult = result
        self.writer: WarehouseWriter = writer
        self.organizations = organizations
        self.organization = organization
        self.batch_rows = batch_rows
        self.on_progress = on_progress

    def run(self) -> None:
        encoding: str | None = None
        line_map = None
        for attempt in range(3):
            self.writer.begin()
            try:
                self._load(encoding, line_map)
                self.writer.commit()
                return
            except _NeedsLineMap as needs:
                # Records Arrow could not split shift the counted line numbers: redo the file
                # with each row's exact line (only malformed CSV files pay this second pass).
                self.writer.rollback()
                line_map = needs.line_map
                encoding = self.result.encoding
                continue
            except FileRejected as rejected:
                self.writer.rollback()
                self._reject(rejected)
                return
            except (UnicodeDecodeError, pa.ArrowInvalid) as exc:
                self.writer.rollback()
                if encoding is None and _is_decoding_error(exc) and self.result.encoding in ("utf-8", "utf-8-sig"):
                    # The sample was valid UTF-8 but a later byte was not: guess from the whole file.
                    encoding = _guess_encoding(self.path)
                    if encoding:
                        continue
                reason = "bad_encoding" if _is_decoding_error(exc) else "unparseable"
                self._reject(FileRejected(reason, f"{self.path.name}: {_first_line(exc)}"))
                return
            except BaseException:
                self.writer.rollback()
                raise

    # ------------------------------------------------------------------ the load

    def _sniff(self, encoding: str | None) -> FileInfo:
        fmt = detect_format(self.path, self.kind.formats)
        self.result.file_format = fmt
        if fmt in ("parquet", "xlsx"):
            return FileInfo(self.path, fmt)
        encoding = encoding or detect_encoding(self.path)
        self.result.encoding = encoding
        delimiter = None
        if fmt == "csv":
            delimiter = detect_delimiter(first_line(self.path, encoding), self.kind.spec.recognise)
            self.result.delimiter = delimiter
        return FileInfo(self.path, fmt, encoding, delimiter)

    def _load(self, encoding: str | None, line_map) -> None:
        result = self.result
        result.rows_read = result.rows_loaded = result.rows_quarantined = result.rows_duplicate = 0
        info = self._sniff(encoding)
        reader = StringReader(info, self.kind.spec, batch_rows=self.batch_rows, line_map=line_map)
        lookups = orders.lookups(self.organizations)
        select_sql = self.kind.select_sql(self.organization)
        in_warehouse = isinstance(self.writer, DuckDBWriter)
        if in_warehouse:
            self.writer.register_lookups(lookups)
            validator = None
        else:
            validator = BatchValidator(select_sql, lookups)
        bad_rows: list[QuarantinedRow] = []
        bad_positions: list[int] = []  # CSV: the rows whose line and text are looked up afterwards
        constants = {"source_file": result.file_path, "file_sha256": result.file_sha256, "loaded_at": datetime.now(UTC)}
        try:
            for batch in reader.batches():
                result.rows_read += batch.table.num_rows
                if in_warehouse:
                    good_count, inserted, bad = self.writer.validate_and_append(
                        select_sql, batch.table, self.kind.table, self.kind.target_columns, constants, self.kind.conflict_key
                    )
                else:
                    good, bad = validator.split(batch.table)
                    good_count, inserted = good.num_rows, self._append(good, constants)
                result.rows_loaded += inserted
                result.rows_duplicate += good_count - inserted
                if bad.num_rows:
                    self._collect_bad(batch, bad, bad_rows, bad_positions)
                if self.on_progress:
                    self.on_progress(result.rows_read)
        finally:
            if validator is not None:
                validator.close()
        if info.format == "csv" and reader.invalid and line_map is None:
            raise _NeedsLineMap(locate_csv_records(info, set(), len(reader.invalid))[0])
        bad_rows += self._invalid_records(reader)
        result.rows_read += len(reader.invalid)
        if info.format == "csv" and bad_rows:
            bad_rows = self._locate(info, reader, bad_rows, bad_positions)
        # A header with no rows is a valid, empty export: loaded, zero rows (an empty *file* is rejected).
        result.rows_quarantined = len(bad_rows)
        self._write_quarantine(bad_rows)
        self._write_file_load(FileStatus.loaded, None)

    def _append(self, good: pa.Table, constants: dict) -> int:
        """Append validated rows with their provenance; returns how many were inserted."""
        if good.num_rows == 0:
            return 0
        rows = good.select(list(self.kind.target_columns))
        for name, value in constants.items():
            kind = pa.timestamp("us", tz="UTC") if name == "loaded_at" else pa.string()
            rows = rows.append_column(name, pa.repeat(pa.scalar(value, kind), rows.num_rows))
        if self.kind.conflict_key:
            return self.writer.append_new(self.kind.table, rows, self.kind.conflict_key)
        self.writer.append(self.kind.table, rows)
        return rows.num_rows

    def _collect_bad(self, batch, bad: pa.Table, bad_rows: list[QuarantinedRow], bad_positions: list[int]) -> None:
        first_row = batch.table.column("_row")[0].as_py()
        rows = bad.column("_row").to_pylist()
        raws = batch.raw([r - first_row for r in rows])
        org_column = "organization" if "organization" in bad.column_names else None
        orgs = bad.column(org_column).to_pylist() if org_column else [None] * len(rows)
        if self.kind.source is not Source.orders:
            # Events carry an organization id; quarantine keeps the slug-or-id text as given.
            orgs = [None if v is None else str(v) for v in bad.column("organization_id").to_pylist()]
        for row, line, reason, message, raw, org in zip(
            rows,
            bad.column("source_line").to_pylist(),
            bad.column("_reason").to_pylist(),
            bad.column("_message").to_pylist(),
            raws,
            orgs,
        ):
            bad_rows.append(QuarantinedRow(line, reason, message, raw, org or self.organization))
            bad_positions.append(row)

    def _invalid_records(self, reader: StringReader) -> list[QuarantinedRow]:
        found = []
        for record in reader.invalid:
            if record.problem:  # JSON
                found.append(QuarantinedRow(record.line, "malformed_row:bad_json", record.problem, record.text, self.organization))
            elif record.text.count('"') % 2:
                found.append(
                    QuarantinedRow(None, "malformed_row:unterminated_quote", "a quoted field is never closed (truncated file?)", record.text, self.organization)
                )
            else:
                found.append(
                    QuarantinedRow(
                        None,
                        "malformed_row:wrong_field_count",
                        f"{record.actual} fields where the header has {record.expected}",
                        record.text,
                        self.organization,
                    )
                )
        return found

    def _locate(self, info: FileInfo, reader: StringReader, bad_rows: list[QuarantinedRow], positions: list[int]) -> list[QuarantinedRow]:
        validated = len(positions)
        if not reader.invalid:  # line numbers are exact already: only the original texts are needed
            texts = records_at_lines(info, {row.line_number for row in bad_rows})
            return [QuarantinedRow(r.line_number, r.reason, r.message, texts.get(r.line_number), r.organization) for r in bad_rows]
        _, located, invalid = locate_csv_records(info, set(positions), len(reader.invalid))
        fixed = []
        for row, position in zip(bad_rows[:validated], positions):
            line, text = located.get(position, (row.line_number, None))
            fixed.append(QuarantinedRow(line, row.reason, row.message, text, row.organization))
        for row, (line, _) in zip(bad_rows[validated:], invalid):
            fixed.append(QuarantinedRow(line, row.reason, row.message, row.raw_record, row.organization))
        return fixed

    # ------------------------------------------------------------------ bookkeeping rows

    def _write_quarantine(self, rows: list[QuarantinedRow]) -> None:
        table = quarantine_table(self.kind.source, self.result.file_path, self.result.file_sha256, rows, organization=self.organization)
        self.writer.append("quarantine", table)

    def _write_file_load(self, status: FileStatus, reason: str | None) -> None:
        r = self.result
        r.status, r.reason = status, reason
        row = {
            "source": r.source, "organization": self.organization, "file_path": r.file_path,
            "file_sha256": r.file_sha256, "file_size": r.file_size, "file_format": r.file_format,
            "encoding": r.encoding, "delimiter": r.delimiter, "rows_read": r.rows_read,
            "rows_loaded": r.rows_loaded, "rows_quarantined": r.rows_quarantined,
            "rows_duplicate": r.rows_duplicate, "status": status.value, "reason": reason,
            "loaded_at": datetime.now(UTC),
        }  # fmt: skip
        schema = pa.schema(
            [(k, pa.int64()) if k.startswith("rows_") or k == "file_size" else (k, pa.string()) for k in row if k != "loaded_at"]
            + [("loaded_at", pa.timestamp("us", tz="UTC"))]
        )
        self.writer.append("file_loads", pa.Table.from_pylist([row], schema=schema))

    def _reject(self, rejected: FileRejected) -> None:
        r = self.result
        r.rows_read = r.rows_loaded = r.rows_quarantined = r.rows_duplicate = 0
        self.writer.begin()
        self._write_quarantine([QuarantinedRow(None, rejected.reason, rejected.message, None, self.organization)])
        self._write_file_load(FileStatus.rejected, rejected.reason)
        self.writer.commit()


class _NeedsLineMap(Exception):
    def __init__(self, line_map) -> None:
        self.line_map = line_map


def _is_decoding_error(exc: BaseException) -> bool:
    return isinstance(exc, UnicodeDecodeError) or "UTF8" in str(exc) or "decode" in str(exc).lower()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _guess_encoding(path: Path) -> str | None:
    from ingestion.files.sniff import fallback_encoding

    # The whole file this time (the sample was clean); only reached for non-UTF-8 files.
    try:
        return fallback_encoding(path.read_bytes(), path.name)
    except FileRejected:
        return None
