"""The inbox walk: every org's orders and event files, loaded once, tenant checked by folder."""

from __future__ import annotations

import json

from ingestion.files import FileStatus, check_file_loads, load_inbox
from ingestion.files.warehouse_io import open_writer


def test_inbox_loads_each_file_once(orgs, make, tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    inbox = tmp_path / "inbox"
    make.write_csv(inbox / "acme" / "orders" / "2024-03.csv", make.good_orders(3) + [make.order("g1", organization="globex")])
    make.write_ndjson(inbox / "globex" / "orders" / "2024-03.ndjson", [make.order("g2", organization="globex")])
    (inbox / "acme" / "events" / "sendgrid").mkdir(parents=True)
    (inbox / "acme" / "events" / "sendgrid" / "batch.json").write_text(
        json.dumps([{"event": "delivered", "sg_event_id": "x1", "timestamp": 1709280000, "organization_id": "1", "email": "a@b.c"}])
    )
    (inbox / "_dirty_manifest.json").write_text("{}")

    results = load_inbox(inbox, warehouse_url=url, organizations=orgs)
    assert [(r.source, r.status, r.rows_loaded, r.rows_quarantined) for r in results] == [
        ("orders", FileStatus.loaded, 3, 1),  # the globex row in acme's inbox is quarantined
        ("sendgrid_events", FileStatus.loaded, 1, 0),
        ("orders", FileStatus.loaded, 1, 0),
    ]
    with open_writer(url) as w:
        assert w.fetchall("SELECT reason FROM raw.quarantine") == [("organization_mismatch",)]
    assert {r.status for r in load_inbox(inbox, warehouse_url=url, organizations=orgs)} == {FileStatus.skipped}
    assert check_file_loads(url) == []


def test_settings_supply_the_warehouse_and_the_organizations(beacon_env, make, tmp_path):
    from beacon.schema import migrate
    from beacon.schema.db import make_engine, session_scope
    from beacon.store.organizations import create_organization
    from ingestion.files import ORDERS, load_file

    migrate.upgrade(beacon_env["BEACON_DATABASE_URL"])
    engine = make_engine(beacon_env["BEACON_DATABASE_URL"])
    with session_scope(engine) as session:
        org, _ = create_organization(session, type_code="ecommerce", name="Acme", slug="acme")
    engine.dispose()
    path = make.write_csv(tmp_path / "o.csv", make.good_orders(2) + [make.order("x", organization="globex")])
    result = load_file(ORDERS, path)
    assert (result.rows_loaded, result.rows_quarantined) == (2, 1)
    with open_writer(beacon_env["BEACON_WAREHOUSE_URL"]) as w:
        assert w.fetchall("SELECT DISTINCT organization_id FROM raw.orders") == [(org,)]
        assert w.fetchall("SELECT reason FROM raw.quarantine") == [("unknown_organization",)]
