"""Reload inbox files by arrival day: forget what each file wrote, then load it again.

A file's day is the UTC date of its modification time: when it arrived in (or was last written
to) the inbox. Reloading a day is idempotent: the same files give the same raw rows, however
often it runs. Forgetting a file is one transaction that deletes its rows from its raw table, its
quarantine entries and its ``raw.file_loads`` rows (every content version seen at that path);
between that and the load, which is the usual one-transaction file load, the file is simply
"not loaded yet", so a crash in between is repaired by the next run of either job.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path

from beacon.warehouse import RAW_SCHEMA
from ingestion.files.inbox import inbox_files, organization_ids
from ingestion.files.loader import FileLoadResult, SourceKind, load_file
from ingestion.files.warehouse_io import open_writer


def arrival_day(path: Path) -> date:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).date()


def files_of_day(inbox: Path, day: date) -> list[tuple[str, SourceKind, Path]]:
    """(org slug, kind, path) of every inbox file that arrived on ``day`` (UTC)."""
    if not inbox.is_dir():
        return []
    return [(slug, kind, path) for slug, kind, path in inbox_files(inbox) if arrival_day(path) == day]


def forget_file(kind: SourceKind, path: Path, *, warehouse_url: str) -> None:
    """Delete everything a load of ``path`` wrote (rows, quarantine entries, file_loads), atomically."""
    file_path = str(Path(path).resolve())
    with open_writer(warehouse_url) as writer:
        writer.execute_atomically(
            [
                (f"DELETE FROM {RAW_SCHEMA}.{kind.table} WHERE source_file = %s", (file_path,)),
                (f"DELETE FROM {RAW_SCHEMA}.quarantine WHERE source = %s AND source_file = %s", (kind.source.value, file_path)),
                (f"DELETE FROM {RAW_SCHEMA}.file_loads WHERE file_path = %s", (file_path,)),
            ]
        )


def reload_day(
    inbox: str | Path,
    day: date,
    *,
    warehouse_url: str | None = None,
    organizations: Mapping[str, int] | None = None,
) -> list[FileLoadResult]:
    """Forget and load again every inbox file that arrived on ``day``, in the inbox's stable order."""
    if warehouse_url is None:
        from beacon.settings import get_settings

        warehouse_url = get_settings().warehouse
    files = files_of_day(Path(inbox), day)
    if files and organizations is None:
        organizations = organization_ids()
    results = []
    for slug, kind, path in files:
        forget_file(kind, path, warehouse_url=warehouse_url)
        results.append(load_file(kind, path, organizations=organizations, warehouse_url=warehouse_url, organization=slug))
    return results
