"""The contacts inbox sensor and asset on a real Dagster instance, on both back-end pairs:
drop files, evaluate the sensor, execute the runs it asks for, and find the contacts, the
reports and the quarantine where they belong."""

from __future__ import annotations

import json

import pytest
from dagster import DagsterInstance, build_sensor_context, instance_for_test
from sqlalchemy import select

from beacon.schema.db import session_scope
from beacon.schema.models import Contact
from beacon.settings import get_settings
from beacon.store.organizations import create_organization
from ingestion.files.warehouse_io import open_writer
from orchestration import contacts_inbox

PEOPLE = "Email,First Name,Mobile,Tags\nann@example.com,Ann,+49 151 23456789,vip\nbob@example.com,Bob,,\nnot-an-email,Carl,,\n"


def _evaluate(instance: DagsterInstance, defs):
    """One sensor tick, applying its partition requests as the daemon does."""
    data = contacts_inbox.contact_inbox_sensor.evaluate_tick(build_sensor_context(instance=instance, instance_ref=instance.get_ref(), definitions=defs))
    for request in data.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return data


def test_dropped_files_are_imported_once_and_bad_files_rejected(pipeline_env):
    with session_scope(pipeline_env) as session:
        acme, _ = create_organization(session, type_code="ecommerce", name="Acme", slug="acme", settings={"country": "DE"})
        globex, _ = create_organization(session, type_code="ecommerce", name="Globex", slug="globex")
    inbox = get_settings().home / "inbox"
    (inbox / "acme" / "contacts").mkdir(parents=True)
    (inbox / "globex" / "contacts").mkdir(parents=True)
    (inbox / "nobody" / "contacts").mkdir(parents=True)
    (inbox / "acme" / "contacts" / "people.csv").write_text(PEOPLE)
    (inbox / "acme" / "contacts" / "more.csv.part").write_text(PEOPLE)  # a copy still in progress: not picked up
    (inbox / "globex" / "contacts" / "report.pdf").write_bytes(b"%PDF-1.4 not contacts")
    (inbox / "nobody" / "contacts" / "people.csv").write_text(PEOPLE)

    defs = contacts_inbox.build_defs()
    job = defs.resolve_job_def(contacts_inbox.CONTACT_IMPORT_JOB)
    with instance_for_test() as instance:  # a real on-disk instance (dynamic partitions, run storage)
        first = _evaluate(instance, defs)
        keys = sorted(r.partition_key for r in first.run_requests)
        assert keys == ["acme/people.csv", "globex/report.pdf", "nobody/people.csv"]
        # Evaluated again before the runs: the same run keys, so the daemon launches each file once.
        assert {r.run_key for r in _evaluate(instance, defs).run_requests} == {r.run_key for r in first.run_requests}
        assert set(instance.get_dynamic_partitions(contacts_inbox.CONTACT_FILES.name)) == set(keys)

        results = {r.partition_key: job.execute_in_process(instance=instance, partition_key=r.partition_key) for r in first.run_requests}
        assert all(result.success for result in results.values())
        (event,) = results["acme/people.csv"].get_asset_materialization_events()
        assert event.materialization.partition == "acme/people.csv"
        imported = event.materialization.metadata
        assert (imported["status"].value, imported["inserted"].value, imported["quarantined"].value) == ("imported", 2, 1)

        # Nothing waits any more: a second evaluation launches nothing.
        again = _evaluate(instance, defs)
        assert list(again.run_requests) == [] and again.skip_message

    with session_scope(pipeline_env) as session:
        assert set(session.scalars(select(Contact.email).where(Contact.organization_id == acme))) == {"ann@example.com", "bob@example.com"}
        assert session.scalars(select(Contact).where(Contact.organization_id == globex)).all() == []
    done = inbox / "acme" / "contacts" / "done"
    assert (done / "people.csv").read_text() == PEOPLE
    report = json.loads((done / "people.csv.report.json").read_text())
    assert (report["read"], report["inserted"], report["quarantine_reasons"]) == (3, 2, {"invalid_email": 1})
    assert (inbox / "acme" / "contacts" / "more.csv.part").exists()
    for org, name, reason in (("globex", "report.pdf", "unsupported_format"), ("nobody", "people.csv", "unknown_organization")):
        rejected = inbox / org / "contacts" / "rejected"
        assert (rejected / name).exists() and not (inbox / org / "contacts" / name).exists()
        assert json.loads((rejected / f"{name}.report.json").read_text())["reason"] == reason
    with open_writer(get_settings().warehouse) as writer:
        rows = writer.fetchall("SELECT organization, source_file, reason FROM raw.quarantine ORDER BY organization")
    assert rows == [
        ("acme", "people.csv", "invalid_email"),
        ("globex", "report.pdf", "unsupported_format"),
        ("nobody", "people.csv", "unknown_organization"),
    ]


def test_a_replaced_file_is_a_new_import_and_keys_are_checked(pipeline_env, tmp_path):
    from ingestion.contact_import.inbox import import_inbox_file, inbox_file

    with session_scope(pipeline_env) as session:
        create_organization(session, type_code="ecommerce", name="Acme", slug="acme")
    inbox = get_settings().home / "inbox"
    folder = inbox / "acme" / "contacts"
    folder.mkdir(parents=True)
    (folder / "people.csv").write_text(PEOPLE)
    first = inbox_file(inbox, "acme/people.csv")
    import_inbox_file(inbox, "acme/people.csv")
    (folder / "people.csv").write_text(PEOPLE + "dan@example.com,Dan,,\n")
    second = inbox_file(inbox, "acme/people.csv")
    assert second.fingerprint != first.fingerprint
    outcome = import_inbox_file(inbox, "acme/people.csv")
    assert (outcome.report.inserted, outcome.report.unchanged) == (1, 2)
    assert outcome.moved_to == folder / "done" / "people.2.csv"  # the earlier file is kept
    for bad in ("acme", "../acme/people.csv", "acme/../x"):
        with pytest.raises(ValueError, match="is not '<organization slug>/<file name>'"):
            inbox_file(inbox, bad)
    with pytest.raises(FileNotFoundError, match="already imported"):
        inbox_file(inbox, "acme/people.csv")
