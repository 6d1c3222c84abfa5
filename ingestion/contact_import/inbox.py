"""The contacts inbox: ``<inbox>/<org_slug>/contacts/*.csv|*.xlsx``, each file imported once.

A file waiting in an organization's ``contacts/`` folder is imported with :func:`import_contacts`
(the code the API and ``beacon import-contacts`` use), committed, then moved out of the way:
to ``contacts/done/`` when it was imported (bad rows quarantined, the rest in), to
``contacts/rejected/`` when the file as a whole was refused (empty, not CSV/XLSX, no identifier
column, unknown organization). The import report is written beside the moved file as
``<name>.report.json``. A crash between the commit and the move re-imports the file on the next
run, which the merge rule makes harmless (the same rows come out ``unchanged``).

Writers should drop files atomically: hidden files and ``*.part`` / ``*.tmp`` files (a copy
still in progress) are not picked up; rename them when complete.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from ingestion.contact_import.importer import ImportReport, ProgressCallback, file_sha256, import_contacts, organization_by_slug

CONTACTS_FOLDER = "contacts"
DONE_FOLDER = "done"
REJECTED_FOLDER = "rejected"
IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".crdownload")


@dataclass(frozen=True)
class InboxFile:
    """One file waiting in an organization's contacts folder."""

    organization: str  # slug (the folder name)
    path: Path
    size: int
    mtime_ns: int

    @property
    def key(self) -> str:
        """``<org_slug>/<file name>``: what names the file to the orchestrator (a partition key)."""
        return f"{self.organization}/{self.path.name}"

    @property
    def fingerprint(self) -> str:
        """Key + size + mtime: a file replaced by another of the same name is a new import."""
        return f"{self.key}:{self.size}:{self.mtime_ns}"


@dataclass
class InboxImport:
    report: ImportReport
    moved_to: Path
    report_path: Path


def _waiting(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and not path.name.endswith(IN_PROGRESS_SUFFIXES)


def pending_contact_files(inbox: Path) -> list[InboxFile]:
    """Every file waiting in ``<inbox>/<org>/contacts/``, in a stable order."""
    if not inbox.is_dir():
        return []
    found = []
    for org_dir in sorted(p for p in inbox.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        folder = org_dir / CONTACTS_FOLDER
        if folder.is_dir():
            for path in sorted(p for p in folder.iterdir() if _waiting(p)):
                stat = path.stat()
                found.append(InboxFile(org_dir.name, path, stat.st_size, stat.st_mtime_ns))
    return found


def inbox_file(inbox: Path, key: str) -> InboxFile:
    """The waiting file a key (``<org_slug>/<name>``) names; a clear error if it is gone or malformed."""
    slug, sep, name = key.partition("/")
    if not sep or not slug or not name or "/" in name or name in (".", "..") or slug in (".", ".."):
        raise ValueError(f"contact inbox key {key!r} is not '<organization slug>/<file name>'")
    path = inbox / slug / CONTACTS_FOLDER / name
    if not _waiting(path):
        raise FileNotFoundError(
            f"{path} is not waiting in the contacts inbox (already imported? see {path.parent / DONE_FOLDER} and {REJECTED_FOLDER}/)"
        )
    stat = path.stat()
    return InboxFile(slug, path, stat.st_size, stat.st_mtime_ns)


def import_inbox_file(
    inbox: Path,
    key: str,
    *,
    op_db_url: str | None = None,
    warehouse_url: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> InboxImport:
    """Import one waiting file for its organization, commit, then move it to done/ or rejected/."""
    from beacon.schema.db import make_engine, session_scope

    waiting = inbox_file(inbox, key)
    engine = make_engine(op_db_url)
    try:
        with session_scope(engine) as session:
            try:
                org = organization_by_slug(session, waiting.organization)
            except ValueError as unknown:
                report = ImportReport(file=waiting.path.name, status="rejected", reason="unknown_organization")
                report.quarantined_rows = [{"line": None, "reason": "unknown_organization", "message": str(unknown)}]
                report.quarantine_reasons = {"unknown_organization": 1}
                _quarantine_unknown_organization(waiting, str(unknown), warehouse_url)
            else:
                report = import_contacts(
                    waiting.path, waiting.path.name, org=org, session=session, warehouse_url=warehouse_url, on_progress=on_progress
                )
    finally:
        engine.dispose()
    moved_to = _move(waiting.path, DONE_FOLDER if report.status == "imported" else REJECTED_FOLDER)
    report_path = moved_to.with_name(moved_to.name + ".report.json")
    report_path.write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return InboxImport(report, moved_to, report_path)


def _quarantine_unknown_organization(waiting: InboxFile, message: str, warehouse_url: str | None) -> None:
    from beacon.settings import get_settings
    from ingestion.quarantine import QuarantinedRow, Source, quarantine_table, write_quarantine

    rows = [QuarantinedRow(None, "unknown_organization", message, None)]
    table = quarantine_table(Source.contacts_import, waiting.path.name, file_sha256(waiting.path), rows, organization=waiting.organization)
    write_quarantine(warehouse_url or get_settings().warehouse, table)


def _move(path: Path, folder: str) -> Path:
    """Into ``contacts/<folder>/``, never over an earlier file of the same name."""
    target_dir = path.parent / folder
    target_dir.mkdir(exist_ok=True)
    target = target_dir / path.name
    counter = 1
    while target.exists():
        counter += 1
        target = target_dir / f"{path.stem}.{counter}{path.suffix}"
    shutil.move(path, target)
    return target
