"""The data generator's dirty set (beacon.generate.dirty) against ingestion: every file and bad row
gets the reason its manifest expects (compared on the code before ':'; ours adds the column)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from ingestion.contact_import import import_contacts
from ingestion.files import ORDERS, FileStatus, check_file_loads, load_file
from ingestion.files.warehouse_io import open_writer

dirty = pytest.importorskip("beacon.generate.dirty", reason="the data generator is not in this tree")


@pytest.fixture
def manifest(tmp_path):
    dirty_set = dirty.DirtySet(tmp_path / "inbox", "acme", "EUR", [], datetime(2026, 4, 1, tzinfo=UTC))
    dirty_set.orders()
    dirty_set.contacts()
    return tmp_path / "inbox", json.loads(dirty_set.write_manifest(seed=1).read_text())


def prefixes(reasons) -> Counter:
    return Counter(r.split(":")[0] for r in reasons)


def test_dirty_orders_files_match_the_manifest(manifest, tmp_path):
    inbox, doc = manifest
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    for entry in [f for f in doc["files"] if f["kind"] == "orders"]:
        result = load_file(ORDERS, inbox / entry["path"], organizations={"acme": 1}, warehouse_url=url, organization="acme")
        if entry["file_error"]:
            assert (result.status, result.reason.split(":")[0]) == (FileStatus.rejected, entry["file_error"]), entry["path"]
            continue
        assert result.status is FileStatus.loaded, (entry["path"], result.reason)
        assert result.rows_read == entry["rows"], entry["path"]
        with open_writer(url) as w:
            got = [r for (r,) in w.fetchall("SELECT reason FROM raw.quarantine WHERE source_file = %s", (result.file_path,))]
        assert prefixes(got) == prefixes(b["reason"] for b in entry["bad_rows"]), entry["path"]
    assert check_file_loads(url) == []


def test_dirty_contact_files_match_the_manifest(manifest, migrated_db, tmp_path):
    from beacon.schema.db import make_engine, session_scope
    from beacon.store.organizations import create_organization

    if not migrated_db.startswith("sqlite"):
        pytest.skip("the manifest check is about parsing; both back ends are covered in test_contact_import")
    inbox, doc = manifest
    engine = make_engine(migrated_db)
    with session_scope(engine) as session:
        org, _ = create_organization(session, type_code="ecommerce", name="Acme", slug="acme")
    for entry in [f for f in doc["files"] if f["kind"] == "contacts"]:
        path = inbox / entry["path"]
        with session_scope(engine) as session:
            report = import_contacts(path, path.name, org=org, session=session, warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}")
        if entry["file_error"]:
            assert (report.status, report.reason.split(":")[0]) == ("rejected", entry["file_error"]), entry["path"]
            continue
        assert (report.status, report.read) == ("imported", entry["rows"]), entry["path"]
        # A duplicate email is merged when it agrees on the external id; the manifest's duplicate
        # carries a different one, so it is refused (duplicate_email:external_id_conflict).
        expected = prefixes(b["reason"] for b in entry["bad_rows"])
        assert prefixes(Counter(report.quarantine_reasons).elements()) == expected, entry["path"]
    engine.dispose()
