"""Provider event exports -> raw.provider_events: vocabulary mapping, dedupe, quarantine, both warehouses."""

from __future__ import annotations

import json
import uuid

from ingestion.files import SENDGRID, TWILIO, FileStatus, check_file_loads, load_file
from ingestion.files.warehouse_io import open_writer

SEND = str(uuid.uuid4())


def fetch(url: str, sql: str) -> list[tuple]:
    with open_writer(url) as w:
        return w.fetchall(sql)


def sg(event: str, event_id: str, **extra) -> dict:
    return {
        "email": "ann@example.com", "timestamp": 1709280000, "event": event, "sg_event_id": event_id,
        "sg_message_id": "msg.1", "send_id": SEND, "organization_id": "1", "campaign_id": "7", **extra,
    }  # fmt: skip


def write_json(path, events):
    path.write_text(json.dumps(events))
    return path


def test_sendgrid_events_are_mapped_deduplicated_and_accounted(warehouse_url, orgs, tmp_path):
    first = write_json(
        tmp_path / "batch1.json",
        [
            sg("processed", "e1"),
            sg("delivered", "e2"),
            sg("open", "e3", sg_machine_open=True, useragent="Apple Mail"),
            sg("open", "e4", sg_machine_open=False),
            sg("click", "e5", url="https://shop.example/x"),
            sg("bounce", "e6", type="bounce", reason="550 no such user"),
            sg("bounce", "e7", type="blocked"),
            sg("dropped", "e8"),
            sg("spamreport", "e9"),
            sg("group_unsubscribe", "e10"),
            sg("deferred", "e11"),
            sg("delivered", "e2"),  # a duplicate delivery inside the file
            sg("teleported", "e12"),
            sg("open", "e13", timestamp="soon"),
            sg("open", "e14", organization_id="99"),
            sg("open", "e15", send_id="not-a-uuid"),
            {"event": "open", "timestamp": 1709280000},
        ],
    )
    result = load_file(SENDGRID, first, organizations=orgs, warehouse_url=warehouse_url, organization="acme")
    assert (result.rows_read, result.rows_loaded, result.rows_duplicate, result.rows_quarantined) == (17, 11, 1, 5)
    mapped = fetch(
        warehouse_url,
        "SELECT provider_event_id, provider_event, event_type, is_machine_open, bounce_type, url, user_agent, send_id, organization_id "
        "FROM raw.provider_events ORDER BY source_line",
    )
    assert [(m[0], m[2]) for m in mapped] == [
        ("e1", "sent"), ("e2", "delivered"), ("e3", "opened"), ("e4", "opened"), ("e5", "clicked"), ("e6", "bounced"),
        ("e7", "bounced"), ("e8", "failed"), ("e9", "complained"), ("e10", "unsubscribed"), ("e11", "deferred"),
    ]  # fmt: skip
    by_id = {m[0]: m for m in mapped}
    assert by_id["e3"][3] is True and by_id["e4"][3] is False and by_id["e1"][3] is None
    assert (by_id["e6"][4], by_id["e7"][4]) == ("hard", "soft")
    assert by_id["e5"][5] == "https://shop.example/x" and by_id["e3"][6] == "Apple Mail"
    assert by_id["e1"][7] == SEND and by_id["e1"][8] == 1
    assert fetch(warehouse_url, "SELECT line_number, reason FROM raw.quarantine ORDER BY 1") == [
        (13, "unknown_event"), (14, "bad_date:timestamp"), (15, "unknown_organization"), (16, "bad_send_id"),
        (17, "missing_required:sg_event_id"),
    ]  # fmt: skip
    payload = json.loads(fetch(warehouse_url, "SELECT payload FROM raw.provider_events WHERE provider_event_id = 'e6'")[0][0])
    assert payload["reason"] == "550 no such user"

    # A later export repeats some events: they are counted as duplicates, not loaded twice.
    second = write_json(tmp_path / "batch2.json", [sg("delivered", "e2"), sg("click", "e5"), sg("open", "e20")])
    result = load_file(SENDGRID, second, organizations=orgs, warehouse_url=warehouse_url, organization="acme")
    assert (result.rows_loaded, result.rows_duplicate) == (1, 2)
    assert fetch(warehouse_url, "SELECT count(*) FROM raw.provider_events") == [(12,)]
    assert check_file_loads(warehouse_url) == []


def test_sendgrid_file_that_is_not_an_array_is_rejected(orgs, tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    path = tmp_path / "events.json"
    path.write_text('[{"event": "open", ')
    result = load_file(SENDGRID, path, organizations=orgs, warehouse_url=url)
    assert (result.status, result.reason) == (FileStatus.rejected, "corrupt_file")


def test_twilio_status_log(warehouse_url, orgs, tmp_path):
    header = "MessageSid,AccountSid,From,To,MessageStatus,ErrorCode,EventTimestamp,send_id,organization_id\n"
    body = [
        f"SM1,AC1,+15550001,+15550002,queued,,2024-03-01T10:00:00Z,{SEND},1",
        f"SM1,AC1,+15550001,+15550002,sent,,2024-03-01T10:00:01Z,{SEND},1",
        f"SM1,AC1,+15550001,+15550002,delivered,,2024-03-01T10:00:05Z,{SEND},1",
        f"SM2,AC1,+15550001,+15550003,undelivered,30003,2024-03-01T10:00:05Z,{SEND},1",
        f"SM3,AC1,+15550001,+15550004,failed,21610,2024-03-01T10:00:05Z,{SEND},1",
        f"SM1,AC1,+15550001,+15550002,delivered,,2024-03-01T10:00:05Z,{SEND},1",
        f"SM4,AC1,+15550001,+15550005,exploded,,2024-03-01T10:00:05Z,{SEND},1",
        f"SM5,AC1,+15550001,+15550005,sent,abc,2024-03-01T10:00:05Z,{SEND},1",
    ]
    path = tmp_path / "status.csv"
    path.write_text(header + "\n".join(body) + "\n")
    result = load_file(TWILIO, path, organizations=orgs, warehouse_url=warehouse_url, organization="acme")
    assert (result.rows_read, result.rows_loaded, result.rows_duplicate, result.rows_quarantined) == (8, 5, 1, 2)
    assert fetch(
        warehouse_url, "SELECT provider_event_id, event_type, phone, error_code FROM raw.provider_events ORDER BY source_line"
    ) == [
        ("SM1:queued", "queued", "+15550002", None),
        ("SM1:sent", "sent", "+15550002", None),
        ("SM1:delivered", "delivered", "+15550002", None),
        ("SM2:undelivered", "failed", "+15550003", "30003"),
        ("SM3:failed", "failed", "+15550004", "21610"),
    ]
    assert fetch(warehouse_url, "SELECT line_number, reason FROM raw.quarantine ORDER BY 1") == [
        (8, "unknown_status"), (9, "bad_error_code"),
    ]  # fmt: skip
    payload = json.loads(fetch(warehouse_url, "SELECT payload FROM raw.provider_events WHERE provider_event_id = 'SM2:undelivered'")[0][0])
    assert payload["ErrorCode"] == "30003" and payload["To"] == "+15550003"
    assert check_file_loads(warehouse_url) == []
