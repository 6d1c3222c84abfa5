"""File-level checks before any row is read: format, encoding, delimiter.

Each failure raises :class:`FileRejected` with a machine-readable reason and a sentence for a
person, which the loader records as a ``rejected`` file load plus one quarantine entry.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

SAMPLE_BYTES = 1 << 16
DELIMITERS = (",", ";", "\t", "|")
FORMATS_BY_SUFFIX = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson", ".parquet": "parquet", ".json": "json", ".xlsx": "xlsx"}
# Magic numbers of things people rename to .csv: zip (xlsx), OLE2 (xls), parquet, gzip, pdf.
MAGIC = {
    b"PK\x03\x04": "a zip archive (an XLSX workbook?)",
    b"\xd0\xcf\x11\xe0": "a legacy Excel/OLE2 document (.xls)",
    b"PAR1": "a Parquet file",
    b"\x1f\x8b": "a gzip archive",
    b"%PDF": "a PDF document",
}


class FileRejected(Exception):
    """The whole file is unusable; ``reason`` is a stable code, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class FileInfo:
    path: Path
    format: str
    encoding: str | None = None
    delimiter: str | None = None


def detect_format(path: Path, allowed: tuple[str, ...]) -> str:
    fmt = FORMATS_BY_SUFFIX.get(path.suffix.lower())
    if fmt is None or fmt not in allowed:
        raise FileRejected(
            "unsupported_format",
            f"{path.name}: unsupported file type {path.suffix or '(none)'!r}; expected one of "
            + ", ".join(sorted({s for s, f in FORMATS_BY_SUFFIX.items() if f in allowed})),
        )
    with path.open("rb") as fh:
        head = fh.read(SAMPLE_BYTES)
    if not head.strip(b"\xef\xbb\xbf \t\r\n"):
        raise FileRejected("empty_file", f"{path.name}: the file is empty")
    for magic, what in MAGIC.items():
        if head.startswith(magic) and not (fmt == "parquet" and magic == b"PAR1") and not (fmt == "xlsx" and magic == b"PK\x03\x04"):
            raise FileRejected("unsupported_format", f"{path.name}: named {fmt} but the content is {what}")
    if fmt in ("csv", "ndjson", "json"):
        if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise FileRejected("unsupported_format", f"{path.name}: binary content (NUL bytes) in a {fmt} file")
        if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            raise FileRejected("unsupported_format", f"{path.name}: looks like XML/HTML, not {fmt}")
    return fmt


def detect_encoding(path: Path) -> str:
    """The encoding policy: UTF-8 (with or without BOM) when the sample decodes strictly; else
    Windows-1252 (the usual spreadsheet export, and a superset of Latin-1's printable range) when
    the sample decodes as it; else charset-normalizer's best guess.

    Statistical guessers misread short, mostly-ASCII Western files (e.g. as cp1250), hence the
    fixed Western fallback before the guess. The reader verifies the whole file: an undecodable
    byte later on makes the loader re-decide on the whole file, then reject it (``bad_encoding``).
    """
    with path.open("rb") as fh:
        head = fh.read(SAMPLE_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _decodes(head, "utf-8"):
        return "utf-8"
    return fallback_encoding(head, path.name)


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        # An incomplete multi-byte character at a sample's end is not an error.
        codecs.getincrementaldecoder(encoding)().decode(data, final=False)
        return True
    except UnicodeDecodeError:
        return False


def fallback_encoding(data: bytes, name: str) -> str:
    if _decodes(data, "cp1252"):
        return "cp1252"
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise FileRejected("bad_encoding", f"{name}: not UTF-8 and no text encoding fits the content")
    return best.encoding


def first_line(path: Path, encoding: str) -> str:
    with path.open("r", encoding=encoding, errors="replace", newline="") as fh:
        return fh.readline().rstrip("\r\n")


def detect_delimiter(header: str, recognise) -> str:
    """The delimiter that splits the header into the most recognised column names (comma on a tie)."""
    best, best_hits = ",", -1
    for delimiter in DELIMITERS:
        names = next(csv.reader(io.StringIO(header), delimiter=delimiter), [])
        hits = sum(1 for name in names if recognise(name) is not None)
        if hits > best_hits:
            best, best_hits = delimiter, hits
    return best
