"""Crash safety: a loader killed with SIGKILL mid-file leaves nothing; the re-run loads the file whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ingestion.files import ORDERS, FileStatus, check_file_loads, load_file
from ingestion.files.warehouse_io import open_writer

REPO = Path(__file__).resolve().parents[2]

# The child loads with small batches; after the first batch has been written (inside the open
# transaction) it tells the parent and waits to be killed.
CHILD = """
import sys, time, pathlib
from ingestion.files import ORDERS, load_file
path, url, marker, orgs = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3]), eval(sys.argv[4])
def progress(rows):
    if rows >= 200 and not marker.exists():
        marker.write_text(str(rows))
        time.sleep(120)
load_file(ORDERS, path, organizations=orgs, warehouse_url=url, batch_rows=100, on_progress=progress)
"""


def snapshot(url: str) -> dict:
    with open_writer(url) as w:
        return {
            "orders": w.fetchall(
                "SELECT order_id, created_at, total, refunded_amount, status, source_line FROM raw.orders ORDER BY order_id"
            ),
            "quarantine": w.fetchall("SELECT line_number, reason, raw_record FROM raw.quarantine ORDER BY line_number"),
            "file_loads": w.fetchall("SELECT status, rows_read, rows_loaded, rows_quarantined FROM raw.file_loads"),
        }


def kill_mid_load(path: Path, url: str, orgs: dict, tmp_path: Path) -> None:
    marker = tmp_path / "first-batch-written"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), url, str(marker), repr(orgs)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, f"the loader exited early with {child.returncode}"
            assert time.monotonic() < deadline, "the loader never reached its first batch"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL


def test_sigkill_mid_load_then_rerun_equals_an_uninterrupted_run(warehouse_url, orgs, make, tmp_path, request):
    data = make.good_orders(1000) + [make.order("bad", currency="NOPE")]
    path = make.write_csv(tmp_path / "orders.csv", data)

    kill_mid_load(path, warehouse_url, orgs, tmp_path)
    after_crash = snapshot(warehouse_url)
    assert after_crash == {"orders": [], "quarantine": [], "file_loads": []}  # nothing half-loaded

    rerun = load_file(ORDERS, path, organizations=orgs, warehouse_url=warehouse_url)
    assert (rerun.status, rerun.rows_loaded, rerun.rows_quarantined) == (FileStatus.loaded, 1000, 1)

    reference_url = (
        f"duckdb:///{tmp_path / 'reference.duckdb'}" if warehouse_url.startswith("duckdb") else request.getfixturevalue("make_pg_database")("beacon_ref")
    )
    load_file(ORDERS, path, organizations=orgs, warehouse_url=reference_url)
    assert json.dumps(snapshot(warehouse_url), default=str) == json.dumps(snapshot(reference_url), default=str)
    assert check_file_loads(warehouse_url) == []
