"""The day-partitioned reload job on a real Dagster instance, on both back-end pairs: reloading a
day changes nothing, and a backfill of every day into an empty warehouse reproduces the raw
tables the unpartitioned load built."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, date, datetime

from dagster import instance_for_test

from beacon.schema.db import session_scope
from beacon.settings import get_settings
from beacon.store.organizations import create_organization
from ingestion.files import load_inbox
from ingestion.files.warehouse_io import open_writer
from orchestration.files import reload_inbox_files_by_day

ORDERS_HEADER = "order_id,organization,customer_email,created_at,currency,total,status\n"
DAYS = (date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3))
# Everything a load writes except when it happened.
SNAPSHOTS = {
    "orders": "order_id, organization_id, customer_email, created_at, total, status, source_file, source_line, file_sha256",
    "provider_events": "provider, provider_event_id, event_type, occurred_at, send_id, organization_id, source_file, source_line",
    "quarantine": "source, organization, source_file, line_number, reason, raw_record",
    "file_loads": "source, organization, file_path, file_sha256, rows_read, rows_loaded, rows_quarantined, rows_duplicate, status, reason",
}


def _drop(path, text: str, day: date):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    stamp = datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))


def _snapshot(url: str) -> dict[str, list[tuple]]:
    with open_writer(url) as writer:
        return {table: sorted(map(tuple, writer.fetchall(f"SELECT {cols} FROM raw.{table}")), key=repr) for table, cols in SNAPSHOTS.items()}


def _empty_raw(url: str) -> None:
    with open_writer(url) as writer:
        writer.execute_atomically([(f"DELETE FROM raw.{table}", ()) for table in SNAPSHOTS])


def test_reloading_days_is_idempotent_and_a_backfill_rebuilds_raw(pipeline_env):
    with session_scope(pipeline_env) as session:
        org, _ = create_organization(session, type_code="ecommerce", name="Acme", slug="acme")
    inbox = get_settings().home / "inbox" / "acme"
    order = "o{n},acme,c{n}@example.com,2026-02-2{n}T10:00:00Z,EUR,1{n}.50,paid\n"
    _drop(inbox / "orders" / "day1.csv", ORDERS_HEADER + order.format(n=1) + order.format(n=2), DAYS[0])
    _drop(inbox / "orders" / "day2.csv", ORDERS_HEADER + order.format(n=3) + "o4,acme,x@example.com,yesterday,EUR,1,paid\n", DAYS[1])
    send = str(uuid.uuid4())
    events = [
        {"email": "c1@example.com", "timestamp": 1772400000, "event": event, "sg_event_id": f"e{i}", "send_id": send,
         "organization_id": str(org), "campaign_id": "1"}
        for i, event in enumerate(("processed", "delivered", "open"))
    ]  # fmt: skip
    _drop(inbox / "events" / "sendgrid" / "batch.json", json.dumps(events), DAYS[2])
    warehouse = get_settings().warehouse

    load_inbox(get_settings().home / "inbox", warehouse_url=warehouse)
    loaded = _snapshot(warehouse)
    assert (len(loaded["orders"]), len(loaded["provider_events"]), len(loaded["quarantine"]), len(loaded["file_loads"])) == (3, 3, 1, 3)

    with instance_for_test() as instance:
        again = reload_inbox_files_by_day.execute_in_process(instance=instance, partition_key=str(DAYS[1]))
        assert again.success
        (event,) = again.get_asset_materialization_events()
        assert event.materialization.metadata["rows_loaded"].value == 1
        assert _snapshot(warehouse) == loaded  # the day's rows replaced, not added

        _empty_raw(warehouse)
        for day in DAYS:  # a backfill of the range, one run per day as the backfill daemon launches them
            assert reload_inbox_files_by_day.execute_in_process(instance=instance, partition_key=str(day)).success
        assert _snapshot(warehouse) == loaded
        empty_day = reload_inbox_files_by_day.execute_in_process(instance=instance, partition_key="2026-03-04")
        assert empty_day.success and empty_day.get_asset_materialization_events() == []
