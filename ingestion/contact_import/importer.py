"""The import itself: read -> normalise -> fold duplicates -> write -> report (see package docstring)."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from beacon.schema.models import Organization
from beacon.store.organizations import contact_type_ids
from beacon.tenancy import OrgId
from ingestion.contact_import.headers import FIELDS, recognise
from ingestion.contact_import.merge import ExternalIdConflict, InFileMerger, write
from ingestion.contact_import.normalise import Context, RowProblem, normalise_batch
from ingestion.contact_import.rows import csv_rows, xlsx_rows
from ingestion.files.readers import StringReader, locate_csv_records
from ingestion.files.sniff import FileInfo, FileRejected, detect_delimiter, detect_encoding, detect_format, first_line
from ingestion.quarantine import QuarantinedRow, Source, quarantine_table, write_quarantine

ProgressCallback = Callable[[int], None]
REPORTED_QUARANTINE_ROWS = 100
BATCH_ROWS = 20_000


@dataclass
class ImportReport:
    file: str
    status: str = "imported"  # or "rejected"
    reason: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    merged_in_file: int = 0
    quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    quarantined_rows: list[dict] = field(default_factory=list)  # the first REPORTED_QUARANTINE_ROWS

    def as_dict(self) -> dict:
        return asdict(self)


def import_contacts(
    data: bytes | BinaryIO | str | Path,
    filename: str,
    *,
    org: OrgId,
    session: Session,
    warehouse_url: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import one contacts file for ``org``. Nothing is committed here: the caller's session does.

    ``read = inserted + updated + unchanged + merged_in_file + quarantined`` always holds.
    ``warehouse_url`` None: the configured warehouse receives the quarantine rows.
    """
    organization = session.get(Organization, org)
    if organization is None:
        raise ValueError(f"organization {org} does not exist")
    report = ImportReport(file=filename)
    with tempfile.TemporaryDirectory(prefix="beacon-import-") as tmp:
        path = _as_file(data, filename, Path(tmp))
        sha = file_sha256(path)
        quarantined: list[QuarantinedRow] = []
        try:
            _run(path, report, organization, org, session, quarantined, on_progress)
        except FileRejected as rejected:
            report.status, report.reason = "rejected", rejected.reason
            quarantined = [QuarantinedRow(None, rejected.reason, rejected.message, None)]
    report.quarantined = len(quarantined) if report.status == "imported" else 0
    report.quarantine_reasons = dict(Counter(q.reason for q in quarantined))
    report.quarantined_rows = [
        {"line": q.line_number, "reason": q.reason, "message": q.message} for q in quarantined[:REPORTED_QUARANTINE_ROWS]
    ]
    if quarantined:
        from beacon.settings import get_settings

        table = quarantine_table(Source.contacts_import, filename, sha, quarantined, organization=organization.slug)
        write_quarantine(warehouse_url or get_settings().warehouse, table)
    return report


def _run(path, report, organization, org, session, quarantined, on_progress) -> None:
    fmt = detect_format(path, ("csv", "xlsx"))
    ctx = Context(default_region=(organization.settings or {}).get("country"), contact_types=contact_type_ids(session, org))
    merger = InFileMerger()
    ordinals: dict[int, int] = {}  # CSV: index in quarantined -> row ordinal, to find line and text afterwards
    readers: list[StringReader] = []
    info = None
    if fmt == "csv":
        encoding = detect_encoding(path)
        info = FileInfo(path, "csv", encoding, detect_delimiter(first_line(path, encoding), recognise))
        report.encoding, report.delimiter = info.encoding, info.delimiter
        batches = csv_rows(info, BATCH_ROWS, readers)
    else:
        batches = xlsx_rows(path, BATCH_ROWS)
    for table, raws in batches:
        lines = table["_line"].to_pylist()
        row_ordinals = table["_row"].to_pylist() if "_row" in table.column_names else None
        for i, values in enumerate(normalise_batch(table, FIELDS, ctx)):
            if isinstance(values, RowProblem):
                reason, message = values.reason, values.message
            else:
                try:
                    merger.add(lines[i], values)
                    continue
                except ExternalIdConflict as conflict:
                    reason, message = conflict.reason, str(conflict)
            if row_ordinals is not None:
                ordinals[len(quarantined)] = row_ordinals[i]
            quarantined.append(QuarantinedRow(lines[i], reason, message, raws[i] if raws else None))
        report.read += table.num_rows
        if on_progress:
            on_progress(report.read)
    if info is not None:
        _finish_csv(info, readers[0], report, quarantined, ordinals)
    # A header with no rows is a valid, empty import (an empty *file* is rejected by detect_format).
    outcome = write(session, org, merger.contacts.values())
    for item, message in outcome.conflicts:
        quarantined.append(QuarantinedRow(item.line, "external_id_conflict", message, item.raw))
    report.inserted, report.updated, report.unchanged = outcome.inserted, outcome.updated, outcome.unchanged
    report.merged_in_file = merger.merged_rows


def _finish_csv(info: FileInfo, reader: StringReader, report: ImportReport, quarantined: list[QuarantinedRow], ordinals: dict[int, int]) -> None:
    """Exact line and original text of every quarantined CSV row, plus the records Arrow could not
    split (wrong field count), which count as read and are quarantined too."""
    if not quarantined and not reader.invalid:
        return
    _, located, invalid = locate_csv_records(info, set(ordinals.values()), len(reader.invalid))
    for index, ordinal in ordinals.items():
        q = quarantined[index]
        line, text = located.get(ordinal, (q.line_number, None))
        quarantined[index] = QuarantinedRow(line, q.reason, q.message, text, q.organization)
    for line, text in invalid:
        report.read += 1
        quarantined.append(QuarantinedRow(line, "malformed_row:wrong_field_count", "the record's field count differs from the header's", text))


def _as_file(data, filename: str, tmp: Path) -> Path:
    if isinstance(data, (str, Path)):
        return Path(data)
    target = tmp / Path(filename).name
    if isinstance(data, (bytes, bytearray)):
        target.write_bytes(data)
    else:
        with target.open("wb") as out:
            shutil.copyfileobj(data, out)
    return target


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def organization_by_slug(session: Session, slug: str) -> OrgId:
    org_id = session.scalar(select(Organization.id).where(Organization.slug == slug))
    if org_id is None:
        raise ValueError(f"no organization with slug {slug!r}")
    return OrgId(org_id)
