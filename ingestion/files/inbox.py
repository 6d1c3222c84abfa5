"""Walk the inbox (``<home>/inbox/<org_slug>/...``) and load every file once."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import select

from ingestion.files.loader import ORDERS, SENDGRID, TWILIO, FileLoadResult, ProgressCallback, SourceKind, load_file

# Sub-folder of an organization's inbox -> what its files are.
INBOX_FOLDERS: tuple[tuple[str, SourceKind], ...] = (
    ("orders", ORDERS),
    ("events/sendgrid", SENDGRID),
    ("events/twilio", TWILIO),
)


def organization_ids(op_db_url: str | None = None) -> dict[str, int]:
    """Every organization's slug -> id, from the operational DB."""
    from beacon.schema.db import make_engine
    from beacon.schema.models import Organization

    engine = make_engine(op_db_url)
    try:
        with engine.connect() as conn:
            return {slug: id_ for slug, id_ in conn.execute(select(Organization.slug, Organization.id))}
    finally:
        engine.dispose()


def inbox_files(inbox: Path) -> list[tuple[str, SourceKind, Path]]:
    """(org slug, kind, file) for every file in the inbox, in a stable order."""
    found = []
    for org_dir in sorted(p for p in inbox.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        for folder, kind in INBOX_FOLDERS:
            directory = org_dir / folder
            if directory.is_dir():
                found += [(org_dir.name, kind, f) for f in sorted(directory.iterdir()) if f.is_file() and not f.name.startswith(".")]
    return found


def load_inbox(
    inbox: str | Path,
    *,
    warehouse_url: str | None = None,
    organizations: Mapping[str, int] | None = None,
    op_db_url: str | None = None,
    kinds: tuple[SourceKind, ...] = (ORDERS, SENDGRID, TWILIO),
    on_progress: ProgressCallback | None = None,
) -> list[FileLoadResult]:
    """Load every new file under ``inbox``; files already loaded are reported as skipped."""
    organizations = organizations if organizations is not None else organization_ids(op_db_url)
    return [
        load_file(kind, path, organizations=organizations, warehouse_url=warehouse_url, organization=slug, on_progress=on_progress)
        for slug, kind, path in inbox_files(Path(inbox))
        if kind in kinds
    ]
