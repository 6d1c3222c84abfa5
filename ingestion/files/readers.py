"""Stream a file as Arrow batches of *strings*, one canonical column per known field.

Every reader yields :class:`Batch` objects whose table holds the canonical columns (missing
optional ones as nulls) plus ``_line`` (physical line for CSV/NDJSON, array position for JSON,
row number for Parquet, all 1-based) and ``_row`` (the row's ordinal among the file's parsed
rows). Values stay text here; typing and validation happen in one place (``validate``), so all
formats share the same rules and reason codes.
"""

from __future__ import annotations

import csv
import json
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ingestion.files.sniff import FileInfo, FileRejected

# Rows larger than this cannot be parsed by the block reader; the file is rejected with a reason.
CSV_BLOCK_BYTES = 16 << 20
DEFAULT_BATCH_ROWS = 100_000


@dataclass
class Batch:
    table: pa.Table
    raw: Callable[[Sequence[int]], list[str | None]]


@dataclass
class InvalidRecord:
    """A CSV record the parser could not split into the header's columns."""

    text: str
    expected: int
    actual: int
    line: int | None = None
    problem: str | None = None


@dataclass
class ColumnSpec:
    """Canonical fields and how raw header names map onto them (None: an extra column)."""

    fields: tuple[str, ...]
    required: tuple[str, ...]
    recognise: Callable[[str], str | None]
    keep_extras: bool = False

    def missing(self, mapped: list[str | None]) -> list[str]:
        return [name for name in self.required if name not in mapped]


@dataclass
class StringReader:
    info: FileInfo
    spec: ColumnSpec
    batch_rows: int = DEFAULT_BATCH_ROWS
    invalid: list[InvalidRecord] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    # CSV only: exact start line of every row, when invalid records make counting unreliable.
    line_map: array | None = None

    def batches(self) -> Iterator[Batch]:
        reader = {"csv": self._csv, "ndjson": self._ndjson, "parquet": self._parquet, "json": self._json_array}
        return reader[self.info.format]()

    # -------------------------------------------------------------- helpers

    def _map_header(self, names: list[str]) -> list[str | None]:
        mapped = [self.spec.recognise(n) for n in names]
        missing = self.spec.missing(mapped)
        if missing:
            raise FileRejected(
                "missing_column:" + ",".join(missing),
                f"{self.info.path.name}: required column(s) {', '.join(missing)} not in the header {names!r}",
            )
        self.extras = [n for n, m in zip(names, mapped) if m is None]
        return mapped

    def _canonical(self, columns: dict[str, pa.Array], n: int, lines: pa.Array, first_row: int) -> pa.Table:
        # Surrounding whitespace is trimmed here, by Arrow's kernel (several times faster than SQL trim()).
        data = {name: _trimmed(columns.get(name), n) for name in self.spec.fields}
        if self.spec.keep_extras:
            for name in self.extras:
                data[f"extra:{name}"] = columns.get(f"extra:{name}", pa.nulls(n, pa.string()))
        data["_line"] = lines
        data["_row"] = pa.array(range(first_row, first_row + n), pa.int64())
        return pa.table(data)

    # -------------------------------------------------------------- CSV

    def _csv(self) -> Iterator[Batch]:
        info = self.info
        with info.path.open("r", encoding=info.encoding, errors="replace", newline="") as fh:
            names = next(csv.reader(fh, delimiter=info.delimiter), [])
        mapped = self._map_header(names)
        physical = [f"c{i}" for i in range(len(names))]  # positional names survive duplicate headers

        def on_invalid(row) -> str:
            self.invalid.append(InvalidRecord(row.text, row.expected_columns, row.actual_columns))
            return "skip"

        reader = pacsv.open_csv(
            info.path,
            read_options=pacsv.ReadOptions(
                column_names=physical, skip_rows=1, block_size=CSV_BLOCK_BYTES, encoding=_arrow_encoding(info.encoding)
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=info.delimiter, newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={p: pa.string() for p in physical}, strings_can_be_null=False, quoted_strings_can_be_null=False
            ),
        )
        next_line, next_row = 2, 0
        for record_batch in reader:
            n = record_batch.num_rows
            if n == 0:
                continue
            columns: dict[str, pa.Array] = {}
            newlines = pa.repeat(pa.scalar(0, pa.int64()), n)
            for p, target in zip(physical, mapped):
                col = record_batch.column(p)
                newlines = pc.add(newlines, pc.count_substring(col, "\n"))
                if target is not None and target not in columns:
                    columns[target] = col
                elif target is None and self.spec.keep_extras:
                    columns[f"extra:{names[physical.index(p)]}"] = col
            # Physical line of each record: records before it plus the newlines quoted inside them.
            ends = pc.cumulative_sum(pc.add(newlines, 1))
            starts = pc.add(pc.subtract(ends, pc.add(newlines, 1)), next_line)
            next_line += int(pc.sum(pc.add(newlines, 1)).as_py())
            if self.line_map is not None:
                starts = pa.array(self.line_map[next_row : next_row + n], pa.int64())
            table = self._canonical(columns, n, starts, next_row)
            next_row += n
            yield Batch(table, lambda idx: [None] * len(idx))  # CSV text: looked up afterwards, bad rows only

    # -------------------------------------------------------------- NDJSON / JSON

    def _rows_to_batch(self, records: list[tuple[int, dict, str]], first_row: int) -> Batch:
        n = len(records)
        columns: dict[str, pa.Array] = {}
        for name in self.spec.fields:
            columns[name] = pa.array([_text(rec.get(name)) for _, rec, _ in records], pa.string())
        raws = [raw for _, _, raw in records]
        table = self._canonical(columns, n, pa.array([line for line, _, _ in records], pa.int64()), first_row)
        table = table.append_column("_raw", pa.array(raws, pa.string()))
        return Batch(table, lambda idx: [raws[i] for i in idx])

    def _json_records(self, items: Iterator[tuple[int, str]]) -> Iterator[Batch]:
        """``items`` yields (line, text); a text that is not a JSON object becomes an invalid record."""
        pending: list[tuple[int, dict, str]] = []
        row = 0
        for line, text in items:
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                self.invalid.append(InvalidRecord(text, 0, 0, line, f"not valid JSON: {exc.msg} at column {exc.colno}"))
                continue
            if not isinstance(value, dict):
                self.invalid.append(InvalidRecord(text, 0, 0, line, f"expected a JSON object, got {type(value).__name__}"))
                continue
            pending.append((line, {self.spec.recognise(k) or k: v for k, v in value.items()}, text))
            if len(pending) >= self.batch_rows:
                yield self._rows_to_batch(pending, row)
                row += len(pending)
                pending = []
        if pending:
            yield self._rows_to_batch(pending, row)

    def _ndjson(self) -> Iterator[Batch]:
        def lines() -> Iterator[tuple[int, str]]:
            with self.info.path.open("r", encoding=self.info.encoding, newline="") as fh:
                try:
                    for number, text in enumerate(fh, start=1):
                        text = text.rstrip("\r\n")
                        if text.strip():
                            yield number, text
                except UnicodeDecodeError as exc:
                    raise FileRejected("bad_encoding", f"{self.info.path.name}: not valid {self.info.encoding}: {exc}") from exc

        return self._json_records(lines())

    def _json_array(self) -> Iterator[Batch]:
        # Provider exports are one JSON array; it is parsed whole (they arrive in webhook-sized batches).
        try:
            with self.info.path.open("r", encoding=self.info.encoding) as fh:
                document = json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FileRejected("corrupt_file", f"{self.info.path.name}: not a valid JSON document: {exc}") from exc
        if isinstance(document, dict):
            document = [document]
        if not isinstance(document, list):
            raise FileRejected("corrupt_file", f"{self.info.path.name}: expected a JSON array of events")
        return self._json_records((i, json.dumps(item)) for i, item in enumerate(document, start=1))

    # -------------------------------------------------------------- Parquet

    def _parquet(self) -> Iterator[Batch]:
        try:
            parquet = pq.ParquetFile(self.info.path)
        except Exception as exc:  # pyarrow raises several types for a corrupt footer
            raise FileRejected("corrupt_file", f"{self.info.path.name}: not a readable Parquet file: {exc}") from exc
        names = parquet.schema_arrow.names
        mapped = self._map_header(names)
        row = 0
        for record_batch in parquet.iter_batches(batch_size=self.batch_rows):
            n = record_batch.num_rows
            columns = {}
            for name, target in zip(names, mapped):
                if target is not None and target not in columns:
                    columns[target] = _arrow_to_text(record_batch.column(name))
            lines = pa.array(range(row + 1, row + n + 1), pa.int64())
            table = self._canonical(columns, n, lines, row)
            row += n
            yield Batch(table, lambda idx, rb=record_batch: [json.dumps(r, default=str) for r in rb.take(pa.array(idx)).to_pylist()])


def _trimmed(column: pa.Array | pa.ChunkedArray | None, n: int) -> pa.Array | pa.ChunkedArray:
    if column is None:
        return pa.nulls(n, pa.string())
    return pc.utf8_trim_whitespace(column)


def _arrow_encoding(encoding: str | None) -> str:
    # Arrow reads UTF-8 natively (and skips a BOM); other encodings are transcoded through Python codecs.
    return "utf8" if encoding in (None, "utf-8", "utf-8-sig", "utf_8") else encoding


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value)


def _arrow_to_text(col: pa.Array) -> pa.Array:
    t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return col.cast(pa.string())
    if pa.types.is_timestamp(t):
        # A naive Parquet timestamp is read as UTC (Parquet's isAdjustedToUTC=false has no offset to honour).
        utc = col.cast(pa.timestamp("us", tz="UTC")) if t.tz is None else col.cast(pa.timestamp("us", tz=t.tz))
        # Arrow's %S already carries the fraction ("58.123456"): no %f.
        return pc.strftime(utc.cast(pa.timestamp("us", tz="UTC")), format="%Y-%m-%dT%H:%M:%S+00:00")
    if pa.types.is_nested(t):
        return pa.array([None if v is None else json.dumps(v, default=str) for v in col.to_pylist()], pa.string())
    return col.cast(pa.string())


def locate_csv_records(
    info: FileInfo, wanted_rows: set[int], invalid_count: int
) -> tuple[array, dict[int, tuple[int, str]], list[tuple[int, str]]]:
    """Re-read a CSV file record by record: (start line of every row, (line, original text) of
    the wanted rows, (line, text) of every invalid record in file order).

    Only run for files with quarantined rows, so clean files pay nothing. Rows are counted the
    way Arrow's parser counts them: a record with the header's field count (or a blank line) is
    a row; any other record is one of the invalid records.
    """
    # The csv module's default field limit (128 KiB) is far below what Arrow accepted; raise it
    # (process-wide, only ever upwards) so both parsers agree on every record.
    csv.field_size_limit(max(csv.field_size_limit(), 2 * CSV_BLOCK_BYTES))
    starts = array("q")
    located: dict[int, tuple[int, str]] = {}
    invalid: list[tuple[int, str]] = []
    consumed: list[str] = []

    with info.path.open("r", encoding=info.encoding, errors="replace", newline="") as fh:

        def tracked() -> Iterator[str]:
            for text in fh:
                consumed.append(text)
                yield text

        reader = csv.reader(tracked(), delimiter=info.delimiter)
        header = next(reader, [])
        consumed.clear()
        line, row = 2, 0
        for record in reader:
            text = "".join(consumed).rstrip("\r\n")
            span = len(consumed)
            consumed.clear()
            if record == [] or len(record) == len(header):
                starts.append(line)
                if row in wanted_rows:
                    located[row] = (line, text)
                row += 1
            else:
                invalid.append((line, text))
            line += span
    while len(invalid) < invalid_count:  # defensive: never lose a line number we cannot place
        invalid.append((None, None))  # type: ignore[arg-type]
    return starts, located, invalid


def records_at_lines(info: FileInfo, lines: set[int]) -> dict[int, str]:
    """Original text of the records starting at the given physical lines (line numbers known).

    A plain line scan, much cheaper than re-parsing: a record continues onto the next line while
    its quote characters are unbalanced (RFC 4180: a newline inside quotes belongs to the field).
    """
    found: dict[int, str] = {}
    if not lines:
        return found
    last = max(lines)
    with info.path.open("r", encoding=info.encoding, errors="replace", newline="") as fh:
        current: list[str] | None = None
        start = 0
        for number, text in enumerate(fh, start=1):
            if current is not None:
                current.append(text)
            elif number in lines:
                current, start = [text], number
            else:
                if number > last:
                    break
                continue
            if sum(part.count('"') for part in current) % 2 == 0:
                found[start] = "".join(current).rstrip("\r\n")
                current = None
        if current is not None:
            found[start] = "".join(current).rstrip("\r\n")
    return found
