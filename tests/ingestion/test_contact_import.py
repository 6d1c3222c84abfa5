"""Contact import on both back-end pairs (SQLite+DuckDB, PostgreSQL+PostgreSQL)."""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from beacon.schema.db import make_engine, session_scope
from beacon.schema.models import Contact
from beacon.store.organizations import create_organization
from ingestion.contact_import import import_contacts
from ingestion.files.warehouse_io import open_writer


@pytest.fixture
def tenant(migrated_db, tmp_path, request):
    warehouse = (
        f"duckdb:///{tmp_path / 'w.duckdb'}"
        if migrated_db.startswith("sqlite")
        else request.getfixturevalue("make_pg_database")("beacon_wh")
    )
    engine = make_engine(migrated_db)
    with session_scope(engine) as session:
        org, _ = create_organization(session, type_code="ecommerce", name="Acme", slug="acme", settings={"country": "DE"})
        other, _ = create_organization(session, type_code="ecommerce", name="Globex", slug="globex")
    yield engine, org, other, warehouse
    engine.dispose()


def run(tenant, data, filename, org=None):
    engine, acme, _, warehouse = tenant
    with session_scope(engine) as session:
        return import_contacts(data, filename, org=org or acme, session=session, warehouse_url=warehouse)


def contacts(engine, org) -> dict[str, Contact]:
    with session_scope(engine) as session:
        found = session.scalars(select(Contact).options(selectinload(Contact.contact_type)).where(Contact.organization_id == org)).all()
        return {c.email_normalized or f"ext:{c.external_id}": c for c in found}


CSV = """E-mail,First Name,Surname,Mobile,Customer ID,Country,Tags,Contact Type,Consent Email,Loyalty Tier
Ann@Example.com ,Ann,Smith,0151 23456789,C1,,vip; newsletter,Customer,yes,gold
bob@example.com,Bob,,+44 20 7946 0958,C2,GB,,,no,
ann@example.com,,Smith-Jones,,,,"summer,vip",,,
not-an-email,Carl,,,,,,,,
dan@example.com,Dan,,12,,,,,,
eve@example.com,Eve,,,,Atlantis,,,,
fay@example.com,Fay,,,,,,Alien,,
gus@example.com,Gus,,,,,,,maybe,
,,,,,,,,,
,Hal,,,C9,FR,,,,
"""


def test_csv_import_normalises_merges_and_quarantines(tenant):
    engine, acme, _, warehouse = tenant
    report = run(tenant, CSV.encode(), "people.csv")
    assert (report.read, report.inserted, report.updated, report.unchanged, report.merged_in_file, report.quarantined) == (10, 3, 0, 0, 1, 6)
    assert report.read == report.inserted + report.updated + report.unchanged + report.merged_in_file + report.quarantined
    assert {(r["line"], r["reason"]) for r in report.quarantined_rows} == {
        (5, "invalid_email"), (6, "invalid_phone"), (7, "unknown_country"), (8, "unknown_contact_type"),
        (9, "invalid_consent:consent_email"), (10, "empty_row"),
    }  # fmt: skip
    stored = contacts(engine, acme)
    ann = stored["ann@example.com"]
    # later non-empty values win, empty cells erase nothing, tags are a union
    assert (ann.email, ann.first_name, ann.last_name, ann.phone, ann.external_id) == ("ann@example.com", "Ann", "Smith-Jones", "+4915123456789", "C1")
    assert ann.tags == ["vip", "newsletter", "summer"] and ann.custom_fields == {"Loyalty Tier": "gold"}
    assert ann.consent_email is True and ann.contact_type is not None and ann.contact_type.code == "customer"
    bob = stored["bob@example.com"]
    assert (bob.phone, bob.country, bob.consent_email) == ("+442079460958", "GB", False)
    assert stored["ext:C9"].first_name == "Hal" and stored["ext:C9"].email is None
    with open_writer(warehouse) as w:
        rows = w.fetchall("SELECT source, organization, line_number, reason, raw_record FROM raw.quarantine ORDER BY line_number")
    assert [r[3] for r in rows] == [
        "invalid_email", "invalid_phone", "unknown_country", "unknown_contact_type", "invalid_consent:consent_email", "empty_row",
    ]  # fmt: skip
    assert rows[0][:3] == ("contacts_import", "acme", 5) and rows[0][4] == "not-an-email,Carl,,,,,,,,"


def test_reimport_is_unchanged_and_changes_update_by_email_then_external_id(tenant):
    engine, acme, _, _ = tenant
    run(tenant, CSV.encode(), "people.csv")
    again = run(tenant, CSV.encode(), "people.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    change = "Email,First Name,Customer ID,Tags\nANN@example.com,Annie,,loyal\nnew-bob@example.com,Robert,C2,\n"
    report = run(tenant, io.BytesIO(change.encode()), "changes.csv")
    assert (report.inserted, report.updated, report.unchanged) == (0, 2, 0)
    stored = contacts(engine, acme)
    assert stored["ann@example.com"].first_name == "Annie" and stored["ann@example.com"].tags == ["vip", "newsletter", "summer", "loyal"]
    assert "bob@example.com" not in stored and stored["new-bob@example.com"].first_name == "Robert"


def test_contacts_are_per_tenant(tenant):
    engine, acme, globex, _ = tenant
    run(tenant, CSV.encode(), "people.csv")
    report = run(tenant, CSV.encode(), "people.csv", org=globex)
    assert report.inserted == 3
    assert len(contacts(engine, acme)) == len(contacts(engine, globex)) == 3


def test_xlsx_import_streams_the_first_sheet(tenant):
    engine, acme, _, _ = tenant
    book = Workbook()
    sheet = book.active
    sheet.append(["Email Address", "Given Name", "Phone Number", "External ID", "consent_sms", "Notes"])
    sheet.append(["zoe@example.com", "Zoë", "+49 151 23456789", 1001, True, "met at fair"])
    sheet.append(["bad@", "X", None, None, None, None])
    sheet.append([None, None, None, None, None, None])
    sheet.append(["yan@example.com", "Yan", "030 1234567", None, "0", None])
    buffer = io.BytesIO()
    book.save(buffer)
    report = run(tenant, buffer.getvalue(), "people.xlsx")
    assert (report.read, report.inserted, report.quarantined) == (3, 2, 1)
    assert report.quarantined_rows == [{"line": 3, "reason": "invalid_email", "message": report.quarantined_rows[0]["message"]}]
    stored = contacts(engine, acme)
    zoe = stored["zoe@example.com"]
    assert (zoe.first_name, zoe.phone, zoe.external_id, zoe.consent_sms, zoe.custom_fields) == (
        "Zoë", "+4915123456789", "1001", True, {"Notes": "met at fair"},
    )  # fmt: skip
    assert stored["yan@example.com"].phone == "+49301234567"  # the organization's country as default region


REJECTED = [
    ("people.csv", b"", "empty_file"),
    ("people.csv", b"Name,Age\nAnn,3\n", "missing_column:email_or_external_id"),
    ("people.xls", b"\xd0\xcf\x11\xe0", "unsupported_format"),
    ("people.xlsx", b"PK\x03\x04 broken", "corrupt_file"),
]


def test_unusable_files_are_rejected_with_a_reason(tenant):
    # One database for all cases (creating a PostgreSQL database per case is the slow part).
    engine, acme, _, warehouse = tenant
    for filename, content, reason in REJECTED:
        report = run(tenant, content, filename)
        assert (report.status, report.reason, report.read, report.inserted, report.quarantined) == ("rejected", reason, 0, 0, 0)
        assert report.quarantine_reasons == {reason: 1}
    with open_writer(warehouse) as w:
        rows = w.fetchall("SELECT reason, line_number, message FROM raw.quarantine")
    assert sorted(r[0] for r in rows) == sorted(reason for _, _, reason in REJECTED)
    assert all(line is None and "people" in message for _, line, message in rows)
    assert contacts(engine, acme) == {}
    header_only = run(tenant, b"Email,First Name\n", "people.csv")
    assert (header_only.status, header_only.read, header_only.quarantined) == ("imported", 0, 0)


def test_semicolon_latin1_file_with_a_broken_record(tenant):
    engine, acme, _, _ = tenant
    text = "Email;First Name;City\nrene@example.com;René;Köln\nbroken;line\nanna@example.com;Anna;Zürich\n"
    report = run(tenant, text.encode("cp1252"), "export.csv")
    assert (report.read, report.inserted, report.quarantined, report.delimiter, report.encoding) == (3, 2, 1, ";", "cp1252")
    assert report.quarantined_rows[0]["line"] == 3 and report.quarantined_rows[0]["reason"] == "malformed_row:wrong_field_count"
    assert contacts(engine, acme)["rene@example.com"].city == "Köln"
    assert json.dumps(report.as_dict())  # the CLI prints this


def test_cli_command_prints_the_json_report(tenant, migrated_db, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from beacon.cli import main

    _, _, _, warehouse = tenant
    monkeypatch.setenv("BEACON_DATABASE_URL", migrated_db)
    monkeypatch.setenv("BEACON_WAREHOUSE_URL", warehouse)
    path = tmp_path / "people.csv"
    path.write_text(CSV)
    result = CliRunner().invoke(main, ["import-contacts", "--org", "acme", str(path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["inserted"], report["quarantined"]) == (3, 6)
    assert "10 rows read" in result.stderr
    unknown = CliRunner().invoke(main, ["import-contacts", "--org", "nobody", str(path)])
    assert unknown.exit_code == 2 and "no organization with slug 'nobody'" in unknown.output
